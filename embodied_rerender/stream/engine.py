"""Streaming synthesis: frames in, synthesized frames out as soon as they are ready, with per-frame latency.

    engine = StreamEngine(student, window=1, device="cuda")
    for item in items:                      # StreamItem: source frame, its camera, the target camera (+ depth)
        for out in engine.push(item):       # StreamFrame: index, (H, W, 3) uint8, latency_s
            show(out.frame)
    for out in engine.flush(): ...

Per frame: the source is resized to the student's working resolution; in hybrid mode the source is also
forward-splatted into the target camera at the output size (the warp prior, holes filled from their far side as in
training) and its low-resolution copy plus coverage go in as extra channels. Raymaps are in the frame of the
stream's first source camera (fixed, so the cached frames stay valid). Each model pass carries the frames the
:class:`StaggeredScheduler` has in flight plus the frames finished by the previous pass, given clean at t = 0
so that their keys/values enter the KV cache (the student then always attends to clean past frames, as in
training). The output is upsampled to the output size and, with `detail_transfer`, the warp render's
high frequencies (lost at the working resolution) are added back. Each emitted frame carries its prior's depth and
coverage, so a stream can enter the memory bank as RGB-D (`generate.StreamSynthesizer`).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np
import torch

from ..models.causal import CausalDiT, KVCache, PairConditioning, RingKVCache
from ..render.prior import Prior, warp_prior
from ..render.resize import resize, upsample_with_detail
from .graphs import GraphedPasses
from .scheduler import StaggeredScheduler, noise_levels


@dataclass
class StreamItem:
    """One time step of input. source: `(H, W, 3)` uint8; source_K / target_K: `(3, 3)` at the source / output
    size; source_c2w / target_c2w: `(4, 4)` camera-to-world; depth: `(H, W)` float32 metres of the source
    (0 = invalid), needed for the hybrid prior (without it the prior is empty: all holes)."""

    source: np.ndarray
    source_K: np.ndarray
    source_c2w: np.ndarray
    target_K: np.ndarray
    target_c2w: np.ndarray
    depth: np.ndarray | None = None


@dataclass
class StreamFrame:
    """index: frame number in the stream; frame: `(H, W, 3)` uint8; latency_s: from `push` of its input to emission;
    working: `(3, h, w)` float in [-1, 1], the student's output at its working resolution; depth / covered: `(H, W)`
    float32 metres (holes filled) / bool of the frame's warp prior, None without one (a non-hybrid student). All
    three stay on the engine's device."""

    index: int
    frame: np.ndarray
    latency_s: float
    working: torch.Tensor | None = None
    depth: torch.Tensor | None = None
    covered: torch.Tensor | None = None


@dataclass
class _InFlight:
    x: torch.Tensor            # (1, 1, 3, h, w) current noisy state
    cond: PairConditioning     # (1, 1, ...) working-resolution inputs
    prior: Prior | None        # full-size warp prior, batch 1 (detail transfer, depth and coverage out)
    arrival: float
    size: tuple[int, int]      # output (H, W)


@dataclass
class _Pending:
    frame: int
    x0: torch.Tensor
    cond: PairConditioning


