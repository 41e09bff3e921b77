"""Hole filling for warped views: push-pull (pyramid) inpainting and a temporal-then-spatial variant.

The synthesized view carries its depth through the fill (warped, then filled like a colour channel) so it
can enter the memory bank as a full RGB-D view. Both are baselines: simple, deterministic, explainable.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["push_pull", "fill_holes", "temporal_fill", "nearest_in_time"]


def push_pull(values: Tensor, weights: Tensor) -> Tensor:
    """Fill zero-weight pixels from a weighted image pyramid (Gortler et al. 1996, "pull-push").

    Pull: halve the resolution repeatedly, each coarse pixel the weight-averaged colour of its 2x2 children,
    its weight their summed weight clamped to 1. Push: from the coarsest level down, every pixel becomes
    ``w * own + (1 - w) * upsampled coarser``, so pixels of weight 1 keep their value exactly and holes get
    a smooth blend of the nearest valid content at the scale of the hole.

    Args:
        values: ``(B, C, H, W)`` float.
        weights: ``(B, H, W)`` in ``[0, 1]`` (a float or bool mask).

    Returns:
        ``(B, C, H, W)`` filled; a frame with no weight at all comes back as zeros.
    """
    w = weights.to(values.dtype).clamp(0, 1).unsqueeze(1)
    levels = [(values * w, w)]  # premultiplied colour and weight per level
    while max(levels[-1][1].shape[-2:]) > 1:
        pv, pw = levels[-1]
        h, wd = pw.shape[-2:]
        pad = (0, wd % 2, 0, h % 2)  # odd sizes: a zero-weight border changes no average
        sv = F.avg_pool2d(F.pad(pv, pad), 2) * 4
        sw = F.avg_pool2d(F.pad(pw, pad), 2) * 4
        # Normalize the coarse colour and clamp the weight so one level never outweighs the finer one.
        scale = torch.where(sw > 1, 1.0 / sw.clamp_min(1e-12), torch.ones_like(sw))
        levels.append((sv * scale, sw * scale))
    pv, pw = levels[-1]
    filled = pv / pw.clamp_min(1e-12)  # coarsest: plain average (0 where nothing at all)
    for pv, pw in reversed(levels[:-1]):
        up = F.interpolate(filled, scale_factor=2, mode="bilinear", align_corners=False)
        up = up[..., : pw.shape[-2], : pw.shape[-1]]
        # pv = w * colour already (premultiplied), so this is w * colour + (1 - w) * coarse.
        own = pv / pw.clamp_min(1e-12)
        filled = torch.where(pw > 0, pw * own + (1 - pw) * up, up)
    return filled


def fill_holes(image: Tensor, mask: Tensor, depth: Tensor) -> tuple[Tensor, Tensor]:
    """Push-pull fill of the uncovered pixels of warped views, colour and depth alike.

    Args:
        image: ``(B, C, H, W)`` float.
        mask: ``(B, H, W)`` bool, True where the warp covered the pixel.
        depth: ``(B, H, W)`` metres (0 where uncovered).

    Returns:
        image ``(B, C, H, W)`` and depth ``(B, H, W)``, every pixel filled; covered pixels are unchanged
        bit for bit. A frame with nothing covered comes back as zeros (depth 0 = invalid).
    """
    mask = mask.bool()
    stacked = torch.cat((image, depth.unsqueeze(1).to(image.dtype)), dim=1)
    filled = push_pull(stacked, mask)
    out_img = torch.where(mask.unsqueeze(1), image, filled[:, :-1])
    out_depth = torch.where(mask, depth, filled[:, -1].to(depth.dtype))
    return out_img, out_depth


def nearest_in_time(masks: Tensor, max_gap: int | None = None) -> Tensor:
    """For every frame and pixel, the index of the nearest frame in time where that pixel is valid.

    Ties (one frame before, one after at the same distance) go to the earlier frame.

    Args:
        masks: ``(T, H, W)`` bool.
        max_gap: farthest frame distance to look; None = unlimited.

    Returns:
        ``(T, H, W)`` int64 frame index, ``-1`` where no valid frame lies within reach.
    """
    T = masks.shape[0]
    t = torch.arange(T, device=masks.device).view(T, 1, 1).expand_as(masks)
    big = T + (max_gap or T) + 1
    # Last valid frame at or before t (running max) and first at or after t (running min from the end).
    prev = torch.where(masks, t, torch.full_like(t, -big)).cummax(0).values
    nxt = torch.where(masks, t, torch.full_like(t, 2 * big)).flip(0).cummin(0).values.flip(0)
    d_prev, d_next = t - prev, nxt - t
    src = torch.where(d_prev <= d_next, prev, nxt)
    dist = torch.minimum(d_prev, d_next)
    limit = T if max_gap is None else max_gap
    return torch.where(dist <= limit, src, torch.full_like(src, -1))


def temporal_fill(images: Tensor, masks: Tensor, depths: Tensor,
                  max_gap: int | None = None) -> tuple[Tensor, Tensor, Tensor]:
    """Fill the holes of one synthesized video: first from other frames, then push-pull.

    Step 1 copies, per pixel, the value of the nearest frame in time where that pixel was covered
    (:func:`nearest_in_time`; same pixel, no motion compensation: right for a static camera and static
    background, a plausible guess otherwise). Step 2 push-pulls whatever no frame covered.

    Args:
        images: ``(T, C, H, W)`` float.
        masks: ``(T, H, W)`` bool, True where the warp covered the pixel.
        depths: ``(T, H, W)`` metres.
        max_gap: farthest frame distance step 1 may copy from; None = unlimited.

    Returns:
        image ``(T, C, H, W)``, depth ``(T, H, W)`` (both fully filled, covered pixels unchanged) and the
        step-1 mask ``(T, H, W)`` bool (covered by the warp or by a neighbouring frame).
    """
    masks = masks.bool()
    src = nearest_in_time(masks, max_gap)
    have = src >= 0
    idx = src.clamp_min(0)
    T, C, H, W = images.shape
    img = torch.gather(images, 0, idx.unsqueeze(1).expand(T, C, H, W))
    dep = torch.gather(depths, 0, idx)
    img = torch.where(have.unsqueeze(1), img, torch.zeros_like(img))
    dep = torch.where(have, dep, torch.zeros_like(dep))
    out_img, out_depth = fill_holes(img, have, dep)
    return out_img, out_depth, have
