"""How a synthesized view is scored: PSNR / SSIM over the whole frame and the covered region (`score_views`, kept
in metrics.image so that augment's report scores through it too), view sync.

Every evaluation table scores through these functions, so "PSNR" means the same thing in every report.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np

from ..metrics.image import mean, score_views

__all__ = ["mean", "means", "group_rows", "score_views", "sync_inliers", "pairwise_inliers", "sync_at"]


def means(rows: list[dict], keys) -> dict:
    """{key: `mean` of that key over `rows`} for each of `keys` (rows without the key are skipped)."""
    return {k: mean([r.get(k) for r in rows]) for k in keys}


def group_rows(rows: list[dict], key: str = "setting") -> dict[str, list[dict]]:
    """`rows` by their `key` value, in the order the values first appear (a table's settings as run)."""
    groups: dict[str, list[dict]] = {}
    for row in rows:
        groups.setdefault(row[key], []).append(row)
    return groups


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
