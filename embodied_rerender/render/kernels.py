"""Fused splat kernels: footprint, depth test and winner selection in one pass, three backends behind `splat`.

All backends agree exactly on where each source point lands and how large its splat is (the lift, projection
and Jacobian footprint of :func:`~.splat.lift_for_splat`, the same float32 operations in the same order); the
kernel then walks every splat pixel and keeps, per target pixel, the smallest ``(candidate depth, source id)``
pair:

- ``triton`` (CUDA, render/triton_kernels.py): the whole splat in one launch, lift and footprint included; each
  splat pixel does one 64-bit ``atomic_min`` of the packed key ``float32 bits of the depth << 32 | source id``
  (positive floats order like their bit patterns, so the integer minimum is the nearest depth, exact ties to
  the lowest id: the reference's rule, without a second pass or any lock).
- ``numba`` (CPU): lift, footprint and z-buffer compiled, frames in parallel; inside a frame the points go in id
  order, so a strict ``<`` keeps the lowest id on ties without packing.
- ``torch``: :func:`~.splat.lift_for_splat`, then the same packed key through ``scatter_reduce(amin)`` (any
  device; the fallback).

Point mode (``max_splat=1``) is bit-identical to :func:`~.splat.forward_splat_reference` on every backend, and
the splat mode to :func:`~.splat.forward_splat` (the Triton kernel runs with FMA contraction off and correctly
rounded division, so its float32 results equal torch's).
"""

from __future__ import annotations

import functools
import os

import torch
from torch import Tensor

from .splat import (_EDGE_REL, _NEAR, _SCALE_TOL, _SPLAT_DEPTH_BIAS, _Z_EPS, SplatResult, _check, _relative_pose,
                    clamp_far, lift_for_splat, splat_candidates)

__all__ = ["splat", "BACKENDS", "available_backends", "far_push_pull_numba", "splat_fill_uint8_numba"]

BACKENDS = ("triton", "numba", "torch")
_NONE = torch.iinfo(torch.int64).max  # empty z-buffer key
_ID_BITS = 32


def available_backends(device: torch.device | str) -> list[str]:
    """Backends that can run on `device` here, fastest first."""
    device = torch.device(device)
    out = []
    if (device.type == "cuda" or os.environ.get("TRITON_INTERPRET") == "1") and _triton_available():
        out.append("triton")
    if device.type == "cpu" and _numba_fused() is not None:
        out.append("numba")
    return out + ["torch"]


def _triton_available() -> bool:
    from . import triton_kernels  # imports triton: only where it may run

    return triton_kernels.available()


