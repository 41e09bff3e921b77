"""Context views on the synthesizer's device: uploaded whole, or streamed one chunk of target frames at a time.

A 480x640 view of 93 frames with k = 4 context views is 800 MB of uint8 frames and float32 depth. Uploading it
whole before the first splat leaves the GPU idle while the host copies all of it into pinned memory. :class:`StreamedContext` copies only the frames a chunk needs, on a side stream, while the
previous chunk is synthesized, and keeps two chunks on the device instead of the whole views.
"""

from __future__ import annotations

import contextlib

import numpy as np
import torch

from ..memory import View

__all__ = ["WholeContext", "StreamedContext", "to_device"]


def to_device(a: np.ndarray, device: torch.device) -> torch.Tensor:
    """A float32 tensor of `a` on `device`."""
    return torch.as_tensor(np.ascontiguousarray(a), dtype=torch.float32).to(device)


def _cameras(view: View, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    return to_device(view.trajectory.intrinsics_per_frame(), device), to_device(view.trajectory.extrinsics, device)


def _local(times: torch.Tensor, start: int, length: int) -> torch.Tensor:
    """Episode frames `times` as indices into a view of `length` frames starting at `start` (clamped at its ends)."""
    return (times - start).clamp(0, length - 1)


class WholeContext:
    """Every frame of every view on `device`, copied once (shared memory on CPU: no copy at all).

    ``views[i]`` is ``(frames (T, H, W, 3) uint8, depth (T, H, W) float32, K (T, 3, 3), c2w (T, 4, 4), start)``,
    the form :func:`~.warp.static_views` reads."""

    def __init__(self, views: list[View], device: torch.device, resident: dict | None = None):
        """`resident`: device copies kept from an earlier call, by the identity of a view's frame and depth arrays.
        A view found there is not uploaded again (the head view of an episode serves every target); afterwards
        it holds this call's views only."""
        self.views, kept = [], {}
        for v in views:
            # the entries hold the arrays themselves, so no other array can take their ids while they are kept
            key = (id(v.frames), id(v.depth))
            hit = resident.get(key) if resident is not None else None
            if hit is not None:
                frames, depth = hit[2], hit[3]
            else:
                frames = torch.from_numpy(np.ascontiguousarray(v.frames))
                depth = torch.from_numpy(np.ascontiguousarray(v.depth, dtype=np.float32))
                if device.type == "cuda":
                    frames, depth = (x.pin_memory().to(device, non_blocking=True) for x in (frames, depth))
            kept[key] = (v.frames, v.depth, frames, depth)
            self.views.append((frames, depth, *_cameras(v, device), v.start))
        if resident is not None:
            resident.clear()
            resident.update(kept)

    def prefetch(self, t0: int, t1: int) -> None:
        """Nothing to do: everything is resident."""

    def at(self, t0: int, t1: int):
        """Context at episode frames ``t0 .. t1 - 1`` (B of them): images ``(B, V, H, W, 3)`` uint8, depth
        ``(B, V, H, W)``, K ``(B, V, 3, 3)``, c2w ``(B, V, 4, 4)``."""
        times = torch.arange(t0, t1, device=self.views[0][0].device)
        parts = [[], [], [], []]
        for frames, depth, ks, poses, start in self.views:
            a, b = t0 - start, t1 - start
            if 0 <= a and b <= len(frames):  # inside the view: slices, no copy
                picked = (x[a:b] for x in (frames, depth, ks, poses))
            else:
                local = _local(times, start, len(frames))
                picked = (x.index_select(0, local) for x in (frames, depth, ks, poses))
            for out, x in zip(parts, picked):
                out.append(x)
        return _stack(parts)


def _stack(parts: list[list[torch.Tensor]]) -> tuple[torch.Tensor, ...]:
    """Per-view tensors ``(B, ...)`` -> ``(B, V, ...)``; one view is a view of its tensor, not a copy."""
    return tuple(p[0].unsqueeze(1) if len(p) == 1 else torch.stack(p, dim=1) for p in parts)


class StreamedContext:
    """The views' frames and depth on a CUDA device one chunk at a time, copied ahead on a side stream (on a CPU:
    slices of the views, no copy).

    Call :meth:`prefetch` with the next chunk's frames right after queueing the current chunk's work: its host
    copy into pinned memory and its transfer then overlap that work. :meth:`at` waits (on the device, not the
    host) for the transfer of the frames it returns. Cameras are small and uploaded whole."""

    def __init__(self, views: list[View], device: torch.device):
        self.views = views
        self.device = device
        self.cams = [_cameras(v, device) for v in views]
        self.stream = torch.cuda.Stream(device) if device.type == "cuda" else None  # CPU: plain slices
        self.pending: dict[tuple[int, int], tuple] = {}

    def prefetch(self, t0: int, t1: int) -> None:
        """Start copying the frames that episode frames ``t0 .. t1 - 1`` need (ints, not a device tensor: reading
        one would wait for the queued work this copy is meant to overlap)."""
        if (t0, t1) in self.pending:
            return
        slices = []
        main = torch.cuda.current_stream(self.device) if self.stream else None  # the stream that will read them
        with torch.cuda.stream(self.stream) if self.stream else contextlib.nullcontext():
            for v in self.views:
                a = min(max(t0 - v.start, 0), len(v.frames) - 1)
                b = min(max(t1 - 1 - v.start, 0), len(v.frames) - 1) + 1
                frames = torch.from_numpy(np.ascontiguousarray(v.frames[a:b]))
                depth = torch.from_numpy(np.ascontiguousarray(v.depth[a:b], np.float32))
                slices.append((*(self._copy(x, main) for x in (frames, depth)), a))
            done = None
            if self.stream:
                done = torch.cuda.Event()
                done.record(self.stream)
        self.pending[(t0, t1)] = (slices, done)

    def _copy(self, src: torch.Tensor, main) -> torch.Tensor:
        """`src` on the device, through pinned memory, asynchronously on the side stream (CPU: itself)."""
        if self.stream is None:
            return src
        host = torch.empty(src.shape, dtype=src.dtype, pin_memory=True)  # cached; reused only after the copy
        host.copy_(src)
        dev = host.to(self.device, non_blocking=True)
        dev.record_stream(main)  # not recycled before the main stream's use ends
        return dev

    def at(self, t0: int, t1: int):
        """As :meth:`WholeContext.at`; the chunk is fetched now if :meth:`prefetch` did not start it."""
        self.prefetch(t0, t1)
        slices, done = self.pending.pop((t0, t1))
        if done is not None:
            torch.cuda.current_stream(self.device).wait_event(done)
        times = torch.arange(t0, t1, device=self.device)
        parts = [[], [], [], []]
        for (frames, depth, a), v, (ks, poses) in zip(slices, self.views, self.cams):
            local = _local(times, v.start, len(v.frames))
            parts[0].append(frames.index_select(0, local - a))
            parts[1].append(depth.index_select(0, local - a))
            parts[2].append(ks.index_select(0, local))
            parts[3].append(poses.index_select(0, local))
        return _stack(parts)
