"""robomimic HDF5: one file of demos, the layout robomimic and diffusion-policy's robomimic loaders read.

```
<dir>/data.hdf5
/data                          attrs: total (int), env_args (JSON: env_name, type 2 = robomimic's EnvType.GYM_TYPE,
                                      env_kwargs{fps, cameras, real_robot}), action_offset / action_scale (Da,)
                                      float64: raw action = actions * action_scale + action_offset
/data/demo_<i>                 attrs: num_samples, episode (JSON record: ids, task, scene, segments, names, metadata),
                                      state_keys, action_keys (JSON lists of the raw groups), action_columns (JSON)
    actions        (T, Da) float64   the policy action (io/policy.py; 22 columns for AgiBot, names in
                                     action_columns), each column mapped to [-1, 1] by the dataset's min and
                                     max (constant columns: offset only)
    action_dict/<key>  (T, D) float64  every raw action group, flattened per frame; attrs shape, names
    rewards        (T,) float64      zeros (real demonstrations carry no reward)
    dones          (T,) int64        1 on the last frame
    states         (T, Ds) float64   the policy state (write_states=True; robomimic's "dummy for non-sim" slot)
    timestamps     (T,) int64        source timestamps in ns, when known
    obs/<camera>_image        (T, H, W, 3) uint8, chunked (1, H, W, 3), gzip (or lzf / none)
    obs/<camera>_extrinsics   (T, 4, 4) float64 camera-to-world, OpenCV axes, metres
    obs/<camera>_intrinsics   (T, 3, 3) float64 K in pixels
    obs/<camera>_depth        (T, H, W) float32 metres (write_depth=True)
    obs/state                 (T, Ds) float32 the policy state (io/policy.py; 20 columns for AgiBot); attrs names
    obs/<state key>           (T, D) float64, every raw state group flattened per frame; attrs shape (per-frame), names
    next_obs/<key>            every obs key, one step ahead (the last frame repeated): HDF5 virtual datasets
                              over obs/<key>, so they take no space
/mask/train, /mask/valid       (n,) byte strings of demo names, a deterministic seeded split
```

Synthesized cameras carry their provenance in env_args.env_kwargs.cameras[<camera>].provenance and in the
demo's episode record. Each written episode directory holds a one-demo file with raw actions and no
next_obs; `merge` copies demos with h5py `copy` (chunks are copied as stored, no re-compression)
renumbered demo_0... and adds each one's next_obs, then normalizes the actions over the whole dataset. robomimic's
`SequenceDataset` reads the result with its defaults and `get_dataset_info.py` accepts it; the env type
is only a valid tag (real-robot data has no simulator to roll out in).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from ..episode import CameraStream, CameraTrajectory, Episode, KeepsDecoded
from ..errors import ConsistencyError, DatasetError, FormatError
from ._common import (
    camera_info,
    check_episode,
    depth_batches,
    episode_fields,
    episode_info,
    episode_label,
    frame_batches,
    jsonable,
    prepare_dir,
    unflatten_lowdim,
)
from .base import EpisodeRef, safe_ref
from .policy import PolicyVector, action_vector, state_vector

FILENAME = "data.hdf5"
_DEMO = re.compile(r"^demo_(\d+)$")
_CAMERA_SUFFIXES = ("_image", "_depth", "_extrinsics", "_intrinsics")
POLICY_STATE = "state"  # obs/<this>: the policy state vector
GYM_ENV_TYPE = 2  # robomimic.envs.env_base.EnvType.GYM_TYPE (1 robosuite, 2 gym, 3 iGibson MOMART)


class RobomimicWriter:
    """Writes episodes as robomimic demos (layout in the module docstring).

    compression: "gzip" (default, level `compression_level`), "lzf" or None for image and depth datasets.
    valid_fraction / split_seed: the share of demos listed in mask/valid, drawn by a seeded permutation
        (same seed and demo count -> same split); the rest go to mask/train.
    write_states: store the flat state as `states`. write_depth: store `obs/<camera>_depth`.
    filename: the HDF5 file inside each episode directory and inside the merged output directory.
    """

    name = "robomimic"

    def __init__(self, compression: str | None = "gzip", compression_level: int = 4, valid_fraction: float = 0.1,
                 split_seed: int = 0, write_states: bool = True, write_depth: bool = False,
                 filename: str = FILENAME, batch: int = 64):
        if compression not in ("gzip", "lzf", None):
            raise ValueError(f"compression must be 'gzip', 'lzf' or None, got {compression!r}")
        if not 0.0 <= valid_fraction < 1.0:
            raise ValueError(f"valid_fraction must be in [0, 1), got {valid_fraction}")
        self.compression = compression
        self.compression_opts = compression_level if compression == "gzip" else None
        self.valid_fraction = valid_fraction
        self.split_seed = split_seed
        self.write_states = write_states
        self.write_depth = write_depth
        self.filename = filename
        self.batch = batch

    # -- one episode -----------------------------------------------------------------------------
    def write_episode(self, episode: Episode, out: Path) -> dict:
        """Write `episode` as `demo_0` of `<out>/<filename>` (out: an empty or missing directory)."""
        import h5py

        label = episode_label(episode)
        n = check_episode(episode)
        out = prepare_dir(out, label)
        path = out / self.filename
        with h5py.File(path, "w") as f:
            data = f.create_group("data")
            self._write_demo(data.create_group("demo_0"), episode, n)
            data.attrs["total"] = n
            data.attrs["env_args"] = json.dumps(env_args(episode))
            write_masks(f, ["demo_0"], self.valid_fraction, self.split_seed)
        return {"episode": label, "frames": n, "cameras": sorted(episode.cameras)}

    def _write_demo(self, demo, episode: Episode, n: int) -> None:
        demo.attrs["num_samples"] = n
        demo.attrs["episode"] = json.dumps(episode_info(episode, n))
        demo.attrs["state_keys"] = json.dumps(list(episode.state))
        demo.attrs["action_keys"] = json.dumps(list(episode.action))
        policy_state, policy_action = state_vector(episode), action_vector(episode)
        demo.create_dataset("actions", data=policy_action.values.astype(np.float64))
        demo.attrs["action_columns"] = json.dumps(list(policy_action.names))
        raw_actions = demo.create_group("action_dict")
        for key, value in episode.action.items():
            self._write_lowdim(raw_actions, key, np.asarray(value, np.float64), episode.names.get(key))
        demo.create_dataset("rewards", data=np.zeros(n, np.float64))
        dones = np.zeros(n, np.int64)
        dones[-1] = 1
        demo.create_dataset("dones", data=dones)
        if self.write_states and policy_state.width:
            demo.create_dataset("states", data=policy_state.values.astype(np.float64))
        if episode.timestamps is not None:
            demo.create_dataset("timestamps", data=np.asarray(episode.timestamps, np.int64))
        obs = demo.create_group("obs")
        self._write_policy_state(obs, episode, policy_state)
        for key, value in episode.state.items():
            if key.endswith(_CAMERA_SUFFIXES):
                raise FormatError(f"state key {key!r} ends like a camera observation ({'/'.join(_CAMERA_SUFFIXES)})",
                                  episode=episode_label(episode))
            if key != POLICY_STATE:
                self._write_lowdim(obs, key, np.asarray(value, np.float64), episode.names.get(key))
        for name, cam in episode.cameras.items():
            self._write_camera(obs, name, cam, n)

    @staticmethod
    def _write_policy_state(obs, episode: Episode, vector: PolicyVector) -> None:
        """`obs/state`: the policy state; an episode whose only raw state group is itself called "state" (read
        from a dataset that kept no groups) has it stored once, in float64, under that name."""
        if POLICY_STATE in episode.state:
            if vector.keys != (POLICY_STATE,):
                raise FormatError(f"state key {POLICY_STATE!r} collides with the policy state obs/{POLICY_STATE}",
                                  episode=episode_label(episode))
            value = np.asarray(episode.state[POLICY_STATE], np.float64)
            ds = obs.create_dataset(POLICY_STATE, data=value.reshape(len(value), -1))
            ds.attrs["shape"] = json.dumps(list(value.shape[1:]))
        elif vector.width:
            ds = obs.create_dataset(POLICY_STATE, data=vector.values)
        else:
            return
        ds.attrs["names"] = json.dumps(list(vector.names))

    @staticmethod
    def _write_lowdim(group, key: str, value: np.ndarray, names: list[str] | None) -> None:
        ds = group.create_dataset(key, data=value.reshape(len(value), -1))
        ds.attrs["shape"] = json.dumps(list(value.shape[1:]))
        if names:
            ds.attrs["names"] = json.dumps(names)

    def _write_camera(self, obs, name: str, cam: CameraStream, n: int) -> None:
        images = None
        for start, frames in frame_batches(cam, n, self.batch):
            if images is None:
                h, w = frames.shape[1:3]
                images = obs.create_dataset(f"{name}_image", shape=(n, h, w, 3), dtype=np.uint8, chunks=(1, h, w, 3),
                                            compression=self.compression, compression_opts=self.compression_opts)
            images[start:start + len(frames)] = frames
        if cam.trajectory is not None:
            obs.create_dataset(f"{name}_extrinsics", data=cam.trajectory.extrinsics)
            obs.create_dataset(f"{name}_intrinsics", data=cam.trajectory.intrinsics_per_frame())
        if self.write_depth and cam.depth is not None:
            depth = None
            for start, block in depth_batches(cam, n, self.batch):
                if depth is None:
                    depth = obs.create_dataset(f"{name}_depth", shape=(n,) + block.shape[1:], dtype=np.float32,
                                               chunks=(1,) + block.shape[1:], compression=self.compression,
                                               compression_opts=self.compression_opts)
                depth[start:start + len(block)] = block

    # -- merge -----------------------------------------------------------------------------------
    def merge(self, episode_dirs: list[Path], out: Path) -> None:
        """Copy the demo of each episode directory, in order, into `<out>/<filename>` as demo_0, demo_1, ..."""
        if not episode_dirs:
            raise DatasetError("nothing to merge: no episode directories")
        session = self.merge_session(out)
        try:
            for ep_dir in episode_dirs:
                session.add(ep_dir)
            session.finish()
        except BaseException:
            session.abort()
            raise

    def merge_session(self, out: Path) -> "RobomimicMerge":
        """A merge that takes the episode directories one at a time, in order (`add`), so a run can copy the
        finished ones while later episodes are still being written; `finish` does what needs them all."""
        return RobomimicMerge(out, self.filename, self.valid_fraction, self.split_seed)


class RobomimicMerge:
    """`<out>/<filename>` filled demo by demo (each with its next_obs); the dataset-wide steps (action
    normalization, masks) run in `finish`. `abort` closes the file and leaves `out` for the caller to remove."""

    def __init__(self, out: Path, filename: str, valid_fraction: float, split_seed: int):
        import h5py

        self.out, self.valid_fraction, self.split_seed = prepare_dir(out), valid_fraction, split_seed
        self.dst = h5py.File(self.out / filename, "w")
        self.data = self.dst.create_group("data")
        self.names, self.total, self.env = [], 0, None
        self.filename = filename

    def add(self, ep_dir: Path) -> None:
        import h5py

        src_path = Path(ep_dir) / self.filename
        try:
            src = h5py.File(src_path, "r")
        except OSError as exc:
            raise FormatError(f"cannot open HDF5 ({exc})", path=src_path) from exc
        with src:
            demos = sorted_demos(src)
            if len(demos) != 1:
                raise FormatError(f"episode file must hold one demo, found {len(demos)}", path=src_path)
            env = _merge_env_args(self.env, json.loads(src["data"].attrs["env_args"]), src_path)
            name = f"demo_{len(self.names)}"
            src.copy(src["data"][demos[0]], self.data, name=name)
            self.total += int(src["data"][demos[0]].attrs["num_samples"])
        add_next_obs(self.data[name])  # per demo, here: in an early merge it then overlaps the episode work
        self.env = env
        self.names.append(name)

    def finish(self) -> None:
        if not self.names:
            raise DatasetError("nothing to merge: no episode directories")
        data = self.data
        data.attrs["total"] = self.total
        data.attrs["env_args"] = json.dumps(self.env)
        normalize_actions(data, self.names)
        write_masks(self.dst, self.names, self.valid_fraction, self.split_seed)
        self.dst.close()

    def abort(self) -> None:
        self.dst.close()


def normalize_actions(data, names: list[str]) -> None:
    """Map every demo's `actions` column-wise to [-1, 1] by the min and max over all demos, in place.

    Stores `action_offset` = (max + min) / 2 and `action_scale` = (max - min) / 2 (1 where a column is
    constant) on `data`, so raw = actions * scale + offset (to within float64 rounding).
    """
    actions = [np.asarray(data[n]["actions"][()], np.float64) for n in names]
    width = actions[0].shape[1] if actions else 0
    if width == 0:
        offset = scale = np.zeros(0)
    else:
        stacked = np.concatenate(actions, axis=0)
        lo, hi = stacked.min(axis=0), stacked.max(axis=0)
        offset = (hi + lo) / 2.0
        scale = np.where(hi > lo, (hi - lo) / 2.0, 1.0)
    for name, raw in zip(names, actions):
        del data[name]["actions"]
        data[name].create_dataset("actions", data=np.clip((raw - offset) / scale, -1.0, 1.0) if width else raw)
    data.attrs["action_offset"] = offset
    data.attrs["action_scale"] = scale


def add_next_obs(demo) -> None:
    """`next_obs/<key>` for every `obs/<key>` of `demo`: rows 1..T-1 then T-1 again, as a virtual dataset
    over the same file (robomimic loads next_obs by default; real demonstrations have no step after the last)."""
    import h5py

    obs, next_obs = demo["obs"], demo.require_group("next_obs")
    for key, ds in obs.items():
        n = ds.shape[0]
        layout = h5py.VirtualLayout(shape=ds.shape, dtype=ds.dtype)
        source = h5py.VirtualSource(".", ds.name, shape=ds.shape, dtype=ds.dtype)
        layout[: n - 1] = source[1:n]
        layout[n - 1:n] = source[n - 1:n]
        next_obs.create_virtual_dataset(key, layout, fillvalue=0)
        for attr, value in ds.attrs.items():
            next_obs[key].attrs[attr] = value


def env_args(episode: Episode) -> dict:
    """robomimic's env metadata for real-robot data: the generic env type (no simulator), the cameras' parameters."""
    cameras = {}
    for name, cam in episode.cameras.items():
        info = camera_info(cam)
        if cam.trajectory is not None and cam.trajectory.static_intrinsics:
            info["intrinsics"] = jsonable(cam.trajectory.intrinsics)
        cameras[name] = info
    return {"env_name": episode.task or "embodied_rerender", "type": GYM_ENV_TYPE,
            "env_kwargs": {"real_robot": True, "fps": float(episode.fps), "cameras": cameras}}


def _merge_env_args(env: dict | None, new: dict, path: Path) -> dict:
    """The first episode's env_args, plus any camera a later episode adds; cameras must keep their size."""
    if env is None:
        return new
    cams = env["env_kwargs"].setdefault("cameras", {})
    for name, info in new.get("env_kwargs", {}).get("cameras", {}).items():
        if name in cams and (cams[name]["height"], cams[name]["width"]) != (info["height"], info["width"]):
            raise ConsistencyError(f"camera {name} is {info['height']}x{info['width']}, earlier demos have "
                                   f"{cams[name]['height']}x{cams[name]['width']}", path=path)
        cams.setdefault(name, info)
    return env


