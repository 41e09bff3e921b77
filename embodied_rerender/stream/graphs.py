"""CUDA-graph replay of the student's passes over a stream.

A pass of the reference student at 480x640 output is ~480 small kernels (8 blocks of norms, projections, rotary
tables, attention): on an H200 the host spent 11.8 ms issuing them against 1.5 ms of device work
(docs/benchmarks.md, streaming). Once the KV cache is full, a stream repeats a handful of pass shapes (with one
frame in flight: the pass that commits the previous frame, and the ones that only denoise), so each shape is
captured once in a CUDA graph and replayed: the inputs are copied into the graph's fixed buffers, the cache is
a :class:`~..models.causal.RingKVCache` (fixed storage), and the per-pass rotary tables and mask are copied in as
well. Everything else (the first `sink + window` frames, the end of a stream, the CPU) runs eagerly.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ..models.causal import CausalDiT, KVCache, PairConditioning, RingKVCache


@dataclass
class _Captured:
    """One pass shape: its fixed input buffers, its graph (None until captured) and its output buffer."""

    x: Tensor
    t: Tensor
    cond: PairConditioning
    cos: Tensor
    sin: Tensor
    mask: Tensor | None
    graph: "torch.cuda.CUDAGraph | None" = None
    out: Tensor | None = None
    warmed: bool = False


class GraphedPasses:
    """`passes(x_t, t, cond, frames, cache, commit) -> v` with the arguments and result of
    :meth:`CausalDiT.forward` (`x_t (B, F, 3, h, w)`, `t (B, F)`, `v (B, F, 3, h, w)` float32).

    A pass over a full :class:`RingKVCache` on CUDA runs from a CUDA graph per shape (batch, frames, committed
    frames, whether the band masks anything): eagerly on the graph's buffers the first time it is seen (the
    warm-up capture needs), captured and replayed from the second. Any other pass runs :meth:`CausalDiT.forward`.
    amp: bf16 autocast on CUDA (the engine's setting)."""

    def __init__(self, model: CausalDiT, amp: bool = True, enabled: bool = True):
        self.model, self.amp, self.enabled = model, amp, enabled
        self.shapes: dict[tuple, _Captured] = {}
        self.pool = None
        self.replays = 0
        self.failure: str | None = None  # why capture was given up, if it was

    def __call__(self, x_t: Tensor, t: Tensor, cond: PairConditioning, frames: Tensor,
                 cache: KVCache | RingKVCache, commit: int = 0) -> Tensor:
        if not (self.enabled and isinstance(cache, RingKVCache) and x_t.device.type == "cuda"):
            return self._eager(x_t, t, cond, frames, cache, commit)
        frames = frames.cpu().long()
        (cos, sin, sink_keep, pairs), mask = self.model.pass_tables(frames, cache.frames, x_t.device)
        if sink_keep is not None:  # a sink frame in the pass: only at the very start of a stream
            return self._eager(x_t, t, cond, frames, cache, commit)
        key = (tuple(x_t.shape), commit, mask is None, cond.prior is None)
        entry = self.shapes.get(key)
        if entry is None:
            entry = self.shapes[key] = _Captured(torch.empty_like(x_t), torch.empty_like(t), _empty_like(cond),
                                                 torch.empty_like(cos), torch.empty_like(sin),
                                                 None if mask is None else torch.empty_like(mask))
        _fill(entry, x_t, t, cond, cos, sin, mask)
        if commit:
            cache.reserve(commit)
        run = lambda: self._denoise(entry, pairs, cache, commit)  # noqa: E731
        if entry.graph is not None:
            entry.graph.replay()
            self.replays += 1
        elif not entry.warmed:  # on a side stream, as capture requires of the first run
            side = torch.cuda.Stream(x_t.device)
            side.wait_stream(torch.cuda.current_stream(x_t.device))
            with torch.cuda.stream(side):
                entry.out = run()
            torch.cuda.current_stream(x_t.device).wait_stream(side)
            entry.warmed = True
        else:
            graph = torch.cuda.CUDAGraph()
            try:
                with torch.cuda.graph(graph, pool=self.pool):
                    entry.out = run()
            except RuntimeError as err:  # an op that cannot be captured (a driver or library limit): stay eager
                self.enabled, self.failure = False, f"{type(err).__name__}: {err}"
                entry.out = run()
            else:
                self.pool = graph.pool()
                entry.graph = graph
                graph.replay()
                self.replays += 1
        if commit:
            cache.commit(frames[:commit])
        return entry.out

    def _eager(self, x_t, t, cond, frames, cache, commit: int) -> Tensor:
        with torch.autocast(x_t.device.type, dtype=torch.bfloat16, enabled=self.amp):
            return self.model(x_t, t, cond, frames, cache, commit=commit).float()

    def _denoise(self, entry: _Captured, pairs: int, cache: RingKVCache, commit: int) -> Tensor:
        # cache_enabled=False: autocast's cast cache would hold tensors made during capture.
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.amp, cache_enabled=False):
            v = self.model.denoise(entry.x, entry.t, entry.cond, (entry.cos, entry.sin, None, pairs), entry.mask,
                                   cache, commit)
        return v.float()


def _empty_like(cond: PairConditioning) -> PairConditioning:
    return PairConditioning(torch.empty_like(cond.source), torch.empty_like(cond.source_rays),
                            torch.empty_like(cond.target_rays),
                            None if cond.prior is None else torch.empty_like(cond.prior))


def _fill(entry: _Captured, x_t: Tensor, t: Tensor, cond: PairConditioning, cos: Tensor, sin: Tensor,
          mask: Tensor | None) -> None:
    """Copy a pass's inputs into the fixed buffers its graph reads."""
    pairs = [(entry.x, x_t), (entry.t, t), (entry.cond.source, cond.source), (entry.cond.source_rays, cond.source_rays),
             (entry.cond.target_rays, cond.target_rays), (entry.cos, cos), (entry.sin, sin)]
    if cond.prior is not None:
        pairs.append((entry.cond.prior, cond.prior))
    if mask is not None:
        pairs.append((entry.mask, mask))
    for dst, src in pairs:
        dst.copy_(src, non_blocking=True)
