"""Scores for synthesized views: image quality (PSNR, SSIM, per frame, optionally over the covered
region), view synchronization (SIFT + RANSAC inlier matches between views, after PlenopticDreamer's
Mat. Pix.), and geometric consistency against ground-truth depth.

`sync` imports OpenCV only when called.
"""

from .geometry import DepthErrors, colour_consistency, covisible_mask, depth_error
from .image import mean_metric, psnr, score_views, ssim, ssim_over, to_float_chw
from .sync import Matches, SyncResult, match_pair, view_sync

__all__ = ["psnr", "ssim", "ssim_over", "mean_metric", "score_views", "to_float_chw", "match_pair", "view_sync",
           "Matches", "SyncResult", "depth_error", "covisible_mask", "colour_consistency", "DepthErrors"]