def split_demos(names: list[str], valid_fraction: float, seed: int) -> tuple[list[str], list[str]]:
    """(train, valid) demo names: a seeded permutation picks round(valid_fraction * n) valid demos (at least one
    when the fraction is positive and there are two or more demos); both lists keep demo order."""
    n = len(names)
    k = int(round(valid_fraction * n))
    if valid_fraction > 0 and n >= 2:
        k = min(max(k, 1), n - 1)
    else:
        k = 0
    valid = set(np.random.default_rng(seed).permutation(n)[:k].tolist())
    return [m for i, m in enumerate(names) if i not in valid], [m for i, m in enumerate(names) if i in valid]


def write_masks(f, names: list[str], valid_fraction: float, seed: int) -> None:
    """`/mask/train` and `/mask/valid` as byte-string arrays, like robomimic's split_train_val.py."""
    train, valid = split_demos(names, valid_fraction, seed)
    mask = f.require_group("mask")
    for key, members in (("train", train), ("valid", valid)):
        if key in mask:
            del mask[key]
        mask.create_dataset(key, data=np.array([m.encode() for m in members], dtype="S"))


def sorted_demos(f) -> list[str]:
    """`demo_<i>` names under /data in numeric order (demo_2 before demo_10)."""
    demos = [k for k in f["data"].keys() if _DEMO.match(k)] if "data" in f else []
    return sorted(demos, key=lambda k: int(_DEMO.match(k).group(1)))


