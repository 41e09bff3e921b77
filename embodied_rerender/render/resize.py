"""Resizing network-resolution images to the output size, keeping the warp render's fine detail."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def resize(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """`(N, C, H, W)` float -> `(N, C, h, w)`: area when shrinking, bilinear when enlarging."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    if size[0] <= x.shape[-2] and size[1] <= x.shape[-1]:
        return F.interpolate(x, size=size, mode="area")
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


def upsample_with_detail(low: torch.Tensor, warp: torch.Tensor | None) -> torch.Tensor:
    """`low` `(N, C, h, w)` (a model's output) upsampled to the size of `warp` `(N, C, H, W)`, plus the warp's high
    frequencies, i.e. what a round trip through (h, w) removes from it (the network never sees them)."""
    size = tuple(warp.shape[-2:])
    return resize(low, size) + warp - resize(resize(warp, tuple(low.shape[-2:])), size)
