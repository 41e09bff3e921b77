"""The staggered-noise window (RAIN): W frames in flight at staggered noise levels, one pass advances them all.

A frame is denoised over `steps` levels, t_0 = 1 (pure noise) > t_1 > ... > t_steps = 0 (clean). `window` W
frames are in flight, spaced `stride = steps / W` levels apart; every model pass moves each of them one level
down, and every `stride` passes the oldest reaches t = 0 and leaves (emitted, in order) while a new frame enters
at pure noise. Per emitted frame the work is the same `steps` frame-evaluations whatever W is; W trades
latency (a frame waits for W - 1 newer ones to arrive) against batch size per pass (throughput on a GPU).
W = 1 is plain per-frame sampling with `steps` steps.

This module is pure bookkeeping (no tensors besides the level times), so its invariants are tested alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..models.flow import shift_time


def noise_levels(steps: int, shift: float = 1.0) -> torch.Tensor:
    """`(steps + 1,)` flow times from 1 down to 0, warped by `shift` (> 1 spends more levels at high noise)."""
    return shift_time(torch.linspace(1.0, 0.0, steps + 1, dtype=torch.float64), shift).float()


@dataclass
class Slot:
    frame: int
    level: int = 0  # passes done; the frame is at time levels[level]


class StaggeredScheduler:
    """Which frames are in flight and at which level. Use: `admit` a frame when `ready()`, then per pass
    `plan()` (frames, oldest first, with their levels) and `advance()` (returns the frames that finished)."""

    def __init__(self, steps: int, window: int = 1):
        if steps < 1 or window < 1 or steps % window:
            raise ValueError(f"window {window} must divide steps {steps} (both >= 1)")
        self.steps, self.window, self.stride = steps, window, steps // window
        self.slots: list[Slot] = []
        self.next_frame = 0

    def ready(self) -> bool:
        """Can a new frame enter now (the newest one has moved `stride` levels, and there is room)?"""
        return len(self.slots) < self.window and (not self.slots or self.slots[-1].level >= self.stride)

    def admit(self) -> int:
        """Put the next frame in flight at pure noise; returns its index."""
        if not self.ready():
            raise RuntimeError("the window is not ready for a new frame; run passes first")
        self.slots.append(Slot(self.next_frame))
        self.next_frame += 1
        return self.slots[-1].frame

    def plan(self) -> list[Slot]:
        """The frames of the next pass, oldest (least noisy) first: the block-causal order."""
        return list(self.slots)

    def advance(self) -> list[int]:
        """Every in-flight frame moves one level; returns the frames that reached t = 0, in order."""
        for s in self.slots:
            s.level += 1
        done = [s.frame for s in self.slots if s.level == self.steps]
        self.slots = [s for s in self.slots if s.level < self.steps]
        return done

    def __len__(self) -> int:
        return len(self.slots)


__all__ = ["StaggeredScheduler", "Slot", "noise_levels"]