# ================================================================================================
# Reader
# ================================================================================================
class H5Frames(KeepsDecoded):
    """Frames of one HDF5 dataset `(T, H, W, ...)`, read lazily; the file is opened per read (fork-safe).

    `read(indices)` -> `(len, H, W, 3) uint8` in the order asked (repeats allowed).
    """

    dtype = None  # images or depth: the file tells

    def __init__(self, path: Path, key: str, length: int, shape: tuple[int, ...]):
        self.path = Path(path)
        self.key = key
        self.length = int(length)
        self._frame_shape = tuple(shape)

    def __len__(self) -> int:
        return self.length

    @property
    def shape(self) -> tuple[int, int]:
        return self._frame_shape[:2]

    def read(self, indices) -> np.ndarray:
        import h5py

        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        if idx.size and (idx.min() < 0 or idx.max() >= self.length):
            raise IndexError(f"frame indices {idx.min()}..{idx.max()} out of range [0, {self.length})")
        if (kept := self._kept_read(idx)) is not None:
            return kept
        unique, inverse = np.unique(idx, return_inverse=True)  # h5py wants increasing indices
        with h5py.File(self.path, "r") as f:
            ds = f[self.key]
            if unique.size == 0:
                return np.zeros((0,) + self._frame_shape, ds.dtype)
            block = ds[int(unique[0]):int(unique[-1]) + 1] if unique[-1] - unique[0] + 1 == unique.size else ds[unique]
        return block[inverse]


