"""Camera trajectory builders: interpolation, rigid offsets, orbits, head-to-gripper blends, loops.

Poses are camera-to-world ``(..., 4, 4)`` (OpenCV axes, metres). Rotations interpolate by SLERP on
unit quaternions (xyzw, scipy order, design.md §4) along the shorter arc; translations linearly.
Everything is torch, so trajectories can be built on the device that consumes them.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor

from .camera import look_at as _look_at

__all__ = [
    "matrix_to_quaternion",
    "quaternion_to_matrix",
    "quaternion_slerp",
    "blend_poses",
    "interpolate_poses",
    "relative_offset",
    "offset_from_translation_rpy",
    "orbit",
    "head_to_gripper_path",
    "out_and_back",
]


def matrix_to_quaternion(R: Tensor) -> Tensor:
    """Rotation matrices ``(..., 3, 3)`` to unit quaternions ``(..., 4)`` xyzw.

    Picks, per matrix, the best-conditioned of the four standard formulas (largest of |w|, |x|, |y|,
    |z|), so rotations near 180 degrees stay accurate.
    """
    m00, m01, m02 = R[..., 0, 0], R[..., 0, 1], R[..., 0, 2]
    m10, m11, m12 = R[..., 1, 0], R[..., 1, 1], R[..., 1, 2]
    m20, m21, m22 = R[..., 2, 0], R[..., 2, 1], R[..., 2, 2]
    # 4 w^2, 4 x^2, 4 y^2, 4 z^2
    sq = torch.stack((1 + m00 + m11 + m22, 1 + m00 - m11 - m22,
                      1 - m00 + m11 - m22, 1 - m00 - m11 + m22), dim=-1)
    q_abs = sq.clamp_min(0).sqrt()  # 2|w|, 2|x|, 2|y|, 2|z|
    # Row i: 4 * q_i * (w, x, y, z).
    rows = torch.stack((
        torch.stack((sq[..., 0], m21 - m12, m02 - m20, m10 - m01), dim=-1),
        torch.stack((m21 - m12, sq[..., 1], m10 + m01, m02 + m20), dim=-1),
        torch.stack((m02 - m20, m10 + m01, sq[..., 2], m12 + m21), dim=-1),
        torch.stack((m10 - m01, m20 + m02, m21 + m12, sq[..., 3]), dim=-1),
    ), dim=-2)
    cands = rows / (2 * q_abs[..., None].clamp_min(0.1))
    best = q_abs.argmax(dim=-1)
    wxyz = torch.gather(cands, -2, best[..., None, None].expand(*best.shape, 1, 4)).squeeze(-2)
    q = torch.cat((wxyz[..., 1:], wxyz[..., :1]), dim=-1)
    return q / q.norm(dim=-1, keepdim=True)


def quaternion_to_matrix(q: Tensor) -> Tensor:
    """Quaternions ``(..., 4)`` xyzw (normalised here) to rotation matrices ``(..., 3, 3)``."""
    q = q / q.norm(dim=-1, keepdim=True)
    x, y, z, w = q.unbind(-1)
    return torch.stack((
        1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w),
        2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w),
        2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y),
    ), dim=-1).reshape(*q.shape[:-1], 3, 3)


def quaternion_slerp(q0: Tensor, q1: Tensor, t: Tensor) -> Tensor:
    """Spherical linear interpolation along the shorter arc.

    Args:
        q0, q1: ``(..., 4)`` unit quaternions (xyzw).
        t: ``(...)`` weights; 0 gives ``q0``, 1 gives ``q1`` (up to sign).

    Returns:
        ``(..., 4)`` unit quaternions.
    """
    dot = (q0 * q1).sum(-1, keepdim=True)
    q1 = torch.where(dot < 0, -q1, q1)  # q and -q are the same rotation; take the short way
    dot = dot.abs().clamp(max=1.0)
    theta = torch.acos(dot)
    sin_theta = torch.sin(theta)
    t = t[..., None]
    near = sin_theta < 1e-6  # (nearly) equal rotations: lerp avoids 0/0
    safe = torch.where(near, torch.ones_like(sin_theta), sin_theta)
    w0 = torch.where(near, 1 - t, torch.sin((1 - t) * theta) / safe)
    w1 = torch.where(near, t, torch.sin(t * theta) / safe)
    q = w0 * q0 + w1 * q1
    return q / q.norm(dim=-1, keepdim=True)


def blend_poses(a: Tensor, b: Tensor, alpha: Tensor | float) -> Tensor:
    """Pose-wise blend: SLERP rotations, lerp translations.

    Args:
        a, b: ``(..., 4, 4)`` rigid transforms.
        alpha: ``(...)`` or a float; 0 returns ``a`` and 1 returns ``b`` exactly.

    Returns:
        ``(..., 4, 4)``.
    """
    a, b = torch.broadcast_tensors(a, b)
    alpha = torch.as_tensor(alpha, device=a.device, dtype=a.dtype).expand(a.shape[:-2])
    R = quaternion_to_matrix(quaternion_slerp(matrix_to_quaternion(a[..., :3, :3]),
                                              matrix_to_quaternion(b[..., :3, :3]), alpha))
    # Exact endpoints: the quaternion round trip is only accurate to rounding.
    al = alpha[..., None, None]
    R = torch.where(al == 0, a[..., :3, :3], torch.where(al == 1, b[..., :3, :3], R))
    t = (1 - alpha[..., None]) * a[..., :3, 3] + alpha[..., None] * b[..., :3, 3]
    out = torch.zeros_like(a)
    out[..., :3, :3] = R
    out[..., :3, 3] = t
    out[..., 3, 3] = 1.0
    return out


def interpolate_poses(c2w: Tensor, t_src: Tensor, t_new: Tensor) -> Tensor:
    """Resample a pose trajectory at new times.

    Args:
        c2w: ``(T, 4, 4)`` poses at strictly increasing times ``t_src (T,)``.
        t_new: ``(M,)`` query times; outside ``[t_src[0], t_src[-1]]`` they clamp to the end poses.

    Returns:
        ``(M, 4, 4)``; a query equal to a source time returns that pose exactly.
    """
    T = c2w.shape[0]
    t_src = torch.as_tensor(t_src, device=c2w.device, dtype=c2w.dtype)
    t_new = torch.as_tensor(t_new, device=c2w.device, dtype=c2w.dtype)
    if T == 1:
        return c2w.expand(t_new.shape[0], 4, 4).clone()
    i = (torch.searchsorted(t_src, t_new, right=True) - 1).clamp(0, T - 2)
    t0, t1 = t_src[i], t_src[i + 1]
    alpha = ((t_new - t0) / (t1 - t0)).clamp(0, 1)
    return blend_poses(c2w[i], c2w[i + 1], alpha)


def relative_offset(c2w: Tensor, offset: Tensor) -> Tensor:
    """A virtual camera rigidly attached to a moving one: ``c2w @ offset``.

    Args:
        c2w: ``(T, 4, 4)`` the carrier camera.
        offset: ``(4, 4)`` or ``(T, 4, 4)``, the virtual camera's pose in the carrier camera's frame.

    Returns:
        ``(T, 4, 4)``.
    """
    return c2w @ offset.to(c2w)


def _rot_x(a: Tensor) -> Tensor:
    c, s, o, z = torch.cos(a), torch.sin(a), torch.ones_like(a), torch.zeros_like(a)
    return torch.stack((o, z, z, z, c, -s, z, s, c), dim=-1).reshape(*a.shape, 3, 3)


def _rot_y(a: Tensor) -> Tensor:
    c, s, o, z = torch.cos(a), torch.sin(a), torch.ones_like(a), torch.zeros_like(a)
    return torch.stack((c, z, s, z, o, z, -s, z, c), dim=-1).reshape(*a.shape, 3, 3)


def _rot_z(a: Tensor) -> Tensor:
    c, s, o, z = torch.cos(a), torch.sin(a), torch.ones_like(a), torch.zeros_like(a)
    return torch.stack((c, -s, z, s, c, z, z, z, o), dim=-1).reshape(*a.shape, 3, 3)


def offset_from_translation_rpy(xyz: Tensor | Sequence[float], rpy_deg: Tensor | Sequence[float]) -> Tensor:
    """Rigid offset from a translation and roll/pitch/yaw in degrees.

    URDF convention: ``R = Rz(yaw) Ry(pitch) Rx(roll)`` about the parent frame's fixed x, y, z axes
    (scipy ``from_euler("xyz", rpy, degrees=True)``). For a camera parent (OpenCV axes) that means
    roll turns about the image-right axis (tilt), pitch about image-down (pan), yaw about the optical
    axis (image roll).

    Args:
        xyz: ``(..., 3)`` translation in metres, in the parent frame.
        rpy_deg: ``(..., 3)`` angles in degrees.

    Returns:
        ``(..., 4, 4)``; dtype and device follow ``xyz`` if a tensor, else the default dtype.
    """
    ref = xyz if isinstance(xyz, Tensor) else (rpy_deg if isinstance(rpy_deg, Tensor) else None)
    kw = dict(device=ref.device, dtype=ref.dtype) if ref is not None else dict(dtype=torch.get_default_dtype())
    xyz = torch.as_tensor(xyz, **kw)
    rpy = torch.deg2rad(torch.as_tensor(rpy_deg, **kw))
    xyz, rpy = torch.broadcast_tensors(xyz, rpy)
    R = _rot_z(rpy[..., 2]) @ _rot_y(rpy[..., 1]) @ _rot_x(rpy[..., 0])
    out = torch.zeros(*xyz.shape[:-1], 4, 4, **kw)
    out[..., :3, :3] = R
    out[..., :3, 3] = xyz
    out[..., 3, 3] = 1.0
    return out


def orbit(center: Tensor, radius: float, height: float, num_frames: int, start_angle: float = 0.0,
          arc_deg: float = 360.0, look_at: Tensor | None = None, up: Tensor | None = None) -> Tensor:
    """Cameras on a horizontal circular arc, each looking at a point.

    Camera ``i`` sits at ``center + (r cos a_i, r sin a_i, height)`` with
    ``a_i = start_angle + arc_deg * i / (num_frames - 1)`` degrees (endpoints included, so a full
    360 degree arc repeats its first pose at the end). The circle lies in the world x-y plane (the
    robot base frame has z up).

    Args:
        center: ``(3,)`` circle centre.
        look_at: ``(3,)`` point every camera looks at; defaults to ``center``.
        up: ``(3,)`` world up for the roll; defaults to ``+z``.

    Returns:
        ``(num_frames, 4, 4)`` camera-to-world, OpenCV axes.
    """
    center = torch.as_tensor(center)
    if not center.is_floating_point():
        center = center.to(torch.get_default_dtype())
    target = center if look_at is None else torch.as_tensor(look_at).to(center)
    steps = torch.arange(num_frames, device=center.device, dtype=center.dtype)
    frac = steps / max(num_frames - 1, 1)
    a = torch.deg2rad(start_angle + arc_deg * frac)
    eye = center + torch.stack((radius * torch.cos(a), radius * torch.sin(a),
                                torch.full_like(a, height)), dim=-1)
    up_t = None if up is None else torch.as_tensor(up).to(center)
    return _look_at(eye, target.expand_as(eye), up_t)


def head_to_gripper_path(head: Tensor, gripper: Tensor, alpha: Tensor | float) -> Tensor:
    """Blend two synchronised trajectories frame by frame (SLERP + lerp).

    Args:
        head, gripper: ``(T, 4, 4)`` camera-to-world of the two cameras at the same frames.
        alpha: ``(T,)`` or a float; 0 is the head camera, 1 the gripper camera, exactly.
            A ramp ``torch.linspace(0, 1, T)`` moves the view from head to gripper over the episode.

    Returns:
        ``(T, 4, 4)``.
    """
    return blend_poses(head, gripper, alpha)


def out_and_back(c2w: Tensor) -> Tensor:
    """Palindrome ``[c0 .. c_{T-1} .. c0]``: goes out and retraces back, closing exactly.

    Args:
        c2w: ``(T, 4, 4)``.

    Returns:
        ``(2T - 1, 4, 4)``; the first and last poses are identical.
    """
    return torch.cat((c2w, c2w.flip(0)[1:]), dim=0)

