"""The warp-only synthesizer: depth-based forward splatting of the context views, then hole filling.

No learned parts: it is the geometric baseline every learned generator is measured against, and
the prior the hybrid generator repairs.
"""

from __future__ import annotations

import numpy as np
import torch

from ..episode import CameraTrajectory
from ..memory import View
from .base import Synthesis


class WarpSynthesizer:
    """`generator=warp`. chunk: frames splatted per batch (bounds memory); max_splat: the largest
    footprint in pixels a magnified source pixel may cover; temporal_gap: holes are first filled from
    the same pixel up to this many frames away (None: any), the rest by push-pull. The default 0 (push-pull only)
    measured best for wrist cameras, which move centimetres per frame, so the same pixel a frame away
    shows something else (see docs/benchmarks.md)."""

    name = "warp"

    def __init__(self, chunk: int = 8, max_splat: int = 9, temporal_gap: int | None = 0,
                 device: str | torch.device = "cpu"):
        self.chunk, self.max_splat, self.temporal_gap = chunk, max_splat, temporal_gap
        self.device = torch.device(device)

    def config(self) -> dict:
        return {"chunk": self.chunk, "max_splat": self.max_splat, "temporal_gap": self.temporal_gap}

    def synthesize(self, context: list[View], target: CameraTrajectory, start: int,
                   generator: torch.Generator | None = None) -> Synthesis:
        from ..render import forward_splat, temporal_fill

        views = [v for v in context if v.depth is not None]
        if not views:
            raise ValueError("the warp synthesizer needs at least one context view with depth")
        if len({v.frames.shape[1:3] for v in views}) > 1:
            raise ValueError(f"context views differ in size {[v.frames.shape[1:3] for v in views]}; resize them first")
        t_len, (h, w) = len(target), (target.height, target.width)
        images, depths, covered = [], [], []
        tgt_k = torch.as_tensor(target.intrinsics_per_frame(), dtype=torch.float32)
        tgt_c2w = torch.as_tensor(target.extrinsics, dtype=torch.float32)
        for lo in range(0, t_len, self.chunk):
            frames = np.arange(lo, min(lo + self.chunk, t_len))
            src = self._context_tensors(views, frames + start)
            out = forward_splat(*src, tgt_k[frames].to(self.device), tgt_c2w[frames].to(self.device),
                                (h, w), max_splat=self.max_splat)
            images.append(out.image.cpu())
            depths.append(out.depth.cpu())
            covered.append(out.mask.cpu())
        image, depth, mask = torch.cat(images), torch.cat(depths), torch.cat(covered)
        image, depth, _ = temporal_fill(image, mask, depth, max_gap=self.temporal_gap)
        frames_u8 = (image.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
        return Synthesis(frames_u8, depth.numpy().astype(np.float32), mask.numpy())

    def _context_tensors(self, views: list[View], times: np.ndarray):
        """Context at episode frames `times`: images (B, V, 3, H, W) in [0, 1], depth, K, c2w."""
        images, depths, ks, poses = [], [], [], []
        for v in views:
            local = np.clip(times - v.start, 0, len(v.frames) - 1)  # views cover the same clock
            images.append(torch.from_numpy(np.ascontiguousarray(v.frames[local])).permute(0, 3, 1, 2).float() / 255)
            depths.append(torch.from_numpy(np.ascontiguousarray(v.depth[local], dtype=np.float32)))
            ks.append(torch.as_tensor(v.trajectory.intrinsics_per_frame()[local], dtype=torch.float32))
            poses.append(torch.as_tensor(v.trajectory.extrinsics[local], dtype=torch.float32))
        return tuple(torch.stack(x, dim=1).to(self.device) for x in (images, depths, ks, poses))