def _lowdim(ds) -> np.ndarray:
    """A `(T, D)` low-dim dataset as float64 in its per-frame shape (`shape` attr when written by us)."""
    value = np.asarray(ds[()], np.float64)
    shape = json.loads(ds.attrs["shape"]) if "shape" in ds.attrs else list(value.shape[1:])
    return value.reshape((len(value),) + tuple(shape))


def _action_map(attrs) -> tuple[np.ndarray, np.ndarray] | None:
    """(scale, offset) `(Da,)` float64 that map normalized actions back (written by `normalize_actions`), or None."""
    if "action_scale" not in attrs or "action_offset" not in attrs:
        return None
    return np.asarray(attrs["action_scale"], np.float64).reshape(-1), np.asarray(attrs["action_offset"], np.float64).reshape(-1)


def _find_file(path: Path) -> Path:
    if path.is_file():
        return path
    if path.is_dir():
        if (path / FILENAME).is_file():
            return path / FILENAME
        found = sorted(path.glob("*.hdf5")) + sorted(path.glob("*.h5"))
        if len(found) == 1:
            return found[0]
        raise DatasetError(f"{path} must hold one .hdf5 file, found {len(found)}")
    raise DatasetError(f"input {path} does not exist")


class RobomimicReader:
    """Reads a robomimic HDF5 file (or a directory holding one), one Episode per `demo_<i>` in numeric order.

    Files written by RobomimicWriter come back with ids, state/action dicts in their shapes, trajectories,
    task and segments. Other robomimic files work too: `obs/<cam>_image` become cameras, other obs keys
    state, `actions` the action "actions"; episodes are named after their demo.
    """

    name = "robomimic"

    def __init__(self, path: str | Path):
        import h5py

        self.path = _find_file(Path(path))
        self.problems = []
        try:
            with h5py.File(self.path, "r") as f:
                demos = sorted_demos(f)
                self.env_args = json.loads(f["data"].attrs.get("env_args", "{}")) if "data" in f else {}
                self._action_map = _action_map(f["data"].attrs) if "data" in f else None
                infos = [json.loads(f["data"][d].attrs.get("episode", "null") or "null") for d in demos]
        except (OSError, ValueError) as exc:
            raise DatasetError(f"{self.path} is not a readable robomimic HDF5 file ({exc})") from exc
        self._index: dict[EpisodeRef, tuple[str, dict | None]] = {}
        for demo, info in zip(demos, infos):
            try:
                ref = safe_ref(info.get("task_id"), info.get("episode_id"), self.path) if info else safe_ref("", demo, self.path)
            except (FormatError, AttributeError) as err:
                self.problems.append(err if isinstance(err, FormatError) else
                                     FormatError(f"{demo} has a malformed episode attribute", path=self.path))
                continue
            if ref in self._index:
                self.problems.append(ConsistencyError(f"{demo} repeats episode {ref.label}; skipped", path=self.path))
                continue
            self._index[ref] = (demo, info)

    def refs(self) -> list[EpisodeRef]:
        return list(self._index)

    def read(self, ref: EpisodeRef) -> Episode:
        import h5py

        if ref not in self._index:
            raise FormatError("no such episode in the file", episode=ref.label, path=self.path)
        demo, info = self._index[ref]
        try:
            with h5py.File(self.path, "r") as f:
                return self._episode(f["data"][demo], f"data/{demo}", info, ref)
        except KeyError as exc:
            raise FormatError(f"{demo} is missing {exc}", episode=ref.label, path=self.path) from exc

    def _episode(self, g, prefix: str, info: dict | None, ref: EpisodeRef) -> Episode:
        n = int(g.attrs.get("num_samples", len(g["actions"])))
        obs = g["obs"] if "obs" in g else {}
        fields = episode_fields(info) if info else {"episode_id": ref.episode_id, "task_id": None,
                                                    "fps": float(self.env_args.get("env_kwargs", {}).get("fps", 20.0))}
        state_keys = json.loads(g.attrs["state_keys"]) if "state_keys" in g.attrs else \
            sorted(k for k in obs if not k.endswith(_CAMERA_SUFFIXES))
        state = {key: _lowdim(obs[key]) for key in state_keys}
        if "action_dict" in g and "action_keys" in g.attrs:  # ours: the raw groups beside the policy action
            action = {key: _lowdim(g["action_dict"][key]) for key in json.loads(g.attrs["action_keys"])}
        else:
            actions = np.asarray(g["actions"][()], np.float64)
            if self._action_map is not None:
                scale, offset = self._action_map
                if actions.shape[1:] != scale.shape:
                    raise ConsistencyError(f"actions have {actions.shape[1:]} columns, action_scale {scale.shape}",
                                           episode=ref.label, path=self.path)
                actions = actions * scale + offset
            # earlier files of ours: `actions` was every group flattened, `action_layout` its columns
            action = unflatten_lowdim(actions, json.loads(g.attrs["action_layout"])) if "action_layout" in g.attrs \
                else {"actions": actions}
        for group, arrays in (("state", state), ("action", action)):
            for key, value in arrays.items():
                if len(value) != n:
                    raise ConsistencyError(f"{group} {key} has {len(value)} rows, num_samples is {n}", episode=ref.label, path=self.path)
        timestamps = np.asarray(g["timestamps"][()], np.int64) if "timestamps" in g else None
        cameras = self._cameras(obs, prefix, n, (info or {}).get("cameras", {}), ref)
        fields.setdefault("metadata", {})
        fields["metadata"] = {**fields["metadata"], "robomimic_path": str(self.path), "robomimic_demo": prefix.split("/")[-1]}
        return Episode(cameras=cameras, state=state, action=action, timestamps=timestamps, **fields)

    def _cameras(self, obs, prefix: str, n: int, infos: dict, ref: EpisodeRef) -> dict[str, CameraStream]:
        cameras = {}
        for key in sorted(k for k in obs if k.endswith("_image")):
            name = key[: -len("_image")]
            ds = obs[key]
            if ds.ndim != 4 or ds.shape[-1] != 3 or len(ds) != n:
                raise ConsistencyError(f"obs/{key} has shape {ds.shape}, expected ({n}, H, W, 3)", episode=ref.label, path=self.path)
            h, w = ds.shape[1:3]
            trajectory = None
            if f"{name}_extrinsics" in obs and f"{name}_intrinsics" in obs:
                k = np.asarray(obs[f"{name}_intrinsics"][()], np.float64)
                if infos.get(name, {}).get("static_intrinsics") and len(k) and np.all(k == k[0]):
                    k = k[0]
                trajectory = CameraTrajectory(np.asarray(obs[f"{name}_extrinsics"][()], np.float64), k, h, w)
            depth = None
            if f"{name}_depth" in obs:
                depth = H5Frames(self.path, f"{prefix}/obs/{name}_depth", n, obs[f"{name}_depth"].shape[1:])
            cameras[name] = CameraStream(name, H5Frames(self.path, f"{prefix}/obs/{key}", n, ds.shape[1:]), trajectory, depth,
                                         provenance=dict(infos.get(name, {}).get("provenance") or {}),
                                         source_path=f"{self.path}:{prefix}/obs/{key}")
        return cameras
