"""What every generator offers: synthesize one target trajectory from k context views."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol

import numpy as np
import torch

from ..episode import CameraTrajectory
from ..memory import View

@dataclass
class PartsFrames:
    """The robot's own parts in one target camera, per frame (built by :mod:`.self_parts`): images
    ``(T, H, W, 3)`` uint8, masks ``(T, H, W)`` bool, near (m)."""

    images: np.ndarray
    masks: np.ndarray
    near: float = 0.0


class Synthesis:
    """One synthesized view.

    frames: `(T, H, W, 3) uint8`; depth: `(T, H, W) float32` metres, carried so the view can enter
    the memory bank; covered: `(T, H, W) bool`, pixels the context views saw (before hole filling).
    `depth` may be given as a function of no arguments that returns it: it runs at the first read of
    `.depth`, so a caller that never reads the depth never pays for it (the warp synthesizer's device copy).
    """

    def __init__(self, frames: np.ndarray, depth: np.ndarray | Callable[[], np.ndarray], covered: np.ndarray):
        self.frames, self.covered = frames, covered
        self._depth = depth

    @property
    def depth(self) -> np.ndarray:
        if callable(self._depth):
            self._depth = self._depth()
        return self._depth


class Synthesizer(Protocol):
    name: str

    def config(self) -> dict:
        """Settings that, with the seed, reproduce this generator's output (goes into provenance)."""
        ...

    def synthesize(self, context: list[View], target: CameraTrajectory, start: int,
                   generator: torch.Generator, parts: PartsFrames | None = None) -> Synthesis:
        """Frames of `target` (T poses from episode frame `start`) from `context` views of the same times;
        `parts`: the robot's own parts in the target camera (the warp composites them; others may ignore them)."""
        ...
