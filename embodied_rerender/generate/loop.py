"""The autoregressive loop: recorded cameras seed the memory bank; each target trajectory in turn
retrieves its top-k views, is synthesized, and is written back, so later targets read what earlier
ones produced instead of hallucinating it afresh."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from ..episode import CameraTrajectory, Episode
from ..memory import MemoryBank, View
from .base import PartsFrames, Synthesis, Synthesizer


@dataclass
class Target:
    """A trajectory to synthesize: its camera name, T poses and K, and the recorded camera it
    replaces (for scoring against ground truth), if any; parts: the robot's own parts to render into it
    (set by :func:`~.self_parts.attach_parts` when self parts are on)."""

    name: str
    trajectory: CameraTrajectory
    ground_truth: str | None = None
    info: dict = field(default_factory=dict)
    parts: PartsFrames | None = None


@dataclass
class Step:
    target: Target
    synthesis: Synthesis
    context: list[str]
    scores: dict[str, float]


def seed_bank(episode: Episode, cameras: list[str], bank: MemoryBank) -> None:
    """Put the recorded `cameras` of `episode` (frames, depth when present, poses) into `bank`."""
    for name in cameras:
        cam = episode.cameras[name]
        if cam.trajectory is None:
            raise ValueError(f"camera {name} has no poses and cannot enter the memory bank")
        depth = cam.read_depth(slice(None)) if cam.depth is not None else None
        bank.add(View(name, cam[:], depth, cam.trajectory, 0, {"recorded": True}))


def run_autoregressive(bank: MemoryBank, targets: list[Target], synthesizer: Synthesizer, k: int = 4,
                       retrieval: str = "covisibility", seed: int = 0, write_back: bool = True,
                       merge: bool = False, merge_threshold: float = 0.0) -> list[Step]:
    """Synthesize `targets` in order, each from its top-k retrieved views; returns one Step per target.

    merge: Algorithm 2 (:meth:`MemoryBank.retrieve_merged`): when more than k views score above
    `merge_threshold`, the least co-visible are fused into merged views, so the synthesizer still gets k views
    but sees frames of all of them; a merged view is named ``merge(a+b)`` in the Step's context and scores."""
    generator = torch.Generator().manual_seed(seed)
    steps = []
    for target in targets:
        if merge:
            context, found = bank.retrieve_merged(target.trajectory, k, retrieval, generator, require_depth=True,
                                                  threshold=merge_threshold)
        else:
            found = bank.retrieve(target.trajectory, k, retrieval, generator, require_depth=True)
            context = [bank[i] for i in found.indices]
        synthesis = synthesizer.synthesize(context, target.trajectory, 0, generator, parts=target.parts)
        if write_back:
            bank.add(View(target.name, synthesis.frames, synthesis.depth, target.trajectory, 0,
                          {"generator": synthesizer.name, "context": [v.name for v in context]}))
        scores = {v.name: float(v.provenance["score"]) if "merged" in v.provenance
                  else float(found.scores[next(i for i, u in enumerate(bank.views) if u is v)]) for v in context}
        steps.append(Step(target, synthesis, [v.name for v in context], scores))
    return steps


def coverage(steps: list[Step]) -> dict[str, float]:
    """Fraction of each target's pixels that its context saw (the rest was filled)."""
    return {s.target.name: float(np.mean(s.synthesis.covered)) for s in steps}
