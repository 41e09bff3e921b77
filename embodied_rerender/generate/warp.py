"""The warp-only synthesizer: depth-based forward splatting of the context views, then hole filling.

No learned parts: it is the geometric baseline every learned generator is measured against, and
the prior the hybrid generator repairs. Device-resident: the context frames go to the device once (pinned,
asynchronous copies on CUDA), splat, fill and the uint8 composite run there, and only the finished uint8
frames and coverage come back, the depth when a caller reads it (the memory bank's write-back does; scoring and
the training priors do not).
"""

from __future__ import annotations

import numpy as np
import torch

from ..episode import CameraTrajectory
from ..memory import View
from .base import PartsFrames, Synthesis
from .context import StreamedContext, WholeContext, to_device


class WarpSynthesizer:
    """`generator=warp`. chunk: frames splatted per batch (None: 32 on CUDA, 8 on CPU; bounds memory: about
    ``chunk * V * Hs * Ws * 40`` bytes of splat state plus ``chunk * H * W * 60`` of fill pyramid, i.e.
    ~0.5 GB at 480x640, k = 4, chunk 8); max_splat: the largest footprint in pixels a magnified source pixel
    may cover; temporal_gap: holes are first filled from the same pixel up to this many frames away (None: any),
    the rest by the depth-aware fill. The default 0 (spatial fill only) measured best for wrist cameras, which
    move centimetres per frame, so the same pixel a frame away shows something else (see docs/benchmarks.md).
    backend: splat kernel (render/kernels.py; "auto" = Triton on CUDA, numba on CPU); depth_aware: fill holes
    from their far side (default) instead of plain push-pull.

    static_memory: the static-scene memory (0 = off): each memory source (below) also contributes, for target frame
    t, the static part of ``2 * static_memory`` other instants t +- j * static_stride of the same episode (nearest
    in time first), splatted with the same-instant views so the z-test lets the nearest surface win: background
    that the arm hides at t but showed a moment earlier is warped in instead of guessed. A source pixel is kept
    (see :func:`static_views`) only where no other instant saw through it (what moves: the arm, what it carries,
    never ghosts), two instants agree on it and t itself does not show it. Synthesized context views (their
    provenance names a generator) do not take part: their depth is partly the fill's guess. Costs
    ``(B, 2 static_memory, H, W)`` floats of reprojection state per source and splats ``2 * static_memory`` more
    views per memory source; only the first `static_sources` measured views in context order (retrieval rank)
    are memory sources, which bounds that cost when several recorded cameras are in context (the multi-shot and
    held-out tables have one). "auto": 2 on CUDA, 0 on the CPU. On the 12-shot held-out table it adds +0.13 to
    +0.26 dB and raises view sync (docs/results.md); on the H200 the 480x640 k = 4 view still runs above
    1,000 fps with it, on 2 CPU cores it would cost about 3x (docs/benchmarks.md), hence the split default. Off
    (0) for direct constructions: the training packers and the hybrid's prior keep the plain warp.

    measured_first: context views with measured depth (recorded cameras: their provenance names no generator) are
    splatted on their own first; synthesized views (written back by the loop, their depth partly the fill's guess)
    only fill the pixels those leave uncovered, instead of competing in one z-test, where a guessed surface nearer
    than the truth hid what the recorded camera saw. On the 12-shot sample table (docs/results.md) 14.71 -> 15.39
    dB at 12 shots. Only a context that mixes both kinds is affected.

    self_parts: the robot's own parts in a target that is a gripper-mounted camera (generate/self_parts.py):
    None (off, the default); "auto" (a template per episode from its own recorded frames of that camera, for
    `augment`); a path (a saved ``.npz`` library, or a dataset whose episodes the library is built from, once);
    or a library ``{camera: SelfParts}``. The callers that know the episode attach each target's parts
    (:func:`~.self_parts.prepare_parts`); :meth:`synthesize` renders what it is given."""

    name = "warp"

    def __init__(self, chunk: int | None = None, max_splat: int = 9, temporal_gap: int | None = 0,
                 device: str | torch.device = "cpu", backend: str = "auto", depth_aware: bool = True,
                 static_memory: int | str = 0, static_stride: int = 8, static_sources: int = 1, self_parts=None,
                 measured_first: bool = True):
        self.device = torch.device(device)
        # None: 32 frames per batch on CUDA (kernel launches, not memory, bound a view there: 2x the fps of 8
        # at 480x640, k = 4, about 5 GB peak), 8 on the CPU.
        self.chunk = chunk or (32 if self.device.type == "cuda" else 8)
        self.max_splat, self.temporal_gap = max_splat, temporal_gap
        self.backend, self.depth_aware = backend, depth_aware
        if static_memory == "auto":
            static_memory = 2 if self.device.type == "cuda" else 0
        static_memory = int(static_memory)
        if static_memory < 0 or static_stride < 1 or static_sources < 1:
            raise ValueError(f"static_memory must be >= 0, static_stride and static_sources >= 1, got "
                             f"{static_memory}, {static_stride}, {static_sources}")
        self.static_memory, self.static_stride, self.static_sources = static_memory, static_stride, static_sources
        self.measured_first = measured_first
        self.streamed = self.device.type == "cuda"  # context chunks copied ahead (generate/context.py)
        # the last call's whole context on the device, reused by the next call's views that hold the same arrays
        self._resident = {} if self.device.type == "cuda" else None
        self.self_parts_source = self_parts if self_parts is None or isinstance(self_parts, str) else "given"
        if isinstance(self_parts, str) and self_parts != "auto":
            from .self_parts import library_from

            self_parts = library_from(self_parts)
        self.self_parts = self_parts

    def config(self) -> dict:
        return {"chunk": self.chunk, "max_splat": self.max_splat, "temporal_gap": self.temporal_gap,
                "depth_aware": self.depth_aware, "static_memory": self.static_memory,
                "static_stride": self.static_stride, "static_sources": self.static_sources,
                "self_parts": self.self_parts_source,
                "measured_first": self.measured_first}

    def synthesize(self, context: list[View], target: CameraTrajectory, start: int,
                   generator: torch.Generator | None = None, parts: PartsFrames | None = None) -> Synthesis:
        """`parts`: the robot's own parts per target frame (their masked pixels composited over the warp;
        :func:`~..render.prior.warp_prior`)."""
        from ..render import temporal_fill
        from ..render.prior import to_uint8, warp_frames, warp_prior
        from ..render.self_parts import PartsOverlay, composite

        views = [v for v in context if v.depth is not None]
        if not views:
            raise ValueError("the warp synthesizer needs at least one context view with depth")
        if len({v.frames.shape[1:3] for v in views}) > 1:
            raise ValueError(f"context views differ in size {[v.frames.shape[1:3] for v in views]}; resize them first")
        t_len, (h, w) = len(target), (target.height, target.width)
        dev = self.device
        # Streamed on CUDA (the next chunk's copy overlaps this chunk's work; on a CPU both are slices), except
        # with the memory, which reads other instants of its sources: those must be whole on the device anyway.
        streamed = self.streamed and not (self.static_memory and any(v.measured for v in views))
        if streamed and self._resident:
            self._resident.clear()  # nothing to keep on the device for a streamed context
        ctx = StreamedContext(views, dev) if streamed else WholeContext(views, dev, self._resident)
        # The static memory reads measured depth only: a synthesized view's depth is partly the fill's guess.
        measured = [v.measured for v in views]
        # Measured views first: a synthesized view's depth is partly the fill's guess, so in the z-test it could
        # hide what a recorded camera saw; it only fills what the measured views leave uncovered.
        layered = self.measured_first and any(measured) and not all(measured)
        first = torch.tensor(measured[:len(views)], device=dev)
        # The memory sources: the first static_sources measured views (context order is retrieval rank).
        sources = [i for i, m in enumerate(measured) if m][:self.static_sources] if self.static_memory else []
        if sources:  # the static views of the measured views are measured too
            first = torch.cat([first, torch.ones(2 * self.static_memory * len(sources), dtype=torch.bool, device=dev)])
        memory = [ctx.views[i] for i in sources]  # whole (above)
        tgt_k = to_device(target.intrinsics_per_frame(), dev)
        tgt_c2w = to_device(target.extrinsics, dev)
        spatial = self.temporal_gap == 0  # fill per chunk; otherwise the whole video first goes through time
        frames = torch.empty((t_len, h, w, 3), dtype=torch.uint8, device=dev)
        depth = torch.empty((t_len, h, w), dtype=torch.float32, device=dev)
        covered = torch.empty((t_len, h, w), dtype=torch.bool, device=dev)
        raw = torch.empty((t_len, 3, h, w), dtype=torch.float32, device=dev) if not spatial else None
        own = _upload_parts(parts, t_len, (h, w), dev)
        for lo in range(0, t_len, self.chunk):
            hi = min(lo + self.chunk, t_len)
            times = torch.arange(lo + start, hi + start, device=dev)
            images, depths, ks, poses = ctx.at(lo + start, hi + start)
            if sources:
                extra = [static_views(*view, times, self.static_memory, self.static_stride, backend=self.backend)
                         for view in memory]
                images, depths, ks, poses = (torch.cat([base] + [e[i] for e in extra], 1)
                                             for i, base in enumerate((images, depths, ks, poses)))
            chunk_parts = PartsOverlay(own.image[lo:hi], own.mask[lo:hi], own.near) if own else None
            cams = (images, depths, ks, poses, tgt_k[lo:hi], tgt_c2w[lo:hi], (h, w))
            if layered:
                out = self._layered(cams, first, chunk_parts, fill=spatial)
                if spatial:
                    frames[lo:hi] = to_uint8(out.image)
                else:
                    raw[lo:hi] = out.image
            elif spatial:
                out = warp_frames(*cams, max_splat=self.max_splat, backend=self.backend,
                                  depth_aware=self.depth_aware, parts=chunk_parts)
                frames[lo:hi] = out.image
            else:
                out = warp_prior(*cams, max_splat=self.max_splat, backend=self.backend, channels_last=True,
                                 fill=False, depth_aware=self.depth_aware, parts=chunk_parts)
                raw[lo:hi] = out.image
            covered[lo:hi], depth[lo:hi] = out.covered, out.depth
            if hi < t_len:  # queued: copy the next chunk's context while this one runs
                ctx.prefetch(hi + start, min(hi + self.chunk, t_len) + start)
        if not spatial:
            image, filled_depth, _ = temporal_fill(raw, covered, depth, max_gap=self.temporal_gap,
                                                   depth_aware=self.depth_aware)
            if own:  # after the fill, as warp_prior does with its spatial fill
                image, filled_depth, covered = composite(image, filled_depth, covered, own)
            frames, depth = to_uint8(image), filled_depth
        frames, covered = _download(frames, covered)
        return Synthesis(frames, lambda: _download(depth)[0], covered)  # depth copied back only when read

    def _layered(self, cams, first: torch.Tensor, parts, fill: bool):
        """The render of `cams` (as :func:`~..render.prior.warp_prior`'s arguments) with the views where
        `first` ``(V,)`` is True splatted on their own and the others only into the pixels those leave uncovered;
        filled (and the parts composited) when `fill`."""
        from ..render import fill_holes
        from ..render.prior import Prior, warp_prior
        from ..render.self_parts import composite

        images, depths, ks, poses, *target = cams
        layers = [warp_prior(images[:, sel], depths[:, sel], ks[:, sel], poses[:, sel], *target,
                             max_splat=self.max_splat, backend=self.backend, channels_last=True, fill=False,
                             parts=parts) for sel in (first, ~first)]
        (top, top_depth, top_covered), (low, low_depth, low_covered) = layers
        image = torch.where(top_covered[:, None], top, low)
        depth = torch.where(top_covered, top_depth, low_depth)
        covered = top_covered | low_covered
        if not fill:
            return Prior(image, depth, covered)
        image, depth = fill_holes(image, covered, depth, depth_aware=self.depth_aware)
        if parts is not None:
            image, depth, covered = composite(image, depth, covered, parts)
        return Prior(image, depth, covered)


