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
    """`generator=warp`. chunk: frames splatted per batch (None: 32 on CUDA, 8 on CPU; bounds memory: about
    ``chunk * V * Hs * Ws * 40`` bytes of splat state plus ``chunk * H * W * 60`` of fill pyramid, i.e.
    ~0.5 GB at 480x640, k = 4, chunk 8); max_splat: the largest footprint in pixels a magnified source pixel
    may cover; temporal_gap: holes are first filled from the same pixel up to this many frames away (None: any),
    the rest by the depth-aware fill. The default 0 (spatial fill only) measured best for wrist cameras, which
    move centimetres per frame, so the same pixel a frame away shows something else (see docs/benchmarks.md).
    backend: splat kernel (render/kernels.py; "auto" = Triton on CUDA, numba on CPU); depth_aware: fill holes
    from their far side (default) instead of plain push-pull.

    static_memory: the static-scene memory (0 = off): each context view also contributes, for target frame t, the
    static part of up to ``2 * static_memory`` other instants t +- j * static_stride of the same episode (nearest
    in time first), as one extra "background plate" view that the splat's z-test merges with the same-instant
    views, so background that the arm hides at t but showed a moment earlier is warped in instead of guessed.
    A source pixel counts as static (see :func:`static_plate`) only where its camera held the same pose, its depth
    is the farthest that pixel showed over those instants (a surface in front of the background came and went:
    the arm or an object it carries) and at least two instants agree on it, so what moves never ghosts."""

    name = "warp"

    def __init__(self, chunk: int | None = None, max_splat: int = 9, temporal_gap: int | None = 0,
                 device: str | torch.device = "cpu", backend: str = "auto", depth_aware: bool = True,
                 static_memory: int = 0, static_stride: int = 8):
        self.device = torch.device(device)
        # None: 32 frames per batch on CUDA (kernel launches, not memory, bound a view there: 2x the fps of 8
        # at 480x640, k = 4, about 5 GB peak), 8 on the CPU.
        self.chunk = chunk or (32 if self.device.type == "cuda" else 8)
        self.max_splat, self.temporal_gap = max_splat, temporal_gap
        self.backend, self.depth_aware = backend, depth_aware
        if static_memory < 0 or static_stride < 1:
            raise ValueError(f"static_memory must be >= 0 and static_stride >= 1, got {static_memory}, {static_stride}")
        self.static_memory, self.static_stride = static_memory, static_stride

    def config(self) -> dict:
        return {"chunk": self.chunk, "max_splat": self.max_splat, "temporal_gap": self.temporal_gap,
                "depth_aware": self.depth_aware, "static_memory": self.static_memory,
                "static_stride": self.static_stride}

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
            if self.static_memory:
                plates = [static_plate(*view, times, self.static_memory, self.static_stride) for view in ctx]
                images = torch.cat([images, torch.stack([p[0] for p in plates], 1)], 1)
                depths = torch.cat([depths, torch.stack([p[1] for p in plates], 1)], 1)
                ks, poses = torch.cat([ks, ks], 1), torch.cat([poses, poses], 1)
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
        return Synthesis(*_download(frames, depth, covered))


def _download(*tensors: torch.Tensor) -> list[np.ndarray]:
    """Device tensors as numpy arrays. On CUDA through pinned host buffers, all copies in flight at once and one
    synchronize: a copy into pageable memory ran at a few GB/s and took 60 % of a 480x640 view (H200 profile)."""
    if tensors[0].device.type != "cuda":
        return [t.numpy() for t in tensors]
    hosts = [torch.empty(t.shape, dtype=t.dtype, pin_memory=True) for t in tensors]
    for host, t in zip(hosts, tensors):
        host.copy_(t, non_blocking=True)
    torch.cuda.current_stream(tensors[0].device).synchronize()
    return [h.numpy() for h in hosts]


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


