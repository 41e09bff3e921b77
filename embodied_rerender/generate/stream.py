"""The streaming student as a synthesizer (`generator=stream`): :class:`~..stream.engine.StreamEngine` run over a
whole target trajectory, so `augment`, the held-out tables and `eval table=stream` use it like any generator.

Each call streams one context view frame by frame along the target (a fresh engine and KV cache per view) and
collects the emitted frames; depth and coverage are those of the engine's own per-frame warp prior
(`render.prior.warp_prior`), so the view can enter the memory bank and be scored on its covered region.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..episode import CameraTrajectory
from ..memory import View
from .base import Synthesis
from .learned import resolve_checkpoint


class StreamSynthesizer:
    """`generator=stream`. checkpoint: a causal student (`.safetensors` with its `.json`; default the shipped
    weights/stream_ref, which the `stream` verb also takes); steps: noise levels per frame (None: the checkpoint's
    distillation steps); window: frames in flight (divides steps); seed: the engine's noise, so a view equals what
    `embodied-rerender stream seed=...` emits for the same source and target (the loop's generator is not used).

    Only the first context view (the best-scored one; retrieval orders them best first) is streamed: the student
    takes one source view per frame, so with k > 1 the other views are ignored. A non-hybrid student makes no warp
    prior: its depth is all 0 (invalid in the bank's convention) and nothing counts as covered, as for `learned`.
    `stats`: one `StreamStats.summary()` (fps, first / steady latency) per `synthesize` call."""

    name = "stream"

    def __init__(self, checkpoint: str | Path | None = None, steps: int | None = None, window: int = 1,
                 seed: int = 0, detail_transfer: bool = True, max_splat: int = 9, device: str | torch.device = "cpu"):
        from ..models.causal import load_student
        from ..stream.engine import trained_schedule
        from ..stream.scheduler import StaggeredScheduler

        self.checkpoint = resolve_checkpoint(checkpoint, self.name)
        self.device = torch.device(device)
        self.student, config = load_student(self.checkpoint, self.device)
        trained_steps, self.shift = trained_schedule(config)
        self.steps = steps or trained_steps
        StaggeredScheduler(self.steps, window)  # refuses a window that does not divide the steps, before any view
        self.window, self.seed = window, seed
        self.detail_transfer, self.max_splat = detail_transfer, max_splat
        self.stats: list[dict] = []

    def config(self) -> dict:
        return {"checkpoint": str(self.checkpoint), "steps": self.steps, "window": self.window, "shift": self.shift,
                "seed": self.seed, "detail_transfer": self.detail_transfer, "max_splat": self.max_splat,
                "model": self.student.config()}

    @torch.no_grad()
    def synthesize(self, context: list[View], target: CameraTrajectory, start: int,
                   generator: torch.Generator | None = None, parts=None) -> Synthesis:
        """See the class docstring. `parts` (the robot's own parts) is not used: the student was not trained
        with them."""
        from ..stream.engine import StreamEngine
        from ..stream.sources import view_items

        if not context:
            raise ValueError(f"generator={self.name} needs a context view")
        n, size = len(target), (target.height, target.width)
        engine = StreamEngine(self.student, steps=self.steps, window=self.window, size=size, shift=self.shift,
                              device=self.device, detail_transfer=self.detail_transfer, seed=self.seed,
                              max_splat=self.max_splat)
        out = []
        for item in view_items(context[0], target, start):
            out += engine.push(item)
        out += engine.flush()
        self.stats.append(engine.stats.summary())
        out.sort(key=lambda f: f.index)
        frames = np.stack([f.frame for f in out])
        if out[0].depth is None:
            return Synthesis(frames, np.zeros((n, *size), np.float32), np.zeros((n, *size), bool))
        depth = torch.stack([f.depth for f in out]).cpu().numpy()
        return Synthesis(frames, depth, torch.stack([f.covered for f in out]).cpu().numpy())


__all__ = ["StreamSynthesizer"]
