"""UMI's replay-buffer layout (`writer=zarr zarr.layout=umi`): one arm's wrist camera and end-effector pose,
under the keys that UMI's `UmiDataset` (real-stanford/universal_manipulation_interface) reads.

```
/data/camera0_rgb                (N, H, W, 3) uint8, chunks (1, H, W, 3), the image codec (UMI: JPEG-XL level 99),
                                 H x W = `image_size` (UMI's default out_res 224 x 224), centre-cropped to its aspect
/data/robot0_eef_pos             (N, 3) float32 metres, robot base frame
/data/robot0_eef_rot_axis_angle  (N, 3) float32 rotation vector (axis * angle, radians)
/data/robot0_gripper_width       (N, 1) float32 metres
/data/robot0_demo_start_pose     (N, 6) float64 [pos, rotvec] of the episode's first frame, on every row
/data/robot0_demo_end_pose       (N, 6) float64 [pos, rotvec] of the episode's last frame, on every row
/data/action                     (N, 7) float32 [pos, rotvec, gripper width] commanded (UMI's action layout)
/meta/episode_ends               (E,) int64
```

The mapping from an AgiBot-style episode: `camera0` is the wrist camera `camera` (default `hand_left`; UMI data
is wrist-camera data) and `robot0` the arm it is mounted on (`arm`, default the camera's side). The pose is
`state end.position / end.orientation` of that arm (the flange; `tcp_offset_m` moves it along the flange +z
to the finger tips, AgiBot's tip is about 0.23 m out), the xyzw quaternion turned into a rotation vector.
The gripper width is `max_gripper_width_m * (1 - closure)`, closure = `state effector.position / 120` (AgiBot's
own normalisation of its "mm" reading, which rises as the gripper closes; spec quirk Q3). `action` is the
same from the `action` groups: the commanded end pose and effector command in [0, 1] (1 = closed); where an
episode has no such group, the observed pose or width, which is what UMI's sampler builds as the action when a
buffer has no `action` key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np

from ..episode import Episode
from ..errors import ConsistencyError, FormatError

GRIPPER_STATE_SCALE = 120.0  # AgiBot state/effector/position = 120 * closure (spec Q3)
ARMS = {"left": 0, "right": 1}
KEYS = ("camera0_rgb", "robot0_eef_pos", "robot0_eef_rot_axis_angle", "robot0_gripper_width",
        "robot0_demo_start_pose", "robot0_demo_end_pose", "action")


def quaternion_to_rotvec(q: np.ndarray) -> np.ndarray:
    """`(..., 4)` xyzw quaternions -> `(..., 3)` rotation vectors (axis * angle, angle in [0, pi])."""
    q = np.asarray(q, np.float64)
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    q = np.where(q[..., 3:4] < 0, -q, q)  # the same rotation with w >= 0: angle <= pi
    v, w = q[..., :3], q[..., 3]
    s = np.linalg.norm(v, axis=-1)
    angle = 2.0 * np.arctan2(s, w)
    # angle / sin(angle / 2) -> 2 as the angle -> 0 (series), so tiny rotations stay exact
    scale = np.where(s > 1e-8, angle / np.maximum(s, 1e-300), 2.0 + angle**2 / 12.0)
    return v * scale[..., None]


def rotvec_to_matrix(r: np.ndarray) -> np.ndarray:
    """`(..., 3)` rotation vectors -> `(..., 3, 3)` matrices (Rodrigues)."""
    r = np.asarray(r, np.float64)
    angle = np.linalg.norm(r, axis=-1)[..., None, None]
    axis = r / np.maximum(np.linalg.norm(r, axis=-1, keepdims=True), 1e-300)
    x, y, z = axis[..., 0], axis[..., 1], axis[..., 2]
    zero = np.zeros_like(x)
    k = np.stack([zero, -z, y, z, zero, -x, -y, x, zero], axis=-1).reshape(*r.shape[:-1], 3, 3)
    return np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * k @ k


@dataclass
class UmiMapping:
    """Which camera and arm of an episode become UMI's `camera0` / `robot0`, and how (see the module docstring)."""

    camera: str = "hand_left"
    arm: str | None = None
    image_size: tuple[int, int] | None = (224, 224)
    max_gripper_width_m: float = 0.12
    tcp_offset_m: float = 0.0

    def __post_init__(self):
        if self.arm is None:
            side = next((s for s in ARMS if self.camera.endswith(s)), None)
            if side is None:
                raise ValueError(f"zarr.umi_arm is needed: camera {self.camera!r} names no side (left/right)")
            self.arm = side
        if self.arm not in ARMS:
            raise ValueError(f"zarr.umi_arm must be left or right, got {self.arm!r}")
        if self.image_size is not None:
            h, w = (int(v) for v in self.image_size)
            if h <= 0 or w <= 0:
                raise ValueError(f"zarr.umi_image_size must be [height, width] > 0, got {self.image_size}")
            self.image_size = (h, w)

    def attrs(self) -> dict:
        return {"camera0": self.camera, "robot0": f"{self.arm} arm", "image_size": self.image_size,
                "max_gripper_width_m": self.max_gripper_width_m, "tcp_offset_m": self.tcp_offset_m}

    # -- low-dimensional arrays -----------------------------------------------------------------
    def lowdim(self, episode: Episode) -> dict[str, np.ndarray]:
        """UMI's `robot0_*` and `action` arrays of `episode` (every key of KEYS but the camera)."""
        pose = self._pose(episode, episode.state, "state")
        width = self._width(episode, episode.state, "state", GRIPPER_STATE_SCALE)
        act_pose = self._pose(episode, episode.action, "action") if "end.position" in episode.action else pose
        act_width = (self._width(episode, episode.action, "action", 1.0) if "effector.position" in episode.action
                     else width)
        n = len(pose)
        return {
            "robot0_eef_pos": pose[:, :3].astype(np.float32),
            "robot0_eef_rot_axis_angle": pose[:, 3:].astype(np.float32),
            "robot0_gripper_width": width[:, None].astype(np.float32),
            "robot0_demo_start_pose": np.repeat(pose[:1], n, axis=0),
            "robot0_demo_end_pose": np.repeat(pose[-1:], n, axis=0),
            "action": np.concatenate([act_pose, act_width[:, None]], axis=1).astype(np.float32),
        }

    def _pose(self, episode: Episode, group: dict, kind: str) -> np.ndarray:
        """`(T, 6)` [pos, rotvec] of the arm's end from a state or action group (`end.position`, `end.orientation`)."""
        self._require(episode, group, kind, ("end.position", "end.orientation"))
        i = ARMS[self.arm]
        pos = np.asarray(group["end.position"], np.float64).reshape(len(group["end.position"]), 2, 3)[:, i]
        quat = np.asarray(group["end.orientation"], np.float64).reshape(len(group["end.orientation"]), 2, 4)[:, i]
        rotvec = quaternion_to_rotvec(quat)
        if self.tcp_offset_m:
            pos = pos + rotvec_to_matrix(rotvec)[:, :, 2] * self.tcp_offset_m
        return np.concatenate([pos, rotvec], axis=1)

    def _width(self, episode: Episode, group: dict, kind: str, scale: float) -> np.ndarray:
        """`(T,)` gripper width in metres from `effector.position` (closure * `scale`, one column per arm)."""
        self._require(episode, group, kind, ("effector.position",))
        effector = np.asarray(group["effector.position"], np.float64)
        if effector.ndim != 2 or effector.shape[1] != 2:
            raise FormatError(f"zarr.layout=umi needs a parallel gripper ({kind} effector.position (T, 2)), got "
                              f"{effector.shape} (a dexterous hand?)", episode=episode.episode_id, path=episode.source)
        closure = np.clip(effector[:, ARMS[self.arm]] / scale, 0.0, 1.0)
        return self.max_gripper_width_m * (1.0 - closure)

    @staticmethod
    def _require(episode: Episode, group: dict, kind: str, keys: tuple[str, ...]) -> None:
        missing = [k for k in keys if k not in group]
        if missing:
            raise FormatError(f"zarr.layout=umi needs {kind} {', '.join(missing)} (the arm's end pose and gripper)",
                              episode=episode.episode_id, path=episode.source)

    # -- frames ---------------------------------------------------------------------------------
    def frames(self, episode: Episode, n: int, batch: int = 64) -> Iterator[tuple[int, np.ndarray]]:
        """`(start, (b, H, W, 3) uint8)` frames of the wrist camera over [0, n), at `image_size`."""
        from ._common import frame_batches

        if self.camera not in episode.cameras:
            raise ConsistencyError(f"zarr.umi_camera={self.camera} is not a camera of the episode "
                                   f"({', '.join(sorted(episode.cameras))})", episode=episode.episode_id, path=episode.source)
        for start, frames in frame_batches(episode.cameras[self.camera], n, batch):
            yield start, frames if self.image_size is None else fit_frames(frames, self.image_size)


def fit_frames(frames: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """`(b, h, w, 3) uint8` -> `(b, H, W, 3) uint8`: centre crop to the aspect of `size`, then an antialiased
    bilinear resize (what UMI's `get_image_transform` does for its out_res)."""
    import torch
    import torch.nn.functional as F

    out_h, out_w = size
    _, h, w, _ = frames.shape
    if (h, w) == (out_h, out_w):
        return frames
    if w * out_h > h * out_w:  # too wide: crop columns
        cw = max(1, round(h * out_w / out_h))
        x0 = (w - cw) // 2
        frames = frames[:, :, x0:x0 + cw]
    else:
        ch = max(1, round(w * out_h / out_w))
        y0 = (h - ch) // 2
        frames = frames[:, y0:y0 + ch]
    x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float()
    y = F.interpolate(x, size=(out_h, out_w), mode="bilinear", align_corners=False, antialias=True)
    return y.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()
