"""The AgiBot World (Alpha/Beta) raw on-disk layout: paths, the proprio key set, and file writers.

Shared by the reader (`io/agibot.py`) and by anything that writes AgiBot-layout data (the sample scene,
test fixtures). See shared/specs/agibot_world_format.md §1-6.

```
<root>/task_info/task_<task>.json
<root>/observations/<task>/<ep>/videos/<camera>_color.mp4
<root>/observations/<task>/<ep>/depth/head_depth_<NNNNNN>.png        uint16 mm
<root>/parameters/<task>/<ep>/parameters/camera/<cam>_{intrinsic_params,extrinsic_params,extrinsic_params_aligned}.json
<root>/proprio_stats/<task>/<ep>/proprio_stats.h5
```
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np

FPS = 30.0

# Camera names as in the video file names (without the `_color.mp4` suffix).
GRIPPER_CAMERAS = (
    "head",
    "hand_left",
    "hand_right",
    "head_center_fisheye",
    "head_left_fisheye",
    "head_right_fisheye",
    "back_left_fisheye",
    "back_right_fisheye",
)
DEXHAND_WRIST_CAMERAS = ("hand_left_fisheye", "hand_right_fisheye")
TACTILE_SENSORS = ("left_sensor_1", "left_sensor_2", "right_sensor_1", "right_sensor_2")

# Every dataset of a real proprio_stats.h5. Populated ones are float64 (index arrays int64); the
# rest are empty (0,) float32 placeholders in real files.
PROPRIO_KEYS = (
    "timestamp",
    "state/joint/position", "state/joint/current_value", "state/joint/effort", "state/joint/velocity",
    "state/effector/position", "state/effector/force",
    "state/end/position", "state/end/orientation", "state/end/angular", "state/end/velocity", "state/end/wrench",
    "state/head/position", "state/head/effort", "state/head/velocity",
    "state/waist/position", "state/waist/effort", "state/waist/velocity",
    "state/robot/orientation", "state/robot/position", "state/robot/orientation_drift", "state/robot/position_drift",
    "action/joint/position", "action/joint/index", "action/joint/effort", "action/joint/velocity",
    "action/effector/position", "action/effector/index", "action/effector/force",
    "action/end/position", "action/end/orientation", "action/end/index",
    "action/head/position", "action/head/index",
    "action/waist/position", "action/waist/index",
    "action/robot/velocity", "action/robot/index", "action/robot/angular", "action/robot/orientation",
    "action/robot/position",
)


# -- paths -------------------------------------------------------------------------------------
def task_info_path(root: Path, task_id: str) -> Path:
    return Path(root) / "task_info" / f"task_{task_id}.json"


def observation_dir(root: Path, task_id: str, episode_id: str) -> Path:
    return Path(root) / "observations" / str(task_id) / str(episode_id)


def video_path(root: Path, task_id: str, episode_id: str, camera: str) -> Path:
    return observation_dir(root, task_id, episode_id) / "videos" / f"{camera}_color.mp4"


def tactile_path(root: Path, task_id: str, episode_id: str, sensor: str) -> Path:
    return observation_dir(root, task_id, episode_id) / "tactile" / f"{sensor}.mp4"


def depth_dir(root: Path, task_id: str, episode_id: str) -> Path:
    return observation_dir(root, task_id, episode_id) / "depth"


def depth_path(root: Path, task_id: str, episode_id: str, frame: int, camera: str = "head") -> Path:
    return depth_dir(root, task_id, episode_id) / f"{camera}_depth_{frame:06d}.png"


def camera_param_dirs(root: Path, task_id: str, episode_id: str) -> tuple[Path, Path]:
    """Both variants: the extracted release's doubled `parameters/` level first, then the card's."""
    base = Path(root) / "parameters" / str(task_id) / str(episode_id)
    return base / "parameters" / "camera", base / "camera"


def proprio_path(root: Path, task_id: str, episode_id: str) -> Path:
    return Path(root) / "proprio_stats" / str(task_id) / str(episode_id) / "proprio_stats.h5"


# -- writers -----------------------------------------------------------------------------------
def _atomic_write_text(path: Path, text: str) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)


def write_json(path: Path, obj) -> None:
    _atomic_write_text(path, json.dumps(obj, indent=1))


def intrinsics_json(K: np.ndarray) -> dict:
    """`{"intrinsic": {fx, fy, ppx, ppy}}` from a 3x3 K, the four keys every official loader reads."""
    K = np.asarray(K, dtype=np.float64)
    return {"intrinsic": {"fx": float(K[0, 0]), "fy": float(K[1, 1]), "ppx": float(K[0, 2]), "ppy": float(K[1, 2])}}


def extrinsic_entry(c2w: np.ndarray) -> dict:
    """One `{"extrinsic": {rotation_matrix, translation_vector}}` entry from a 4x4 camera-to-world pose."""
    c2w = np.asarray(c2w, dtype=np.float64)
    return {"extrinsic": {"rotation_matrix": c2w[:3, :3].tolist(), "translation_vector": c2w[:3, 3].tolist()}}


def write_camera_params(
    param_dir: Path,
    camera: str,
    K: np.ndarray,
    c2w_per_frame: np.ndarray,
    c2w_static: np.ndarray | None = None,
) -> None:
    """Write `<camera>_intrinsic_params.json`, `_extrinsic_params_aligned.json` (a list of `(T, 4, 4)`
    camera-to-world poses) and `_extrinsic_params.json` (static; first frame when not given)."""
    param_dir = Path(param_dir)
    write_json(param_dir / f"{camera}_intrinsic_params.json", intrinsics_json(K))
    write_json(param_dir / f"{camera}_extrinsic_params_aligned.json", [extrinsic_entry(p) for p in c2w_per_frame])
    static = c2w_per_frame[0] if c2w_static is None else c2w_static
    write_json(param_dir / f"{camera}_extrinsic_params.json", extrinsic_entry(static))


def write_proprio(path: Path, datasets: Mapping[str, np.ndarray]) -> None:
    """Write `proprio_stats.h5` with the real key set: the given datasets (e.g. "state/joint/position")
    and every other key of PROPRIO_KEYS as an empty `(0,)` float32 placeholder, as real files have."""
    import h5py

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with h5py.File(tmp, "w") as f:
        for key in list(PROPRIO_KEYS) + [k for k in datasets if k not in PROPRIO_KEYS]:
            value = datasets.get(key)
            if value is None:
                f.create_dataset(key, data=np.zeros((0,), np.float32))
                continue
            value = np.asarray(value)
            if key == "timestamp" or key.endswith("/index"):
                value = value.astype(np.int64)
            elif value.size:
                value = value.astype(np.float64)
            f.create_dataset(key, data=value)
    os.replace(tmp, path)


def task_info_entry(
    episode_id: int | str,
    task_name: str,
    init_scene_text: str,
    segments: Iterable[tuple[int, int, str, str]],
) -> dict:
    """One task_info list entry; `segments` are (start_frame, end_frame, action_text, skill), end exclusive."""
    return {
        "episode_id": int(episode_id),
        "task_name": task_name,
        "init_scene_text": init_scene_text,
        "label_info": {
            "action_config": [
                {"start_frame": int(s), "end_frame": int(e), "action_text": text, "skill": skill}
                for s, e, text, skill in segments
            ]
        },
    }
