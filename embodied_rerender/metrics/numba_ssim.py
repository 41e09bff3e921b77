"""SSIM (and the squared errors of PSNR) of uint8 frames on a CPU in one compiled pass per frame, frames in parallel.

The torch path (`image.ssim_map`) blurs five moment maps with banded matrix products: on a CPU that is a dense
``(W, W)`` product for an 11-tap filter, about W / 11 times the arithmetic of the filter itself, and it was most
of an `augment` run's time on 2 cores. Here each frame's moments are blurred by the filter directly (rows, then
columns, replicate-padded borders as in `ssim_map`), the SSIM map is formed and reduced over the whole frame and
each mask without leaving the core. float32 arithmetic as in `ssim_map` (the two differ by float rounding, ~1e-6
per frame), sums in float64. Numba is imported with this module; without it :func:`available` is False.
"""

from __future__ import annotations

import numpy as np

try:
    import numba
except ImportError:  # the torch path remains
    numba = None

__all__ = ["available", "ssim_sums", "squared_error_sums"]


def available() -> bool:
    return numba is not None


if numba is not None:
    f32 = np.float32

    @numba.njit(cache=True, nogil=True)
    def _blur_rows(a, b, i, c, g, out):
        """The moments a, b, a², b², ab of channel `c` of frame `i` of `a`, `b` `(N, H, W, C) uint8`, filtered
        along each row by `g`: `out` `(5, H, W)` float32."""
        _, H, W, _ = a.shape
        K = g.shape[0]
        pad = K // 2
        inv = f32(1.0) / f32(255.0)
        ra = np.empty(W + 2 * pad, np.float32)
        rb = np.empty(W + 2 * pad, np.float32)
        for y in range(H):
            for x in range(W + 2 * pad):
                xx = min(max(x - pad, 0), W - 1)
                ra[x] = f32(a[i, y, xx, c]) * inv
                rb[x] = f32(b[i, y, xx, c]) * inv
            for x in range(W):
                s0 = s1 = s2 = s3 = s4 = f32(0.0)
                for k in range(K):
                    va, vb, w = ra[x + k], rb[x + k], g[k]
                    s0 += w * va
                    s1 += w * vb
                    s2 += w * (va * va)
                    s3 += w * (vb * vb)
                    s4 += w * (va * vb)
                out[0, y, x], out[1, y, x], out[2, y, x], out[3, y, x], out[4, y, x] = s0, s1, s2, s3, s4

    @numba.njit(cache=True, nogil=True)
    def _ssim_frame(a, b, i, masks, g, sums, counts):
        """SSIM map of frame `i` of `a` against `b`, mean over channels, summed over the frame (`sums[0]`,
        `counts[0]`) and over each mask `masks[m, i]` (`sums[1 + m]`, `counts[1 + m]`)."""
        _, H, W, C = a.shape
        K = g.shape[0]
        pad = K // 2
        c1, c2 = f32(0.01 ** 2), f32(0.03 ** 2)
        two = f32(2.0)
        moments = np.empty((5, H, W), np.float32)
        acc = np.empty((5, W), np.float32)
        smap = np.zeros((H, W), np.float32)
        for c in range(C):
            _blur_rows(a, b, i, c, g, moments)
            for y in range(H):
                acc[:] = 0.0
                for k in range(K):
                    yy = min(max(y + k - pad, 0), H - 1)
                    w = g[k]
                    for j in range(5):
                        for x in range(W):
                            acc[j, x] += w * moments[j, yy, x]
                for x in range(W):
                    mu_a, mu_b = acc[0, x], acc[1, x]
                    var_a, var_b = acc[2, x] - mu_a * mu_a, acc[3, x] - mu_b * mu_b
                    cov = acc[4, x] - mu_a * mu_b
                    s = ((two * mu_a * mu_b + c1) * (two * cov + c2)) / \
                        ((mu_a * mu_a + mu_b * mu_b + c1) * (var_a + var_b + c2))
                    smap[y, x] += s
        M = masks.shape[0]
        for y in range(H):
            for x in range(W):
                s = np.float64(smap[y, x] / f32(C))
                sums[0] += s
                counts[0] += 1.0
                for m in range(M):
                    if masks[m, i, y, x]:
                        sums[1 + m] += s
                        counts[1 + m] += 1.0

    @numba.njit(cache=True, nogil=True, parallel=True)
    def _ssim_frames(a, b, masks, g, sums, counts):
        for i in numba.prange(a.shape[0]):
            _ssim_frame(a, b, i, masks, g, sums[i], counts[i])


    @numba.njit(cache=True, nogil=True, parallel=True)
    def _sq_err_frames(a, b, masks, sums, counts):
        _, H, W, C = a.shape
        M = masks.shape[0]
        for i in numba.prange(a.shape[0]):
            for y in range(H):
                for x in range(W):
                    e = 0
                    for c in range(C):
                        d = np.int64(a[i, y, x, c]) - np.int64(b[i, y, x, c])
                        e += d * d
                    sums[i, 0] += e
                    counts[i, 0] += 1
                    for m in range(M):
                        if masks[m, i, y, x]:
                            sums[i, 1 + m] += e
                            counts[i, 1 + m] += 1


def squared_error_sums(a: np.ndarray, b: np.ndarray, masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per frame sums of the exact integer squared errors (over channels) and pixel counts, over the whole frame
    (column 0) and each of `masks` `(M, N, H, W) bool`; `a`, `b` `(N, H, W, C) uint8`. Both `(N, 1 + M) int64`."""
    n, m = a.shape[0], masks.shape[0]
    sums, counts = np.zeros((n, 1 + m), np.int64), np.zeros((n, 1 + m), np.int64)
    _sq_err_frames(np.ascontiguousarray(a), np.ascontiguousarray(b), np.ascontiguousarray(masks), sums, counts)
    return sums, counts


def ssim_sums(a: np.ndarray, b: np.ndarray, masks: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per frame SSIM sums and pixel counts over the whole frame and each mask.

    Args:
        a, b: `(N, H, W, C) uint8` frames.
        masks: `(M, N, H, W) bool` (M may be 0).
        g: `(K,) float32` the normalized 1-D Gaussian window.

    Returns:
        `(N, 1 + M) float64` sums of the per-pixel SSIM (mean over channels) and `(N, 1 + M)` pixel counts;
        column 0 is the whole frame.
    """
    n, m = a.shape[0], masks.shape[0]
    sums, counts = np.zeros((n, 1 + m)), np.zeros((n, 1 + m))
    _ssim_frames(np.ascontiguousarray(a), np.ascontiguousarray(b), np.ascontiguousarray(masks),
                 np.ascontiguousarray(g, np.float32), sums, counts)
    return sums, counts
