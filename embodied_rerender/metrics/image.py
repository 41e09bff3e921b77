"""Image quality: PSNR and SSIM per frame, optionally over a mask (the region the context views cover).

Inputs (both arguments alike), numpy arrays or torch tensors:

- ``uint8`` in the IO layout ``(..., H, W, C)`` (e.g. ``(T, H, W, 3)`` straight from a CameraStream), read as
  ``value / 255``;
- floating point in the model layout ``(..., C, H, W)`` with values in ``[0, 1]``.

Results are per frame: one value per leading index, shape ``(...)`` float64 tensors. A frame whose mask is
empty scores NaN (nothing to measure); :func:`mean_metric` averages ignoring those.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["to_float_chw", "psnr", "psnr_over", "ssim", "ssim_over", "mean_metric", "mean", "score_views"]


def to_float_chw(x, dtype: torch.dtype = torch.float64) -> Tensor:
    """uint8 ``(..., H, W, C)`` -> float ``(..., C, H, W)`` in [0, 1]; float ``(..., C, H, W)`` -> `dtype`."""
    t = torch.as_tensor(np.ascontiguousarray(x) if isinstance(x, np.ndarray) else x)
    if t.dtype == torch.uint8:
        return t.movedim(-1, -3).to(dtype) / 255.0
    if not t.is_floating_point():
        raise TypeError(f"images must be uint8 (..., H, W, C) or float (..., C, H, W), got {t.dtype}")
    return t.to(dtype)


def _region(mask, shape: tuple, device) -> Tensor:
    """A mask as bool of `shape` ``(..., H, W)``, on `device`, after checking its shape."""
    m = torch.as_tensor(np.ascontiguousarray(mask) if isinstance(mask, np.ndarray) else mask, device=device)
    if m.shape != tuple(shape):
        raise ValueError(f"mask must be {tuple(shape)}, got {tuple(m.shape)}")
    return m.bool()


def psnr(a, b, mask=None) -> Tensor:
    """Peak signal-to-noise ratio in dB (peak 1.0) per frame.

    Args:
        a, b: images, uint8 ``(..., H, W, C)`` or float ``(..., C, H, W)`` in [0, 1].
        mask: optional ``(..., H, W)`` bool; the MSE is taken over the masked pixels (all channels).

    Returns:
        ``(...)`` float64: ``inf`` for identical frames, NaN for an empty mask.
    """
    return psnr_over(a, b, [mask])[0]


def psnr_over(a, b, masks) -> list[Tensor]:
    """PSNR per frame over each of `masks` (None = the whole frame), from one squared-error map: scoring the
    whole frame and a region must not compute it twice. Returns one ``(...)`` float64 per mask."""
    ta, tb = (torch.as_tensor(np.ascontiguousarray(x) if isinstance(x, np.ndarray) else x) for x in (a, b))
    if ta.device.type == tb.device.type == "cpu" and ta.dtype == tb.dtype == torch.uint8 and _numba_ssim() is not None:
        return _psnr_over_numba(ta, tb, masks)
    if ta.dtype == torch.uint8 and tb.dtype == torch.uint8:  # exact integer squared errors, no float copies
        channels = ta.shape[-1]
        d = ta.to(torch.int16) - tb.to(ta.device, torch.int16)
        se = (d.to(torch.int32) ** 2).sum(-1).double() / 255.0 ** 2  # (..., H, W), summed over channels
    else:
        fa, fb = to_float_chw(ta), to_float_chw(tb).to(ta.device)
        channels = fa.shape[-3]
        se = ((fa - fb) ** 2).sum(-3)
    out = []
    for mask in masks:
        if mask is None:
            mse = se.mean((-2, -1)) / channels
        else:
            m = _region(mask, se.shape, se.device).double()
            mse = (se * m).sum((-2, -1)) / (m.sum((-2, -1)) * channels)  # 0/0 = NaN for an empty mask
        out.append(-10.0 * torch.log10(mse))  # mse 0 -> inf
    return out


def _gaussian_window(size: int, sigma: float, dtype, device) -> Tensor:
    x = torch.arange(size, dtype=dtype, device=device) - (size - 1) / 2.0
    g = torch.exp(-(x ** 2) / (2 * sigma ** 2))
    return g / g.sum()


@functools.lru_cache(maxsize=16)
def _blur_matrix_for(n: int, window: int, sigma: float, device: torch.device) -> Tensor:
    """`_blur_matrix` of the Gaussian window, built once per size and device (built on every call, its 11 scatter
    passes were in 9 % of an augment worker's profile samples, docs/benchmarks.md)."""
    return _blur_matrix(n, _gaussian_window(window, sigma, torch.float64, device).float())


def _blur_matrix(n: int, g: Tensor) -> Tensor:
    """``(n, n)`` matrix M with ``x @ M`` = the 1-D filter `g` along x's last axis, borders replicate-padded."""
    pad = len(g) // 2
    dst = torch.arange(n, device=g.device)
    m = torch.zeros((n, n), dtype=g.dtype, device=g.device)
    for i, w in enumerate(g):
        m.index_put_(((dst + i - pad).clamp(0, n - 1), dst), w.expand(n), accumulate=True)
    return m


def ssim_map(a: Tensor, b: Tensor, window: int = 11, sigma: float = 1.5) -> Tensor:
    """Per-pixel SSIM ``(..., H, W)`` (mean over channels) of float ``(..., C, H, W)`` images in [0, 1].

    Gaussian window ``window x window``, std ``sigma``, constants ``(0.01)^2`` and ``(0.03)^2`` (Wang et al.
    2004). Borders are replicate-padded so the map has the image's size and a mask can select from it.
    Computed in float32, as torch's SSIM implementations do (the map differs from a float64 one by ~1e-6; a
    per-frame mean by far less than the 3 decimals it is reported with), the map returned in the inputs' dtype.
    The separable blur is two products with banded matrices (padding folded in): a conv2d with one input
    channel takes torch's slow path on a CPU, in float64 and float32 alike.
    """
    lead, (C, H, W) = a.shape[:-3], a.shape[-3:]
    dtype = a.dtype
    a, b = a.float(), b.float()
    x = torch.stack((a, b, a * a, b * b, a * b), dim=-4).reshape(-1, H, W)  # 5 moments, one blur
    rows, cols = (_blur_matrix_for(n, window, float(sigma), a.device) for n in (H, W))
    x = rows.T @ (x @ cols)
    mu_a, mu_b, e_aa, e_bb, e_ab = x.reshape(-1, 5, C, H, W).unbind(1)
    var_a, var_b, cov = e_aa - mu_a ** 2, e_bb - mu_b ** 2, e_ab - mu_a * mu_b
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a ** 2 + mu_b ** 2 + c1) * (var_a + var_b + c2))
    return s.mean(1).reshape(*lead, H, W).to(dtype)


