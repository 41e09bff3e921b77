"""Plücker raymaps: the per-pixel camera encoding the generator adds to video tokens.

Each pixel's ray becomes ``(d, o x d)``: ``d`` the unit direction through the pixel centre and ``o``
the camera centre, both expressed in a reference frame (design.md §4: the first context camera of
the generation step), so the encoding is invariant to where the episode's world origin sits.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .camera import invert_pose, pixel_grid, pixels_to_rays

__all__ = ["plucker_raymap"]


def plucker_raymap(K: Tensor, c2w: Tensor, H: int, W: int, reference: Tensor | None = None) -> Tensor:
    """Plücker ray map of cameras, in the reference camera's frame.

    Args:
        K: ``(B, 3, 3)`` or ``(3, 3)`` intrinsics at ``(H, W)``.
        c2w: ``(B, 4, 4)`` camera-to-world.
        H, W: image size in pixels; rays go through pixel centres (integer coordinates).
        reference: ``(4, 4)`` or ``(B, 4, 4)`` camera-to-world of the reference camera; rays are
            expressed in its frame. ``None`` keeps the world frame (identity reference).

    Returns:
        ``(B, 6, H, W)``: channels 0-2 the unit direction ``d``, 3-5 the moment ``o x d``.
    """
    if reference is not None:
        # Pose relative to the reference: world -> reference frame, applied after c2w.
        c2w = invert_pose(reference).to(c2w) @ c2w
    B = c2w.shape[0]
    K = K.to(c2w)
    uv = pixel_grid(H, W, device=c2w.device, dtype=c2w.dtype).reshape(1, H * W, 2)
    dirs_cam = pixels_to_rays(uv, K.expand(B, 3, 3) if K.ndim == 2 else K)  # (B, HW, 3)
    d = dirs_cam @ c2w[:, :3, :3].transpose(-1, -2)
    d = d / d.norm(dim=-1, keepdim=True)
    o = c2w[:, None, :3, 3].expand_as(d)
    m = torch.linalg.cross(o, d, dim=-1)
    rays = torch.cat((d, m), dim=-1)  # (B, HW, 6)
    return rays.transpose(1, 2).reshape(B, 6, H, W)
