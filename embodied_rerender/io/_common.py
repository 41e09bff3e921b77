"""Helpers the dataset writers share: checking an episode before writing it, reading back the flattened
`(T, D)` state/action matrices of earlier files, JSON-safe episode metadata, and frame batches.

Writers store the same facts the same way: `episode_info(ep)` is the JSON record of an episode
(ids, task, segments, names, metadata) and `episode_from_info` turns it back into Episode fields.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import numpy as np

from ..episode import CameraStream, Episode, Segment
from ..errors import ConsistencyError, FormatError


# -- validation ----------------------------------------------------------------------------------
def check_episode(episode: Episode) -> int:
    """T, after checking every camera, trajectory, state and action array has T rows."""
    n = episode.num_frames
    label = episode_label(episode)
    if n == 0:
        raise ConsistencyError("episode has no frames", episode=label)
    for name, cam in episode.cameras.items():
        if len(cam) != n:
            raise ConsistencyError(f"camera {name} has {len(cam)} frames, episode has {n}", episode=label, path=cam.source_path)
        if cam.trajectory is not None and len(cam.trajectory) != n:
            raise ConsistencyError(f"camera {name} trajectory has {len(cam.trajectory)} poses, episode has {n}", episode=label)
    for group, arrays in (("state", episode.state), ("action", episode.action)):
        for key, value in arrays.items():
            if np.asarray(value).shape[:1] != (n,):
                raise ConsistencyError(f"{group} {key} has shape {np.shape(value)}, expected {n} rows", episode=label)
    return n


def episode_label(episode: Episode) -> str:
    """How errors name the episode: "task/episode" or "episode"."""
    return f"{episode.task_id}/{episode.episode_id}" if episode.task_id else str(episode.episode_id)


def prepare_dir(out: Path, label: str | None = None) -> Path:
    """`out` as an empty directory (created when missing); a non-empty one is refused, never overwritten."""
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise FormatError("output directory exists and is not empty", episode=label, path=out)
    out.mkdir(parents=True, exist_ok=True)
    return out


# -- flattened state/action (earlier files) ------------------------------------------------------
def unflatten_lowdim(flat: np.ndarray, layout: list[dict]) -> dict[str, np.ndarray]:
    """`(T, D)` state/action columns as earlier writers of ours stored them -> `key -> (T, *shape)` float64;
    `layout` lists `{key, shape, start, stop}` per key (`shape` per frame, columns `[start, stop)` of `flat`)."""
    flat = np.asarray(flat, dtype=np.float64)
    return {e["key"]: flat[:, e["start"]:e["stop"]].reshape((len(flat),) + tuple(e["shape"])) for e in layout}


# -- JSON records --------------------------------------------------------------------------------
def jsonable(obj: Any) -> Any:
    """`obj` with numpy arrays and scalars turned into lists and Python numbers, so json.dumps takes it."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    return obj


def camera_info(stream: CameraStream) -> dict:
    """JSON record of one camera: size, whether K is static, provenance (empty for a recorded camera)."""
    traj = stream.trajectory
    return {
        "height": stream.height,
        "width": stream.width,
        "has_trajectory": traj is not None,
        "static_intrinsics": bool(traj is not None and traj.static_intrinsics),
        "has_depth": stream.depth is not None,
        "provenance": jsonable(stream.provenance),
        "synthesized": stream.synthesized,
    }


def episode_info(episode: Episode, frames: int | None = None) -> dict:
    """JSON record of an episode's identity and annotations (everything but arrays and frames)."""
    return {
        "episode_id": str(episode.episode_id),
        "task_id": None if episode.task_id is None else str(episode.task_id),
        "frames": int(frames if frames is not None else episode.num_frames),
        "fps": float(episode.fps),
        "task": episode.task,
        "scene": episode.scene,
        "segments": [{"start": s.start, "end": s.end, "text": s.text, "skill": s.skill} for s in episode.segments],
        "names": jsonable(episode.names),
        "metadata": jsonable(episode.metadata),
        "source": episode.source,
        "cameras": {name: camera_info(cam) for name, cam in episode.cameras.items()},
    }


def episode_fields(info: dict) -> dict:
    """Episode constructor arguments (ids, fps, task, scene, segments, names, metadata) from `episode_info`."""
    return {
        "episode_id": info["episode_id"],
        "task_id": info.get("task_id"),
        "fps": float(info.get("fps", 30.0)),
        "task": info.get("task", ""),
        "scene": info.get("scene", ""),
        "segments": [Segment(int(s["start"]), int(s["end"]), s.get("text", ""), s.get("skill", "")) for s in info.get("segments", [])],
        "names": {k: list(v) for k, v in (info.get("names") or {}).items()},
        "metadata": dict(info.get("metadata") or {}),
        "source": info.get("source"),
    }


# -- frames --------------------------------------------------------------------------------------
def frame_batches(stream: CameraStream, n: int, batch: int = 64) -> Iterator[tuple[int, np.ndarray]]:
    """`(start, (b, H, W, 3) uint8)` over frames [0, n) in batches, so a long episode never sits in memory whole."""
    for start in range(0, n, batch):
        frames = np.asarray(stream[start:min(start + batch, n)])
        if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
            raise FormatError(f"camera {stream.name} frames must be (T, H, W, 3) uint8, got {frames.shape} {frames.dtype}",
                              path=stream.source_path)
        yield start, frames


def depth_batches(stream: CameraStream, n: int, batch: int = 64) -> Iterator[tuple[int, np.ndarray]]:
    """`(start, (b, H, W) float32)` metres over frames [0, n)."""
    for start in range(0, n, batch):
        yield start, np.asarray(stream.read_depth(np.arange(start, min(start + batch, n))), dtype=np.float32)

