"""Depth-based forward splatting of context views into a target camera, and hole filling.

`forward_splat` (vectorized, magnification-sized splats) and `forward_splat_reference` (per-view point
splat, the baseline) warp `(B, V, C, H, W)` views with depth; `fill_holes` / `temporal_fill` complete
the result, colour and depth alike, so a synthesized view can enter the memory bank as RGB-D. `resize` /
`upsample_with_detail` bring a network's low-resolution output to the output size.
"""

from .fill import far_push_pull, fill_holes, nearest_in_time, push_pull, temporal_fill
from .resize import resize, upsample_with_detail
from .splat import SplatResult, forward_splat, forward_splat_reference

__all__ = ["SplatResult", "forward_splat", "forward_splat_reference", "fill_holes", "temporal_fill",
           "push_pull", "far_push_pull", "nearest_in_time", "resize", "upsample_with_detail"]
