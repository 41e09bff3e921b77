"""The warp-only synthesizer: depth-based forward splatting of the context views, then hole filling.

No learned parts: it is the geometric baseline every learned generator is measured against, and
the prior the hybrid generator repairs. Device-resident: the context frames go to the device once (pinned,
asynchronous copies on CUDA), splat, fill and the uint8 composite run there, and only the finished uint8
frames, depth and coverage come back.
"""

from __future__ import annotations

import numpy as np
import torch

from ..episode import CameraTrajectory
from ..memory import View
from .base import Synthesis


class WarpSynthesizer:
    """`generator=warp`. chunk: frames splatted per batch (bounds memory: about
    ``chunk * V * Hs * Ws * 40`` bytes of splat state plus ``chunk * H * W * 60`` of fill pyramid, i.e.
    ~0.5 GB at 480x640, k = 4, chunk 8); max_splat: the largest footprint in pixels a magnified source pixel
    may cover; temporal_gap: holes are first filled from the same pixel up to this many frames away (None: any),
    the rest by the depth-aware fill. The default 0 (spatial fill only) measured best for wrist cameras, which
    move centimetres per frame, so the same pixel a frame away shows something else (see docs/benchmarks.md).
    backend: splat kernel (render/kernels.py; "auto" = Triton on CUDA, numba on CPU); depth_aware: fill holes
    from their far side (default) instead of plain push-pull."""

    name = "warp"

    def __init__(self, chunk: int = 8, max_splat: int = 9, temporal_gap: int | None = 0,
                 device: str | torch.device = "cpu", backend: str = "auto", depth_aware: bool = True):
        self.chunk, self.max_splat, self.temporal_gap = chunk, max_splat, temporal_gap
        self.device = torch.device(device)
        self.backend, self.depth_aware = backend, depth_aware

    def config(self) -> dict:
        return {"chunk": self.chunk, "max_splat": self.max_splat, "temporal_gap": self.temporal_gap,
                "depth_aware": self.depth_aware}

    def synthesize(self, context: list[View], target: CameraTrajectory, start: int,
                   generator: torch.Generator | None = None) -> Synthesis:
        from ..render import temporal_fill
        from ..render.prior import warp_prior

        views = [v for v in context if v.depth is not None]
        if not views:
            raise ValueError("the warp synthesizer needs at least one context view with depth")
        if len({v.frames.shape[1:3] for v in views}) > 1:
            raise ValueError(f"context views differ in size {[v.frames.shape[1:3] for v in views]}; resize them first")
        t_len, (h, w) = len(target), (target.height, target.width)
        dev = self.device
        ctx = [_upload(v, dev) for v in views]
        tgt_k = _to(target.intrinsics_per_frame(), dev)
        tgt_c2w = _to(target.extrinsics, dev)
        spatial = self.temporal_gap == 0  # fill per chunk; otherwise the whole video first goes through time
        frames = torch.empty((t_len, h, w, 3), dtype=torch.uint8, device=dev)
        depth = torch.empty((t_len, h, w), dtype=torch.float32, device=dev)
        covered = torch.empty((t_len, h, w), dtype=torch.bool, device=dev)
        raw = torch.empty((t_len, 3, h, w), dtype=torch.float32, device=dev) if not spatial else None
        for lo in range(0, t_len, self.chunk):
            hi = min(lo + self.chunk, t_len)
            times = torch.arange(lo + start, hi + start, device=dev)
            images, depths, ks, poses = _context_at(ctx, times)
            out = warp_prior(images, depths, ks, poses, tgt_k[lo:hi], tgt_c2w[lo:hi], (h, w),
                             max_splat=self.max_splat, backend=self.backend, channels_last=True, fill=spatial,
                             depth_aware=self.depth_aware)
            covered[lo:hi], depth[lo:hi] = out.covered, out.depth
            if spatial:
                frames[lo:hi] = _to_uint8(out.image)
            else:
                raw[lo:hi] = out.image
        if not spatial:
            image, filled_depth, _ = temporal_fill(raw, covered, depth, max_gap=self.temporal_gap,
                                                   depth_aware=self.depth_aware)
            frames, depth = _to_uint8(image), filled_depth
        return Synthesis(frames.cpu().numpy(), depth.cpu().numpy(), covered.cpu().numpy())


def _to(a: np.ndarray, device: torch.device) -> torch.Tensor:
    return torch.as_tensor(np.ascontiguousarray(a), dtype=torch.float32).to(device)


def _to_uint8(image: torch.Tensor) -> torch.Tensor:
    """``(B, 3, H, W)`` float in [0, 1] -> ``(B, H, W, 3)`` uint8, on the image's device."""
    return (image.clamp(0, 1) * 255).round_().to(torch.uint8).permute(0, 2, 3, 1)


def _upload(view: View, device: torch.device) -> tuple:
    """One view's frames ``(T, H, W, 3)`` uint8, depth ``(T, H, W)`` float32, K ``(T, 3, 3)``, c2w ``(T, 4, 4)``
    and start on `device`, copied once (pinned + non-blocking on CUDA; shared memory on CPU)."""
    frames = torch.from_numpy(np.ascontiguousarray(view.frames))
    depth = torch.from_numpy(np.ascontiguousarray(view.depth, dtype=np.float32))
    if device.type == "cuda":
        frames, depth = (x.pin_memory().to(device, non_blocking=True) for x in (frames, depth))
    return (frames, depth, _to(view.trajectory.intrinsics_per_frame(), device), _to(view.trajectory.extrinsics, device),
            view.start)


def _context_at(ctx: list[tuple], times: torch.Tensor):
    """Context at episode frames `times` ``(B,)``: images ``(B, V, H, W, 3)`` uint8, depth ``(B, V, H, W)``,
    K ``(B, V, 3, 3)``, c2w ``(B, V, 4, 4)``; views cover the same clock (clamped at their ends)."""
    parts = [[], [], [], []]
    for frames, depth, ks, poses, v_start in ctx:
        local = (times - v_start).clamp(0, len(frames) - 1)
        for out, x in zip(parts, (frames, depth, ks, poses)):
            out.append(x.index_select(0, local))
    return tuple(torch.stack(p, dim=1) for p in parts)
