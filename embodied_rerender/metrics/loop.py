"""Loop closure: does a synthesized camera that returns to a pose show what it showed there before?

For each revisit pair ``(i, j)`` (same pose, see ``geometry.loops``), frames ``i`` and ``j`` are compared
over the static part of the scene (the robot and what it carries may have moved between the two times):

- ``mae``: mean absolute difference (0..255) and ``psnr`` (dB) over the static pixels of both frames;
- ``match_px``: median image displacement of SIFT ratio-test matches with both ends static (at one pose a
  static point must land on the same pixel: 0 for a perfect loop), and ``inlier_ratio``, the share of those
  matches RANSAC keeps (``metrics.sync``'s matcher).

Static region: pixels where a recorded depth camera, splatted into the loop camera at both times, sees the
same surface (``static_from_depth``); where no depth is known the whole frame is used and reported so.
Frames are uint8 ``(T, H, W, 3)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["LoopScores", "loop_closure", "static_from_depth", "splat_depth"]


@dataclass
class LoopScores:
    """Per revisit pair (``pairs (P, 2)``): ``mae``, ``psnr``, ``match_px``, ``inlier_ratio``, ``matches``,
    ``static_fraction``, each ``(P,)`` float64 (NaN where nothing could be measured)."""

    pairs: np.ndarray
    mae: np.ndarray
    psnr: np.ndarray
    match_px: np.ndarray
    inlier_ratio: np.ndarray
    matches: np.ndarray
    static_fraction: np.ndarray

    def summary(self) -> dict:
        """Means over pairs (NaN skipped; PSNR inf, identical frames, capped at 100 dB)."""
        def mean(x):
            x = np.asarray(x, np.float64)
            x = np.where(np.isinf(x), 100.0, x)
            x = x[np.isfinite(x)]
            return round(float(x.mean()), 4) if x.size else None

        return {"pairs": int(len(self.pairs)), "loop_mae": mean(self.mae), "loop_psnr": mean(self.psnr),
                "loop_match_px": mean(self.match_px), "loop_inlier_ratio": mean(self.inlier_ratio),
                "loop_matches": mean(self.matches), "loop_static_fraction": mean(self.static_fraction)}


def _pick(pairs: np.ndarray, max_pairs: int | None) -> np.ndarray:
    if max_pairs is None or len(pairs) <= max_pairs:
        return pairs
    return pairs[np.linspace(0, len(pairs) - 1, max_pairs).round().astype(int)]


def loop_closure(frames: np.ndarray, pairs, static: np.ndarray | None = None, features: bool = True,
                 max_pairs: int | None = None) -> LoopScores:
    """Loop-closure error of one video.

    Args:
        frames: ``(T, H, W, 3)`` uint8.
        pairs: ``(P, 2)`` revisit frame indices.
        static: ``(T, H, W)`` bool per frame, or ``(P, H, W)`` bool per pair (aligned with ``pairs``);
            None = whole frame.
        features: also match SIFT features (slower); max_pairs: evenly spaced subset of the pairs.
    """
    from .sync import match_pair

    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    per_pair = static is not None and len(static) == len(pairs) and len(static) != len(frames)
    order = _pick(np.arange(len(pairs)), max_pairs)
    pairs = pairs[order]
    cols = {k: np.full(len(pairs), np.nan) for k in ("mae", "psnr", "match_px", "inlier_ratio", "matches", "static")}
    H, W = frames.shape[1:3]
    for n, (i, j) in enumerate(pairs):
        a, b = frames[i].astype(np.float64), frames[j].astype(np.float64)
        if static is None:
            m = np.ones((H, W), bool)
        else:
            m = static[order[n]] if per_pair else (static[i] & static[j])
        cols["static"][n] = m.mean()
        if not m.any():
            continue
        diff = np.abs(a - b)[m]
        cols["mae"][n] = diff.mean()
        mse = (diff ** 2).mean() / 255.0 ** 2
        cols["psnr"][n] = np.inf if mse == 0 else -10 * np.log10(mse)
        if features:
            res = match_pair(frames[i], frames[j])
            if res.num_matches:
                pa, pb = res.pts_a.round().astype(int), res.pts_b.round().astype(int)
                ok = m[pa[:, 1].clip(0, H - 1), pa[:, 0].clip(0, W - 1)] & m[pb[:, 1].clip(0, H - 1), pb[:, 0].clip(0, W - 1)]
                cols["matches"][n] = ok.sum()
                if ok.any():
                    cols["match_px"][n] = float(np.median(np.linalg.norm(res.pts_a[ok] - res.pts_b[ok], axis=1)))
                    cols["inlier_ratio"][n] = float(res.inliers[ok].mean())
            else:
                cols["matches"][n] = 0
    return LoopScores(pairs, cols["mae"], cols["psnr"], cols["match_px"], cols["inlier_ratio"], cols["matches"],
                      cols["static"])


def splat_depth(depth: np.ndarray, src_K: np.ndarray, src_c2w: np.ndarray, tgt_K: np.ndarray, tgt_c2w: np.ndarray,
                size: tuple[int, int]) -> np.ndarray:
    """Depth of a recorded camera seen from another pose: ``(N, Hs, Ws)`` metres (0 invalid) with
    ``src_K, tgt_K (N, 3, 3)`` or ``(3, 3)`` and ``src_c2w, tgt_c2w (N, 4, 4)`` -> ``(N, h, w)`` float32
    target z (0 where nothing lands)."""
    from ..render import forward_splat

    N = len(depth)
    d = torch.as_tensor(np.asarray(depth, np.float32))[:, None]  # (N, 1, Hs, Ws)
    kk = lambda K: torch.as_tensor(np.broadcast_to(np.asarray(K, np.float32), (N, 3, 3)).copy())
    src_c2w = torch.as_tensor(np.asarray(src_c2w, np.float32))
    out = forward_splat(d[:, None], d, kk(src_K)[:, None], src_c2w[:, None], kk(tgt_K),
                        torch.as_tensor(np.asarray(tgt_c2w, np.float32)), size)
    return out.depth.numpy()


def static_from_depth(depth_i: np.ndarray, depth_j: np.ndarray, rel: float = 0.02) -> np.ndarray:
    """``(..., H, W)`` bool: both depths valid and within ``rel`` (relative) of each other, i.e. the same
    surface is there at both times (anything that moved in or out of the pixel fails)."""
    ok = (depth_i > 0) & (depth_j > 0)
    return ok & (np.abs(depth_i - depth_j) <= rel * np.maximum(depth_i, depth_j))
