"""The one evaluation loop: seed a memory bank with recorded cameras, synthesize targets in order, score each.

Every table (`heldout`, `shots`, `stream`, `validation`) calls `run_setting`; they differ only in which episodes,
sources, targets, synthesizers and ground truth they hand it, and in how they summarize the rows.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from ..episode import Episode
from ..generate import Step, Synthesizer, Target
from .scoring import score_views


@dataclass(frozen=True)
class Setting:
    """One row group of a table: a label, the synthesizer's name, k context views and the retrieval rule."""

    label: str
    generator: str
    k: int = 4
    retrieval: str = "covisibility"


@dataclass(frozen=True)
class BankOptions:
    """The memory bank's depth range (m) and co-visibility samples."""

    near: float = 0.05
    far: float = 2.5
    samples: int = 256


@dataclass
class Run:
    """What one setting produced on one episode: the loop's steps, one scored row per shot (in order) and the
    synthesis seconds per view."""

    steps: list[Step]
    rows: list[dict] = field(default_factory=list)
    seconds: float = 0.0


def run_setting(episode: Episode, sources: list[str], targets: list[Target], synthesizer: Synthesizer, k: int = 4,
                retrieval: str = "covisibility", seed: int = 0, truth: Mapping[str, np.ndarray] | None = None,
                bank: BankOptions = BankOptions(), write_back: bool = True) -> Run:
    """Seed a bank with the recorded `sources` of `episode`, run the autoregressive loop over `targets` and score
    each output against its ground truth: `truth[target.ground_truth]` when `truth` is given, else the recorded
    camera `target.ground_truth` of `episode`; a target with neither gets a row without scores. A synthesizer with
    self parts renders them into the targets that follow their camera.
    Row: shot (1-based), target, context, coverage, and psnr / ssim / psnr_covered / ssim_covered."""
    from ..generate import run_autoregressive, seed_bank
    from ..generate.self_parts import prepare_parts
    from ..memory import MemoryBank

    memory = MemoryBank(bank.near, bank.far, bank.samples)
    seed_bank(episode, sources, memory)
    prepare_parts(synthesizer, episode, targets)  # a warp synthesizer's self parts (built from training episodes)
    t0 = time.monotonic()
    steps = run_autoregressive(memory, targets, synthesizer, k, retrieval, seed, write_back=write_back)
    run = Run(steps, seconds=(time.monotonic() - t0) / max(len(steps), 1))
    for shot, step in enumerate(steps, 1):
        row = {"shot": shot, "target": step.target.name, "context": step.context,
               "coverage": round(float(step.synthesis.covered.mean()), 4)}
        reference = ground_truth(episode, step.target, truth)
        if reference is not None:
            row.update(score_views(step.synthesis.frames, reference, step.synthesis.covered,
                                   device=getattr(synthesizer, "device", None)))
        run.rows.append(row)
    return run


def ground_truth(episode: Episode, target: Target, truth: Mapping[str, np.ndarray] | None) -> np.ndarray | None:
    """`(T, H, W, 3) uint8` ground truth of `target`, or None (see `run_setting`)."""
    name = target.ground_truth
    if name is None:
        return None
    if truth is not None:
        if name not in truth:
            raise KeyError(f"episode {episode.episode_id}: no ground truth for target {target.name} ({name})")
        return truth[name]
    return episode.cameras[name][:] if name in episode.cameras else None


def trim(episode: Episode, frames: int | None) -> Episode:
    """`episode` with every camera cut to its first `frames` frames (in place; None: unchanged). For CPU budgets."""
    from ..episode import ArrayFrames, CameraStream

    if frames and episode.num_frames > frames:
        for name, cam in list(episode.cameras.items()):
            depth = ArrayFrames(cam.read_depth(slice(0, frames))) if cam.depth is not None else None
            poses = cam.trajectory.subset(range(frames)) if cam.trajectory is not None else None  # (fisheyes: none)
            episode.cameras[name] = CameraStream(name, ArrayFrames(cam[:frames]), poses, depth)
    return episode

