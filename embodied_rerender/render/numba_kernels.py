"""Numba kernels of the warp path on a CPU: the fused splat (lift, projection, footprint, z-buffer), the
depth-aware fill pyramid, both at once straight to uint8 frames, and the per-pixel tests of the static-scene
memory (:func:`static_depth`).

Per-frame functions (``_lift_frame``, ``_zbuffer_frame``, ``_pyramid``, ``_compose_frame``) hold the maths; the
parallel drivers run frames in parallel and differ only in which of them they chain. Chained in one driver, a
frame's splat, fill and composite run on one core with its data hot in cache, and no torch pass runs between them
(those full-frame passes, and the thread pools waking between them, were the largest part of a 320x240 view on
2 cores).

The float32 operations are the torch references' (splat._lift, splat._footprint, splat.rim_bias), in the same
order, so points land bit for bit where :func:`~.splat.lift_for_splat` puts them. The fill equals
:func:`~.fill.far_push_pull` to float rounding (its sums run in another order). Numba is imported with this module:
render/kernels.py imports it lazily, and without numba :func:`available` is False.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from .splat import _EDGE_REL, _NEAR, _SCALE_TOL, _SPLAT_DEPTH_BIAS, _Z_EPS, far_limits

try:
    import numba
except ImportError:  # the torch backend remains
    numba = None

__all__ = ["available", "splat_ids", "far_push_pull", "splat_fill_uint8", "static_depth", "median_hits"]


def available() -> bool:
    return numba is not None


if numba is not None:
    f32 = np.float32
    near, zeps, edge, tol, bias = f32(_NEAR), f32(_Z_EPS), f32(_EDGE_REL), f32(_SCALE_TOL), f32(_SPLAT_DEPTH_BIAS)
    one, half, four = f32(1.0), f32(0.5), f32(4.0)

    @numba.njit(cache=True, nogil=True)
    def _pose_terms(sC, tC, R, t):  # pragma: no cover - compiled
        """splat._relative_pose for one view, the same float32 sums in the same order: sC, tC (4, 4) c2w ->
        R (3, 3), t (3,) source camera -> target camera."""
        d0, d1, d2 = sC[0, 3] - tC[0, 3], sC[1, 3] - tC[1, 3], sC[2, 3] - tC[2, 3]
        for i in range(3):
            for j in range(3):
                R[i, j] = tC[0, i] * sC[0, j] + tC[1, i] * sC[1, j] + tC[2, i] * sC[2, j]
            t[i] = tC[0, i] * d0 + tC[1, i] * d1 + tC[2, i] * d2

    @numba.njit(cache=True, nogil=True)
    def _lift_frame(depth, sK, sC, tK, tC, max_splat, U, Vv, Z, KX, KY, ok):  # pragma: no cover - compiled
        """One frame: depth (V, Hs, Ws); sK (V, 3, 3), sC (V, 4, 4) source K and c2w; tK (3, 3), tC (4, 4).
        Writes U, Vv, Z (V, Hs, Ws) float32, sides KX, KY int32 (0 = invalid point) and ok (V, Hs, Ws)."""
        V, Hs, Ws = depth.shape
        R, t = np.empty((V, 3, 3), np.float32), np.empty((V, 3), np.float32)
        tk = (tK[0, 0], tK[0, 1], tK[0, 2], tK[1, 1], tK[1, 2])
        for v in range(V):
            _pose_terms(sC[v], tC, R[v], t[v])
            fx, s_, cx, fy, cy = sK[v, 0, 0], sK[v, 0, 1], sK[v, 0, 2], sK[v, 1, 1], sK[v, 1, 2]
            for yy in range(Hs):
                yn = (f32(yy) - cy) / fy
                for xx in range(Ws):
                    d = depth[v, yy, xx]
                    xn = (f32(xx) - cx - s_ * yn) / fx
                    x, y = xn * d, yn * d
                    px = R[v, 0, 0] * x + R[v, 0, 1] * y + R[v, 0, 2] * d + t[v, 0]
                    py = R[v, 1, 0] * x + R[v, 1, 1] * y + R[v, 1, 2] * d + t[v, 1]
                    pz = R[v, 2, 0] * x + R[v, 2, 1] * y + R[v, 2, 2] * d + t[v, 2]
                    pzs = zeps if abs(pz) < zeps else pz
                    xt, yt = px / pzs, py / pzs
                    uu = tk[0] * xt + tk[1] * yt + tk[2]
                    vv = tk[3] * yt + tk[4]
                    U[v, yy, xx], Vv[v, yy, xx], Z[v, yy, xx] = uu, vv, pz
                    ok[v, yy, xx] = (d > 0 and np.isfinite(d) and pz > near and np.isfinite(uu)
                                     and np.isfinite(vv))
        for v in range(V):
            for yy in range(Hs):
                for xx in range(Ws):
                    if not ok[v, yy, xx]:
                        KX[v, yy, xx] = 0
                        KY[v, yy, xx] = 0
                        continue
                    d = depth[v, yy, xx]
                    u0, v0 = U[v, yy, xx], Vv[v, yy, xx]
                    jxu, jxv, jyu, jyv = f32(0), f32(0), f32(0), f32(0)
                    hx, hy = False, False
                    # horizontal neighbours give the x column of the Jacobian, vertical ones the y column
                    for dy, dx in ((0, -1), (0, 1), (-1, 0), (1, 0)):
                        y2, x2 = yy + dy, xx + dx
                        if 0 <= y2 < Hs and 0 <= x2 < Ws and ok[v, y2, x2]:
                            d2 = depth[v, y2, x2]
                            if abs(d - d2) <= edge * min(d, d2):  # same surface, not across an edge
                                du, dv = abs(U[v, y2, x2] - u0), abs(Vv[v, y2, x2] - v0)
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
                    KX[v, yy, xx] = min(max(np.int32(kx), 1), max_splat)
                    KY[v, yy, xx] = min(max(np.int32(ky), 1), max_splat)


    @numba.njit(cache=True, nogil=True)
    def _zbuffer_frame(u, v, z, kx, ky, lo, hi, H, W, ids, zbuf):  # pragma: no cover - compiled
        """One frame: u, v, z (N,) float32, kx, ky (N,) int32 (0 = invalid) -> ids (H*W,) int64 (-1 = none);
        zbuf (H*W,) float32 scratch. u, v are clamped to [lo, hi] first (splat.clamp_far)."""
        ids[:] = -1
        zbuf[:] = np.inf
        for n in range(z.shape[0]):
            sx, sy = kx[n], ky[n]
            if sx == 0:
                continue
            ub, vb, zb = min(max(u[n], lo), hi), min(max(v[n], lo), hi), z[n]
            x0 = np.int64(np.ceil(ub - f32(sx) * half))
            y0 = np.int64(np.ceil(vb - f32(sy) * half))
            fx, fy = f32(sx), f32(sy)
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
                        ex = f32(px) - ub
                        ey = f32(py) - vb
                        r2 = ex * ex * inv_x + ey * ey * inv_y
                        zc = zb * (one + bias * min(r2, one))
                    lin = py * W + px
                    if zc < zbuf[lin]:  # strict: ids go up, so exact ties keep the lowest id
                        zbuf[lin] = zc
                        ids[lin] = n

    @numba.njit(cache=True, nogil=True)
    def _pyramid(V, Wt, F, Hv, hs, ws, offs, far, keep_f):  # pragma: no cover - compiled
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


    @numba.njit(cache=True, nogil=True)
    def _compose_frame(ids, z, colours, keep_f, hs, ws, offs, frames, depth):  # pragma: no cover - compiled
        """One frame: ids (HW,) winners (-1 = none), z (N,), colours (N, 3) uint8 -> frames (HW, 3) uint8 and
        depth (HW,): covered pixels their winner's colour and depth, holes the far fill of colour / 255 and
        depth, rounded as ``(x.clamp(0, 1) * 255).round()``."""
        HW = ids.shape[0]
        total = offs[-1] + hs[-1] * ws[-1]
        V = np.empty((total, 4), dtype=np.float32)  # levels > 0 are written by the pull before they are read
        Wt = np.empty(total, dtype=np.float32)
        F = np.empty((total, 4), dtype=np.float32)  # every pixel of every level is written by the push
        Hv = np.empty(total, dtype=np.float32)
        c255 = f32(255)
        for q in range(HW):
            n = ids[q]
            if n >= 0:
                Wt[q] = 1
                for c in range(3):
                    V[q, c] = f32(colours[n, c]) / c255
                V[q, 3] = z[n]
            else:
                Wt[q] = 0
                for c in range(4):
                    V[q, c] = 0
        _pyramid(V, Wt, F, Hv, hs, ws, offs, 3, keep_f)
        for q in range(HW):
            n = ids[q]
            if n >= 0:
                for c in range(3):
                    frames[q, c] = colours[n, c]
                depth[q] = z[n]
            elif Hv[q] > 0:
                for c in range(3):
                    frames[q, c] = np.uint8(np.rint(min(max(F[q, c], f32(0)), one) * c255))
                depth[q] = F[q, 3]
            else:
                for c in range(3):
                    frames[q, c] = 0
                depth[q] = 0

    @numba.njit(parallel=True, cache=True, nogil=True)
    def _splat_ids(depth, sK, sC, tK, tC, max_splat, lo, hi, H, W, ids, Z):  # pragma: no cover - compiled
        """depth (B, V, Hs, Ws), cameras as _lift_frame with a leading B -> ids (B, H*W), Z (B, V, Hs, Ws)."""
        B, V, Hs, Ws = depth.shape
        for b in numba.prange(B):
            U, Vv = np.empty((V, Hs, Ws), np.float32), np.empty((V, Hs, Ws), np.float32)
            KX, KY = np.empty((V, Hs, Ws), np.int32), np.empty((V, Hs, Ws), np.int32)
            ok = np.empty((V, Hs, Ws), np.bool_)
            _lift_frame(depth[b], sK[b], sC[b], tK[b], tC[b], max_splat, U, Vv, Z[b], KX, KY, ok)
            _zbuffer_frame(U.reshape(-1), Vv.reshape(-1), Z[b].reshape(-1), KX.reshape(-1), KY.reshape(-1), lo, hi,
                           H, W, ids[b], np.empty(H * W, np.float32))

    @numba.njit(parallel=True, cache=True, nogil=True)
    def _fill(vals, wts, far, keep_f, hs, ws, offs, out):  # pragma: no cover - compiled
        """vals (B, C, H, W) float32, wts (B, H, W) float32 in [0, 1] -> out (B, C, H, W)."""
        B, C, H, W = vals.shape
        total = offs[-1] + hs[-1] * ws[-1]
        for b in numba.prange(B):
            V = np.empty((total, C), dtype=np.float32)
            Wt = np.empty(total, dtype=np.float32)
            F = np.empty((total, C), dtype=np.float32)
            Hv = np.empty(total, dtype=np.float32)
            for y in range(H):
                for x in range(W):
                    Wt[y * W + x] = wts[b, y, x]
                    for c in range(C):
                        V[y * W + x, c] = vals[b, c, y, x]
            _pyramid(V, Wt, F, Hv, hs, ws, offs, far, keep_f)
            for y in range(H):
                for x in range(W):
                    q = y * W + x
                    for c in range(C):
                        out[b, c, y, x] = F[q, c] if Hv[q] > 0 else f32(0)

    @numba.njit(parallel=True, cache=True, nogil=True)
    def _warp_uint8(depth, sK, sC, tK, tC, max_splat, lo, hi, H, W, colours, keep_f, hs, ws, offs, frames, out_depth,
                    ids):  # pragma: no cover - compiled
        """_splat_ids then _compose_frame, frame by frame: colours (B, N, 3) uint8 -> frames (B, H*W, 3) uint8,
        out_depth (B, H*W) float32, ids (B, H*W) int64."""
        B, V, Hs, Ws = depth.shape
        for b in numba.prange(B):
            U, Vv, Z = (np.empty((V, Hs, Ws), np.float32), np.empty((V, Hs, Ws), np.float32),
                        np.empty((V, Hs, Ws), np.float32))
            KX, KY = np.empty((V, Hs, Ws), np.int32), np.empty((V, Hs, Ws), np.int32)
            ok = np.empty((V, Hs, Ws), np.bool_)
            _lift_frame(depth[b], sK[b], sC[b], tK[b], tC[b], max_splat, U, Vv, Z, KX, KY, ok)
            _zbuffer_frame(U.reshape(-1), Vv.reshape(-1), Z.reshape(-1), KX.reshape(-1), KY.reshape(-1), lo, hi,
                           H, W, ids[b], np.empty(H * W, np.float32))
            _compose_frame(ids[b], Z.reshape(-1), colours[b], keep_f, hs, ws, offs, frames[b], out_depth[b])

    # -- the static-scene memory (generate/warp.py static_views) --------------------------------------------
    @numba.njit(cache=True, nogil=True)
    def _static_kept(depth, inst, ks, c2w, wx, wy, wz, rel, atol, min_agree):  # pragma: no cover - compiled
        """Whether world point (wx, wy, wz) is static and unseen at t: projected into every instant i (inst
        (1 + C,) int32 view frames, t first, -1 = no information; ks (1 + C, 3, 3), c2w (1 + C, 4, 4)) as
        camera.project does, rounded half to even like torch's round()."""
        H, W = depth.shape[1], depth.shape[2]
        agree = 0
        for i in range(inst.shape[0]):
            if inst[i] < 0:
                continue
            P, k = c2w[i], ks[i]
            qx, qy, qz = wx - P[0, 3], wy - P[1, 3], wz - P[2, 3]
            z = qx * P[0, 2] + qy * P[1, 2] + qz * P[2, 2]
            if not z > 0:  # behind the camera (or nan): no information
                continue
            zs = zeps if z < zeps else z
            xn = (qx * P[0, 0] + qy * P[1, 0] + qz * P[2, 0]) / zs
            yn = (qx * P[0, 1] + qy * P[1, 1] + qz * P[2, 1]) / zs
            col = np.rint(xn * k[0, 0] + yn * k[0, 1] + k[0, 2])
            row = np.rint(xn * k[1, 0] + yn * k[1, 1] + k[1, 2])
            if not (col >= 0 and col <= W - 1 and row >= 0 and row <= H - 1):
                continue
            seen = depth[inst[i], np.int64(row), np.int64(col)]
            if not seen > 0:
                continue
            tol = rel * z + atol
            near = abs(seen - z) <= tol
            if seen > z + tol or (near and i == 0):  # seen through (it moved), or t shows it already
                return False
            agree += near
        return agree >= min_agree

    @numba.njit(cache=True, nogil=True)
    def _static_row(depth, inst, kinv, ks, c2w, s, yy, rel, atol, min_agree, out):  # pragma: no cover - compiled
        """Row yy of instant s (index into inst; its kinv (3, 3), c2w (4, 4) of the lift) -> out (W,) float32,
        the kept depth or 0."""
        out[:] = 0
        if inst[s] < 0:  # not usable
            return
        ki, P = kinv[s], c2w[s]
        y = f32(yy)
        for xx in range(out.shape[0]):
            d = depth[inst[s], yy, xx]
            if not d > 0:
                continue
            x = f32(xx)
            # camera.unproject: the ray K^-1 [x, y, 1] times d, then to the world
            rx = (x * ki[0, 0] + y * ki[0, 1] + ki[0, 2]) * d
            ry = (x * ki[1, 0] + y * ki[1, 1] + ki[1, 2]) * d
            rz = (x * ki[2, 0] + y * ki[2, 1] + ki[2, 2]) * d
            wx = rx * P[0, 0] + ry * P[0, 1] + rz * P[0, 2] + P[0, 3]
            wy = rx * P[1, 0] + ry * P[1, 1] + rz * P[1, 2] + P[1, 3]
            wz = rx * P[2, 0] + ry * P[2, 1] + rz * P[2, 2] + P[2, 3]
            if _static_kept(depth, inst, ks, c2w, wx, wy, wz, rel, atol, min_agree):
                out[xx] = d

    @numba.njit(parallel=True, cache=True, nogil=True)
    def _static_depth(depth, inst, kinv, ks, c2w, rel, atol, min_agree, out):  # pragma: no cover - compiled
        """depth (Tv, H, W); inst (B, 1 + C) int32; kinv, ks (B, 1 + C, 3, 3); c2w (B, 1 + C, 4, 4) -> out
        (B, C, H, W) float32."""
        B, C, H, W = out.shape
        for n in numba.prange(B * C * H):  # rows, not frames: enough items to balance the cores at any B
            b, c, yy = n // (C * H), n // H % C, n % H
            _static_row(depth, inst[b], kinv[b], ks[b], c2w[b], 1 + c, yy, rel, atol, min_agree, out[b, c, yy])


    @numba.njit(cache=True, nogil=True)
    def _sorted_middle(frames, y, lo_row, hi_row):  # pragma: no cover - compiled
        """Row `y` of ``(N, H, W, C)`` uint8 frames sorted along N by an odd-even transposition network, every
        compare-exchange a min / max over a whole contiguous row (vectorized): the two middle ranks into
        `lo_row`, `hi_row` ``(W * C,)``. N rounds of N / 2 exchanges: for small N only (see `_median_hits`)."""
        n = frames.shape[0]
        lanes = lo_row.shape[0]
        rows = np.empty((n, lanes), np.uint8)
        for i in range(n):
            rows[i] = frames[i, y].reshape(lanes)
        for r in range(n):
            for i in range(r % 2, n - 1, 2):
                a, b = rows[i], rows[i + 1]
                for j in range(lanes):
                    lo, hi = min(a[j], b[j]), max(a[j], b[j])
                    a[j], b[j] = lo, hi
        lo_row[:] = rows[(n - 1) // 2]
        hi_row[:] = rows[n // 2]

    @numba.njit(cache=True, nogil=True)
    def _counted_middle(frames, y, lo_row, hi_row):  # pragma: no cover - compiled
        """The same as `_sorted_middle` by a 256-bin count per pixel and channel, walked to the middle ranks:
        about N + 128 steps per value, for large N."""
        n, _, w, c = frames.shape
        counts = np.zeros(256, np.int32)
        for x in range(w):
            for ch in range(c):
                for i in range(n):
                    counts[frames[i, y, x, ch]] += 1
                seen, lo, hi, v = 0, -1, -1, 0
                while hi < 0:
                    seen += counts[v]
                    if lo < 0 and seen > (n - 1) // 2:
                        lo = v
                    if seen > n // 2:
                        hi = v
                    v += 1
                lo_row[x * c + ch], hi_row[x * c + ch] = lo, hi
                for i in range(n):  # reset only what was counted
                    counts[frames[i, y, x, ch]] = 0

    @numba.njit(parallel=True, cache=True, nogil=True)
    def _median_hits(frames, levels_tol, sort, median, hits):  # pragma: no cover - compiled
        """Per pixel of ``(N, H, W, 3)`` uint8 frames: the median colour (the mean of the two middle values, rounded
        half to even, as ``np.median(...).round()``) and how many frames stay within `levels_tol` of it in every
        channel; `sort`: the middle values by the sorting network (`_sorted_middle`), else by the count."""
        n, h, w, c = frames.shape
        lanes = w * c
        for y in numba.prange(h):
            lo_row, hi_row = np.empty(lanes, np.uint8), np.empty(lanes, np.uint8)
            if sort:
                _sorted_middle(frames, y, lo_row, hi_row)
            else:
                _counted_middle(frames, y, lo_row, hi_row)
            mid = median[y].reshape(lanes)
            for j in range(lanes):
                s = np.int32(lo_row[j]) + np.int32(hi_row[j])
                half = s >> 1
                if s & 1 and half & 1:  # x.5 rounds to the even neighbour
                    half += 1
                mid[j] = half
            for i in range(n):
                for x in range(w):
                    ok = True
                    for ch in range(c):
                        if abs(np.int16(frames[i, y, x, ch]) - np.int16(median[y, x, ch])) > levels_tol:
                            ok = False
                    if ok:
                        hits[y, x] += 1


def _cameras(src_K: Tensor, src_c2w: Tensor, tgt_K: Tensor, tgt_c2w: Tensor) -> tuple[np.ndarray, ...]:
    """The cameras as contiguous float32 arrays for the kernels."""
    return tuple(x.float().contiguous().numpy() for x in (src_K, src_c2w, tgt_K, tgt_c2w))


def _limits(max_splat: int, size: tuple[int, int]) -> tuple[np.float32, np.float32]:
    """splat.far_limits as float32 (a float64 bound would turn the kernel's pixel maths float64)."""
    return tuple(np.float32(x) for x in far_limits(max_splat, size))


def levels(H: int, W: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The fill pyramid's level sizes and offsets in a flat per-frame buffer: hs, ws, offs ``(L,)`` int64."""
    hs, ws = [H], [W]
    while max(hs[-1], ws[-1]) > 1:
        hs.append((hs[-1] + 1) // 2)
        ws.append((ws[-1] + 1) // 2)
    sizes = np.array(hs, np.int64) * np.array(ws, np.int64)
    offs = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    return np.array(hs, np.int64), np.array(ws, np.int64), offs


def splat_ids(depths: Tensor, src_K: Tensor, src_c2w: Tensor, tgt_K: Tensor, tgt_c2w: Tensor,
              size: tuple[int, int], max_splat: int) -> tuple[Tensor, Tensor]:
    """The fused CPU splat: winner ids ``(B, H, W)`` int64 (-1 = none; ``v * Hs * Ws + row * Ws + column``) and
    every point's target depth z ``(B, V * Hs * Ws)`` float32. Arguments as :func:`~.kernels.splat`."""
    B, V, Hs, Ws = depths.shape
    H, W = size
    ms = max(1, int(max_splat))
    ids = torch.empty((B, H * W), dtype=torch.int64)
    Z = torch.empty((B, V, Hs, Ws), dtype=torch.float32)
    _splat_ids(depths.float().contiguous().numpy(), *_cameras(src_K, src_c2w, tgt_K, tgt_c2w), ms,
               *_limits(ms, size), H, W, ids.numpy(), Z.numpy())
    return ids.reshape(B, H, W), Z.reshape(B, -1)


def far_push_pull(values: Tensor, weights: Tensor, far: int = -1, rel: float = 0.1) -> Tensor:
    """:func:`~.fill.far_push_pull` compiled for CPU tensors (same arguments and result, to float rounding)."""
    B, C, H, W = values.shape
    out = torch.empty((B, C, H, W), dtype=torch.float32)
    _fill(values.float().contiguous().numpy(), weights.float().clamp(0, 1).contiguous().numpy(), far % C,
          np.float32(1) - np.float32(rel), *levels(H, W), out.numpy())
    return out.to(values.dtype)


def splat_fill_uint8(images: Tensor, depths: Tensor, src_K: Tensor, src_c2w: Tensor, tgt_K: Tensor,
                     tgt_c2w: Tensor, size: tuple[int, int], max_splat: int = 9,
                     rel: float = 0.1) -> tuple[Tensor, Tensor, Tensor]:
    """Splat, depth-aware fill and uint8 composite, frame by frame in compiled code.

    Equals ``warp_prior(images, ..., channels_last=True)`` finished with ``(x.clamp(0, 1) * 255).round()``
    (:func:`~.prior.warp_frames`), the fill to float rounding.

    Args:
        images ``(B, V, Hs, Ws, 3)`` uint8; depths ``(B, V, Hs, Ws)``; cameras as :func:`~.kernels.splat`.

    Returns:
        frames ``(B, H, W, 3)`` uint8, depth ``(B, H, W)`` float32 (filled), covered ``(B, H, W)`` bool.
    """
    B, V, Hs, Ws, C = images.shape
    H, W = size
    ms = max(1, int(max_splat))
    frames = torch.empty((B, H, W, 3), dtype=torch.uint8)
    depth = torch.empty((B, H, W), dtype=torch.float32)
    ids = torch.empty((B, H * W), dtype=torch.int64)
    _warp_uint8(depths.float().contiguous().numpy(), *_cameras(src_K, src_c2w, tgt_K, tgt_c2w), ms,
                *_limits(ms, size), H, W, images.contiguous().reshape(B, V * Hs * Ws, C).numpy(),
                np.float32(1) - np.float32(rel), *levels(H, W), frames.reshape(B, H * W, 3).numpy(),
                depth.reshape(B, H * W).numpy(), ids.numpy())
    return frames, depth, (ids >= 0).reshape(B, H, W)


def static_depth(depth: Tensor, instants: Tensor, kinv: Tensor, ks: Tensor, c2w: Tensor, rel_tol: float,
                 abs_tol: float, min_agree: int) -> Tensor:
    """The per-pixel part of :func:`~..generate.warp.static_views` for CPU tensors.

    Args:
        depth ``(Tv, H, W)`` metres of one view; instants ``(B, 1 + C)`` its frames per target frame, t first, -1
            where not usable; kinv / ks ``(B, 1 + C, 3, 3)`` K^-1 and K at those frames; c2w ``(B, 1 + C, 4, 4)``.

    Returns:
        ``(B, C, H, W)`` float32: the depth of instant ``1 + c`` where it is kept, else 0.
    """
    B, n = instants.shape
    out = torch.empty((B, n - 1, *depth.shape[1:]), dtype=torch.float32)
    _static_depth(depth.float().contiguous().numpy(), instants.to(torch.int32).contiguous().numpy(),
                  *(x.float().contiguous().numpy() for x in (kinv, ks, c2w)), np.float32(rel_tol),
                  np.float32(abs_tol), int(min_agree), out.numpy())
    return out


SORT_MAX = 128  # frames up to which the sorting network beats the count (benchmarks/self_parts.py: 7.9x at
# 10 frames of 640x480, 1.1x at 128, 0.58x at 256)


def median_hits(frames: np.ndarray, tol: int, method: str = "auto") -> tuple[np.ndarray, np.ndarray]:
    """The per-pixel part of :func:`~.self_parts.constant_mask`: frames ``(N, H, W, 3)`` uint8 -> median
    ``(H, W, 3)`` uint8 and hits ``(H, W)`` int64 (frames within `tol` levels of the median in every channel).

    method: "sort" (an odd-even network over each row: N squared exchanges, vectorized), "count" (a 256-bin count
    per pixel and channel: about N + 128 steps) or "auto" (sort up to `SORT_MAX` frames: one episode's bins)."""
    if method not in ("auto", "sort", "count"):
        raise ValueError(f"method must be auto, sort or count, got {method!r}")
    frames = np.ascontiguousarray(frames)
    median = np.empty(frames.shape[1:], np.uint8)
    hits = np.zeros(frames.shape[1:3], np.int64)
    sort = method == "sort" or (method == "auto" and len(frames) <= SORT_MAX)
    _median_hits(frames, int(tol), sort, median, hits)
    return median, hits
