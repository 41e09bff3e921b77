"""Geometric consistency of synthesized views, scored against ground-truth depth.

Two complementary scores, both over the synthesized view's covered region:

- :func:`depth_error` (primary, for generators that carry depth, e.g. warp + fill): the view's own depth
  against the target camera's GT depth: abs rel ``mean(|d - d_gt| / d_gt)`` and the fraction within 5 cm.
  It needs nothing but the two depth maps, and says directly whether the geometry the view claims is right.
- :func:`colour_consistency` (for any generator, RGB only): every covered target pixel is lifted with the
  target's GT depth and reprojected into a source camera; where the source really sees that surface
  (:func:`covisible_mask`), the synthesized colour must agree with the source pixel's colour. It catches
  content drawn in the wrong place even when no depth is output.

:func:`covisible_mask` is also the honest region for PSNR against ground truth: target pixels whose surface
the source camera saw; everything else had to be hallucinated.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

from ..geometry.camera import project, unproject
from .image import to_float_chw

__all__ = ["DepthErrors", "depth_error", "covisible_mask", "colour_consistency"]


def _t(x, dtype=torch.float64) -> Tensor:
    return torch.as_tensor(np.ascontiguousarray(x) if isinstance(x, np.ndarray) else x).to(dtype)


class DepthErrors(NamedTuple):
    """Per frame ``(T,)`` float64: ``abs_rel`` mean relative error, ``within`` fraction of pixels with
    ``|d - d_gt| < threshold``, ``count`` pixels scored (covered and GT-valid); NaN where count is 0."""

    abs_rel: Tensor
    within: Tensor
    count: Tensor


def depth_error(depth, gt_depth, mask=None, threshold: float = 0.05) -> DepthErrors:
    """Error of a synthesized view's depth against ground truth over its covered pixels.

    Args:
        depth: ``(T, H, W)`` metres carried by the synthesized view.
        gt_depth: ``(T, H, W)`` metres, 0 = invalid.
        mask: ``(T, H, W)`` bool covered region; None = wherever ``depth > 0``.
        threshold: metres for the ``within`` fraction (5 cm by default).
    """
    d, g = _t(depth), _t(gt_depth)
    m = (d > 0) if mask is None else torch.as_tensor(mask).bool()
    m = m & (g > 0)
    err = (d - g).abs()
    count = m.sum((-2, -1)).to(torch.float64)
    abs_rel = torch.where(m, err / g.clamp_min(1e-12), torch.zeros_like(err)).sum((-2, -1)) / count
    within = (m & (err < threshold)).sum((-2, -1)) / count
    return DepthErrors(abs_rel, within, count)


def _reproject(tgt_depth: Tensor, tgt_K: Tensor, tgt_c2w: Tensor, src_K: Tensor, src_c2w: Tensor):
    """Target pixels lifted with their depth into the source: uv ``(T, H*W, 2)``, source z ``(T, H*W)``."""
    T, H, W = tgt_depth.shape
    pts = unproject(tgt_depth, tgt_K, tgt_c2w).reshape(T, H * W, 3)
    return project(pts, src_c2w, src_K)


def covisible_mask(tgt_depth, tgt_K, tgt_c2w, src_depth, src_K, src_c2w,
                   rel_tol: float = 0.03, abs_tol: float = 0.01) -> Tensor:
    """Target pixels whose ground-truth surface the source camera sees.

    A target pixel with GT depth is lifted to 3D and projected into the source; it is co-visible when it
    lands inside the source image in front of the camera and the source's GT depth at the nearest pixel
    agrees with the projected depth within ``max(abs_tol, rel_tol * z)`` (otherwise something nearer
    occludes it there).

    Args:
        tgt_depth: ``(T, H, W)`` GT metres; src_depth ``(T, Hs, Ws)`` GT metres (0 = invalid).
        tgt_K, src_K: ``(3, 3)`` or ``(T, 3, 3)``; tgt_c2w, src_c2w: ``(4, 4)`` or ``(T, 4, 4)``.

    Returns:
        ``(T, H, W)`` bool.
    """
    td, sd = _t(tgt_depth), _t(src_depth)
    T, H, W = td.shape
    Hs, Ws = sd.shape[-2:]
    uv, z = _reproject(td, _t(tgt_K), _t(tgt_c2w), _t(src_K), _t(src_c2w))
    u = torch.round(uv[..., 0]).clamp(-1, Ws).long()
    v = torch.round(uv[..., 1]).clamp(-1, Hs).long()
    inside = (u >= 0) & (u < Ws) & (v >= 0) & (v < Hs) & (z > 0) & (td.reshape(T, -1) > 0)
    flat = (v.clamp(0, Hs - 1) * Ws + u.clamp(0, Ws - 1))
    d_src = torch.gather(sd.reshape(T, -1), 1, flat)
    agree = (d_src > 0) & ((d_src - z).abs() <= torch.clamp(rel_tol * z, min=abs_tol))
    return (inside & agree).reshape(T, H, W)


def colour_consistency(synth, tgt_depth, tgt_K, tgt_c2w, src_images, src_depth, src_K, src_c2w,
                       mask=None, tol: float = 0.1) -> tuple[Tensor, Tensor]:
    """Fraction of covered, co-visible target pixels whose synthesized colour matches the source's.

    Args:
        synth: the synthesized view, uint8 ``(T, H, W, 3)`` or float ``(T, 3, H, W)`` in [0, 1].
        tgt_depth: ``(T, H, W)`` the target camera's GT depth; tgt_K/tgt_c2w its camera.
        src_images: source view, same layout rules as ``synth``, ``(T, ., Hs, Ws)``; src_depth its GT depth.
        mask: ``(T, H, W)`` bool covered region of the synthesized view; None = every pixel.
        tol: a pixel agrees when its mean absolute channel difference (in [0, 1] units) is below this.

    Returns:
        fraction ``(T,)`` float64 (NaN where nothing is scored) and the scored pixel count ``(T,)``.
    """
    a, s = to_float_chw(synth), to_float_chw(src_images)
    td = _t(tgt_depth)
    T, C, H, W = a.shape
    Hs, Ws = s.shape[-2:]
    vis = covisible_mask(td, tgt_K, tgt_c2w, src_depth, src_K, src_c2w)
    if mask is not None:
        vis = vis & torch.as_tensor(mask).bool()
    uv, _ = _reproject(td, _t(tgt_K), _t(tgt_c2w), _t(src_K), _t(src_c2w))
    u = torch.round(uv[..., 0]).clamp(0, Ws - 1).long()
    v = torch.round(uv[..., 1]).clamp(0, Hs - 1).long()
    src_col = torch.gather(s.reshape(T, C, Hs * Ws), 2, (v * Ws + u).unsqueeze(1).expand(T, C, H * W))
    diff = (a.reshape(T, C, H * W) - src_col).abs().mean(1).reshape(T, H, W)
    count = vis.sum((-2, -1)).to(torch.float64)
    return (vis & (diff < tol)).sum((-2, -1)) / count, count
