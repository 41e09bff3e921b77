"""WebDataset-style tar shards of pre-windowed training samples, and a torch loader for them.

One sample per frame t of every episode (every `stride`-th frame), keyed `<episode>_<t:06d>` where
`<episode>` is `<task>-<episode_id>` (or the episode id alone), with "." replaced by "-" because
WebDataset splits a member name at its first dot. A sample's members sit consecutively in one tar:

```
<key>.<camera>.<i>.jpg     observation frame i of obs_horizon (i = 0 oldest ... obs_horizon-1 = frame t);
                           .png when lossless=True
<key>.lowdim.npz           state      (obs_horizon, Ds) float32   policy state at the observation frames
                           action     (action_horizon, Da) float32 policy action at frames t .. t+action_horizon-1
                           obs_pad    (obs_horizon,) bool          True where the frame was before the episode start
                           action_pad (action_horizon,) bool       True where the step was past the episode end
                           obs_frames / action_frames (int64)      the source frame indices used (after clamping)
                           <camera>.extrinsics (obs_horizon, 4, 4) float64, <camera>.intrinsics (obs_horizon, 3, 3)
<key>.json                 {"episode", "task_id", "frame", "task", "segment"}
```

Padding repeats the edge frame (first frame before the start, last action after the end), as LeRobot
and diffusion-policy do; the masks say which entries are padding. state/action are the policy vectors every
writer stores (io/policy.py: 20 and 22 columns for AgiBot; `manifest.json` lists the column names).

Output directory: `shard-000000.tar ...`, `manifest.json` (shards with sample counts and bytes, episodes,
horizons, keys, shapes, columns, cameras with provenance) and `stats.json` (per-column mean, std, min,
max, q01, q99 of state and action over every frame of every episode, each frame counted once).
"""

from __future__ import annotations

import io
import json
import os
import tarfile
from pathlib import Path
from typing import Iterator

import numpy as np

from ..episode import Episode
from ..errors import ConsistencyError, DatasetError, FormatError
from .base import confined, is_safe_id
from ._common import check_episode, episode_info, episode_label, prepare_dir
from .policy import PolicyVector, action_vector, state_vector

MANIFEST = "manifest.json"
STATS = "stats.json"
EPISODE_RECORD = "episode.json"
LOWDIM_FILE = "lowdim.npz"  # per-episode flat state/action, kept so merge computes exact stats
SHARD_PATTERN = "shard-{:06d}.tar"
FORMAT = "embodied_rerender.shards"


def sample_prefix(episode: Episode) -> str:
    """The episode part of sample keys: "<task>-<episode>" with dots replaced (WebDataset splits at the first dot)."""
    text = f"{episode.task_id}-{episode.episode_id}" if episode.task_id else str(episode.episode_id)
    return text.replace(".", "-").replace("/", "-")