def splat(images: Tensor, depths: Tensor, src_K: Tensor, src_c2w: Tensor, tgt_K: Tensor, tgt_c2w: Tensor,
          out_size: tuple[int, int], max_splat: int = 9, backend: str = "auto",
          channels_last: bool = False) -> SplatResult:
    """Warp V context views into one target camera per frame (same contract as :func:`~.splat.forward_splat`).

    Args:
        images: ``(B, V, C, Hs, Ws)`` (or ``(B, V, Hs, Ws, C)`` with `channels_last`) of any dtype: colours are
            copied, never blended, so uint8 frames can stay uint8 until the fill.
        depths: ``(B, V, Hs, Ws)`` metres, 0 = invalid; computed in float32.
        src_K / src_c2w: ``(B, V, 3, 3)`` / ``(B, V, 4, 4)``; tgt_K / tgt_c2w: ``(B, 3, 3)`` / ``(B, 4, 4)``.
        out_size: target ``(H, W)``.
        max_splat: largest splat side; 1 = point mode (bit-identical to ``forward_splat_reference``).
        backend: ``"auto"`` (triton on CUDA, numba on CPU, else torch) or one of :data:`BACKENDS`.

    Returns:
        :class:`SplatResult`: image ``(B, C, H, W)`` in the images' dtype (a channels-last view when
        `channels_last`), depth ``(B, H, W)`` float32, mask ``(B, H, W)`` bool.
    """
    cf = images.permute(0, 1, 4, 2, 3) if channels_last else images
    B, V, C, Hs, Ws = cf.shape
    H, W = out_size
    depths = depths.float()
    name = _pick(backend, depths.device)
    if name == "numba":  # lift, project and footprint inside the kernel too
        _check(cf, depths, src_K, src_c2w, tgt_K, tgt_c2w)
        ids, z = _fused_numba(depths, src_K.float(), src_c2w.float(), tgt_K.float(), tgt_c2w.float(), (H, W), max_splat)
        return _assemble(cf, z, ids, (H, W))
    if name == "triton":  # the whole splat in one launch
        from . import triton_kernels

        _check(cf, depths, src_K, src_c2w, tgt_K, tgt_c2w)
        keys, z = triton_kernels.splat_keys(depths, src_K, src_c2w, tgt_K, tgt_c2w, (H, W), max_splat)
        return _assemble(cf, z, _keys_to_ids(keys), (H, W))
    uv, z, sides, valid = lift_for_splat(cf, depths, src_K.float(), src_c2w.float(), tgt_K.float(),
                                         tgt_c2w.float(), max_splat)
    return _assemble(cf, z, _ids_torch(uv, z, sides, valid, (H, W), max_splat), (H, W))


def _pick(backend: str, device: torch.device) -> str:
    have = available_backends(device)
    if backend == "auto":
        return have[0]
    if backend not in BACKENDS:
        raise ValueError(f"unknown splat backend {backend!r}; choose one of {BACKENDS} or 'auto'")
    if backend not in have:
        raise RuntimeError(f"splat backend {backend!r} is not available on {device} here (available: {have})")
    return backend


def _assemble(images: Tensor, z: Tensor, ids: Tensor, size: tuple[int, int]) -> SplatResult:
    """Result from the winning local source id per target pixel ``ids (B, H, W)`` int64 (-1 = none)."""
    B, V, C, Hs, Ws = images.shape
    H, W = size
    N = V * Hs * Ws
    covered = ids >= 0
    gid = (ids.clamp_min(0) + torch.arange(B, device=ids.device).view(B, 1, 1) * N).reshape(-1)
    colours = images.permute(0, 1, 3, 4, 2).reshape(B * N, C)  # no copy for channels-last input
    zero = torch.zeros((), dtype=images.dtype, device=images.device)
    image = torch.where(covered.unsqueeze(-1), colours[gid].reshape(B, H, W, C), zero)
    depth = torch.where(covered, z.reshape(-1)[gid].reshape(B, H, W), torch.zeros((), dtype=z.dtype, device=z.device))
    return SplatResult(image.permute(0, 3, 1, 2), depth, covered)


def _keys_to_ids(keys: Tensor) -> Tensor:
    return torch.where(keys == _NONE, torch.full_like(keys, -1), keys & ((1 << _ID_BITS) - 1))


# -- torch ---------------------------------------------------------------------------------------
def _ids_torch(uv: Tensor, z: Tensor, sides: Tensor, valid: Tensor, size: tuple[int, int], max_splat: int,
               max_candidates: int = 1 << 23) -> Tensor:
    """Packed-key z-buffer with ``scatter_reduce(amin)``: ids ``(B, H, W)`` int64."""
    B, N = z.shape
    H, W = size
    b_idx, n_idx = valid.nonzero(as_tuple=True)
    uv_v = clamp_far(uv[b_idx, n_idx], max_splat, size)
    keys = torch.full((B * H * W,), _NONE, dtype=torch.int64, device=z.device)
    for lin, zc, n in splat_candidates(uv_v, z[b_idx, n_idx], sides[b_idx, n_idx], n_idx, b_idx, size,
                                       max_candidates):
        key = (zc.contiguous().view(torch.int32).to(torch.int64) << _ID_BITS) | n
        keys = keys.scatter_reduce(0, lin, key, reduce="amin")
    return _keys_to_ids(keys).reshape(B, H, W)


