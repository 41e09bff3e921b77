"""Hole filling for warped views: depth-aware (far-side) push-pull, plain push-pull, and a temporal-then-spatial variant.

The synthesized view carries its depth through the fill (warped, then filled like a colour channel) so it
can enter the memory bank as a full RGB-D view. Both are baselines: simple, deterministic, explainable.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["push_pull", "far_push_pull", "fill_holes", "temporal_fill", "nearest_in_time"]


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


def _far_taps(taps: list[tuple[Tensor, Tensor, Tensor]], far: int, rel: float) -> tuple[Tensor, Tensor]:
    """Weighted average of the taps whose depth channel `far` is within `rel` of the farthest valid one.

    taps: (values ``(B, C, H, W)``, weight ``(B, 1, H, W)`` (0 = no data), tap weight ``(B|1, 1, H, W)``).
    Returns the average ``(B, C, H, W)`` (0 where no tap has data) and its summed weight ``(B, 1, H, W)``.
    """
    neg = torch.tensor(-torch.inf, dtype=taps[0][0].dtype, device=taps[0][0].device)
    dmax = torch.stack([torch.where(w > 0, v[:, far:far + 1], neg) for v, w, _ in taps]).amax(0)
    num = torch.zeros_like(taps[0][0])
    den = torch.zeros_like(taps[0][1])
    for v, w, tw in taps:
        keep = (w > 0) & (v[:, far:far + 1] >= dmax * (1 - rel))
        wt = torch.where(keep, w * tw, torch.zeros((), dtype=w.dtype, device=w.device))
        num = num + wt * v
        den = den + wt
    return num / den.clamp_min(1e-12), den


def far_push_pull(values: Tensor, weights: Tensor, far: int = -1, rel: float = 0.1) -> Tensor:
    """Push-pull that fills holes from the far side: disocclusions are background.

    As :func:`push_pull`, but every average, in the pull (2x2 children) and in the push (the 4 bilinear taps of
    the coarser level), keeps only the inputs whose depth (channel `far` of `values`) is within `rel` of the
    farthest one. A hole between a near occluder and the surface it uncovered is then filled with the
    uncovered (far) surface and never with a blend of the occluder into it. Pixels of weight 1 keep their
    value exactly.

    Args:
        values: ``(B, C, H, W)`` float, channel `far` the depth in metres.
        weights: ``(B, H, W)`` in ``[0, 1]`` (float or bool).

    Returns:
        ``(B, C, H, W)`` filled; a frame with no weight at all comes back as zeros.
    """
    far = far % values.shape[1]
    w = weights.to(values.dtype).clamp(0, 1).unsqueeze(1)
    levels = [(values, w)]
    while max(levels[-1][1].shape[-2:]) > 1:
        v, lw = levels[-1]
        h, wd = lw.shape[-2:]
        pad = (0, wd % 2, 0, h % 2)  # odd sizes: a zero-weight border adds nothing
        v, lw = F.pad(v, pad), F.pad(lw, pad)
        B, C, h2, w2 = v.shape[0], v.shape[1], v.shape[2] // 2, v.shape[3] // 2
        kids = [(v[:, :, i::2, j::2], lw[:, :, i::2, j::2], torch.ones((), dtype=v.dtype, device=v.device))
                for i in (0, 1) for j in (0, 1)]
        cv, cw = _far_taps(kids, far, rel)
        levels.append((cv, cw.clamp(max=1)))
    filled, have = levels[-1]
    for v, lw in reversed(levels[:-1]):
        up, up_w = _upsample_far(filled, have, v.shape[-2:], far, rel)
        filled = torch.where(lw > 0, lw * v + (1 - lw) * up, up)
        have = torch.maximum(lw, (up_w > 0).to(lw.dtype))
    return torch.where(have > 0, filled, torch.zeros((), dtype=filled.dtype, device=filled.device))


def _upsample_far(coarse: Tensor, have: Tensor, size, far: int, rel: float) -> tuple[Tensor, Tensor]:
    """2x bilinear upsampling (align_corners=False taps and weights) restricted to the far taps, to `size`."""
    H, W = size
    dev, dt = coarse.device, coarse.dtype
    pc = F.pad(coarse, (1, 1, 1, 1), mode="replicate")
    ph = F.pad(have, (1, 1, 1, 1), mode="replicate")
    y, x = torch.arange(H, device=dev), torch.arange(W, device=dev)
    r0, c0 = (y + 1) // 2, (x + 1) // 2  # padded index of the first tap
    wy1 = torch.where(y % 2 == 0, 0.75, 0.25).to(dt).view(1, 1, H, 1)
    wx1 = torch.where(x % 2 == 0, 0.75, 0.25).to(dt).view(1, 1, 1, W)
    taps = []
    for dr, wy in ((0, 1 - wy1), (1, wy1)):
        rows_v, rows_h = pc.index_select(2, r0 + dr), ph.index_select(2, r0 + dr)
        for dc, wx in ((0, 1 - wx1), (1, wx1)):
            taps.append((rows_v.index_select(3, c0 + dc), rows_h.index_select(3, c0 + dc), wy * wx))
    return _far_taps(taps, far, rel)


def _compiled_fill(device: torch.device):
    """The compiled far push-pull for `device`: numba on CPU (render/numba_kernels.py), Triton on CUDA
    (render/triton_kernels.py), or None where that is not installed."""
    if device.type == "cpu":
        from . import numba_kernels

        return numba_kernels.far_push_pull if numba_kernels.available() else None
    if device.type == "cuda":
        from . import triton_kernels

        return triton_kernels.far_push_pull if triton_kernels.available() else None
    return None


def fill_holes(image: Tensor, mask: Tensor, depth: Tensor, depth_aware: bool = True) -> tuple[Tensor, Tensor]:
    """Fill the uncovered pixels of warped views, colour and depth alike.

    Args:
        image: ``(B, C, H, W)`` float.
        mask: ``(B, H, W)`` bool, True where the warp covered the pixel.
        depth: ``(B, H, W)`` metres (0 where uncovered).
        depth_aware: fill from the far side of each hole (:func:`far_push_pull`, the default: holes in a warp
            are disocclusions, i.e. background; compiled with numba on CPU and Triton on CUDA where installed);
            False = plain :func:`push_pull`, which blends the occluder in.

    Returns:
        image ``(B, C, H, W)`` and depth ``(B, H, W)``, every pixel filled; covered pixels are unchanged
        bit for bit. A frame with nothing covered comes back as zeros (depth 0 = invalid).
    """
    mask = mask.bool()
    stacked = torch.cat((image, depth.unsqueeze(1).to(image.dtype)), dim=1)
    compiled = _compiled_fill(stacked.device) if depth_aware else None
    if compiled is not None:
        filled = compiled(stacked, mask)
    else:
        filled = far_push_pull(stacked, mask) if depth_aware else push_pull(stacked, mask)
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


def temporal_fill(images: Tensor, masks: Tensor, depths: Tensor, max_gap: int | None = None,
                  depth_aware: bool = True) -> tuple[Tensor, Tensor, Tensor]:
    """Fill the holes of one synthesized video: first from other frames, then push-pull.

    Step 1 copies, per pixel, the value of the nearest frame in time where that pixel was covered
    (:func:`nearest_in_time`; same pixel, no motion compensation: right for a static camera and static
    background, a plausible guess otherwise). Step 2 fills whatever no frame covered (:func:`fill_holes`).

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
    out_img, out_depth = fill_holes(img, have, dep, depth_aware=depth_aware)
    return out_img, out_depth, have
