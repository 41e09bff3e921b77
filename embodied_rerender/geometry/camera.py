"""Pinhole camera math over batched torch tensors.

Conventions (design.md §4):

- Camera axes are OpenCV: x right, y down, z forward.
- ``c2w`` is the camera-to-world rigid transform ``(..., 4, 4)`` in metres.
- ``K`` is ``(..., 3, 3)`` in pixels for the resolution the image is stored at.
- Pixel centres sit at integer coordinates: pixel ``(u, v)`` (column ``u``, row ``v``) has its
  centre at ``(u, v)`` and covers ``[u - 0.5, u + 0.5) x [v - 0.5, v + 0.5)``; the image spans
  ``[-0.5, W - 0.5) x [-0.5, H - 0.5)``. K's principal point uses the same convention (a centred
  principal point is ``((W - 1) / 2, (H - 1) / 2)``), as OpenCV and ``sample/cameras.py`` do.
  :func:`project`, :func:`unproject`, :func:`pixel_grid`, :func:`resize_intrinsics` all follow it.
- Depth is z-depth (distance along the optical axis), not range along the ray.

All functions are pure, broadcast over leading batch dimensions, and keep the device and dtype
of their inputs.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = [
    "invert_pose",
    "project",
    "unproject",
    "pixel_grid",
    "resize_intrinsics",
    "crop_intrinsics",
    "look_at",
    "camera_centers",
]

# Below this |z| a projection divides by eps instead: uv is meaningless there anyway (the point is
# on or behind the camera plane) and callers mask on z, but NaN would poison reductions.
_Z_EPS = 1e-8


def invert_pose(c2w: Tensor) -> Tensor:
    """Invert rigid transforms.

    Uses ``R^T`` and ``-R^T t`` rather than a general matrix inverse: exact for rigid poses, cheaper,
    and it keeps the bottom row exactly ``[0, 0, 0, 1]``.

    Args:
        c2w: ``(..., 4, 4)`` rigid transforms.

    Returns:
        ``(..., 4, 4)`` the inverses (camera-to-world in, world-to-camera out, or vice versa).
    """
    rot_t = c2w[..., :3, :3].transpose(-1, -2)
    t = c2w[..., :3, 3:]
    out = torch.zeros_like(c2w)
    out[..., :3, :3] = rot_t
    out[..., :3, 3:] = -rot_t @ t
    out[..., 3, 3] = 1.0
    return out


def camera_centers(c2w: Tensor) -> Tensor:
    """``(..., 3)`` camera centres (the translation column of ``c2w (..., 4, 4)``)."""
    return c2w[..., :3, 3]


def world_to_camera_points(points: Tensor, c2w: Tensor) -> Tensor:
    """Express world points in camera coordinates.

    Args:
        points: ``(..., N, 3)`` world points.
        c2w: ``(..., 4, 4)`` camera-to-world; batch dims broadcast with ``points``'.

    Returns:
        ``(..., N, 3)`` points in the camera frame (OpenCV axes).
    """
    rot = c2w[..., :3, :3]
    t = c2w[..., :3, 3]
    # p_cam = R^T (p - t): row vectors, so multiply by R on the right.
    return (points - t.unsqueeze(-2)) @ rot


def project(points: Tensor, c2w: Tensor, K: Tensor) -> tuple[Tensor, Tensor]:
    """Project world points into pixels.

    Args:
        points: ``(..., N, 3)`` world points.
        c2w: ``(..., 4, 4)`` camera-to-world; batch dims broadcast with ``points``'.
        K: ``(..., 3, 3)`` intrinsics; batch dims broadcast as well.

    Returns:
        ``uv`` ``(..., N, 2)`` pixel coordinates (integer = pixel centre) and ``z`` ``(..., N)``
        camera-frame depth. ``uv`` is only meaningful where ``z > 0``.
    """
    p_cam = world_to_camera_points(points, c2w)
    z = p_cam[..., 2]
    z_safe = torch.where(z.abs() < _Z_EPS, torch.full_like(z, _Z_EPS), z)
    xy = p_cam[..., :2] / z_safe.unsqueeze(-1)
    # Full K (skew included): u = fx x + s y + cx, v = fy y + cy.
    uv = xy @ K[..., :2, :2].transpose(-1, -2) + K[..., :2, 2].unsqueeze(-2)
    return uv, z


def pixel_grid(H: int, W: int, device: torch.device | str | None = None,
               dtype: torch.dtype = torch.float32) -> Tensor:
    """Pixel-centre coordinates.

    Returns:
        ``(H, W, 2)`` with ``[v, u] = (u, v)``: x (column) first, then y (row), integer-valued.
    """
    v, u = torch.meshgrid(torch.arange(H, device=device, dtype=dtype),
                          torch.arange(W, device=device, dtype=dtype), indexing="ij")
    return torch.stack((u, v), dim=-1)


def pixels_to_rays(uv: Tensor, K: Tensor) -> Tensor:
    """Camera-frame ray directions with unit z (not unit length) for pixels.

    Args:
        uv: ``(..., N, 2)`` pixel coordinates.
        K: ``(..., 3, 3)`` intrinsics.

    Returns:
        ``(..., N, 3)`` ``K^-1 [u, v, 1]``.
    """
    ones = torch.ones_like(uv[..., :1])
    homog = torch.cat((uv, ones), dim=-1)
    return homog @ torch.linalg.inv(K).transpose(-1, -2)


def unproject(depth: Tensor, K: Tensor, c2w: Tensor) -> Tensor:
    """Lift a z-depth map to world points.

    Args:
        depth: ``(..., H, W)`` z-depth in metres. Zero (invalid) depth lands on the camera centre;
            mask it yourself.
        K: ``(..., 3, 3)`` intrinsics at ``(H, W)``.
        c2w: ``(..., 4, 4)`` camera-to-world.

    Returns:
        ``(..., H, W, 3)`` world points; pixel ``(u, v)`` is ``points[..., v, u, :]``.
    """
    H, W = depth.shape[-2:]
    uv = pixel_grid(H, W, device=depth.device, dtype=depth.dtype).reshape(H * W, 2)
    rays = pixels_to_rays(uv, K)  # (..., HW, 3), z = 1
    p_cam = rays * depth.reshape(*depth.shape[:-2], H * W, 1)
    rot = c2w[..., :3, :3]
    t = c2w[..., :3, 3]
    p_world = p_cam @ rot.transpose(-1, -2) + t.unsqueeze(-2)
    return p_world.reshape(*p_world.shape[:-2], H, W, 3)


def resize_intrinsics(K: Tensor, size: tuple[int, int], new_size: tuple[int, int]) -> Tensor:
    """Intrinsics after resizing the image from ``size = (H, W)`` to ``new_size = (H2, W2)``.

    A resize maps image edges to image edges (align_corners=False), i.e. continuous coordinate
    ``x + 0.5`` scales by ``W2 / W``. With pixel centres at integers that gives
    ``c' = (c + 0.5) s - 0.5`` for the principal point and ``f' = f s`` for the focal length.

    Args:
        K: ``(..., 3, 3)`` intrinsics at ``size``.

    Returns:
        ``(..., 3, 3)`` intrinsics at ``new_size``.
    """
    (H, W), (H2, W2) = size, new_size
    sx, sy = W2 / W, H2 / H
    out = K.clone()
    out[..., 0, :] = K[..., 0, :] * sx  # fx, skew, cx
    out[..., 1, :] = K[..., 1, :] * sy  # fy, cy
    out[..., 0, 2] = (K[..., 0, 2] + 0.5) * sx - 0.5
    out[..., 1, 2] = (K[..., 1, 2] + 0.5) * sy - 0.5
    return out


def crop_intrinsics(K: Tensor, top: float, left: float) -> Tensor:
    """Intrinsics after cropping the image at row ``top``, column ``left``.

    Only the principal point shifts; the crop's size does not enter K.

    Args:
        K: ``(..., 3, 3)``.

    Returns:
        ``(..., 3, 3)``.
    """
    out = K.clone()
    out[..., 0, 2] = K[..., 0, 2] - left
    out[..., 1, 2] = K[..., 1, 2] - top
    return out


def _normalize(v: Tensor, eps: float = 1e-12) -> Tensor:
    return v / v.norm(dim=-1, keepdim=True).clamp_min(eps)


def look_at(eye: Tensor, target: Tensor, up: Tensor | None = None) -> Tensor:
    """Camera-to-world pose of a camera at ``eye`` looking at ``target``, OpenCV axes.

    The camera z axis points from ``eye`` to ``target``; its y axis (image down) points as close
    to ``-up`` as possible; x = y cross z (image right). Where the view direction is parallel to
    ``up`` the roll is undefined; a world axis least aligned with the view direction stands in.

    Args:
        eye: ``(..., 3)`` camera centres.
        target: ``(..., 3)`` points to look at.
        up: ``(..., 3)`` world up; defaults to ``+z`` (the robot base frame's up).

    Returns:
        ``(..., 4, 4)`` camera-to-world.
    """
    if up is None:
        up = torch.tensor([0.0, 0.0, 1.0], device=eye.device, dtype=eye.dtype)
    eye, target, up = torch.broadcast_tensors(eye, target, up)
    z = _normalize(target - eye)
    x = torch.linalg.cross(z, up)
    # Fallback for a view direction parallel to up: cross with the axis least aligned with z.
    axis = torch.nn.functional.one_hot(z.abs().argmin(dim=-1), 3).to(z.dtype)
    x_alt = torch.linalg.cross(z, axis)
    degenerate = x.norm(dim=-1, keepdim=True) < 1e-6 * up.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    x = _normalize(torch.where(degenerate, x_alt, x))
    y = torch.linalg.cross(z, x)
    out = torch.zeros(*eye.shape[:-1], 4, 4, device=eye.device, dtype=eye.dtype)
    out[..., :3, 0] = x
    out[..., :3, 1] = y
    out[..., :3, 2] = z
    out[..., :3, 3] = eye
    out[..., 3, 3] = 1.0
    return out