# -- numba ---------------------------------------------------------------------------------------
@functools.cache
def _numba_kernel():
    """The compiled CPU kernel, or None without numba."""
    try:
        import numba
        import numpy as np
    except ImportError:
        return None

    bias = np.float32(_SPLAT_DEPTH_BIAS)
    one, half, four = np.float32(1.0), np.float32(0.5), np.float32(4.0)

    @numba.njit(parallel=True, cache=True, nogil=True)
    def zbuffer(u, v, z, kx, ky, H, W, ids):  # pragma: no cover - compiled
        """u, v, z: (B, N) float32; kx, ky: (B, N) int32 (0 = invalid point); ids: (B, H*W) int64, -1 filled."""
        B, N = z.shape
        for b in numba.prange(B):
            zbuf = np.full(H * W, np.inf, dtype=np.float32)
            for n in range(N):
                sx, sy = kx[b, n], ky[b, n]
                if sx == 0:
                    continue
                ub, vb, zb = u[b, n], v[b, n], z[b, n]
                x0 = np.int64(np.ceil(ub - np.float32(sx) * half))
                y0 = np.int64(np.ceil(vb - np.float32(sy) * half))
                fx, fy = np.float32(sx), np.float32(sy)
                inv_x, inv_y = four / (fx * fx), four / (fy * fy)
                for dy in range(sy):
                    py = y0 + dy
                    if py < 0 or py >= H:
                        continue
                    for dx in range(sx):
                        px = x0 + dx
                        if px < 0 or px >= W:
                            continue
                        zc = zb
                        if sx * sy > 1:
                            ex = np.float32(px) - ub
                            ey = np.float32(py) - vb
                            r2 = ex * ex * inv_x + ey * ey * inv_y
                            zc = zb * (one + bias * min(r2, one))
                        lin = py * W + px
                        if zc < zbuf[lin]:  # strict: ids go up, so exact ties keep the lowest id
                            zbuf[lin] = zc
                            ids[b, lin] = n

    return zbuffer


