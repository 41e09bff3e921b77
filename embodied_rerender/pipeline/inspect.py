"""`inspect`: what a reader finds in a dataset, one summary per episode, problems included."""

from __future__ import annotations

from typing import Iterable

import numpy as np

from ..episode import Episode
from ..errors import EpisodeError
from ..io import EpisodeRef, Reader, iter_episodes


def summarize_episode(ep: Episode) -> dict:
    """A JSON-ready summary: frames, cameras (size, codec, depth, camera-centre ranges), state keys, problems."""
    cameras = {}
    for name, cam in ep.cameras.items():
        info = {"frames": len(cam), "height": cam.height, "width": cam.width,
                "codec": getattr(cam.frames, "codec", None), "depth": len(cam.depth) if cam.depth is not None else 0}
        if cam.trajectory is not None:
            centres = cam.trajectory.centers
            info["centre_min"] = np.round(centres.min(axis=0), 3).tolist()
            info["centre_max"] = np.round(centres.max(axis=0), 3).tolist()
            info["path_length_m"] = round(float(np.linalg.norm(np.diff(centres, axis=0), axis=1).sum()), 3)
        cameras[name] = info
    return {
        "episode": f"{ep.task_id}/{ep.episode_id}" if ep.task_id else ep.episode_id,
        "status": "ok",
        "frames": ep.num_frames,
        "fps": ep.fps,
        "task": ep.task,
        "segments": len(ep.segments),
        "embodiment": ep.metadata.get("embodiment"),
        "cameras": cameras,
        "state": {k: list(v.shape[1:]) for k, v in ep.state.items()},
        "action": {k: list(v.shape[1:]) for k, v in ep.action.items()},
        "problems": list(ep.metadata.get("problems", [])),
    }


def inspect_dataset(reader: Reader) -> list[dict]:
    """One summary per indexed episode and one entry per problem found while indexing or reading."""
    rows = []
    for ref, result in iter_episodes(reader):
        if isinstance(result, Episode):
            try:
                verify_frames(result)
            except EpisodeError as err:
                result = err.with_episode(ref.label)
        rows.append(summarize_episode(result) if isinstance(result, Episode) else _error_row(ref, result))
    for err in reader.problems:
        rows.append(_error_row(None, err))
    return rows


def verify_frames(ep: Episode, batch: int = 32) -> None:
    """Decode every frame and depth map of every camera, as convert and augment will; the first failure
    (a damaged stream, a frame or depth of another size) is raised as an EpisodeError naming its file."""
    from ..errors import ConsistencyError, FormatError

    for name, cam in ep.cameras.items():
        where = cam.source_path or getattr(cam.frames, "path", None)
        for start in range(0, len(cam), batch):
            try:
                frames = cam[start:min(start + batch, len(cam))]
            except EpisodeError:
                raise
            except Exception as exc:  # noqa: BLE001 - any decoder failure means convert would skip it
                raise FormatError(f"camera {name}: frames {start}+ cannot be decoded ({type(exc).__name__}: {exc})",
                                  path=where) from exc
            if frames.shape[1:3] != (cam.height, cam.width):
                raise ConsistencyError(f"camera {name}: frames are {frames.shape[2]}x{frames.shape[1]}, "
                                       f"expected {cam.width}x{cam.height}", path=where)
            if cam.depth is not None:
                depth = cam.depth.read(np.arange(start, start + len(frames)))
                if depth.shape[1:] != frames.shape[1:3]:
                    raise ConsistencyError(f"camera {name}: depth is {depth.shape[2]}x{depth.shape[1]}, video is "
                                           f"{frames.shape[2]}x{frames.shape[1]}", path=getattr(cam.depth, "paths", [where])[0])


def _error_row(ref: EpisodeRef | None, err: EpisodeError) -> dict:
    return {"episode": err.episode or (ref.label if ref else "?"), "status": "error", "file": err.path, "reason": err.reason}


def format_table(rows: Iterable[dict]) -> str:
    """Human-readable text: an episode line, then one line per camera, then problems."""
    lines = []
    for row in rows:
        if row["status"] == "error":
            lines.append(f"{row['episode']:<20} ERROR  {row['reason']}")
            lines.append(f"{'':<20}        file: {row['file']}")
            continue
        lines.append(
            f"{row['episode']:<20} ok     frames={row['frames']} fps={row['fps']:g} segments={row['segments']} "
            f"embodiment={row['embodiment']} task={row['task']!r}"
        )
        lines.append(f"{'':<4}{'camera':<22}{'size':>9} {'codec':>6} {'depth':>6}  camera centre range (m): min -> max, path")
        for name, cam in row["cameras"].items():
            size = f"{cam['width']}x{cam['height']}"
            poses = (f"{_vec(cam['centre_min'])} -> {_vec(cam['centre_max'])}, {cam['path_length_m']:.2f} m"
                     if "centre_min" in cam else "no poses")
            lines.append(f"{'':<4}{name:<22}{size:>9} {str(cam['codec']):>6} {cam['depth']:>6}  {poses}")
        for problem in row["problems"]:
            lines.append(f"{'':<4}warning: {problem}")
    return "\n".join(lines)


def _vec(v) -> str:
    return "(" + ", ".join(f"{x:+.3f}" for x in v) + ")"
