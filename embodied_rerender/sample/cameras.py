"""MuJoCo cameras in the project's camera convention (OpenCV axes, camera-to-world, pixels).

MuJoCo cameras look along their -z with +y up; OpenCV cameras look along +z with +y down, so
R_cv = R_mj @ diag(1, -1, -1). MuJoCo renders a symmetric frustum of vertical field of view `fovy`
over the whole viewport, and OpenGL samples pixel (i, j) at its centre, (i + 0.5, j + 0.5) from the
image corner; in OpenCV's convention pixel centres sit at integer coordinates, so the principal
point is (W/2 - 0.5, H/2 - 0.5). tests/test_sample.py checks both against rendered segmentation.
"""

from __future__ import annotations

import mujoco
import numpy as np

MJ_TO_CV = np.diag([1.0, -1.0, -1.0])


def intrinsics_from_fovy(fovy_deg: float, width: int, height: int) -> np.ndarray:
    """`(3, 3)` K of a MuJoCo camera with vertical field of view `fovy_deg` rendered at `width` x `height`."""
    fy = (height / 2.0) / np.tan(np.deg2rad(fovy_deg) / 2.0)
    return np.array([[fy, 0.0, width / 2.0 - 0.5], [0.0, fy, height / 2.0 - 0.5], [0.0, 0.0, 1.0]])


def camera_intrinsics(model: mujoco.MjModel, camera: str, width: int, height: int) -> np.ndarray:
    """`(3, 3)` K of the named camera at the given resolution."""
    return intrinsics_from_fovy(float(model.cam(camera).fovy[0]), width, height)


def camera_to_world(data: mujoco.MjData, camera: str) -> np.ndarray:
    """`(4, 4)` OpenCV camera-to-world pose of the named camera at the current kinematic state."""
    cam = data.cam(camera)
    c2w = np.eye(4)
    c2w[:3, :3] = cam.xmat.reshape(3, 3) @ MJ_TO_CV
    c2w[:3, 3] = cam.xpos
    return c2w


def body_to_camera(model: mujoco.MjModel, camera: str) -> np.ndarray:
    """`(4, 4)` OpenCV camera pose in its parent body's frame (e.g. the hand-eye calibration of a wrist
    camera relative to the flange)."""
    cam = model.cam(camera)
    rot = np.empty(9)
    mujoco.mju_quat2Mat(rot, cam.quat)
    pose = np.eye(4)
    pose[:3, :3] = rot.reshape(3, 3) @ MJ_TO_CV
    pose[:3, 3] = cam.pos
    return pose


def project(K: np.ndarray, c2w: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Project world points `(N, 3)` into pixels. Returns `(N, 2)` (u, v) and `(N,)` camera z (m)."""
    p_cam = (np.asarray(points, np.float64) - c2w[:3, 3]) @ c2w[:3, :3]  # R^T (p - t), row-wise
    uv = (p_cam @ K.T)[:, :2] / p_cam[:, 2:3]
    return uv, p_cam[:, 2]
