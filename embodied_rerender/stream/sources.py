"""Inputs of a stream as iterators of :class:`StreamItem`: a recorded episode, a memory-bank view, a video file with
poses, an eval shard.

Frames are read one at a time, so a source is as lazy as the episode's frame source beneath it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ..episode import CameraTrajectory, Episode
from ..memory import View
from .engine import StreamItem


def episode_items(episode: Episode, target: CameraTrajectory, source: str = "head",
                  frames: int | None = None) -> Iterator[StreamItem]:
    """The `source` camera of `episode` (frames, depth if recorded, poses) re-rendered along `target`."""
    cam = episode.cameras[source]
    if cam.trajectory is None:
        raise ValueError(f"camera {source} of episode {episode.episode_id} has no poses")
    n = min(len(cam), len(target)) if frames is None else min(frames, len(cam), len(target))
    s_K, t_K = cam.trajectory.intrinsics_per_frame(), target.intrinsics_per_frame()
    for i in range(n):
        depth = cam.read_depth(i) if cam.depth is not None else None
        yield StreamItem(cam[i], s_K[i], cam.trajectory.extrinsics[i], t_K[i], target.extrinsics[i], depth)


def view_items(view: View, target: CameraTrajectory, start: int = 0) -> Iterator[StreamItem]:
    """One item per frame of `target` (episode frames from `start`): the frame of the memory-bank `view` at the
    same instant (clamped at its ends, as the warp synthesizer does), its depth if it has any, both cameras."""
    s_K, t_K = view.trajectory.intrinsics_per_frame(), target.intrinsics_per_frame()
    local = np.clip(np.arange(len(target)) + start - view.start, 0, len(view.frames) - 1)
    for i, j in enumerate(local):
        depth = view.depth[j] if view.depth is not None else None
        yield StreamItem(view.frames[j], s_K[j], view.trajectory.extrinsics[j], t_K[i], target.extrinsics[i], depth)


def video_items(video: str | Path, poses: str | Path, frames: int | None = None) -> Iterator[StreamItem]:
    """A video file plus an `.npz` of poses: `source_K (3, 3)`, `source_c2w (T, 4, 4)`, `target_K (3, 3)` (at the
    video's size), `target_c2w (T, 4, 4)`, optionally `depth (T, H, W)` float32 metres."""
    from ..video import VideoReader

    arrays = np.load(poses)
    reader = VideoReader(video)
    depth = arrays["depth"] if "depth" in arrays.files else None
    n = min(len(reader), len(arrays["source_c2w"]), len(arrays["target_c2w"]))
    n = n if frames is None else min(n, frames)
    for i, frame in enumerate(reader.iter_frames()):
        if i >= n:
            break
        yield StreamItem(frame, arrays["source_K"], arrays["source_c2w"][i], arrays["target_K"], arrays["target_c2w"][i],
                         None if depth is None else depth[i])


def load_episode(path: str | Path, index: int = 0) -> Episode:
    """An episode from an eval shard file (`eval_*.safetensors[.gz]`), a directory of them, or an AgiBot-layout tree."""
    from ..io.packed import load_eval_episode, shard_paths

    path = Path(path)
    if path.is_file() and ".safetensors" in path.name:
        return load_eval_episode(path)
    shards = shard_paths(path, "eval_") if path.is_dir() else []
    if shards:
        return load_eval_episode(shards[index])
    from ..io import get_reader

    reader = get_reader(None, str(path))
    refs = list(reader.refs())
    return reader.read(refs[index])


__all__ = ["episode_items", "view_items", "video_items", "load_episode"]
