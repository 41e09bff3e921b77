"""Depth-based forward splatting of k context views into a target camera, z-buffered.

Conventions (design.md §4 and geometry/camera.py): OpenCV axes, ``c2w`` camera-to-world ``(4, 4)`` metres,
``K`` ``(3, 3)`` pixels with pixel centres at integer coordinates, z-depth in metres with 0 = invalid.
Images are float and channels-first; any value range passes through untouched (colours are copied, never
blended).

Every source pixel is lifted to 3D with its depth and projected into the target. Its footprint there is
about ``s = (f_tgt / z_tgt) * (z_src / f_src)`` target pixels wide (the magnification), so it is splatted
over a ``k x k`` square, ``k = ceil(s)`` clamped to ``[1, max_splat]``; a wrist camera seeing the head
camera's pixels magnified 3-4x then gets a closed surface instead of a sparse point cloud. The nearest
surface wins per target pixel (z-buffer). Inside a square splat the candidate depth is pushed back by a
small amount growing with the distance from the splat centre (up to ``_SPLAT_DEPTH_BIAS`` relative at the
rim): overlapping splats of one surface then resolve to the point whose centre is nearest (a Voronoi-like
partition, no blocky stair-steps), while real occluders, more than ~2 % nearer, still win. Single-pixel
splats (k = 1) carry no bias: they are a plain point z-buffer. Exact depth ties go to the lowest source
index (view first, then row-major pixel), so the result is deterministic on CPU and CUDA.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor

from ..geometry.camera import project, unproject

__all__ = ["SplatResult", "forward_splat", "forward_splat_reference"]

# Relative depth push-back at a splat's rim (squared distance falloff): separates overlapping splats of one
# surface by centre distance, far below the depth gap between an occluder and what it hides.
_SPLAT_DEPTH_BIAS = 0.02
# Points nearer than this (metres) to the target camera plane are dropped: behind or on the camera.
_NEAR = 1e-4
# Magnification within this of an integer rounds down: float noise must not turn an identity warp into 2x2 splats.
_SCALE_TOL = 1e-3
# Relative depth step above which two neighbouring source pixels are on different surfaces.
_EDGE_REL = 0.1


class SplatResult(NamedTuple):
    """image ``(B, C, H, W)`` (0 where uncovered), depth ``(B, H, W)`` target z in metres (0 where
    uncovered), mask ``(B, H, W)`` bool: covered by at least one source pixel."""

    image: Tensor
    depth: Tensor
    mask: Tensor


def _focal(K: Tensor) -> Tensor:
    """Geometric-mean focal length ``(...)`` of ``K (..., 3, 3)``."""
    return (K[..., 0, 0] * K[..., 1, 1]).abs().sqrt()


def _lift(depths: Tensor, src_K: Tensor, src_c2w: Tensor, tgt_K: Tensor, tgt_c2w: Tensor):
    """Project every source pixel into the target.

    depths ``(B, V, Hs, Ws)``; src_K/src_c2w ``(B, V, 3|4, 3|4)``; tgt ``(B, 3|4, 3|4)``.
    Returns uv ``(B, N, 2)``, target z ``(B, N)``, magnification ``(B, N)``, valid ``(B, N)`` with
    ``N = V * Hs * Ws`` in (view, row, column) order.
    """
    B, V, Hs, Ws = depths.shape
    pts = unproject(depths, src_K, src_c2w).reshape(B, V * Hs * Ws, 3)
    uv, z = project(pts, tgt_c2w, tgt_K)
    z_src = depths.reshape(B, V * Hs * Ws)
    f_src = _focal(src_K).repeat_interleave(Hs * Ws, dim=1)  # (B, N)
    f_tgt = _focal(tgt_K).unsqueeze(1)  # (B, 1)
    valid = (z_src > 0) & torch.isfinite(z_src) & (z > _NEAR) & torch.isfinite(uv).all(-1)
    scale = f_tgt * z_src / (z.clamp_min(_NEAR) * f_src)
    spacing = _neighbour_spacing(uv.reshape(B, V, Hs, Ws, 2), depths, valid.reshape(B, V, Hs, Ws))
    return uv, z, torch.maximum(scale, spacing.reshape(B, V * Hs * Ws)), valid


def _neighbour_spacing(uv: Tensor, depths: Tensor, valid: Tensor) -> Tensor:
    """Largest target-pixel offset ``(B, V, Hs, Ws)`` to a 4-neighbour on the same surface (0 if none).

    The isotropic magnification ``f_tgt z_src / (z_tgt f_src)`` misses slant: a table seen at a grazing
    angle by the head camera and head-on by a wrist camera spreads its pixels further apart along one axis.
    The projected neighbours measure that directly; neighbours across a depth edge (> _EDGE_REL apart)
    are ignored, or every silhouette would splat over the background it is not connected to.
    """
    out = torch.zeros_like(depths)

    def pair(a: slice, b: slice, dim: int) -> None:
        ia = [slice(None)] * 4
        ib = [slice(None)] * 4
        ia[dim], ib[dim] = a, b
        za, zb = depths[tuple(ia)], depths[tuple(ib)]
        same = valid[tuple(ia)] & valid[tuple(ib)] & ((za - zb).abs() <= _EDGE_REL * torch.minimum(za, zb))
        step = (uv[tuple(ia)] - uv[tuple(ib)]).abs().amax(-1)
        step = torch.where(same, step, torch.zeros_like(step))
        out[tuple(ia)] = torch.maximum(out[tuple(ia)], step)
        out[tuple(ib)] = torch.maximum(out[tuple(ib)], step)

    pair(slice(1, None), slice(None, -1), 3)  # horizontal neighbours
    pair(slice(1, None), slice(None, -1), 2)  # vertical neighbours
    return out


def _check(images: Tensor, depths: Tensor, src_K: Tensor, src_c2w: Tensor, tgt_K: Tensor, tgt_c2w: Tensor):
    B, V, _, Hs, Ws = images.shape
    if depths.shape != (B, V, Hs, Ws):
        raise ValueError(f"depths must be {(B, V, Hs, Ws)}, got {tuple(depths.shape)}")
    if src_K.shape != (B, V, 3, 3) or src_c2w.shape != (B, V, 4, 4):
        raise ValueError(f"src_K/src_c2w must be (B, V, 3, 3)/(B, V, 4, 4), got {tuple(src_K.shape)}/{tuple(src_c2w.shape)}")
    if tgt_K.shape != (B, 3, 3) or tgt_c2w.shape != (B, 4, 4):
        raise ValueError(f"tgt_K/tgt_c2w must be (B, 3, 3)/(B, 4, 4), got {tuple(tgt_K.shape)}/{tuple(tgt_c2w.shape)}")


def _resolve(batches, n_pix: int, dtype, device) -> tuple[Tensor, Tensor]:
    """Z-buffer over candidates: per target pixel the smallest depth, exact ties to the smallest point id.

    batches: a callable returning an iterator of (lin, zc, pid) ``(M,)`` chunks (flat target pixel,
    candidate depth, flat source point id); it is walked twice (depths first, then the winners), so
    memory stays at one chunk. Returns the winning point id per pixel ``(n_pix,)`` (``-1`` where none)
    and the covered mask.
    """
    zbuf = torch.full((n_pix,), math.inf, dtype=dtype, device=device)
    for lin, zc, _ in batches():
        zbuf = zbuf.scatter_reduce(0, lin, zc, reduce="amin")
    none = torch.iinfo(torch.int64).max
    best = torch.full((n_pix,), none, dtype=torch.int64, device=device)
    for lin, zc, pid in batches():
        win = zc == zbuf[lin]  # the buffer holds one of the candidates' exact values
        best = best.scatter_reduce(0, lin[win], pid[win], reduce="amin")
    covered = best != none
    return torch.where(covered, best, torch.full_like(best, -1)), covered


def _gather(images: Tensor, z: Tensor, best: Tensor, covered: Tensor, out_size: tuple[int, int]) -> SplatResult:
    """Assemble the result from the winner ids (flat over ``B * N``)."""
    B, V, C, Hs, Ws = images.shape
    H, W = out_size
    colours = images.permute(0, 1, 3, 4, 2).reshape(B * V * Hs * Ws, C)
    idx = best.clamp_min(0)
    image = torch.where(covered.unsqueeze(1), colours[idx], torch.zeros((), dtype=images.dtype, device=images.device))
    depth = torch.where(covered, z.reshape(-1)[idx], torch.zeros((), dtype=z.dtype, device=z.device))
    return SplatResult(image.reshape(B, H, W, C).permute(0, 3, 1, 2).contiguous(),
                       depth.reshape(B, H, W), covered.reshape(B, H, W))


def forward_splat(images: Tensor, depths: Tensor, src_K: Tensor, src_c2w: Tensor, tgt_K: Tensor, tgt_c2w: Tensor,
                  out_size: tuple[int, int], max_splat: int = 9, max_candidates: int = 1 << 23) -> SplatResult:
    """Warp V context views into one target camera per frame, vectorized over frames and views.

    Args:
        images: ``(B, V, C, H_s, W_s)`` float source images (B frames, V context views).
        depths: ``(B, V, H_s, W_s)`` source z-depth in metres, 0 = invalid (contributes nothing).
        src_K: ``(B, V, 3, 3)`` source intrinsics at ``(H_s, W_s)``.
        src_c2w: ``(B, V, 4, 4)`` source camera-to-world.
        tgt_K: ``(B, 3, 3)`` target intrinsics at ``out_size``.
        tgt_c2w: ``(B, 4, 4)`` target camera-to-world.
        out_size: ``(H, W)`` of the target.
        max_splat: largest splat side in target pixels (bounds the cost and the smear of grazing surfaces).
        max_candidates: splat pixels materialized at once (bounds memory; the result does not depend on it).

    Returns:
        :class:`SplatResult` with image ``(B, C, H, W)``, depth ``(B, H, W)`` and mask ``(B, H, W)``.
        Points behind the target camera or off its image are dropped (a splat straddling the border keeps
        its inside part).
    """
    _check(images, depths, src_K, src_c2w, tgt_K, tgt_c2w)
    B, V, C, Hs, Ws = images.shape
    H, W = out_size
    dtype = depths.dtype
    uv, z, scale, valid = _lift(depths, src_K.to(dtype), src_c2w.to(dtype), tgt_K.to(dtype), tgt_c2w.to(dtype))
    N = V * Hs * Ws
    k_all = torch.ceil(scale - _SCALE_TOL).clamp(1, max(1, int(max_splat))).to(torch.int64)

    b_idx, n_idx = valid.nonzero(as_tuple=True)
    pid = b_idx * N + n_idx
    uv_v, z_v, k_v = uv[b_idx, n_idx], z[b_idx, n_idx], k_all[b_idx, n_idx]
    # Far off-image points could overflow the integer pixel maths; they can never land inside anyway.
    uv_v = uv_v.clamp(-2.0 * max_splat - max(H, W), 2.0 * max_splat + 2 * max(H, W))

    batches = lambda: _candidates(uv_v, z_v, k_v, pid, b_idx, (H, W), max_candidates)  # noqa: E731
    best, covered = _resolve(batches, B * H * W, dtype, uv.device)
    return _gather(images, z, best, covered, out_size)


def _candidates(uv: Tensor, z: Tensor, k: Tensor, pid: Tensor, b_idx: Tensor, size: tuple[int, int],
                max_candidates: int):
    """Yield (lin, zc, pid) for every pixel of every splat, at most about `max_candidates` at a time.

    Points are grouped by splat side k (each group fully vectorized) and sliced so a batch never holds
    more than the budget: a close-up wrist camera turns one source pixel into up to max_splat**2
    candidates, and materializing them all at once took gigabytes.
    """
    H, W = size
    dtype = z.dtype
    for side in torch.unique(k).tolist():
        sel_all = (k == side).nonzero(as_tuple=True)[0]
        step = max(1, max_candidates // (side * side))
        off = torch.arange(side, device=uv.device)
        oy, ox = torch.meshgrid(off, off, indexing="ij")
        for lo in range(0, len(sel_all), step):
            sel = sel_all[lo: lo + step]
            p_uv, p_z = uv[sel], z[sel]
            # A k-wide square centred at uv covers the pixel centres in [uv - k/2, uv + k/2).
            start = torch.ceil(p_uv - side / 2.0).to(torch.int64)  # (P, 2)
            px = start[:, None, 0] + ox.reshape(1, -1)  # (P, k*k)
            py = start[:, None, 1] + oy.reshape(1, -1)
            zc = p_z[:, None].expand(-1, side * side)
            if side > 1:
                r2 = ((px.to(dtype) - p_uv[:, None, 0]) ** 2 + (py.to(dtype) - p_uv[:, None, 1]) ** 2) / (side / 2.0) ** 2
                zc = zc * (1.0 + _SPLAT_DEPTH_BIAS * r2.clamp(max=1.0))
            inside = (px >= 0) & (px < W) & (py >= 0) & (py < H)
            lin = (b_idx[sel][:, None] * H + py) * W + px
            yield lin[inside], zc[inside], pid[sel][:, None].expand(-1, side * side)[inside]


def forward_splat_reference(images: Tensor, depths: Tensor, src_K: Tensor, src_c2w: Tensor, tgt_K: Tensor,
                            tgt_c2w: Tensor, out_size: tuple[int, int]) -> SplatResult:
    """The straightforward baseline: one view at a time, every source pixel to its nearest target pixel.

    Same arguments and result as :func:`forward_splat` (no ``max_splat``: every splat is one pixel) and the
    same z-buffer rule (nearest wins; exact ties to the earlier view, then the earlier source pixel).
    Magnified surfaces come out as sparse points with cracks between them.
    """
    _check(images, depths, src_K, src_c2w, tgt_K, tgt_c2w)
    B, V, C, Hs, Ws = images.shape
    H, W = out_size
    dtype = depths.dtype
    out_img = torch.zeros(B, C, H, W, dtype=images.dtype, device=images.device)
    out_z = torch.full((B, H, W), math.inf, dtype=dtype, device=depths.device)
    for v in range(V):
        uv, z, _, valid = _lift(depths[:, v:v + 1], src_K[:, v:v + 1].to(dtype), src_c2w[:, v:v + 1].to(dtype),
                                tgt_K.to(dtype), tgt_c2w.to(dtype))
        px = torch.ceil(uv[..., 0].clamp(-1, W + 1) - 0.5).to(torch.int64)  # nearest pixel centre
        py = torch.ceil(uv[..., 1].clamp(-1, H + 1) - 0.5).to(torch.int64)
        keep = valid & (px >= 0) & (px < W) & (py >= 0) & (py < H)
        b = torch.arange(B, device=depths.device)[:, None].expand_as(px)
        pid = b * (Hs * Ws) + torch.arange(Hs * Ws, device=depths.device)
        one = (((b * H + py) * W + px)[keep], z[keep], pid[keep])
        best, covered = _resolve(lambda: iter([one]), B * H * W, z.dtype, z.device)
        view = _gather(images[:, v:v + 1], z, best, covered, out_size)
        nearer = view.mask & (view.depth < out_z)  # strict: the earlier view keeps exact ties
        out_img = torch.where(nearer.unsqueeze(1), view.image, out_img)
        out_z = torch.where(nearer, view.depth, out_z)
    mask = torch.isfinite(out_z)
    return SplatResult(out_img, torch.where(mask, out_z, torch.zeros_like(out_z)), mask)
