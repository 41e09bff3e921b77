"""View synchronization: how much of the same scene two synthesized views show consistently.

PlenopticDreamer (shared/seeds/000) scores it as "Mat. Pix.": the number of confident pixel matches RoMa
finds between two generated views of the same scene at the same time, averaged over view pairs and frames
(reported in thousands). We mirror the definition with a dependency-free matcher: OpenCV SIFT keypoints,
Lowe's ratio test, then a RANSAC fundamental matrix; a match counts as confident when it is a RANSAC
inlier, i.e. consistent with one rigid two-view geometry. Counts are far smaller than RoMa's dense
matches, so compare numbers from this module only with each other.

Images are uint8 RGB ``(H, W, 3)`` per frame, ``(T, H, W, 3)`` per view (the IO layout).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from typing import Sequence

import numpy as np

__all__ = ["Matches", "SyncResult", "match_pair", "view_sync"]


@dataclass
class Matches:
    """Ratio-test matches of one image pair: ``pts_a``/``pts_b`` ``(M, 2)`` float32 pixel (x, y);
    ``inliers`` ``(M,)`` bool, the RANSAC fundamental-matrix inliers (all False when RANSAC could not run)."""

    pts_a: np.ndarray
    pts_b: np.ndarray
    inliers: np.ndarray

    @property
    def num_matches(self) -> int:
        return int(len(self.pts_a))

    @property
    def num_inliers(self) -> int:
        return int(self.inliers.sum())


@dataclass
class SyncResult:
    """Per view pair ``(i, j)``: matches ``(T,)`` and inliers ``(T,)`` per frame; ``mean_inliers`` (the
    synchronization score, higher = better) and ``mean_matches`` averaged over pairs and frames."""

    matches: dict[tuple[int, int], np.ndarray]
    inliers: dict[tuple[int, int], np.ndarray]
    mean_matches: float
    mean_inliers: float


_MIN_RANSAC = 8  # the 8-point fundamental matrix needs at least 8 correspondences


def _gray(img: np.ndarray) -> np.ndarray:
    import cv2

    img = np.asarray(img)
    if img.dtype != np.uint8:
        raise TypeError(f"images must be uint8, got {img.dtype}")
    return img if img.ndim == 2 else cv2.cvtColor(np.ascontiguousarray(img), cv2.COLOR_RGB2GRAY)


def match_pair(a: np.ndarray, b: np.ndarray, ratio: float = 0.75, ransac_px: float = 1.0,
               confidence: float = 0.999, seed: int = 0) -> Matches:
    """SIFT + ratio test + RANSAC fundamental matrix between two uint8 images ``(H, W, 3)`` or ``(H, W)``.

    Args:
        ratio: Lowe's ratio: keep a match when its distance is below ``ratio`` x the second best's.
        ransac_px: RANSAC epipolar distance threshold in pixels.
        seed: unused, kept for callers: ``FM_RANSAC`` draws its samples from a generator OpenCV seeds afresh
            inside every call, so the inliers are the same on every call and nothing global is read or set
            (an earlier ``cv2.setRNGSeed(seed)`` here reseeded the caller's OpenCV RNG and changed nothing else).
    """
    import cv2  # heavy; only the sync metric needs it

    sift = cv2.SIFT_create()
    ka, da = sift.detectAndCompute(_gray(a), None)
    kb, db = sift.detectAndCompute(_gray(b), None)
    empty = Matches(np.zeros((0, 2), np.float32), np.zeros((0, 2), np.float32), np.zeros(0, bool))
    if da is None or db is None or len(ka) < 2 or len(kb) < 2:
        return empty
    pairs = cv2.BFMatcher(cv2.NORM_L2).knnMatch(da, db, k=2)
    good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < ratio * p[1].distance]
    if not good:
        return empty
    pa = np.float32([ka[m.queryIdx].pt for m in good])
    pb = np.float32([kb[m.trainIdx].pt for m in good])
    inliers = np.zeros(len(good), bool)
    if len(good) >= _MIN_RANSAC:
        _, mask = cv2.findFundamentalMat(pa, pb, cv2.FM_RANSAC, ransac_px, confidence)
        if mask is not None and mask.shape[0] == len(good):
            inliers = mask.reshape(-1).astype(bool)
    return Matches(pa, pb, inliers)


def view_sync(views: Sequence[np.ndarray], ratio: float = 0.75, ransac_px: float = 1.0, seed: int = 0) -> SyncResult:
    """Synchronization of synthesized views of one scene: matches per frame for every pair of views.

    Args:
        views: ``n >= 2`` videos, each uint8 ``(T, H, W, 3)`` with the same T (frame t of every view shows
            the same instant).

    Returns:
        :class:`SyncResult` over all ``n (n - 1) / 2`` pairs and T frames.
    """
    if len(views) < 2:
        raise ValueError("view synchronization needs at least two views")
    T = len(views[0])
    if any(len(v) != T for v in views):
        raise ValueError(f"all views must have the same number of frames, got {[len(v) for v in views]}")
    matches, inliers = {}, {}
    for i, j in combinations(range(len(views)), 2):
        res = [match_pair(views[i][t], views[j][t], ratio, ransac_px, seed=seed) for t in range(T)]
        matches[(i, j)] = np.array([r.num_matches for r in res])
        inliers[(i, j)] = np.array([r.num_inliers for r in res])
    return SyncResult(matches, inliers, float(np.mean(list(matches.values()))), float(np.mean(list(inliers.values()))))