@functools.cache
def _numba_fused():
    """The CPU kernel with lift, projection and Jacobian footprint fused in (same float32 operations, in the same
    order, as splat._lift / splat._footprint, so the result is bit-identical), or None without numba."""
    try:
        import numba
        import numpy as np
    except ImportError:
        return None
    zbuffer = _numba_kernel()
    f32 = np.float32
    near, zeps, edge, tol = f32(_NEAR), f32(_Z_EPS), f32(_EDGE_REL), f32(_SCALE_TOL)

    @numba.njit(parallel=True, cache=True, nogil=True)
    def lift(depth, sk, R, t, tk, max_splat, U, Vv, Z, KX, KY):  # pragma: no cover - compiled
        """depth (B, V, Hs, Ws); sk (B, V, 5) = fx, s, cx, fy, cy; R (B, V, 3, 3); t (B, V, 3); tk (B, 5).
        Writes U, Vv, Z (B, V, Hs, Ws) float32 and sides KX, KY int32 (0 = invalid point)."""
        B, V, Hs, Ws = depth.shape
        for b in numba.prange(B):
            ok = np.zeros((V, Hs, Ws), dtype=np.bool_)
            for v in range(V):
                fx, s_, cx, fy, cy = sk[b, v, 0], sk[b, v, 1], sk[b, v, 2], sk[b, v, 3], sk[b, v, 4]
                for yy in range(Hs):
                    yn = (f32(yy) - cy) / fy
                    for xx in range(Ws):
                        d = depth[b, v, yy, xx]
                        xn = (f32(xx) - cx - s_ * yn) / fx
                        x, y = xn * d, yn * d
                        px = R[b, v, 0, 0] * x + R[b, v, 0, 1] * y + R[b, v, 0, 2] * d + t[b, v, 0]
                        py = R[b, v, 1, 0] * x + R[b, v, 1, 1] * y + R[b, v, 1, 2] * d + t[b, v, 1]
                        pz = R[b, v, 2, 0] * x + R[b, v, 2, 1] * y + R[b, v, 2, 2] * d + t[b, v, 2]
                        pzs = zeps if abs(pz) < zeps else pz
                        xt, yt = px / pzs, py / pzs
                        uu = tk[b, 0] * xt + tk[b, 1] * yt + tk[b, 2]
                        vv = tk[b, 3] * yt + tk[b, 4]
                        U[b, v, yy, xx], Vv[b, v, yy, xx], Z[b, v, yy, xx] = uu, vv, pz
                        ok[v, yy, xx] = (d > 0 and np.isfinite(d) and pz > near and np.isfinite(uu)
                                         and np.isfinite(vv))
            for v in range(V):
                for yy in range(Hs):
                    for xx in range(Ws):
                        if not ok[v, yy, xx]:
                            KX[b, v, yy, xx] = 0
                            KY[b, v, yy, xx] = 0
                            continue
                        d = depth[b, v, yy, xx]
                        u0, v0 = U[b, v, yy, xx], Vv[b, v, yy, xx]
                        jxu, jxv, jyu, jyv = f32(0), f32(0), f32(0), f32(0)
                        hx, hy = False, False
                        # horizontal neighbours give the x column of the Jacobian, vertical ones the y column
                        for dy, dx in ((0, -1), (0, 1), (-1, 0), (1, 0)):
                            y2, x2 = yy + dy, xx + dx
                            if 0 <= y2 < Hs and 0 <= x2 < Ws and ok[v, y2, x2]:
                                d2 = depth[b, v, y2, x2]
                                if abs(d - d2) <= edge * min(d, d2):  # same surface, not across an edge
                                    du, dv = abs(U[b, v, y2, x2] - u0), abs(Vv[b, v, y2, x2] - v0)
                                    if dy == 0:
                                        hx, jxu, jxv = True, max(jxu, du), max(jxv, dv)
                                    else:
                                        hy, jyu, jyv = True, max(jyu, du), max(jyv, dv)
                        if not hx:
                            if hy:
                                jxu, jxv = jyv, jyu
                            else:
                                jxu, jxv = f32(1), f32(0)
                        if not hy:
                            if hx:
                                jyu, jyv = jxv, jxu
                            else:
                                jyu, jyv = f32(0), f32(1)
                        kx = np.ceil((jxu + jyu) - tol)
                        ky = np.ceil((jxv + jyv) - tol)
                        KX[b, v, yy, xx] = min(max(np.int32(kx), 1), max_splat)
                        KY[b, v, yy, xx] = min(max(np.int32(ky), 1), max_splat)

    return lift, zbuffer


def _fused_numba(depths: Tensor, src_K: Tensor, src_c2w: Tensor, tgt_K: Tensor, tgt_c2w: Tensor,
                 size: tuple[int, int], max_splat: int) -> tuple[Tensor, Tensor]:
    """ids ``(B, H, W)`` int64 and z ``(B, N)`` float32 from the fused CPU kernel."""
    B, V, Hs, Ws = depths.shape
    H, W = size
    lift, zbuffer = _numba_fused()
    R, t = _relative_pose(src_c2w, tgt_c2w)
    R = torch.stack([torch.stack(row, -1) for row in R], -2).contiguous()  # (B, V, 3, 3)
    t = torch.stack(t, -1).contiguous()
    sk = torch.stack([src_K[..., 0, 0], src_K[..., 0, 1], src_K[..., 0, 2], src_K[..., 1, 1], src_K[..., 1, 2]], -1)
    tk = torch.stack([tgt_K[..., 0, 0], tgt_K[..., 0, 1], tgt_K[..., 0, 2], tgt_K[..., 1, 1], tgt_K[..., 1, 2]], -1)
    U, Vv, Z = (torch.empty((B, V, Hs, Ws), dtype=torch.float32) for _ in range(3))
    KX, KY = (torch.empty((B, V, Hs, Ws), dtype=torch.int32) for _ in range(2))
    lift(depths.contiguous().numpy(), sk.contiguous().numpy(), R.numpy(), t.numpy(), tk.contiguous().numpy(),
         max(1, int(max_splat)), U.numpy(), Vv.numpy(), Z.numpy(), KX.numpy(), KY.numpy())
    lim = 2.0 * max_splat + 2 * max(H, W), -2.0 * max_splat - max(H, W)
    U, Vv = (x.clamp(lim[1], lim[0]).reshape(B, -1) for x in (U, Vv))
    ids = torch.full((B, H * W), -1, dtype=torch.int64)
    zbuffer(U.numpy(), Vv.numpy(), Z.reshape(B, -1).numpy(), KX.reshape(B, -1).numpy(), KY.reshape(B, -1).numpy(),
            H, W, ids.numpy())
    return ids.reshape(B, H, W), Z.reshape(B, -1)