def ssim(a, b, mask=None, window: int = 11, sigma: float = 1.5, chunk: int = 8) -> Tensor:
    """Structural similarity per frame.

    Args:
        a, b: images, uint8 ``(..., H, W, C)`` or float ``(..., C, H, W)`` in [0, 1].
        mask: optional ``(..., H, W)`` bool: the SSIM map is averaged over these pixels (the windows around
            them still see their neighbours, masked or not).
        chunk: frames per SSIM map (five float moment maps per frame: a whole video at once took gigabytes).

    Returns:
        ``(...)`` float64 in [-1, 1]; 1 for identical frames, NaN for an empty mask.
    """
    return ssim_over(a, b, [mask], window, sigma, chunk)[0]


def ssim_over(a, b, masks, window: int = 11, sigma: float = 1.5, chunk: int = 8) -> list[Tensor]:
    """SSIM per frame averaged over each of `masks` (None = the whole frame), one SSIM map per frame:
    scoring the whole frame and a region must not compute the map twice. Returns one ``(...)`` per mask.
    Frames are converted to float a chunk at a time (a whole video in float64 was most of the cost)."""
    a, b = (torch.as_tensor(np.ascontiguousarray(x) if isinstance(x, np.ndarray) else x) for x in (a, b))
    lead = a.shape[:-3]
    a, b = a.reshape(-1, *a.shape[-3:]), b.reshape(-1, *b.shape[-3:]).to(a.device)
    H, W = to_float_chw(a[:1], torch.float32).shape[-2:]
    ms = [None if m is None else _region(m, (*lead, H, W), a.device).reshape(-1, H, W) for m in masks]
    if a.device.type == "cpu" and a.dtype == b.dtype == torch.uint8 and _numba_ssim() is not None:
        return _ssim_over_numba(a, b, ms, lead, window, sigma)
    sums: list[list[Tensor]] = [[] for _ in ms]
    for i in range(0, a.shape[0], chunk):
        s = ssim_map(to_float_chw(a[i:i + chunk], torch.float32), to_float_chw(b[i:i + chunk], torch.float32),
                     window, sigma).double()
        for acc, m in zip(sums, ms):
            if m is None:
                acc.append(s.mean((-2, -1)))
            else:
                w = m[i:i + chunk].double()
                acc.append((s * w).sum((-2, -1)) / w.sum((-2, -1)))
    return [torch.cat(acc).reshape(lead) if acc else torch.zeros(lead, dtype=torch.float64) for acc in sums]


