"""What every generator offers: synthesize one target trajectory from k context views."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np
import torch

from ..episode import CameraTrajectory
from ..memory import View

if TYPE_CHECKING:
    from .self_parts import PartsFrames


@dataclass
class Synthesis:
    """One synthesized view.

    frames: `(T, H, W, 3) uint8`; depth: `(T, H, W) float32` metres, carried so the view can enter
    the memory bank; covered: `(T, H, W) bool`, pixels the context views saw (before hole filling).
    """

    frames: np.ndarray
    depth: np.ndarray
    covered: np.ndarray


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