def static_plate(frames: torch.Tensor, depth: torch.Tensor, ks: torch.Tensor, poses: torch.Tensor, v_start: int,
                 times: torch.Tensor, count: int, stride: int, rel_tol: float = 0.02, abs_tol: float = 0.01,
                 min_agree: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    """The static background one view showed around episode frames `times`, for what it does not show at them.

    Args:
        frames ``(Tv, H, W, 3)`` uint8, depth ``(Tv, H, W)`` metres (0 = invalid), ks ``(Tv, 3, 3)``, poses
            ``(Tv, 4, 4)``, v_start: one uploaded view (see :func:`_upload`); times ``(B,)`` long episode frames.
        count / stride: up to ``2 * count`` other instants t +- j * stride (j = 1, 2, ...; nearest first, those
            outside the view or where the camera moved away from its pose at t skipped).
        rel_tol / abs_tol: depths within ``rel_tol * background + abs_tol`` of the background agree with it.
        min_agree: instants (t included) that must show the background depth for a pixel to count as static.

    Returns:
        image ``(B, H, W, 3)`` uint8 and depth ``(B, H, W)`` float32, 0 where no static instant shows what t
        does not (so the splat skips those pixels); pixel (b, p) comes from the nearest-in-time instant at which
        p showed the background: the farthest depth p held over t and the instants (a stationary camera sees
        the background whenever nothing is in front of it; what stood in front, the arm or what it carries,
        held a nearer depth and is left out).
    """
    t_len = len(frames)
    local = (times - v_start).clamp(0, t_len - 1)  # (B,)
    j = torch.arange(1, 2 * count + 1, device=times.device)
    offsets = torch.stack([-j, j], 1).reshape(-1) * stride  # -s, +s, -2s, +2s, ...: nearest first
    cand = local[:, None] + offsets  # (B, 4 count)
    inside = (cand >= 0) & (cand < t_len)
    cand = cand.clamp(0, t_len - 1)
    still = _same_pose(poses[cand], poses[local][:, None]) & _same_pose_k(ks[cand], ks[local][:, None])
    usable = inside & still
    usable &= usable.cumsum(1) <= 2 * count  # the 2 * count nearest usable instants
    d_now = depth.index_select(0, local)  # (B, H, W)
    d_cand = depth[cand] * usable[..., None, None]  # (B, C, H, W), 0 where unusable
    everything = torch.cat([d_now[:, None], d_cand], 1)
    background = everything.amax(1)  # (B, H, W)
    agree = (everything > 0) & (everything >= background[:, None] - (rel_tol * background[:, None] + abs_tol))
    static = agree[:, 1:] & (agree.sum(1) >= min_agree)[:, None]
    static &= ~agree[:, :1]  # t shows the background itself: nothing to add
    b, h, w = d_now.shape
    image = torch.zeros((b, h, w, 3), dtype=frames.dtype, device=frames.device)
    plate_depth = torch.zeros((b, h, w), dtype=depth.dtype, device=depth.device)
    for c in reversed(range(cand.shape[1])):  # nearest instant written last, so it wins
        m = static[:, c]
        image = torch.where(m[..., None], frames[cand[:, c]], image)
        plate_depth = torch.where(m, d_cand[:, c], plate_depth)
    return image, plate_depth


def _same_pose(a: torch.Tensor, b: torch.Tensor, metres: float = 1e-3, rotation: float = 2e-3) -> torch.Tensor:
    """``(...)`` bool: camera-to-world poses ``(..., 4, 4)`` within 1 mm and about 0.1 degree of each other."""
    moved = (a[..., :3, 3] - b[..., :3, 3]).norm(dim=-1)
    turned = (a[..., :3, :3] - b[..., :3, :3]).flatten(-2).norm(dim=-1)
    return (moved <= metres) & (turned <= rotation)


def _same_pose_k(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``(...)`` bool: intrinsics ``(..., 3, 3)`` equal to 1e-3 px (a zooming camera sees other pixels)."""
    return (a - b).abs().flatten(-2).amax(-1) <= 1e-3