def _upload_parts(parts: PartsFrames | None, t_len: int, size: tuple[int, int], device: torch.device):
    """`parts` as a :class:`~..render.self_parts.PartsOverlay` of all `t_len` frames on `device`, or None."""
    from ..render.self_parts import PartsOverlay

    if parts is None:
        return None
    if parts.images.shape != (t_len, *size, 3) or parts.masks.shape != (t_len, *size):
        raise ValueError(f"self parts {parts.masks.shape} do not match the target's {t_len} frames of {size}")
    return PartsOverlay(torch.from_numpy(np.ascontiguousarray(parts.images)).to(device),
                        torch.from_numpy(np.ascontiguousarray(parts.masks)).to(device), parts.near)


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


def static_views(frames: torch.Tensor, depth: torch.Tensor, ks: torch.Tensor, poses: torch.Tensor, v_start: int,
                 times: torch.Tensor, count: int, stride: int, rel_tol: float = 0.03, abs_tol: float = 0.01,
                 min_agree: int = 2, backend: str = "auto") -> tuple[torch.Tensor, ...]:
    """:func:`static_views_reference` through a fused kernel: one pass per pixel of each instant instead of
    dozens of full-frame torch ops (same arguments and result; a pixel whose projection rounds at exactly .5 or
    whose depth sits at the tolerance boundary may flip, since the sums run in another order).

    backend: "auto" (triton on CUDA, numba on CPU, else torch), "triton", "numba" or "torch" (the reference),
    as :func:`~..render.kernels.resolve_backend` resolves it.
    """
    from ..render.kernels import resolve_backend

    name = resolve_backend(backend, depth.device)
    if name == "torch":
        return static_views_reference(frames, depth, ks, poses, v_start, times, count, stride, rel_tol, abs_tol,
                                      min_agree)
    if name == "numba":
        from ..render.numba_kernels import static_depth
    else:
        from ..render.triton_kernels import static_depth
    cand, usable, instants = _instants(times, v_start, len(depth), count, stride)
    seen = torch.cat([torch.ones_like(usable[:, :1]), usable], 1)
    k_all = ks[instants].float()
    kinv = torch.linalg.inv_ex(k_all)[0]  # inv_ex: no error check, so no device sync
    out_depth = static_depth(depth, torch.where(seen, instants, -1), kinv, k_all, poses[instants], rel_tol, abs_tol,
                             min_agree)
    return frames[cand], out_depth, ks[cand], poses[cand]