def _numba_ssim():
    """The compiled CPU SSIM module, or None without numba (imported lazily: numba loads only where it runs)."""
    from . import numba_ssim

    return numba_ssim if numba_ssim.available() else None


def _region_stack(masks: list, shape: tuple) -> np.ndarray:
    """The masks that are not None as one `(M, N, H, W)` bool array, `shape` = `(N, H, W)`."""
    regions = [_region(m, shape, "cpu") for m in masks if m is not None]
    return torch.stack(regions).numpy() if regions else np.zeros((0, *shape), bool)


def _per_mask(values: np.ndarray, masks: list, lead: tuple) -> list[Tensor]:
    """Columns of `(N, 1 + M)` `values` (column 0 whole frame, then each mask in order) per entry of `masks`."""
    out, j = [], 1
    for m in masks:
        out.append(torch.from_numpy(np.ascontiguousarray(values[:, 0 if m is None else j])).reshape(lead))
        j += m is not None
    return out


def _psnr_over_numba(a: Tensor, b: Tensor, masks: list) -> list[Tensor]:
    """`psnr_over` of uint8 CPU frames `(..., H, W, C)` by the compiled kernel (exact integer squared errors)."""
    lead, (H, W, C) = a.shape[:-3], a.shape[-3:]
    if b.shape != a.shape:
        raise ValueError(f"images differ in shape: {tuple(a.shape)} and {tuple(b.shape)}")
    stack = _region_stack(masks, (*lead, H, W)).reshape(-1, int(np.prod(lead, dtype=np.int64)), H, W)
    sums, counts = _numba_ssim().squared_error_sums(a.reshape(-1, H, W, C).numpy(), b.reshape(-1, H, W, C).numpy(),
                                                    stack)
    with np.errstate(divide="ignore", invalid="ignore"):  # mse 0 -> inf, an empty mask 0 / 0 -> NaN
        mse = sums / (counts * C * 255.0 ** 2)
        values = -10.0 * np.log10(mse)
    return _per_mask(values, masks, lead)


def _ssim_over_numba(a: Tensor, b: Tensor, masks: list, lead: tuple, window: int, sigma: float) -> list[Tensor]:
    """`ssim_over` of `(N, H, W, C) uint8` CPU frames by the compiled kernel (13x the torch path on 2 cores)."""
    stack = _region_stack(masks, tuple(a.shape[:3]))
    g = _gaussian_window(window, sigma, torch.float64, "cpu").float().numpy()
    sums, counts = _numba_ssim().ssim_sums(a.numpy(), b.numpy(), stack, g)
    with np.errstate(invalid="ignore"):  # an empty mask: 0 / 0 = NaN, as the torch path gives
        return _per_mask(sums / counts, masks, lead)


def mean_metric(values) -> float:
    """Mean of per-frame values, skipping NaN (empty masks); ``inf`` stays ``inf`` (identical frames)."""
    v = torch.as_tensor(values, dtype=torch.float64).reshape(-1)
    v = v[~torch.isnan(v)]
    return float(v.mean()) if v.numel() else math.nan


def mean(values) -> float | None:
    """Mean of the finite entries of `values` (a sequence, array or tensor; None entries dropped), 3 decimals;
    None when nothing finite is left."""
    if isinstance(values, torch.Tensor):
        values = values.detach().double().cpu().numpy()
    x = np.asarray([v for v in np.ravel(np.asarray(values, dtype=object)) if v is not None], dtype=np.float64)
    x = x[np.isfinite(x)]
    return round(float(x.mean()), 3) if x.size else None


def score_views(frames: np.ndarray, truth: np.ndarray, covered: np.ndarray, device=None) -> dict:
    """Mean PSNR / SSIM of `(T, H, W, 3) uint8` frames against `(T, H, W, 3) uint8` ground truth, over the whole
    frame and over `covered` `(T, H, W) bool` (the pixels the context views saw): psnr, ssim, psnr_covered,
    ssim_covered (None where a region is empty). device: where to compute (None: the CPU); the synthesizer's
    device, so a GPU run does not score its views on the host."""
    if frames.shape != truth.shape:
        raise ValueError(f"synthesized frames {frames.shape} and ground truth {truth.shape} differ in shape")
    a, b, m = (torch.from_numpy(np.ascontiguousarray(x)).to(device or "cpu") for x in (frames, truth, covered))
    whole, covered_ssim = ssim_over(a, b, [None, m])  # one SSIM map serves both regions
    whole_psnr, covered_psnr = psnr_over(a, b, [None, m])
    return {"psnr": mean(whole_psnr), "ssim": mean(whole), "psnr_covered": mean(covered_psnr),
            "ssim_covered": mean(covered_ssim)}
