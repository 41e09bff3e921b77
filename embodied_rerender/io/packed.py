"""Packed training shards: one small safetensors file per episode, the format training reads.

Packing runs where the readers run (it decodes videos and warps); training needs only torch + safetensors, so
shards travel to a GPU machine that has neither a video decoder nor MuJoCo. A training shard
(`episode_<task>_<id>.safetensors[.gz]`) holds, at the training resolution (h, w):

    <cam>.frames     (T, h, w, 3) uint8   every packed camera (sources and targets)
    <cam>.c2w        (T, 4, 4) float32    camera-to-world
    <cam>.K          (3, 3) float32       intrinsics at (h, w) (geometry.resize_intrinsics)
    <target>.prior   (T, h, w, 3) uint8   warp render of the sources into the target (full resolution, resized)
    <target>.covered (T, h, w) uint8      share of each low-res pixel the warp covered, 0..255
    covis.<target>   (S, C * S) float32   frustum co-visibility of each target clip (start s) with every
                                          candidate clip (camera c, start s'), for retrieval at training time

and in its metadata: `episode`, `cameras`, `source` (the camera of context slot 0, the raymap reference),
`sources` (cameras with depth), `targets` (also written as `wrists`, the older name), `starts`, `clip`,
`height`, `width`, `frames`. Shards written before sources were general have no `source`: it is "head".

An eval shard (`eval_<task>_<id>...`) keeps full resolution for scoring without a video decoder:
`<cam>.frames` `(T, H, W, 3) uint8`, `<cam>.c2w` `(T, 4, 4)` and `<cam>.K` `(T, 3, 3)` float64 of every camera,
`<source>.depth` `(T, H, W)` float16 metres of each camera with depth. Files may be gzip-compressed
(`.safetensors.gz`, stdlib gzip) to fit transfer limits.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F


def resize_frames(frames: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """`(T, H, W, C)` or `(T, H, W)` uint8 or float -> `(T, h, w[, C])` same dtype, area-averaged (anti-aliased)."""
    x = torch.from_numpy(np.ascontiguousarray(frames)).float()
    squeeze = x.ndim == 3
    if squeeze:
        x = x[..., None]
    y = F.interpolate(x.permute(0, 3, 1, 2), size=size, mode="area").permute(0, 2, 3, 1)
    if squeeze:
        y = y[..., 0]
    if frames.dtype == np.uint8:
        return y.round().clamp(0, 255).to(torch.uint8).numpy()
    return y.numpy().astype(frames.dtype)


def write_shard(path: Path, tensors: dict[str, np.ndarray], meta: dict, compress: bool) -> Path:
    """Write `path` + `.safetensors[.gz]` atomically (temporary file, then rename); returns the final path."""
    from safetensors.numpy import save

    blob = save({k: np.ascontiguousarray(v) for k, v in tensors.items()}, metadata={"meta": json.dumps(meta)})
    path = path.with_name(path.name + (".safetensors.gz" if compress else ".safetensors"))
    tmp = path.with_name("." + path.name + ".tmp")
    tmp.write_bytes(gzip.compress(blob, compresslevel=6) if compress else blob)
    tmp.replace(path)
    return path


def read_shard(path: str | Path) -> tuple[dict[str, torch.Tensor], dict]:
    """Tensors and metadata of one shard (plain or gzip)."""
    from safetensors.torch import load

    path = Path(path)
    blob = path.read_bytes()
    if path.suffix == ".gz":
        blob = gzip.decompress(blob)
    tensors = load(blob)
    # Metadata is in the header: a JSON length-prefixed block at the start of the file.
    n = int.from_bytes(blob[:8], "little")
    header = json.loads(blob[8:8 + n])
    meta = json.loads(header.get("__metadata__", {}).get("meta", "{}"))
    meta.setdefault("source", "head")
    meta.setdefault("targets", meta.get("wrists", []))
    return tensors, meta


def shard_paths(root: str | Path, prefix: str = "episode_") -> list[Path]:
    """The shards under `root` whose names start with `prefix`, sorted (no temporary files)."""
    root = Path(root)
    return sorted(p for p in root.iterdir() if p.name.startswith(prefix) and ".safetensors" in p.name)


def episode_key(episode) -> str:
    """`<task>_<id>` (or `<id>` for formats without task groups): how shards, pack.json and reports name an episode."""
    return f"{episode.task_id}_{episode.episode_id}" if episode.task_id not in (None, "") else str(episode.episode_id)


def clip_starts(num_frames: int, clip: int, stride: int) -> list[int]:
    """First frames of the training clips of an episode (the candidate grid of the co-visibility tables)."""
    return list(range(0, num_frames - clip + 1, stride))


def camera_tensors(name: str, frames: np.ndarray, trajectory) -> dict[str, np.ndarray]:
    """One camera's entries of an eval shard: `<name>.frames` `(T, H, W, 3) uint8`, `<name>.c2w` `(T, 4, 4)` and
    `<name>.K` `(T, 3, 3)` float64."""
    return {f"{name}.frames": frames, f"{name}.c2w": trajectory.extrinsics.astype(np.float64),
            f"{name}.K": trajectory.intrinsics_per_frame().astype(np.float64)}


def eval_tensors(episode, cameras: list[str], frames: int | None = None) -> tuple[dict[str, np.ndarray], dict]:
    """Tensors and metadata of an eval shard of `episode`'s `cameras` (the first `frames` frames; None: all)."""
    n = min(len(episode.cameras[c]) for c in cameras)
    n = min(n, frames) if frames else n
    tensors = {}
    for name in cameras:
        cam = episode.cameras[name]
        tensors.update(camera_tensors(name, cam[:n], cam.trajectory.subset(np.arange(n))))
        if cam.depth is not None:
            tensors[f"{name}.depth"] = cam.read_depth(slice(0, n)).astype(np.float16)
    sizes = {name: list(tensors[f"{name}.frames"].shape[1:3]) for name in cameras}
    h, w = sizes[cameras[0]]
    meta = {"episode": episode_key(episode), "task_id": episode.task_id, "episode_id": str(episode.episode_id),
            "cameras": cameras, "height": h, "width": w, "sizes": sizes, "fps": float(episode.fps)}
    return tensors, meta


def load_eval_episode(path: str | Path):
    """An :class:`~embodied_rerender.episode.Episode` from an eval shard (frames in memory)."""
    from ..episode import ArrayFrames, CameraStream, CameraTrajectory, Episode

    tensors, meta = read_shard(path)
    cams = {}
    for name in meta["cameras"]:
        h, w = meta.get("sizes", {}).get(name, (meta["height"], meta["width"]))
        traj = CameraTrajectory(tensors[f"{name}.c2w"].numpy(), tensors[f"{name}.K"].numpy(), h, w)
        depth = ArrayFrames(tensors[f"{name}.depth"].float().numpy()) if f"{name}.depth" in tensors else None
        cams[name] = CameraStream(name, ArrayFrames(tensors[f"{name}.frames"].numpy()), traj, depth)
    task, ep_id = (meta["task_id"], meta["episode_id"]) if "episode_id" in meta else meta["episode"].split("_", 1)
    return Episode(ep_id, meta.get("fps", 30.0), cams, task_id=task)