# -- numba: depth-aware fill ---------------------------------------------------------------------
@functools.cache
def _numba_pyramid():
    """The compiled far push-pull (:func:`~.fill.far_push_pull`) as two CPU kernels, frames in parallel: ``fill``
    (any values) and ``compose`` (a splat's winners straight to uint8 frames), or None without numba."""
    try:
        import numba
        import numpy as np
    except ImportError:
        return None

    @numba.njit(cache=True, nogil=True)
    def pyramid(V, Wt, F, Hv, hs, ws, offs, far, keep_f):  # pragma: no cover - compiled
        """One frame, in place: V (total, C) values and Wt (total,) weights of level 0 in, the pull levels
        written after it (level l is (hs[l], ws[l]) at offs[l]); F / Hv (total, ...) receive the push: the
        filled values and whether anything reached each pixel."""
        C = V.shape[1]
        L = len(hs)
        for l in range(L - 1):  # pull: far children only
            h, w, o = hs[l], ws[l], offs[l]
            h2, w2, o2 = hs[l + 1], ws[l + 1], offs[l + 1]
            for i in range(h2):
                for j in range(w2):
                    dmax = -np.inf
                    for a in range(2):
                        for bb in range(2):
                            y, x = 2 * i + a, 2 * j + bb
                            if y < h and x < w and Wt[o + y * w + x] > 0:
                                dmax = max(dmax, V[o + y * w + x, far])
                    den = np.float32(0)
                    q = o2 + i * w2 + j
                    for c in range(C):
                        V[q, c] = 0
                    for a in range(2):
                        for bb in range(2):
                            y, x = 2 * i + a, 2 * j + bb
                            if y < h and x < w:
                                k = o + y * w + x
                                if Wt[k] > 0 and V[k, far] >= dmax * keep_f:
                                    den += Wt[k]
                                    for c in range(C):
                                        V[q, c] += Wt[k] * V[k, c]
                    if den > 0:
                        for c in range(C):
                            V[q, c] /= den
                    Wt[q] = min(den, np.float32(1))
        q = offs[L - 1]
        Hv[q] = Wt[q]
        for c in range(C):
            F[q, c] = V[q, c]
        for l in range(L - 2, -1, -1):  # push: far taps of the bilinear upsampling
            h, w, o = hs[l], ws[l], offs[l]
            hc, wc, oc = hs[l + 1], ws[l + 1], offs[l + 1]
            for y in range(h):
                ry1 = min((y + 1) // 2, hc - 1)
                ry0 = max((y + 1) // 2 - 1, 0)
                wy1 = np.float32(0.75) if y % 2 == 0 else np.float32(0.25)
                for x in range(w):
                    q = o + y * w + x
                    if Wt[q] >= 1:  # fully weighted: keeps its own value, the taps do not matter
                        for c in range(C):
                            F[q, c] = V[q, c]
                        Hv[q] = 1
                        continue
                    rx1 = min((x + 1) // 2, wc - 1)
                    rx0 = max((x + 1) // 2 - 1, 0)
                    wx1 = np.float32(0.75) if x % 2 == 0 else np.float32(0.25)
                    one = np.float32(1)
                    taps = ((ry0, rx0, (one - wy1) * (one - wx1)), (ry0, rx1, (one - wy1) * wx1),
                            (ry1, rx0, wy1 * (one - wx1)), (ry1, rx1, wy1 * wx1))
                    dmax = -np.inf
                    for ty, tx, tw in taps:
                        k = oc + ty * wc + tx
                        if Hv[k] > 0:
                            dmax = max(dmax, F[k, far])
                    den = np.float32(0)
                    q = o + y * w + x
                    lw = Wt[q]
                    for c in range(C):
                        F[q, c] = 0
                    for ty, tx, tw in taps:
                        k = oc + ty * wc + tx
                        if Hv[k] > 0 and F[k, far] >= dmax * keep_f:
                            den += Hv[k] * tw
                            for c in range(C):
                                F[q, c] += Hv[k] * tw * F[k, c]
                    for c in range(C):
                        up = F[q, c] / den if den > 0 else np.float32(0)
                        F[q, c] = lw * V[q, c] + (np.float32(1) - lw) * up if lw > 0 else up
                    Hv[q] = max(lw, np.float32(1) if den > 0 else np.float32(0))

    @numba.njit(parallel=True, cache=True, nogil=True)
    def fill(vals, wts, far, rel, hs, ws, offs, out):  # pragma: no cover - compiled
        """vals (B, C, H, W) float32, wts (B, H, W) float32 in [0, 1]; out (B, C, H, W)."""
        B, C, H, W = vals.shape
        total = offs[-1] + hs[-1] * ws[-1]
        keep_f = np.float32(1) - np.float32(rel)
        for b in numba.prange(B):
            V = np.zeros((total, C), dtype=np.float32)
            Wt = np.zeros(total, dtype=np.float32)
            F = np.zeros((total, C), dtype=np.float32)
            Hv = np.zeros(total, dtype=np.float32)
            for y in range(H):
                for x in range(W):
                    Wt[y * W + x] = wts[b, y, x]
                    for c in range(C):
                        V[y * W + x, c] = vals[b, c, y, x]
            pyramid(V, Wt, F, Hv, hs, ws, offs, far, keep_f)
            for y in range(H):
                for x in range(W):
                    q = y * W + x
                    for c in range(C):
                        out[b, c, y, x] = F[q, c] if Hv[q] > 0 else np.float32(0)

    @numba.njit(parallel=True, cache=True, nogil=True)
    def compose(ids, z, colours, rel, hs, ws, offs, frames, depth):  # pragma: no cover - compiled
        """ids (B, HW) int64 winners (-1 = none), z (B, N) float32, colours (B, N, 3) uint8 -> frames (B, HW, 3)
        uint8 and depth (B, HW) float32: covered pixels their winner's colour and depth, holes the far fill
        of colour / 255 and depth, rounded as ``(x.clamp(0, 1) * 255).round()``."""
        B, HW = ids.shape
        total = offs[-1] + hs[-1] * ws[-1]
        keep_f = np.float32(1) - np.float32(rel)
        inv255 = np.float32(255)
        for b in numba.prange(B):
            V = np.zeros((total, 4), dtype=np.float32)
            Wt = np.zeros(total, dtype=np.float32)
            F = np.zeros((total, 4), dtype=np.float32)
            Hv = np.zeros(total, dtype=np.float32)
            for q in range(HW):
                n = ids[b, q]
                if n >= 0:
                    Wt[q] = 1
                    for c in range(3):
                        V[q, c] = np.float32(colours[b, n, c]) / inv255
                    V[q, 3] = z[b, n]
            pyramid(V, Wt, F, Hv, hs, ws, offs, 3, keep_f)
            for q in range(HW):
                n = ids[b, q]
                if n >= 0:
                    for c in range(3):
                        frames[b, q, c] = colours[b, n, c]
                    depth[b, q] = z[b, n]
                elif Hv[q] > 0:
                    for c in range(3):
                        frames[b, q, c] = np.uint8(np.rint(min(max(F[q, c], np.float32(0)), np.float32(1)) * inv255))
                    depth[b, q] = F[q, 3]
                else:
                    for c in range(3):
                        frames[b, q, c] = 0
                    depth[b, q] = 0

    return fill, compose


def _numba_fill():
    """The compiled CPU fill kernel, or None without numba."""
    kernels = _numba_pyramid()
    return kernels[0] if kernels else None


def _levels(H: int, W: int):
    """The fill pyramid's level sizes and offsets in a flat per-frame buffer: hs, ws, offs ``(L,)`` int64."""
    import numpy as np

    hs, ws = [H], [W]
    while max(hs[-1], ws[-1]) > 1:
        hs.append((hs[-1] + 1) // 2)
        ws.append((ws[-1] + 1) // 2)
    sizes = np.array(hs, np.int64) * np.array(ws, np.int64)
    offs = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    return np.array(hs, np.int64), np.array(ws, np.int64), offs


def far_push_pull_numba(values: Tensor, weights: Tensor, far: int = -1, rel: float = 0.1) -> Tensor:
    """:func:`~.fill.far_push_pull` compiled for CPU float32 tensors (same arguments and result, to float
    rounding: the sums run in another order)."""
    B, C, H, W = values.shape
    out = torch.empty((B, C, H, W), dtype=torch.float32)
    _numba_fill()(values.float().contiguous().numpy(), weights.float().clamp(0, 1).contiguous().numpy(), far % C,
                  float(rel), *_levels(H, W), out.numpy())
    return out.to(values.dtype)


def splat_fill_uint8_numba(images: Tensor, depths: Tensor, src_K: Tensor, src_c2w: Tensor, tgt_K: Tensor,
                           tgt_c2w: Tensor, size: tuple[int, int], max_splat: int = 9,
                           rel: float = 0.1) -> tuple[Tensor, Tensor, Tensor]:
    """Splat, depth-aware fill and uint8 composite in compiled CPU code, no torch stage between them.

    The result equals ``warp_prior(images, ..., channels_last=True)`` converted with ``(x.clamp(0, 1) *
    255).round()`` (the fill to float rounding), without its five full-frame torch passes (assemble, float
    conversion, stacking, the covered-pixel merge, the uint8 conversion), which took 40 % of a 320x240 view.

    Args:
        images ``(B, V, Hs, Ws, 3)`` uint8; depths ``(B, V, Hs, Ws)``; cameras as :func:`splat`.

    Returns:
        frames ``(B, H, W, 3)`` uint8, depth ``(B, H, W)`` float32 (filled), covered ``(B, H, W)`` bool.
    """
    B, V, Hs, Ws, C = images.shape
    H, W = size
    _check(images.permute(0, 1, 4, 2, 3), depths, src_K, src_c2w, tgt_K, tgt_c2w)
    ids, z = _fused_numba(depths.float(), src_K.float(), src_c2w.float(), tgt_K.float(), tgt_c2w.float(), size,
                          max_splat)
    frames = torch.empty((B, H, W, 3), dtype=torch.uint8)
    depth = torch.empty((B, H, W), dtype=torch.float32)
    _numba_pyramid()[1](ids.reshape(B, H * W).numpy(), z.contiguous().numpy(),
                        images.contiguous().reshape(B, V * Hs * Ws, C).numpy(), float(rel), *_levels(H, W),
                        frames.reshape(B, H * W, 3).numpy(), depth.reshape(B, H * W).numpy())
    return frames, depth, ids >= 0