def _instants(times: torch.Tensor, v_start: int, t_len: int, count: int,
              stride: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The candidate instants of :func:`static_views_reference` as view frames: cand ``(B, C)`` long, usable
    ``(B, C)`` bool and instants ``(B, 1 + C)`` long (t first)."""
    local = (times - v_start).clamp(0, t_len - 1)  # (B,)
    j = torch.arange(1, 2 * count + 1, device=times.device)
    offsets = torch.stack([-j, j], 1).reshape(-1) * stride  # -s, +s, -2s, +2s, ...: nearest first
    cand = local[:, None] + offsets
    inside = (cand >= 0) & (cand < t_len)
    keep = inside & (inside.cumsum(1) <= 2 * count)  # the 2 * count nearest instants inside the view
    order = torch.sort((~keep).to(torch.uint8), dim=1, stable=True).indices[:, :2 * count]
    usable = keep.gather(1, order)  # (B, C)
    cand = cand.gather(1, order).clamp(0, t_len - 1)
    return cand, usable, torch.cat([local[:, None], cand], 1)


def static_views_reference(frames: torch.Tensor, depth: torch.Tensor, ks: torch.Tensor, poses: torch.Tensor,
                           v_start: int, times: torch.Tensor, count: int, stride: int, rel_tol: float = 0.03,
                           abs_tol: float = 0.01, min_agree: int = 2) -> tuple[torch.Tensor, ...]:
    """The static part of one view at other instants, for what it does not show at `times`.

    For target frame t, the instants are the ``2 * count`` nearest of t +- j * stride (j = 1, 2, ...) inside the
    view. A pixel of instant s is kept when its surface point X is static and unseen at t: projected into the
    source camera at t and at every other of those instants u (through its pose at u, so a moving head camera
    works too), no instant looked *through* X (saw farther than X where X projects: X was not there then, so
    it moved: the arm or something it carries), at least `min_agree` instants (s included) saw X where it is,
    and t did not (there the same-instant view already shows it).

    Args:
        frames ``(Tv, H, W, 3)`` uint8, depth ``(Tv, H, W)`` metres (0 = invalid), ks ``(Tv, 3, 3)``, poses
            ``(Tv, 4, 4)``, v_start: one uploaded view (see :class:`~.context.WholeContext`); times ``(B,)`` long episode frames.
        rel_tol / abs_tol: depths within ``rel_tol * z + abs_tol`` agree.

    Returns:
        images ``(B, C, H, W, 3)`` uint8, depth ``(B, C, H, W)`` float32 (0 where not kept, so the splat
        skips it), K ``(B, C, 3, 3)`` and c2w ``(B, C, 4, 4)`` of the C = ``2 * count`` instants, to be splatted
        with the same-instant views (the splat's z-test lets the nearest surface win).
    """
    from ..geometry.camera import project, unproject

    t_len, h, w = depth.shape
    cand, usable, instants = _instants(times, v_start, t_len, count, stride)  # (B, C), (B, C), (B, 1 + C)
    seen = torch.cat([torch.ones_like(usable[:, :1]), usable], 1)
    d_all = depth[instants] * seen[..., None, None]  # (B, 1 + C, H, W)
    k_all, c2w_all = ks[instants], poses[instants]
    out_depth = torch.zeros((len(times), 2 * count, h, w), dtype=torch.float32, device=depth.device)
    flat = d_all.flatten(-2)  # (B, 1 + C, HW)
    for c in range(2 * count):
        d_s = d_all[:, 1 + c]
        points = unproject(d_s, k_all[:, 1 + c], c2w_all[:, 1 + c]).reshape(len(times), 1, h * w, 3)
        uv, z = project(points, c2w_all, k_all)  # (B, 1 + C, HW, 2), (B, 1 + C, HW)
        col, row = uv[..., 0].round().long(), uv[..., 1].round().long()
        on = (z > 0) & (col >= 0) & (col < w) & (row >= 0) & (row < h)
        index = (row.clamp(0, h - 1) * w + col.clamp(0, w - 1))
        observed = flat.gather(2, index) * on  # what instant u saw where X projects; 0 = no information
        tol = rel_tol * z + abs_tol
        agree = (observed > 0) & ((observed - z).abs() <= tol)
        through = (observed > 0) & (observed > z + tol)
        static = ~through.any(1) & (agree.sum(1) >= min_agree) & ~agree[:, 0]
        static &= (d_s.flatten(-2) > 0) & usable[:, c:c + 1]
        out_depth[:, c] = torch.where(static, d_s.flatten(-2), 0.0).reshape(-1, h, w)
    return frames[cand], out_depth, ks[cand], poses[cand]
