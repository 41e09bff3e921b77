"""How a synthesized view is scored: PSNR / SSIM over the whole frame and the covered region, view sync.

Every evaluation table scores through these functions, so "PSNR" means the same thing in every report.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import torch


def mean(values) -> float | None:
    """Mean of the finite entries of `values` (a sequence, array or tensor; None entries dropped), 3 decimals;
    None when nothing finite is left."""
    if isinstance(values, torch.Tensor):
        values = values.detach().double().cpu().numpy()
    x = np.asarray([v for v in np.ravel(np.asarray(values, dtype=object)) if v is not None], dtype=np.float64)
    x = x[np.isfinite(x)]
    return round(float(x.mean()), 3) if x.size else None


def score_views(frames: np.ndarray, truth: np.ndarray, covered: np.ndarray) -> dict:
    """Mean PSNR / SSIM of `(T, H, W, 3) uint8` frames against `(T, H, W, 3) uint8` ground truth, over the whole
    frame and over `covered` `(T, H, W) bool` (the pixels the context views saw): psnr, ssim, psnr_covered,
    ssim_covered (None where a region is empty)."""
    from ..metrics import psnr, ssim_over

    if frames.shape != truth.shape:
        raise ValueError(f"synthesized frames {frames.shape} and ground truth {truth.shape} differ in shape")
    a = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float() / 255
    b = torch.from_numpy(np.ascontiguousarray(truth)).permute(0, 3, 1, 2).float() / 255
    m = torch.from_numpy(np.ascontiguousarray(covered))
    whole, covered_ssim = ssim_over(a, b, [None, m])  # one SSIM map serves both regions
    return {"psnr": mean(psnr(a, b)), "ssim": mean(whole), "psnr_covered": mean(psnr(a, b, m)),
            "ssim_covered": mean(covered_ssim)}


def sync_inliers(views: list[np.ndarray], stride: int) -> float | None:
    """Mean SIFT + RANSAC inliers between `views` (each `(T, H, W, 3) uint8`) at every `stride`-th frame; None
    for fewer than two views, stride 0, or without OpenCV."""
    if len(views) < 2 or not stride:
        return None
    try:
        from ..metrics.sync import view_sync
    except ImportError:
        return None
    return round(float(view_sync([v[::stride] for v in views]).mean_inliers), 2)


def pairwise_inliers(views: list[np.ndarray], frames: list[int]) -> np.ndarray:
    """`(n, n)` mean RANSAC-inlier match count between views i and j over `frames` (upper triangle filled)."""
    from ..metrics.sync import match_pair

    n = len(views)
    out = np.zeros((n, n))
    for i, j in combinations(range(n), 2):
        out[i, j] = np.mean([match_pair(views[i][t], views[j][t]).num_inliers for t in frames])
    return out


def sync_at(pairs: np.ndarray, n: int) -> float:
    """Mean of `pairwise_inliers` output over every pair among the first n views."""
    iu = np.triu_indices(n, 1)
    return float(pairs[:n, :n][iu].mean())