def window_indices(t: int, n: int, obs_horizon: int, action_horizon: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(obs_frames, obs_pad, action_frames, action_pad) for the sample at frame t of an n-frame episode.

    Observation frames t-obs_horizon+1 .. t and action steps t .. t+action_horizon-1, clamped to [0, n-1].
    """
    obs = np.arange(t - obs_horizon + 1, t + 1)
    act = np.arange(t, t + action_horizon)
    return np.clip(obs, 0, n - 1), obs < 0, np.clip(act, 0, n - 1), act > n - 1


def _encode_image(frame: np.ndarray, ext: str, quality: int) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    if ext == "jpg":
        Image.fromarray(frame).save(buf, format="JPEG", quality=quality, subsampling=0)
    else:
        Image.fromarray(frame).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def _npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _tar_file_size(member_bytes: int) -> int:
    """Size on disk of a tar whose members take `member_bytes`: plus the two zero end blocks, rounded up
    to tarfile's 10240-byte record."""
    return -(-(member_bytes + 2 * tarfile.BLOCKSIZE) // tarfile.RECORDSIZE) * tarfile.RECORDSIZE


class _TarRoller:
    """Writes samples into `shard-NNNNNN.tar` files under `out`, starting a new shard before a sample
    that would take the current one past `max_bytes` (a shard always holds at least one sample)."""

    def __init__(self, out: Path, max_bytes: int):
        self.out = out
        self.max_bytes = max_bytes
        self.shards: list[dict] = []
        self._tar: tarfile.TarFile | None = None
        self._bytes = 0

    def add(self, members: list[tuple[str, bytes]]) -> None:
        size = sum(512 + (len(data) + 511) // 512 * 512 for _, data in members)  # tar header + padded body
        if self._tar is None or (_tar_file_size(self._bytes + size) > self.max_bytes and self.shards[-1]["samples"]):
            self._open_next()
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            self._tar.addfile(info, io.BytesIO(data))
        self._bytes += size
        self.shards[-1]["samples"] += 1

    def _open_next(self) -> None:
        self.close()
        name = SHARD_PATTERN.format(len(self.shards))
        self._tar = tarfile.open(self.out / name, "w", format=tarfile.USTAR_FORMAT)
        self._bytes = 0
        self.shards.append({"name": name, "samples": 0})

    def close(self) -> None:
        if self._tar is not None:
            self._tar.close()
            self.shards[-1]["bytes"] = (self.out / self.shards[-1]["name"]).stat().st_size
            self._tar = None


class ShardWriter:
    """Writes episodes as pre-windowed WebDataset tar shards (layout in the module docstring).

    obs_horizon: observation frames per sample (default 2). action_horizon: action steps per sample (16).
    stride: a sample every `stride` frames. lossless: PNG instead of JPEG (`jpeg_quality`, default 95).
    max_shard_bytes: shard size limit (default 256 MiB); a sample is never split across shards.
    """

    name = "shards"

    def __init__(self, obs_horizon: int = 2, action_horizon: int = 16, stride: int = 1, lossless: bool = False,
                 jpeg_quality: int = 95, max_shard_bytes: int = 256 * 2**20):
        if obs_horizon < 1 or action_horizon < 1 or stride < 1:
            raise ValueError("obs_horizon, action_horizon and stride must be >= 1")
        self.obs_horizon = obs_horizon
        self.action_horizon = action_horizon
        self.stride = stride
        self.ext = "png" if lossless else "jpg"
        self.jpeg_quality = jpeg_quality
        self.max_shard_bytes = int(max_shard_bytes)

    # -- one episode -----------------------------------------------------------------------------
    def write_episode(self, episode: Episode, out: Path) -> dict:
        """Write every window of `episode` into shards under `out` (an empty or missing directory),
        plus `episode.json` (record, sample keys, shapes) and `lowdim.npz` (flat state/action for stats)."""
        label = episode_label(episode)
        n = check_episode(episode)
        out = prepare_dir(out, label)
        state_vec, action_vec = state_vector(episode), action_vector(episode)
        state, action = state_vec.values, action_vec.values
        roller = _TarRoller(out, self.max_shard_bytes)
        prefix = sample_prefix(episode)
        seg_text = episode.segment_text()
        keys = []
        try:
            for t in range(0, n, self.stride):
                key = f"{prefix}_{t:06d}"
                roller.add(self._sample(episode, key, t, n, state, action, seg_text))
                keys.append(key)
        finally:
            roller.close()
        np.savez(out / LOWDIM_FILE, state=state, action=action)
        record = {
            "episode": episode_info(episode, n),
            "prefix": prefix,
            "samples": len(keys),
            "shards": roller.shards,
            "layout": self._layout(episode, state_vec, action_vec),
        }
        (out / EPISODE_RECORD).write_text(json.dumps(record, indent=1))
        return {"episode": label, "frames": n, "samples": len(keys), "shards": len(roller.shards)}

    def _sample(self, episode: Episode, key: str, t: int, n: int, state, action, seg_text) -> list[tuple[str, bytes]]:
        obs_idx, obs_pad, act_idx, act_pad = window_indices(t, n, self.obs_horizon, self.action_horizon)
        members = []
        lowdim = {"state": state[obs_idx], "action": action[act_idx], "obs_pad": obs_pad, "action_pad": act_pad,
                  "obs_frames": obs_idx, "action_frames": act_idx}
        for name, cam in episode.cameras.items():
            frames = np.asarray(cam[obs_idx])
            if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
                raise FormatError(f"camera {name} frames must be (T, H, W, 3) uint8, got {frames.shape} {frames.dtype}",
                                  episode=episode_label(episode), path=cam.source_path)
            for i, frame in enumerate(frames):
                members.append((f"{key}.{name}.{i}.{self.ext}", _encode_image(frame, self.ext, self.jpeg_quality)))
            if cam.trajectory is not None:
                lowdim[f"{name}.extrinsics"] = cam.trajectory.extrinsics[obs_idx]
                lowdim[f"{name}.intrinsics"] = cam.trajectory.intrinsics_per_frame()[obs_idx]
        members.append((f"{key}.lowdim.npz", _npz_bytes(lowdim)))
        meta = {"episode": str(episode.episode_id), "task_id": episode.task_id, "frame": t, "task": episode.task,
                "segment": seg_text[t]}
        members.append((f"{key}.json", json.dumps(meta).encode()))
        return members

    def _layout(self, episode: Episode, state: PolicyVector, action: PolicyVector) -> dict:
        cams = {}
        for name, cam in episode.cameras.items():
            cams[name] = {"height": cam.height, "width": cam.width, "has_trajectory": cam.trajectory is not None,
                          "provenance": episode_info(episode)["cameras"][name]["provenance"]}
        return {
            "obs_horizon": self.obs_horizon,
            "action_horizon": self.action_horizon,
            "stride": self.stride,
            "image_format": self.ext,
            "cameras": cams,
            "state_columns": list(state.names),
            "action_columns": list(action.names),
            "state_keys": list(state.keys),
            "action_keys": list(action.keys),
        }

    # -- merge -----------------------------------------------------------------------------------
    def merge(self, episode_dirs: list[Path], out: Path) -> None:
        """Repack the episodes' samples, in order and unchanged, into size-limited shards under `out`, then
        write manifest.json and stats.json."""
        if not episode_dirs:
            raise DatasetError("nothing to merge: no episode directories")
        records = [_read_record(Path(d)) for d in episode_dirs]
        layout = _common_layout(records, episode_dirs)
        out = prepare_dir(out)
        roller = _TarRoller(out, self.max_shard_bytes)
        episodes = []
        try:
            for ep_dir, record in zip(episode_dirs, records):
                first = sum(s["samples"] for s in roller.shards)
                count = 0
                for members in _iter_samples(Path(ep_dir), record):
                    roller.add(members)
                    count += 1
                if count != record["samples"]:
                    raise ConsistencyError(f"shards hold {count} samples, episode.json says {record['samples']}", path=ep_dir)
                info = record["episode"]
                episodes.append({"episode_id": info["episode_id"], "task_id": info["task_id"], "task": info["task"],
                                 "frames": info["frames"], "prefix": record["prefix"], "samples": count,
                                 "first_sample": first, "segments": info["segments"],
                                 **({"synthetic": info["metadata"]["synthetic"]}
                                    if (info.get("metadata") or {}).get("synthetic") else {})})
        finally:
            roller.close()
        prefixes = [e["prefix"] for e in episodes]
        if len(set(prefixes)) != len(prefixes):
            raise ConsistencyError(f"two episodes share a sample key prefix: {sorted(p for p in prefixes if prefixes.count(p) > 1)}")
        manifest = _manifest(layout, roller.shards, episodes)
        (out / MANIFEST).write_text(json.dumps(manifest, indent=1))
        (out / STATS).write_text(json.dumps(_stats(episode_dirs, layout), indent=1))


def _read_record(ep_dir: Path) -> dict:
    try:
        return json.loads((ep_dir / EPISODE_RECORD).read_text())
    except (OSError, ValueError) as exc:
        raise FormatError(f"episode record unreadable ({exc})", path=ep_dir / EPISODE_RECORD) from exc


def _common_layout(records: list[dict], dirs: list[Path]) -> dict:
    """The layout every episode shares (horizons, cameras and sizes, columns); a mismatch is refused."""
    first = records[0]["layout"]
    strip = lambda lay: {**lay, "cameras": {k: {**v, "provenance": None} for k, v in lay["cameras"].items()}}  # noqa: E731
    for record, d in zip(records[1:], dirs[1:]):
        if strip(record["layout"]) != strip(first):
            raise ConsistencyError("episode layout (horizons, cameras, sizes or columns) differs from the first episode's",
                                   episode=record["episode"]["episode_id"], path=d)
    return first


def _iter_samples(ep_dir: Path, record: dict) -> Iterator[list[tuple[str, bytes]]]:
    """The members of each sample of an episode directory, in order, grouped by sample key."""
    group: list[tuple[str, bytes]] = []
    current = None
    for shard in record["shards"]:
        path = ep_dir / shard["name"]
        try:
            with tarfile.open(path, "r") as tar:
                for member in tar:
                    key = member.name.split(".", 1)[0]
                    if key != current and group:
                        yield group
                        group = []
                    current = key
                    group.append((member.name, tar.extractfile(member).read()))
        except (OSError, tarfile.TarError) as exc:
            raise FormatError(f"cannot read shard ({exc})", path=path) from exc
    if group:
        yield group


def _manifest(layout: dict, shards: list[dict], episodes: list[dict]) -> dict:
    cams = layout["cameras"]
    to, ta = layout["obs_horizon"], layout["action_horizon"]
    ds, da = len(layout["state_columns"]), len(layout["action_columns"])
    keys = [f"{c}.{i}.{layout['image_format']}" for c in cams for i in range(to)] + ["lowdim.npz", "json"]
    shapes = {"state": [to, ds], "action": [ta, da], "obs_pad": [to], "action_pad": [ta]}
    for c, info in cams.items():
        shapes[f"image.{c}"] = [to, info["height"], info["width"], 3]
        if info["has_trajectory"]:
            shapes[f"{c}.extrinsics"] = [to, 4, 4]
            shapes[f"{c}.intrinsics"] = [to, 3, 3]
    return {
        "format": FORMAT,
        "version": 1,
        "num_samples": sum(s["samples"] for s in shards),
        "shards": shards,
        "episodes": episodes,
        "keys": keys,
        "shapes": shapes,
        **layout,
    }


def _stats(episode_dirs: list[Path], layout: dict) -> dict:
    """Per-column stats of the flat state and action over all frames (each frame once)."""
    parts = {"state": [], "action": []}
    for d in episode_dirs:
        with np.load(Path(d) / LOWDIM_FILE) as z:
            for k in parts:
                parts[k].append(z[k])
    out = {}
    for k, cols in (("state", layout["state_columns"]), ("action", layout["action_columns"])):
        x = np.concatenate(parts[k], axis=0)
        if x.size == 0:
            continue
        out[k] = {"columns": cols, "count": int(len(x)), "mean": x.mean(0).tolist(), "std": x.std(0).tolist(),
                  "min": x.min(0).tolist(), "max": x.max(0).tolist(),
                  "q01": np.quantile(x, 0.01, axis=0).tolist(), "q99": np.quantile(x, 0.99, axis=0).tolist()}
    return out


# ================================================================================================
# Loader
# ================================================================================================
def _torch_dataset_base():
    import torch.utils.data

    return torch.utils.data.Dataset


class ShardDataset(_torch_dataset_base()):
    """Map-style torch dataset over a shard directory written by ShardWriter.merge.

    `ds[i]` -> dict of tensors:
        "images.<camera>"     (obs_horizon, 3, H, W) uint8 (channels first; divide by 255 for float)
        "state"               (obs_horizon, Ds) `dtype` (float32 by default)
        "action"              (action_horizon, Da) `dtype`
        "obs_pad", "action_pad"  bool masks; "obs_frames", "action_frames" int64 source frame indices
        "<camera>.extrinsics" (obs_horizon, 4, 4), "<camera>.intrinsics" (obs_horizon, 3, 3)  `dtype`
        "key", "episode", "task", "segment" (str), "frame" (int)
    The tar files are indexed once (member offsets) and read by seeking, so any worker can read any
    sample; handles are reopened after a fork.
    """

    def __init__(self, path: str | Path, dtype=None):
        import torch

        self.path = Path(path)
        try:
            self.manifest = json.loads((self.path / MANIFEST).read_text())
        except (OSError, ValueError) as exc:
            raise DatasetError(f"{self.path} is not a shard dataset (manifest.json: {exc})") from exc
        self.dtype = dtype or torch.float32
        self.samples: list[tuple[str, str, dict[str, tuple[int, int]]]] = []  # (shard, key, field -> (offset, size))
        for shard in self.manifest["shards"]:  # names come from the file: each must stay inside the dataset
            if not isinstance(shard.get("name"), str) or not is_safe_id(shard["name"]):
                raise DatasetError(f"{self.path / MANIFEST}: shard name {shard.get('name')!r} is not a file of the dataset")
            path = confined(self.path, self.path / shard["name"])
            self.samples += [(shard["name"], key, fields) for key, fields in _index_tar(path)]
        if len(self.samples) != self.manifest["num_samples"]:
            raise ConsistencyError(f"shards hold {len(self.samples)} samples, manifest says {self.manifest['num_samples']}",
                                   path=self.path / MANIFEST)
        self._handles: dict[str, object] = {}
        self._pid = os.getpid()

    def __len__(self) -> int:
        return len(self.samples)

    def stats(self) -> dict:
        """stats.json as a dict (per-column mean/std/min/max/q01/q99 lists)."""
        return json.loads((self.path / STATS).read_text())

    def _read(self, shard: str, offset: int, size: int) -> bytes:
        if os.getpid() != self._pid:  # a forked worker must not share file offsets with its parent
            self._handles, self._pid = {}, os.getpid()
        handle = self._handles.get(shard)
        if handle is None:
            handle = self._handles[shard] = open(self.path / shard, "rb")
        handle.seek(offset)
        return handle.read(size)

    def raw(self, i: int) -> dict[str, bytes]:
        """The sample's members as bytes, keyed by field ("head.0.jpg", "lowdim.npz", "json")."""
        shard, _, fields = self.samples[i]
        return {field: self._read(shard, off, size) for field, (off, size) in fields.items()}

    def __getitem__(self, i: int) -> dict:
        import torch
        from PIL import Image

        raw = self.raw(i)
        meta = json.loads(raw["json"])
        out: dict = {}
        for cam in self.manifest["cameras"]:
            frames = [np.asarray(Image.open(io.BytesIO(raw[f"{cam}.{t}.{self.manifest['image_format']}"])).convert("RGB"))
                      for t in range(self.manifest["obs_horizon"])]
            out[f"images.{cam}"] = torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2).contiguous()
        with np.load(io.BytesIO(raw["lowdim.npz"])) as z:
            for name in z.files:
                value = z[name]
                out[name] = torch.from_numpy(value).to(self.dtype) if value.dtype.kind == "f" else torch.from_numpy(value)
        out.update({"key": self.samples[i][1], "episode": meta["episode"], "task": meta["task"],
                    "segment": meta["segment"], "frame": int(meta["frame"])})
        return out

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_handles"] = {}  # open files stay with their process (DataLoader workers may be spawned)
        return state

    def __del__(self):
        for handle in getattr(self, "_handles", {}).values():
            handle.close()


def _index_tar(path: Path) -> list[tuple[str, dict[str, tuple[int, int]]]]:
    """Per sample, in tar order: (key, field -> (data offset, size)); a sample's members are consecutive."""
    samples: list[tuple[str, dict]] = []
    try:
        with tarfile.open(path, "r") as tar:
            for member in tar:
                key, _, field = member.name.partition(".")
                if not samples or samples[-1][0] != key:
                    samples.append((key, {}))
                samples[-1][1][field] = (member.offset_data, member.size)
    except (OSError, tarfile.TarError) as exc:
        raise FormatError(f"cannot index shard ({exc})", path=path) from exc
    return samples
