"""Depth-based forward splatting of k context views into a target camera, z-buffered.

Conventions (design.md §4 and geometry/camera.py): OpenCV axes, ``c2w`` camera-to-world ``(4, 4)`` metres,
``K`` ``(3, 3)`` pixels with pixel centres at integer coordinates, z-depth in metres with 0 = invalid.
Images are float and channels-first; any value range passes through untouched (colours are copied, never
blended).

Every source pixel is lifted to 3D with its depth and projected into the target. Its footprint there is the
image of the source pixel under the local Jacobian of the warp, measured from the projected 4-neighbours on the
same surface (a neighbour more than ``_EDGE_REL`` away in depth is another surface): the splat is the bounding
rectangle ``kx x ky`` of that parallelogram, ``kx = ceil(|J00| + |J01|)``, ``ky = ceil(|J10| + |J11|)`` clamped to
``[1, max_splat]``. A slanted surface (a table seen at a grazing angle by the head camera, head-on by a wrist
camera) then stays closed along the stretched axis only, and an isolated source pixel (no neighbour on its surface:
a flying pixel at a depth edge) stays one pixel wide: no splat is larger than the surface it stands for. Where only
one axis has a same-surface neighbour (a thin structure), the other axis is taken as its perpendicular of equal
length. The nearest surface wins per target pixel (z-buffer). Inside a splat the candidate depth is pushed back
by a small amount growing with the normalized distance from the splat centre (up to ``_SPLAT_DEPTH_BIAS``
relative at the rim): overlapping splats of one surface then resolve to the point whose centre is nearest (a
Voronoi-like partition, no blocky stair-steps), while real occluders, more than ~2 % nearer, still win.
Single-pixel splats carry no bias: they are a plain point z-buffer. Exact depth ties go to the lowest source
index (view first, then row-major pixel), so the result is deterministic on CPU and CUDA.

`forward_splat` is the torch reference of the splat mode, `forward_splat_reference` the per-view point splat
(the test oracle); render/kernels.py has the fused Triton / numba kernels that must match them.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor


__all__ = ["SplatResult", "forward_splat", "forward_splat_reference", "lift_for_splat", "splat_candidates",
           "splat_sides", "rim_bias", "clamp_far", "far_limits", "EMPTY_KEY"]

# Relative depth push-back at a splat's rim (squared distance falloff): separates overlapping splats of one
# surface by centre distance, far below the depth gap between an occluder and what it hides.
_SPLAT_DEPTH_BIAS = 0.02
# Points nearer than this (metres) to the target camera plane are dropped: behind or on the camera.
_NEAR = 1e-4
# Smallest |z| divided by in the projection (as geometry.camera.project).
_Z_EPS = 1e-8
# Magnification within this of an integer rounds down: float noise must not turn an identity warp into 2x2 splats.
_SCALE_TOL = 1e-3
# Relative depth step above which two neighbouring source pixels are on different surfaces.
_EDGE_REL = 0.1
# An empty entry of a packed (depth bits << 32 | source id) z-buffer.
EMPTY_KEY = torch.iinfo(torch.int64).max


class SplatResult(NamedTuple):
    """image ``(B, C, H, W)`` (0 where uncovered), depth ``(B, H, W)`` target z in metres (0 where
    uncovered), mask ``(B, H, W)`` bool: covered by at least one source pixel."""

    image: Tensor
    depth: Tensor
    mask: Tensor


def _lift(depths: Tensor, src_K: Tensor, src_c2w: Tensor, tgt_K: Tensor, tgt_c2w: Tensor):
    """Project every source pixel into the target.

    depths ``(B, V, Hs, Ws)``; src_K/src_c2w ``(B, V, 3|4, 3|4)``; tgt ``(B, 3|4, 3|4)``.
    Returns uv ``(B, N, 2)``, target z ``(B, N)``, footprint extent ``(B, N, 2)`` (x, y target pixels, see
    :func:`_footprint`), valid ``(B, N)`` with ``N = V * Hs * Ws`` in (view, row, column) order.

    Written with elementwise operations only (no matmul): a point's coordinates then come out bit for bit the
    same whatever the batch shape (one view at a time in the reference, all views at once in the fast paths),
    which the point-mode identity between backends rests on.
    """
    B, V, Hs, Ws = depths.shape
    R, t = _relative_pose(src_c2w, tgt_c2w)  # (B, V) entries
    e = lambda x: x[..., None, None]  # noqa: E731  (B, V) -> (B, V, 1, 1)
    fx, sk, cx, fy, cy = (e(src_K[..., i, j]) for i, j in ((0, 0), (0, 1), (0, 2), (1, 1), (1, 2)))
    v = torch.arange(Hs, device=depths.device, dtype=depths.dtype).view(Hs, 1)
    u = torch.arange(Ws, device=depths.device, dtype=depths.dtype).view(1, Ws)
    yn = (v - cy) / fy
    xn = (u - cx - sk * yn) / fx
    x, y, zs = xn * depths, yn * depths, depths
    px, py, pz = (e(R[i][0]) * x + e(R[i][1]) * y + e(R[i][2]) * zs + e(t[i]) for i in range(3))
    pz_safe = torch.where(pz.abs() < _Z_EPS, torch.full_like(pz, _Z_EPS), pz)
    xt, yt = px / pz_safe, py / pz_safe
    tK = tgt_K[:, None]
    uu = e(tK[..., 0, 0]) * xt + e(tK[..., 0, 1]) * yt + e(tK[..., 0, 2])
    vv = e(tK[..., 1, 1]) * yt + e(tK[..., 1, 2])
    uv = torch.stack((uu, vv), -1).reshape(B, V * Hs * Ws, 2)
    z = pz.reshape(B, V * Hs * Ws)
    z_src = depths.reshape(B, V * Hs * Ws)
    valid = (z_src > 0) & torch.isfinite(z_src) & (z > _NEAR) & torch.isfinite(uv).all(-1)
    extent = _footprint(uv.reshape(B, V, Hs, Ws, 2), depths, valid.reshape(B, V, Hs, Ws))
    return uv, z, extent.reshape(B, V * Hs * Ws, 2), valid


def _relative_pose(src_c2w: Tensor, tgt_c2w: Tensor) -> tuple[list[list[Tensor]], list[Tensor]]:
    """Source-camera -> target-camera rotation ``R[i][j]`` and translation ``t[i]``, each ``(B, V)``, from
    ``src_c2w (B, V, 4, 4)`` and ``tgt_c2w (B, 4, 4)``: ``R = Rt^T Rs``, ``t = Rt^T (ts - tt)`` (elementwise sums
    in a fixed order, see :func:`_lift`)."""
    Rs, ts = src_c2w[..., :3, :3], src_c2w[..., :3, 3]
    Rt, tt = tgt_c2w[:, None, :3, :3], tgt_c2w[:, None, :3, 3]
    R = [[Rt[..., 0, i] * Rs[..., 0, j] + Rt[..., 1, i] * Rs[..., 1, j] + Rt[..., 2, i] * Rs[..., 2, j]
          for j in range(3)] for i in range(3)]
    d = ts - tt
    t = [Rt[..., 0, i] * d[..., 0] + Rt[..., 1, i] * d[..., 1] + Rt[..., 2, i] * d[..., 2] for i in range(3)]
    return R, t


def _footprint(uv: Tensor, depths: Tensor, valid: Tensor) -> Tensor:
    """Target-pixel extent ``(B, V, Hs, Ws, 2)`` (width, height) of each source pixel's footprint.

    The columns of the warp's Jacobian are the projected offsets to the horizontal and vertical 4-neighbours
    (the larger of the two sides, per component, so the gap to either neighbour closes); neighbours on another
    surface (depth step > _EDGE_REL) or invalid are ignored. A missing column is the perpendicular of the
    other one; with none, the pixel is isolated and keeps a one-pixel footprint. uv ``(B, V, Hs, Ws, 2)``,
    depths/valid ``(B, V, Hs, Ws)``.
    """
    def column(dim: int) -> tuple[Tensor, Tensor]:
        """|offset| ``(..., 2)`` to the same-surface neighbours along `dim` and whether any exists."""
        n = depths.shape[dim]
        lo, hi = [slice(None)] * 4, [slice(None)] * 4
        lo[dim], hi[dim] = slice(0, n - 1), slice(1, n)
        lo, hi = tuple(lo), tuple(hi)
        za, zb = depths[lo], depths[hi]
        same = valid[lo] & valid[hi] & ((za - zb).abs() <= _EDGE_REL * torch.minimum(za, zb))
        step = torch.where(same[..., None], (uv[hi] - uv[lo]).abs(), torch.zeros((), dtype=uv.dtype, device=uv.device))
        col = torch.zeros_like(uv)
        has = torch.zeros_like(valid)
        col[lo] = torch.maximum(col[lo], step)
        col[hi] = torch.maximum(col[hi], step)
        has[lo] |= same
        has[hi] |= same
        return col, has

    jx, has_x = column(3)  # along source columns (x)
    jy, has_y = column(2)  # along source rows (y)
    one_x = torch.tensor([1.0, 0.0], dtype=uv.dtype, device=uv.device)
    jx = torch.where(has_x[..., None], jx, torch.where(has_y[..., None], jy.flip(-1), one_x))
    jy = torch.where(has_y[..., None], jy, torch.where(has_x[..., None], jx.flip(-1), one_x.flip(0)))
    return jx + jy


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


def splat_sides(extent: Tensor, max_splat: int) -> Tensor:
    """Integer splat sides ``(..., 2)`` int64 (kx, ky) in ``[1, max_splat]`` from footprint extents ``(..., 2)``."""
    return torch.ceil(extent - _SCALE_TOL).clamp(1, max(1, int(max_splat))).to(torch.int64)


def rim_bias(px: Tensor, py: Tensor, u: Tensor, v: Tensor, kx: Tensor, ky: Tensor) -> Tensor:
    """Depth factor ``1 + bias * r2`` of splat pixels (r2: squared distance from the centre normalized by the half
    sides, clamped to 1). Written as float32 products with exact reciprocals so every backend can reproduce it
    operation for operation; all arguments broadcast, the pixel coordinates ``px``/``py`` are int."""
    dtype = u.dtype
    inv_x = 4.0 / (kx.to(dtype) * kx.to(dtype))  # 1 / (kx / 2)^2
    inv_y = 4.0 / (ky.to(dtype) * ky.to(dtype))
    dx = px.to(dtype) - u
    dy = py.to(dtype) - v
    r2 = dx * dx * inv_x + dy * dy * inv_y
    return 1.0 + _SPLAT_DEPTH_BIAS * r2.clamp(max=1.0)


def lift_for_splat(images: Tensor, depths: Tensor, src_K: Tensor, src_c2w: Tensor, tgt_K: Tensor, tgt_c2w: Tensor,
                   max_splat: int):
    """The shared first stage of every splat backend: uv ``(B, N, 2)``, z ``(B, N)``, sides ``(B, N, 2)`` int64
    and valid ``(B, N)`` bool (``N = V * Hs * Ws``). One torch implementation, so the backends agree exactly
    on where every point lands."""
    _check(images, depths, src_K, src_c2w, tgt_K, tgt_c2w)
    dtype = depths.dtype
    uv, z, extent, valid = _lift(depths, src_K.to(dtype), src_c2w.to(dtype), tgt_K.to(dtype), tgt_c2w.to(dtype))
    return uv, z, splat_sides(extent, max_splat), valid


def forward_splat(images: Tensor, depths: Tensor, src_K: Tensor, src_c2w: Tensor, tgt_K: Tensor, tgt_c2w: Tensor,
                  out_size: tuple[int, int], max_splat: int = 9, max_candidates: int = 1 << 23) -> SplatResult:
    """Warp V context views into one target camera per frame, vectorized over frames and views (torch reference
    of the splat mode; render/kernels.py ``splat`` is the fast path).

    Args:
        images: ``(B, V, C, H_s, W_s)`` float source images (B frames, V context views).
        depths: ``(B, V, H_s, W_s)`` source z-depth in metres, 0 = invalid (contributes nothing).
        src_K: ``(B, V, 3, 3)`` source intrinsics at ``(H_s, W_s)``.
        src_c2w: ``(B, V, 4, 4)`` source camera-to-world.
        tgt_K: ``(B, 3, 3)`` target intrinsics at ``out_size``.
        tgt_c2w: ``(B, 4, 4)`` target camera-to-world.
        out_size: ``(H, W)`` of the target.
        max_splat: largest splat side in target pixels (bounds the cost and the smear of grazing surfaces);
            1 = point splats (the reference's result, vectorized).
        max_candidates: splat pixels materialized at once (bounds memory; the result does not depend on it).

    Returns:
        :class:`SplatResult` with image ``(B, C, H, W)``, depth ``(B, H, W)`` and mask ``(B, H, W)``.
        Points behind the target camera or off its image are dropped (a splat straddling the border keeps
        its inside part).
    """
    B, V, C, Hs, Ws = images.shape
    H, W = out_size
    uv, z, sides, valid = lift_for_splat(images, depths, src_K, src_c2w, tgt_K, tgt_c2w, max_splat)
    N = V * Hs * Ws
    b_idx, n_idx = valid.nonzero(as_tuple=True)
    pid = b_idx * N + n_idx
    uv_v, z_v, k_v = uv[b_idx, n_idx], z[b_idx, n_idx], sides[b_idx, n_idx]
    uv_v = clamp_far(uv_v, max_splat, (H, W))
    batches = lambda: splat_candidates(uv_v, z_v, k_v, pid, b_idx, (H, W), max_candidates)  # noqa: E731
    best, covered = _resolve(batches, B * H * W, depths.dtype, uv.device)
    return _gather(images, z, best, covered, out_size)


def far_limits(max_splat: int, size: tuple[int, int]) -> tuple[float, float]:
    """The range target coordinates are clamped to (:func:`clamp_far`; every kernel uses the same bounds)."""
    H, W = size
    return -2.0 * max_splat - max(H, W), 2.0 * max_splat + 2 * max(H, W)


def clamp_far(uv: Tensor, max_splat: int, size: tuple[int, int]) -> Tensor:
    """Far off-image points could overflow the integer pixel maths; they can never land inside anyway."""
    return uv.clamp(*far_limits(max_splat, size))


def splat_candidates(uv: Tensor, z: Tensor, k: Tensor, pid: Tensor, b_idx: Tensor, size: tuple[int, int],
                     max_candidates: int):
    """Yield (lin, zc, pid) for every pixel of every splat, at most about `max_candidates` at a time.

    uv ``(P, 2)``, z ``(P,)``, k ``(P, 2)`` int sides (kx, ky), pid/b_idx ``(P,)``. Points are grouped by their
    sides (each group fully vectorized) and sliced so a batch never holds more than the budget: a close-up
    wrist camera turns one source pixel into up to max_splat**2 candidates, and materializing them all at once
    took gigabytes.
    """
    H, W = size
    code = k[:, 0] * 4096 + k[:, 1]
    for c in torch.unique(code).tolist():
        sx, sy = c // 4096, c % 4096
        sel_all = (code == c).nonzero(as_tuple=True)[0]
        step = max(1, max_candidates // (sx * sy))
        oy, ox = torch.meshgrid(torch.arange(sy, device=uv.device), torch.arange(sx, device=uv.device), indexing="ij")
        kx = torch.full((), sx, dtype=torch.int64, device=uv.device)
        ky = torch.full((), sy, dtype=torch.int64, device=uv.device)
        for lo in range(0, len(sel_all), step):
            sel = sel_all[lo: lo + step]
            p_uv, p_z = uv[sel], z[sel]
            # A k-wide splat centred at u covers the pixel centres in [u - k/2, u + k/2).
            px = torch.ceil(p_uv[:, 0] - sx / 2.0).to(torch.int64)[:, None] + ox.reshape(1, -1)  # (P, kx*ky)
            py = torch.ceil(p_uv[:, 1] - sy / 2.0).to(torch.int64)[:, None] + oy.reshape(1, -1)
            zc = p_z[:, None].expand(-1, sx * sy)
            if sx * sy > 1:
                zc = zc * rim_bias(px, py, p_uv[:, None, 0], p_uv[:, None, 1], kx, ky)
            inside = (px >= 0) & (px < W) & (py >= 0) & (py < H)
            lin = (b_idx[sel][:, None] * H + py) * W + px
            yield lin[inside], zc[inside], pid[sel][:, None].expand(-1, sx * sy)[inside]


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
