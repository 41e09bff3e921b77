"""Small AgiBot-layout episodes built by hand from the spec, as other tools write them.

Frame i of every video is a flat grey of level `frame_level(i)`, so a test can tell which frame a
decoder returned. Poses are simple known rotations so tests can compare them exactly.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from embodied_rerender.imageio import write_depth_png
from embodied_rerender.io import agibot_layout as layout
from embodied_rerender.video import write_video

H, W = 24, 32


def frame_level(i: int) -> int:
    return 16 + (7 * i) % 224


def grey_frames(n: int, h: int = H, w: int = W) -> np.ndarray:
    """`(n, h, w, 3) uint8`, frame i filled with frame_level(i)."""
    return np.stack([np.full((h, w, 3), frame_level(i), np.uint8) for i in range(n)])


def known_poses(n: int, offset: float = 0.0) -> np.ndarray:
    """`(n, 4, 4)` camera-to-world poses turning about z and moving along x."""
    poses = np.tile(np.eye(4), (n, 1, 1))
    poses[:, :3, :3] = Rotation.from_euler("xz", np.stack([np.full(n, 2.2), np.linspace(0, 0.5, n)], 1)).as_matrix()
    poses[:, :3, 3] = np.stack([np.linspace(0, 0.1, n) + offset, np.full(n, 0.2), np.full(n, 1.3)], 1)
    return poses


K = np.array([[30.0, 0, 16.0], [0, 30.0, 12.0], [0, 0, 1]])


def make_episode(
    root: Path,
    task: str = "327",
    episode: str = "648642",
    n: int = 10,
    cameras: tuple[str, ...] = ("head", "hand_left", "hand_right"),
    param_variant: str = "doubled",
    codec: str = "h264",
    depth: bool = True,
    sparse_action: bool = False,
    dexhand: bool = False,
    tactile: bool = False,
    empty_robot: bool = False,
    gop: int | None = None,
    task_info: bool = True,
) -> dict:
    """Write one episode under `root`; returns what was written (for comparisons)."""
    root = Path(root)
    for cam in cameras:
        path = layout.video_path(root, task, episode, cam)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_video(path, grey_frames(n), fps=30, codec=codec, gop=gop)
    if tactile:
        for sensor in layout.TACTILE_SENSORS:
            path = layout.tactile_path(root, task, episode, sensor)
            path.parent.mkdir(parents=True, exist_ok=True)
            write_video(path, grey_frames(n, 28, 16), fps=30, codec=codec)
    depth_m = np.linspace(0.5, 1.5, H * W, dtype=np.float32).reshape(H, W)
    if depth:
        layout.depth_dir(root, task, episode).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            write_depth_png(layout.depth_path(root, task, episode, i), depth_m + 0.001 * i)
    param_dir = layout.camera_param_dirs(root, task, episode)[0 if param_variant == "doubled" else 1]
    poses = {}
    for j, cam in enumerate(c for c in cameras if "back" not in c):
        poses[cam] = known_poses(n, offset=0.1 * j)
        layout.write_camera_params(param_dir, cam, K, poses[cam])
    eff = 12 if dexhand else 2
    rng = np.random.default_rng(sum(map(ord, str(episode))))
    data = {
        "timestamp": 1_740_000_000_000_000_000 + 33_333_333 * np.arange(n, dtype=np.int64),
        "state/joint/position": rng.normal(size=(n, 14)),
        "state/joint/current_value": rng.normal(size=(n, 14)),
        "state/effector/position": rng.uniform(35, 120, size=(n, eff)),
        "state/end/position": rng.normal(size=(n, 2, 3)),
        "state/end/orientation": Rotation.random(2 * n, random_state=1).as_quat().reshape(n, 2, 4),
        "state/head/position": rng.normal(size=(n, 2)),
        "state/waist/position": rng.normal(size=(n, 2)),
        "action/joint/position": rng.normal(size=(n, 14)),
        "action/effector/position": rng.uniform(0, 1, size=(n, eff)),
        "action/head/position": rng.normal(size=(n, 2)),
        "action/head/index": np.arange(n),
        "action/waist/position": rng.normal(size=(n, 2)),
        "action/waist/index": np.arange(n),
        "action/robot/velocity": rng.normal(size=(n, 2)),
        "action/robot/index": np.arange(n),
    }
    if not empty_robot:
        data["state/robot/position"] = np.zeros((n, 3))
        data["state/robot/orientation"] = np.tile([0, 0, 0, 1.0], (n, 1))
    if sparse_action:
        idx = np.arange(0, n, 3)
        data["action/joint/index"] = idx
        data["action/joint/position"] = data["action/joint/position"][idx]
        data["action/end/position"] = rng.normal(size=(len(idx), 2, 3))  # action/end/index left empty
        data["action/effector/index"] = np.arange(n)
    else:
        data["action/joint/index"] = np.arange(n)
        data["action/effector/index"] = np.arange(n)
    layout.write_proprio(layout.proprio_path(root, task, episode), data)
    if task_info:
        add_task_info(root, task, episode, n)
    return {"poses": poses, "proprio": data, "depth0": depth_m}


def add_task_info(root: Path, task: str, episode, n: int) -> None:
    """Append an entry for `episode` to task_<task>.json (creating it)."""
    import json

    path = layout.task_info_path(root, task)
    entries = json.loads(path.read_text()) if path.exists() else []
    entry = layout.task_info_entry(0, "Pick up the cup", "A cup on a table.", [(0, n // 2, "Pick up the cup", "Pick"),
                                                                             (n // 2, n, "Place the cup", "Place")])
    entry["episode_id"] = int(episode) if str(episode).isdigit() else episode
    entries.append(entry)
    layout.write_json(path, entries)
