"""Triton kernels of the warp path: the fused splat (lift, projection, footprint, z-buffer in one launch), the
depth-aware fill pyramid (one launch per level and direction) and the per-pixel tests of the static-scene memory
(:func:`static_depth`, one launch per view and chunk).

They exist for one reason: on a GPU the torch formulation of the same maths is thousands of small kernel launches
per view (a 480x640 view with k = 4 context views made 5,900, and the launches, not the arithmetic, bounded it).
Each kernel here does the float32 operations of its torch reference in the same order, with FMA contraction off
(``enable_fp_fusion=False``) and correctly rounded division (``div_rn``), so:

- :func:`splat_keys` lands every point bit for bit where :func:`~.splat.lift_for_splat` puts it, and picks the
  same winner as :func:`~.splat.forward_splat` (point mode: :func:`~.splat.forward_splat_reference`);
- :func:`far_push_pull` returns :func:`~.fill.far_push_pull`'s result to float rounding;
- :func:`static_depth` keeps what :func:`~..generate.warp.static_views_reference` keeps, but for a pixel whose
  projection rounds at exactly .5 or whose depth sits on the tolerance (the reference's matrix products sum in
  their own order).

All run in Triton's interpreter on a CPU (``TRITON_INTERPRET=1``), which is how CI without a GPU tests them.
Import this module only where triton may be used (render/kernels.py does so lazily): it imports triton, which a
CPU install need not have (then :func:`available` is False).
"""

from __future__ import annotations

import torch
from torch import Tensor

from .splat import _EDGE_REL, _NEAR, _SCALE_TOL, _SPLAT_DEPTH_BIAS, _Z_EPS, EMPTY_KEY, far_limits

__all__ = ["available", "splat_keys", "far_push_pull", "static_depth"]

_OPTS = {"enable_fp_fusion": False}  # torch rounds after every mul and add; so must we


try:
    import triton
    import triton.language as tl
except ImportError:  # a CPU install without triton: the numba and torch backends remain
    triton = None


def available() -> bool:
    return triton is not None