@dataclass
class StreamStats:
    latencies: list[float] = field(default_factory=list)
    passes: int = 0
    start: float | None = None
    end: float | None = None

    def summary(self) -> dict:
        lat = np.asarray(self.latencies)
        wall = (self.end or 0) - (self.start or 0)
        steady = lat[min(len(lat) - 1, max(1, len(lat) // 4)):] if len(lat) else lat
        return {"frames": len(lat), "passes": self.passes, "wall_s": round(wall, 4),
                "fps": round(len(lat) / wall, 2) if wall > 0 else None,
                "first_latency_s": round(float(lat[0]), 4) if len(lat) else None,
                "steady_latency_s": round(float(np.median(steady)), 4) if len(lat) else None}


class StreamEngine:
    """Runs a :class:`CausalDiT` student over a stream. steps: noise levels per frame (default: the checkpoint's
    distillation steps); window: frames in flight (divides steps); size: output `(H, W)` (default: source size);
    shift: level warp (as in training); detail_transfer: add the warp's high frequencies back; seed: noise;
    cuda_graphs: on CUDA, once the KV cache is full, replay each pass shape from a CUDA graph (stream/graphs.py;
    the same frames up to float summation order, several times faster: a pass is launch-bound)."""

    def __init__(self, student: CausalDiT, steps: int = 4, window: int = 1, size: tuple[int, int] | None = None,
                 shift: float = 1.0, device: str | torch.device = "cpu", amp: bool = True,
                 detail_transfer: bool = True, seed: int = 0, max_splat: int = 9, cuda_graphs: bool = True):
        self.model = student.to(device).eval()
        self.cfg = student.cfg
        self.device = torch.device(device)
        self.amp = amp and self.device.type == "cuda"
        self.levels = noise_levels(steps, shift)
        self.scheduler = StaggeredScheduler(steps, window)
        self.size = size
        self.detail_transfer, self.max_splat = detail_transfer, max_splat
        self.generator = torch.Generator().manual_seed(seed)
        self.cache: KVCache | RingKVCache = student.new_cache()
        self.cuda_graphs = cuda_graphs and self.device.type == "cuda"
        self.run_pass = GraphedPasses(self.model, self.amp, enabled=self.cuda_graphs)
        self.reference: torch.Tensor | None = None
        self.flight: dict[int, _InFlight] = {}
        self.pending: list[_Pending] = []
        self.stats = StreamStats()

    # -- inputs --------------------------------------------------------------------------------
    def _prepare(self, items: list[StreamItem]) -> list[tuple[PairConditioning, Prior | None]]:
        if self.reference is None:
            self.reference = torch.as_tensor(items[0].source_c2w, dtype=torch.float32, device=self.device)
        return prepare_batch(items, self.cfg, self.reference, self.size, self.device, self.max_splat)

    # -- passes --------------------------------------------------------------------------------
    @torch.no_grad()
    def _pass(self) -> list[StreamFrame]:
        slots = self.scheduler.plan()
        pend = self.pending
        xs = [p.x0 for p in pend] + [self.flight[s.frame].x for s in slots]
        conds = [p.cond for p in pend] + [self.flight[s.frame].cond for s in slots]
        t = torch.tensor([0.0] * len(pend) + [float(self.levels[s.level]) for s in slots], device=self.device)[None]
        frames = torch.tensor([p.frame for p in pend] + [s.frame for s in slots])
        full = isinstance(self.cache, KVCache) and len(self.cache) == self.cache.sink + self.cache.window
        if self.cuda_graphs and full:
            self.cache = RingKVCache(self.cache)  # full from here on: fixed storage, so passes can be graphed
        v = self.run_pass(torch.cat(xs, 1), t, PairConditioning.cat(conds), frames, self.cache, commit=len(pend))
        v = v[:, len(pend):]
        for j, s in enumerate(slots):
            dt = float(self.levels[s.level + 1] - self.levels[s.level])
            self.flight[s.frame].x = self.flight[s.frame].x + dt * v[:, j:j + 1]
        self.pending = []
        self.stats.passes += 1
        out = []
        for f in self.scheduler.advance():
            item = self.flight.pop(f)
            self.pending.append(_Pending(f, item.x, item.cond))
            out.append(self._emit(f, item))
        return out

    def _emit(self, f: int, item: _InFlight) -> StreamFrame:
        x0 = item.x[0, 0].clamp(-1, 1)[None]  # (1, 3, h, w)
        prior = item.prior
        if prior is not None and self.detail_transfer:
            full = upsample_with_detail(x0, prior.image * 2 - 1)
        else:
            full = resize(x0, item.size)
        frame = ((full[0].clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()
        now = time.perf_counter()
        latency = now - item.arrival
        self.stats.latencies.append(latency)
        self.stats.end = now
        if prior is None:
            return StreamFrame(f, frame, latency, x0[0])
        return StreamFrame(f, frame, latency, x0[0], prior.depth[0], prior.covered[0])

    # -- the stream API ------------------------------------------------------------------------
    def push(self, item: StreamItem) -> list[StreamFrame]:
        """Admit one input frame and run the passes it allows; returns the frames that became ready."""
        return self.push_many([item])

    def push_many(self, items: list[StreamItem]) -> list[StreamFrame]:
        """Admit frames that arrive together (a burst, or a recorded clip) in order, their inputs prepared in one
        batch (`prepare_batch`); the frames equal those of one `push` per item, each frame's latency counts from
        this call. Returns the frames that became ready."""
        if not items:
            return []
        arrival = time.perf_counter()
        if self.stats.start is None:
            self.stats.start = arrival
        out = []
        # The passes due before the first admission run before the preparation, which their frames' latency
        # therefore never includes (as with one `push`, always).
        while not self.scheduler.ready():
            out += self._pass()
        for item, (cond, prior) in zip(items, self._prepare(items)):
            while not self.scheduler.ready():
                out += self._pass()
            f = self.scheduler.admit()
            noise = torch.randn((1, 1, 3, self.cfg.height, self.cfg.width), generator=self.generator).to(self.device)
            self.flight[f] = _InFlight(noise, cond, prior, arrival, self.size or tuple(item.source.shape[:2]))
            while not self.scheduler.ready() and len(self.scheduler):
                out += self._pass()
        return out

    def flush(self) -> list[StreamFrame]:
        """Finish every frame still in flight (end of input)."""
        out = []
        while len(self.scheduler):
            out += self._pass()
        return out


def prepare_inputs(item: StreamItem, cfg, reference: torch.Tensor, size: tuple[int, int] | None,
                   device: torch.device, max_splat: int = 9) -> tuple[PairConditioning, Prior | None]:
    """One frame's student inputs at the working resolution `(cfg.height, cfg.width)` (`(1, 1, C, h, w)` each) and,
    in hybrid mode, the full-size warp prior (`render.prior.warp_prior`, batch 1), else None.

    reference: `(4, 4)` camera-to-world the raymaps are expressed in; size: output `(H, W)` (None: the source's).
    """
    return prepare_batch([item], cfg, reference, size, device, max_splat)[0]


def prepare_batch(items: list[StreamItem], cfg, reference: torch.Tensor, size: tuple[int, int] | None,
                  device: torch.device, max_splat: int = 9) -> list[tuple[PairConditioning, Prior | None]]:
    """`prepare_inputs` of each of B frames that arrive together (sources of one size), computed as one batch:
    one raymap call and one `render.prior.warp_prior` splat + fill for the priors of all B frames. A frame
    without depth gets an empty prior (all holes, depth 0)."""
    from ..geometry.camera import resize_intrinsics
    from ..geometry.plucker import plucker_raymap

    hw, n = (cfg.height, cfg.width), len(items)
    Hs, Ws = items[0].source.shape[:2]
    H, W = size or (Hs, Ws)
    src = torch.from_numpy(np.stack([it.source for it in items])).to(device).permute(0, 3, 1, 2).float() / 255
    s_K, s_c2w, t_K, t_c2w = (torch.as_tensor(np.stack([getattr(it, key) for it in items]), dtype=torch.float32,
                                              device=device)
                              for key in ("source_K", "source_c2w", "target_K", "target_c2w"))
    rays = plucker_raymap(torch.cat([resize_intrinsics(s_K, (Hs, Ws), hw), resize_intrinsics(t_K, (H, W), hw)]),
                          torch.cat([s_c2w, t_c2w]), *hw, reference)  # (2B, 6, h, w): sources, then targets
    source = resize(src, hw) * 2 - 1
    if not cfg.hybrid:
        return [(PairConditioning(source[i:i + 1][None], rays[i][None, None], rays[n + i][None, None], None), None)
                for i in range(n)]
    image = torch.zeros(n, 3, H, W, device=device)
    depth = torch.zeros(n, H, W, device=device)
    covered = torch.zeros(n, H, W, dtype=torch.bool, device=device)
    posed = [i for i, it in enumerate(items) if it.depth is not None]
    if posed:
        d = torch.as_tensor(np.stack([np.asarray(items[i].depth, dtype=np.float32) for i in posed]), device=device)
        out = warp_prior(src[posed][:, None], d[:, None], s_K[posed][:, None], s_c2w[posed][:, None], t_K[posed],
                         t_c2w[posed], (H, W), max_splat=max_splat)
        image[posed], depth[posed], covered[posed] = out.image, out.depth, out.covered
    channels = torch.cat([resize(image, hw) * 2 - 1, resize(covered[:, None].float(), hw) * 2 - 1], dim=1)
    return [(PairConditioning(source[i:i + 1][None], rays[i][None, None], rays[n + i][None, None],
                              channels[i:i + 1][None]),
             Prior(image[i:i + 1], depth[i:i + 1], covered[i:i + 1])) for i in range(n)]


def trained_schedule(config: dict) -> tuple[int, float]:
    """(steps, shift) a student was distilled with: its checkpoint config's `stream` entry (4 and 1.0 without one)."""
    trained = config.get("stream", {})
    return trained.get("steps", 4), trained.get("shift", 1.0)


def stream_views(student: CausalDiT, items: Iterable[StreamItem | tuple], **options) -> Iterator[StreamFrame]:
    """Synthesized frames of a stream, each yielded as soon as it is ready. `items`: StreamItems or tuples
    `(source, source_K, source_c2w, target_K, target_c2w[, depth])`; options: :class:`StreamEngine`'s."""
    engine = StreamEngine(student, **options)
    for item in items:
        if not isinstance(item, StreamItem):
            item = StreamItem(*item)
        yield from engine.push(item)
    yield from engine.flush()


__all__ = ["StreamEngine", "StreamItem", "StreamFrame", "stream_views", "StreamStats", "prepare_inputs",
           "prepare_batch", "trained_schedule"]