if triton is not None:
    NEAR = tl.constexpr(_NEAR)  # kernels read module globals only as constexpr
    Z_EPS = tl.constexpr(_Z_EPS)

    @triton.jit
    def _project(d, xs, ys, fx, sk, cx, fy, cy, r00, r01, r02, r10, r11, r12, r20, r21, r22, t0, t1, t2,
                k00, k01, k02, k11, k12):
        """Source pixel (xs, ys) at depth d -> target (u, v, z) and validity, as splat._lift computes it."""
        yn = tl.math.div_rn(ys - cy, fy)
        xn = tl.math.div_rn(xs - cx - sk * yn, fx)
        x = xn * d
        y = yn * d
        px = r00 * x + r01 * y + r02 * d + t0
        py = r10 * x + r11 * y + r12 * d + t1
        pz = r20 * x + r21 * y + r22 * d + t2
        pzs = tl.where(tl.abs(pz) < Z_EPS, Z_EPS, pz)
        xt = tl.math.div_rn(px, pzs)
        yt = tl.math.div_rn(py, pzs)
        u = k00 * xt + k01 * yt + k02
        v = k11 * yt + k12
        finite = (tl.abs(u) < float("inf")) & (tl.abs(v) < float("inf"))  # False for inf and nan
        ok = (d > 0) & (tl.abs(d) < float("inf")) & (pz > NEAR) & finite
        return u, v, pz, ok

    @triton.jit
    def _neighbour(dep_ptr, base, yy, xx, dy, dx, Hs, Ws, m, d, u0, v0, fx, sk, cx, fy, cy,
                  r00, r01, r02, r10, r11, r12, r20, r21, r22, t0, t1, t2, k00, k01, k02, k11, k12, EDGE: tl.constexpr):
        """|du|, |dv| to the neighbour (yy + dy, xx + dx) when it is on the same surface (else 0), and whether it is."""
        y2 = yy + dy
        x2 = xx + dx
        inb = m & (y2 >= 0) & (y2 < Hs) & (x2 >= 0) & (x2 < Ws)
        d2 = tl.load(dep_ptr + base + y2 * Ws + x2, mask=inb, other=0.0)
        u2, v2, _, ok2 = _project(d2, x2.to(tl.float32), y2.to(tl.float32), fx, sk, cx, fy, cy,
                                 r00, r01, r02, r10, r11, r12, r20, r21, r22, t0, t1, t2, k00, k01, k02, k11, k12)
        same = inb & ok2 & (tl.abs(d - d2) <= EDGE * tl.minimum(d, d2))
        du = tl.where(same, tl.abs(u2 - u0), 0.0)
        dv = tl.where(same, tl.abs(v2 - v0), 0.0)
        return du, dv, same

    @triton.jit
    def _splat(dep_ptr, sk_ptr, sc_ptr, tk_ptr, tc_ptr, keys_ptr, z_ptr, V, Hs, Ws, H, W, max_splat, lo, hi,
              BIAS: tl.constexpr, EDGE: tl.constexpr, TOL: tl.constexpr,
              BLOCK: tl.constexpr):  # pragma: no cover - compiled
        """One program: BLOCK source pixels of one (frame b, view v). keys (B*H*W,) int64 pre-filled with the
        empty key; z (B, V*Hs*Ws) float32 receives every point's target depth."""
        bv = tl.program_id(1)
        b = bv // V
        offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        npix = Hs * Ws
        m = offs < npix
        yy = offs // Ws
        xx = offs % Ws
        # intrinsics and the relative pose, in splat._relative_pose's order
        fx = tl.load(sk_ptr + bv * 9 + 0)
        sk = tl.load(sk_ptr + bv * 9 + 1)
        cx = tl.load(sk_ptr + bv * 9 + 2)
        fy = tl.load(sk_ptr + bv * 9 + 4)
        cy = tl.load(sk_ptr + bv * 9 + 5)
        k00 = tl.load(tk_ptr + b * 9 + 0)
        k01 = tl.load(tk_ptr + b * 9 + 1)
        k02 = tl.load(tk_ptr + b * 9 + 2)
        k11 = tl.load(tk_ptr + b * 9 + 4)
        k12 = tl.load(tk_ptr + b * 9 + 5)
        s = sc_ptr + bv * 16
        g = tc_ptr + b * 16
        # R[i][j] = sum_k Rt[k, i] * Rs[k, j];  t[i] = sum_k Rt[k, i] * (ts - tt)[k]
        d0 = tl.load(s + 3) - tl.load(g + 3)
        d1 = tl.load(s + 7) - tl.load(g + 7)
        d2 = tl.load(s + 11) - tl.load(g + 11)
        r00 = tl.load(g + 0) * tl.load(s + 0) + tl.load(g + 4) * tl.load(s + 4) + tl.load(g + 8) * tl.load(s + 8)
        r01 = tl.load(g + 0) * tl.load(s + 1) + tl.load(g + 4) * tl.load(s + 5) + tl.load(g + 8) * tl.load(s + 9)
        r02 = tl.load(g + 0) * tl.load(s + 2) + tl.load(g + 4) * tl.load(s + 6) + tl.load(g + 8) * tl.load(s + 10)
        r10 = tl.load(g + 1) * tl.load(s + 0) + tl.load(g + 5) * tl.load(s + 4) + tl.load(g + 9) * tl.load(s + 8)
        r11 = tl.load(g + 1) * tl.load(s + 1) + tl.load(g + 5) * tl.load(s + 5) + tl.load(g + 9) * tl.load(s + 9)
        r12 = tl.load(g + 1) * tl.load(s + 2) + tl.load(g + 5) * tl.load(s + 6) + tl.load(g + 9) * tl.load(s + 10)
        r20 = tl.load(g + 2) * tl.load(s + 0) + tl.load(g + 6) * tl.load(s + 4) + tl.load(g + 10) * tl.load(s + 8)
        r21 = tl.load(g + 2) * tl.load(s + 1) + tl.load(g + 6) * tl.load(s + 5) + tl.load(g + 10) * tl.load(s + 9)
        r22 = tl.load(g + 2) * tl.load(s + 2) + tl.load(g + 6) * tl.load(s + 6) + tl.load(g + 10) * tl.load(s + 10)
        t0 = tl.load(g + 0) * d0 + tl.load(g + 4) * d1 + tl.load(g + 8) * d2
        t1 = tl.load(g + 1) * d0 + tl.load(g + 5) * d1 + tl.load(g + 9) * d2
        t2 = tl.load(g + 2) * d0 + tl.load(g + 6) * d1 + tl.load(g + 10) * d2

        base = bv * npix
        d = tl.load(dep_ptr + base + offs, mask=m, other=0.0)
        u, v, z, ok = _project(d, xx.to(tl.float32), yy.to(tl.float32), fx, sk, cx, fy, cy,
                              r00, r01, r02, r10, r11, r12, r20, r21, r22, t0, t1, t2, k00, k01, k02, k11, k12)
        ok = ok & m
        n = (bv % V) * npix + offs  # the point's id within its frame: (view, row, column) order
        tl.store(z_ptr + b.to(tl.int64) * V * npix + n, z, mask=m)
        # footprint: the Jacobian columns from the same-surface horizontal / vertical neighbours (splat._footprint)
        au, av, ha = _neighbour(dep_ptr, base, yy, xx, 0, -1, Hs, Ws, ok, d, u, v, fx, sk, cx, fy, cy, r00, r01, r02,
                               r10, r11, r12, r20, r21, r22, t0, t1, t2, k00, k01, k02, k11, k12, EDGE)
        bu, bv_, hb = _neighbour(dep_ptr, base, yy, xx, 0, 1, Hs, Ws, ok, d, u, v, fx, sk, cx, fy, cy, r00, r01, r02,
                                r10, r11, r12, r20, r21, r22, t0, t1, t2, k00, k01, k02, k11, k12, EDGE)
        cu, cv, hc = _neighbour(dep_ptr, base, yy, xx, -1, 0, Hs, Ws, ok, d, u, v, fx, sk, cx, fy, cy, r00, r01, r02,
                               r10, r11, r12, r20, r21, r22, t0, t1, t2, k00, k01, k02, k11, k12, EDGE)
        eu, ev, he = _neighbour(dep_ptr, base, yy, xx, 1, 0, Hs, Ws, ok, d, u, v, fx, sk, cx, fy, cy, r00, r01, r02,
                               r10, r11, r12, r20, r21, r22, t0, t1, t2, k00, k01, k02, k11, k12, EDGE)
        jxu = tl.maximum(au, bu)
        jxv = tl.maximum(av, bv_)
        jyu = tl.maximum(cu, eu)
        jyv = tl.maximum(cv, ev)
        hx = ha | hb
        hy = hc | he
        # a missing column is the perpendicular of the other; none at all: an isolated one-pixel point
        jxu2 = tl.where(hx, jxu, tl.where(hy, jyv, 1.0))
        jxv2 = tl.where(hx, jxv, tl.where(hy, jyu, 0.0))
        jyu2 = tl.where(hy, jyu, tl.where(hx, jxv, 0.0))
        jyv2 = tl.where(hy, jyv, tl.where(hx, jxu, 1.0))
        kx = tl.minimum(tl.maximum(tl.ceil((jxu2 + jyu2) - TOL).to(tl.int32), 1), max_splat)
        ky = tl.minimum(tl.maximum(tl.ceil((jxv2 + jyv2) - TOL).to(tl.int32), 1), max_splat)
        kx = tl.where(ok, kx, 0)
        ky = tl.where(ok, ky, 0)
        u = tl.minimum(tl.maximum(tl.where(ok, u, 0.0), lo), hi)  # splat.clamp_far
        v = tl.minimum(tl.maximum(tl.where(ok, v, 0.0), lo), hi)
        # z-buffer: one 64-bit atomic min of (depth bits << 32 | id) per splat pixel (positive floats order
        # like their bit patterns, so the minimum is the nearest candidate, exact ties to the lowest id)
        fkx = tl.maximum(kx, 1).to(tl.float32)
        fky = tl.maximum(ky, 1).to(tl.float32)
        x0 = tl.ceil(u - kx.to(tl.float32) * 0.5).to(tl.int32)
        y0 = tl.ceil(v - ky.to(tl.float32) * 0.5).to(tl.int32)
        inv_x = tl.math.div_rn(tl.full((BLOCK,), 4.0, tl.float32), fkx * fkx)
        inv_y = tl.math.div_rn(tl.full((BLOCK,), 4.0, tl.float32), fky * fky)
        big = (kx * ky) > 1
        n64 = n.to(tl.int64)
        row0 = b.to(tl.int64) * H
        ky_max = tl.max(ky, axis=0)
        kx_max = tl.max(kx, axis=0)
        # while, not range(tl.max(...)): the interpreter turns a range bound into a Python int through a
        # size-1 array, which numpy >= 2.5 refuses; a while condition goes through bool(), which it allows
        dy = ky_max * 0
        while dy < ky_max:
            py = y0 + dy
            dx = kx_max * 0
            while dx < kx_max:
                px = x0 + dx
                hit = ok & (dx < kx) & (dy < ky) & (px >= 0) & (px < W) & (py >= 0) & (py < H)
                ex = px.to(tl.float32) - u
                ey = py.to(tl.float32) - v
                r2 = ex * ex * inv_x + ey * ey * inv_y
                zc = tl.where(big, z * (1.0 + BIAS * tl.minimum(r2, 1.0)), z)
                key = (zc.to(tl.int32, bitcast=True).to(tl.int64) << 32) | n64
                lin = (row0 + py.to(tl.int64)) * W + px.to(tl.int64)
                tl.atomic_min(keys_ptr + tl.where(hit, lin, 0), key, mask=hit)
                dx += 1
            dy += 1

    @triton.jit
    def _kept(wk, dk, dmax, keep_f, tw):
        """A tap's weight where it counts (it has data and lies on the far side: fill._far_taps), else 0."""
        return tl.where((wk > 0) & (dk >= dmax * keep_f), wk * tw, 0.0)

    @triton.jit
    def _child(v_ptr, w_ptr, b, oy, ox, i: tl.constexpr, h, w, m, C: tl.constexpr, FAR: tl.constexpr):
        """Child i of the coarse pixels (oy, ox): its flat index in the level, weight and depth (0 off the image)."""
        y = 2 * oy + i // 2
        x = 2 * ox + i % 2
        inb = m & (y < h) & (x < w)
        q = y * w + x
        wk = tl.load(w_ptr + b * h * w + q, mask=inb, other=0.0)
        dk = tl.load(v_ptr + (b * C + FAR) * h * w + q, mask=inb, other=0.0)
        return q, inb, wk, dk

    @triton.jit
    def _tap(f_ptr, hv_ptr, b, y, x, i: tl.constexpr, hc, wc, m, C: tl.constexpr, FAR: tl.constexpr):
        """Bilinear tap i of the fine pixels (y, x) in the coarser level (replicate padding: clamped): its flat
        index there, bilinear weight, weight of data and depth."""
        r = tl.minimum(tl.maximum((y + 1) // 2 - 1 + i // 2, 0), hc - 1)
        c = tl.minimum(tl.maximum((x + 1) // 2 - 1 + i % 2, 0), wc - 1)
        wy1 = tl.where(y % 2 == 0, 0.75, 0.25)
        wx1 = tl.where(x % 2 == 0, 0.75, 0.25)
        wy = wy1 if i // 2 == 1 else 1.0 - wy1
        wx = wx1 if i % 2 == 1 else 1.0 - wx1
        q = r * wc + c
        hk = tl.load(hv_ptr + b * hc * wc + q, mask=m, other=0.0)
        dk = tl.load(f_ptr + (b * C + FAR) * hc * wc + q, mask=m, other=0.0)
        return q, wy * wx, hk, dk

    @triton.jit
    def _pull(v_ptr, w_ptr, cv_ptr, cw_ptr, h, w, h2, w2, keep_f,
              C: tl.constexpr, FAR: tl.constexpr, BLOCK: tl.constexpr):  # pragma: no cover - compiled
        """One pyramid level down: each coarse pixel the weighted mean of its far 2x2 children (fill._far_taps).
        The children are re-read per pass (farthest depth, weights, each channel): they stay in cache."""
        b = tl.program_id(1).to(tl.int64)
        offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        m = offs < h2 * w2
        oy = offs // w2
        ox = offs % w2
        dmax = tl.full((BLOCK,), float("-inf"), tl.float32)
        for i in tl.static_range(4):
            _, _, wk, dk = _child(v_ptr, w_ptr, b, oy, ox, i, h, w, m, C, FAR)
            dmax = tl.maximum(dmax, tl.where(wk > 0, dk, float("-inf")))
        den = tl.zeros((BLOCK,), tl.float32)
        for i in tl.static_range(4):
            _, _, wk, dk = _child(v_ptr, w_ptr, b, oy, ox, i, h, w, m, C, FAR)
            den += _kept(wk, dk, dmax, keep_f, 1.0)
        inv = tl.maximum(den, 1e-12)
        for ch in tl.static_range(C):
            num = tl.zeros((BLOCK,), tl.float32)
            for i in tl.static_range(4):
                q, inb, wk, dk = _child(v_ptr, w_ptr, b, oy, ox, i, h, w, m, C, FAR)
                num += _kept(wk, dk, dmax, keep_f, 1.0) * tl.load(v_ptr + (b * C + ch) * h * w + q, mask=inb, other=0.0)
            tl.store(cv_ptr + (b * C + ch) * h2 * w2 + offs, tl.math.div_rn(num, inv), mask=m)
        tl.store(cw_ptr + b * h2 * w2 + offs, tl.minimum(den, 1.0), mask=m)

    @triton.jit
    def _push(f_ptr, hv_ptr, v_ptr, w_ptr, out_ptr, ohv_ptr, hc, wc, H, W, keep_f,
              C: tl.constexpr, FAR: tl.constexpr, LAST: tl.constexpr, BLOCK: tl.constexpr):  # pragma: no cover
        """One pyramid level up: the far taps of the 2x bilinear upsampling (fill._upsample_far) under the level's
        own weighted values. LAST: zero where nothing was reached (the pyramid's final step)."""
        b = tl.program_id(1).to(tl.int64)
        offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        m = offs < H * W
        y = offs // W
        x = offs % W
        dmax = tl.full((BLOCK,), float("-inf"), tl.float32)
        for i in tl.static_range(4):
            _, _, hk, dk = _tap(f_ptr, hv_ptr, b, y, x, i, hc, wc, m, C, FAR)
            dmax = tl.maximum(dmax, tl.where(hk > 0, dk, float("-inf")))
        den = tl.zeros((BLOCK,), tl.float32)
        for i in tl.static_range(4):
            _, tw, hk, dk = _tap(f_ptr, hv_ptr, b, y, x, i, hc, wc, m, C, FAR)
            den += _kept(hk, dk, dmax, keep_f, tw)
        lw = tl.load(w_ptr + b * H * W + offs, mask=m, other=0.0)
        inv = tl.maximum(den, 1e-12)
        reached = tl.maximum(lw, tl.where(den > 0, 1.0, 0.0))
        for ch in tl.static_range(C):
            num = tl.zeros((BLOCK,), tl.float32)
            for i in tl.static_range(4):
                q, tw, hk, dk = _tap(f_ptr, hv_ptr, b, y, x, i, hc, wc, m, C, FAR)
                num += _kept(hk, dk, dmax, keep_f, tw) * tl.load(f_ptr + (b * C + ch) * hc * wc + q, mask=m, other=0.0)
            up = tl.math.div_rn(num, inv)
            own = tl.load(v_ptr + (b * C + ch) * H * W + offs, mask=m, other=0.0)
            val = tl.where(lw > 0, lw * own + (1.0 - lw) * up, up)
            if LAST:
                val = tl.where(reached > 0, val, 0.0)
            tl.store(out_ptr + (b * C + ch) * H * W + offs, val, mask=m)
        tl.store(ohv_ptr + b * H * W + offs, reached, mask=m)

    # -- the static-scene memory (generate/warp.py static_views) --------------------------------------------
    @triton.jit
    def _rint(x):
        """Round half to even (torch's round()): exact for |x| < 2**22, and farther out it stays out of any
        image; libdevice.rint would do, but the interpreter lacks it."""
        return (x + 12582912.0) - 12582912.0  # 1.5 * 2**23: the sum's rounding drops the fraction

    @triton.jit
    def _observe(dep_ptr, inst_ptr, k_ptr, c2w_ptr, u, wx, wy, wz, m, npix, H, W):
        """Instant u's (row of inst / ks / c2w) camera depth z of the world points and the depth it saw where they
        project (camera.project, rounded; 0 = no information)."""
        f = tl.load(inst_ptr + u).to(tl.int64)
        P = c2w_ptr + u * 16
        qx = wx - tl.load(P + 3)
        qy = wy - tl.load(P + 7)
        qz = wz - tl.load(P + 11)
        z = qx * tl.load(P + 2) + qy * tl.load(P + 6) + qz * tl.load(P + 10)
        zs = tl.where(tl.abs(z) < Z_EPS, Z_EPS, z)
        xn = tl.math.div_rn(qx * tl.load(P + 0) + qy * tl.load(P + 4) + qz * tl.load(P + 8), zs)
        yn = tl.math.div_rn(qx * tl.load(P + 1) + qy * tl.load(P + 5) + qz * tl.load(P + 9), zs)
        k = k_ptr + u * 9
        col = _rint(xn * tl.load(k + 0) + yn * tl.load(k + 1) + tl.load(k + 2))
        row = _rint(xn * tl.load(k + 3) + yn * tl.load(k + 4) + tl.load(k + 5))
        on = m & (f >= 0) & (z > 0) & (col >= 0) & (col <= W - 1) & (row >= 0) & (row <= H - 1)
        lin = f * npix + tl.where(on, row, 0.0).to(tl.int64) * W + tl.where(on, col, 0.0).to(tl.int64)
        return z, tl.load(dep_ptr + lin, mask=on, other=0.0)

    @triton.jit
    def _static(dep_ptr, inst_ptr, kinv_ptr, k_ptr, c2w_ptr, out_ptr, H, W, rel, atol, min_agree,
                C: tl.constexpr, BLOCK: tl.constexpr):  # pragma: no cover - compiled
        """One program: BLOCK pixels of candidate instant c of target frame b (program_id(1) = b * C + c); see
        static_depth for the layouts. C (2 x static_memory) is a constexpr: the loop over instants unrolls, and
        Triton 3.6's interpreter refuses a runtime loop bound."""
        bc = tl.program_id(1)
        b = bc // C
        s = b * (C + 1) + 1 + bc % C  # its row in inst / kinv / ks / c2w
        npix = H * W
        offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        m = offs < npix
        x = (offs % W).to(tl.float32)
        y = (offs // W).to(tl.float32)
        src = tl.load(inst_ptr + s).to(tl.int64)
        d = tl.load(dep_ptr + src * npix + offs, mask=m & (src >= 0), other=0.0)
        # camera.unproject: the ray K^-1 [x, y, 1] times d, then to the world
        ki = kinv_ptr + s * 9
        rx = (x * tl.load(ki + 0) + y * tl.load(ki + 1) + tl.load(ki + 2)) * d
        ry = (x * tl.load(ki + 3) + y * tl.load(ki + 4) + tl.load(ki + 5)) * d
        rz = (x * tl.load(ki + 6) + y * tl.load(ki + 7) + tl.load(ki + 8)) * d
        P = c2w_ptr + s * 16
        wx = rx * tl.load(P + 0) + ry * tl.load(P + 1) + rz * tl.load(P + 2) + tl.load(P + 3)
        wy = rx * tl.load(P + 4) + ry * tl.load(P + 5) + rz * tl.load(P + 6) + tl.load(P + 7)
        wz = rx * tl.load(P + 8) + ry * tl.load(P + 9) + rz * tl.load(P + 10) + tl.load(P + 11)
        keep = m & (d > 0)
        agree = tl.zeros((BLOCK,), tl.int32)
        for i in range(0, C + 1):  # t first
            z, seen = _observe(dep_ptr, inst_ptr, k_ptr, c2w_ptr, b * (C + 1) + i, wx, wy, wz, keep, npix, H, W)
            tol = rel * z + atol
            near = (seen > 0) & (tl.abs(seen - z) <= tol)
            # seen through (it moved), or t shows it already
            keep = keep & ~((seen > 0) & (seen > z + tol)) & ~(near & (i == 0))
            agree += near.to(tl.int32)
        tl.store(out_ptr + bc * npix + offs, tl.where(keep & (agree >= min_agree), d, 0.0), mask=m)


def splat_keys(depths: Tensor, src_K: Tensor, src_c2w: Tensor, tgt_K: Tensor, tgt_c2w: Tensor,
               size: tuple[int, int], max_splat: int, block: int = 256) -> tuple[Tensor, Tensor]:
    """The fused splat: per target pixel the packed key ``depth bits << 32 | id`` of its winner.

    Args:
        depths ``(B, V, Hs, Ws)`` metres (0 = invalid); src_K ``(B, V, 3, 3)``, src_c2w ``(B, V, 4, 4)``, tgt_K
            ``(B, 3, 3)``, tgt_c2w ``(B, 4, 4)``; size: target ``(H, W)``; max_splat: largest splat side.

    Returns:
        keys ``(B, H, W)`` int64 (:data:`~.splat.EMPTY_KEY` where no point landed; else the low 32 bits are the winning
        point's id ``v * Hs * Ws + row * Ws + column``) and z ``(B, V * Hs * Ws)`` float32, every point's target
        depth.
    """
    B, V, Hs, Ws = depths.shape
    H, W = size
    f32 = lambda x: x.float().contiguous()  # noqa: E731
    keys = torch.full((B * H * W,), EMPTY_KEY, dtype=torch.int64, device=depths.device)
    z = torch.empty((B, V * Hs * Ws), dtype=torch.float32, device=depths.device)
    grid = (triton.cdiv(Hs * Ws, block), B * V)
    ms = max(1, int(max_splat))
    _splat[grid](f32(depths), f32(src_K), f32(src_c2w), f32(tgt_K), f32(tgt_c2w), keys, z, V, Hs, Ws, H, W, ms,
                 *far_limits(ms, size), BIAS=_SPLAT_DEPTH_BIAS, EDGE=_EDGE_REL, TOL=_SCALE_TOL, BLOCK=block,
                 **_OPTS)
    return keys.reshape(B, H, W), z


def far_push_pull(values: Tensor, weights: Tensor, far: int = -1, rel: float = 0.1, block: int = 512) -> Tensor:
    """:func:`~.fill.far_push_pull` in two kernels per pyramid level (same arguments and result, to float
    rounding). values ``(B, C, H, W)`` float32, weights ``(B, H, W)`` in [0, 1]."""
    B, C, H, W = values.shape
    far = far % C
    keep_f = 1.0 - rel
    v = values.float().contiguous()
    lw = weights.float().clamp(0, 1).contiguous()
    levels = [(v, lw)]
    while max(levels[-1][0].shape[-2:]) > 1:  # pull
        v, lw = levels[-1]
        h, w = v.shape[-2:]
        h2, w2 = (h + 1) // 2, (w + 1) // 2
        cv = torch.empty((B, C, h2, w2), dtype=torch.float32, device=v.device)
        cw = torch.empty((B, h2, w2), dtype=torch.float32, device=v.device)
        _pull[(triton.cdiv(h2 * w2, block), B)](v, lw, cv, cw, h, w, h2, w2, keep_f, C=C, FAR=far, BLOCK=block,
                                                **_OPTS)
        levels.append((cv, cw))
    filled, have = levels[-1]
    if len(levels) == 1:  # a 1x1 image: nothing to push
        return torch.where(have.unsqueeze(1) > 0, filled, torch.zeros((), device=filled.device)).to(values.dtype)
    for i in range(len(levels) - 2, -1, -1):  # push
        v, lw = levels[i]
        h, w = v.shape[-2:]
        out = torch.empty_like(v)
        out_have = torch.empty_like(lw)
        _push[(triton.cdiv(h * w, block), B)](filled, have, v, lw, out, out_have, filled.shape[-2], filled.shape[-1],
                                              h, w, keep_f, C=C, FAR=far, LAST=i == 0, BLOCK=block, **_OPTS)
        filled, have = out, out_have
    return filled.to(values.dtype)


def static_depth(depth: Tensor, instants: Tensor, kinv: Tensor, ks: Tensor, c2w: Tensor, rel_tol: float,
                 abs_tol: float, min_agree: int, block: int = 256) -> Tensor:
    """:func:`~.numba_kernels.static_depth` in one launch (same arguments and result): the per-pixel part of
    :func:`~..generate.warp.static_views`, depth ``(Tv, H, W)`` in, ``(B, C, H, W)`` float32 out."""
    B, n = instants.shape
    H, W = depth.shape[1:]
    out = torch.empty((B, n - 1, H, W), dtype=torch.float32, device=depth.device)
    f32 = lambda x: x.float().contiguous()  # noqa: E731
    grid = (triton.cdiv(H * W, block), B * (n - 1))
    _static[grid](f32(depth), instants.to(torch.int32).contiguous(), f32(kinv), f32(ks), f32(c2w), out, H, W,
                  float(rel_tol), float(abs_tol), int(min_agree), C=n - 1, BLOCK=block, **_OPTS)
    return out
