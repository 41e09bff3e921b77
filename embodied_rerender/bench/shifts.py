"""Head-camera shifts of the benchmark: a move in the image plane and the rotation that keeps the camera on the
same spot, the point `LOOK_M` ahead (`geometry.offsets`; augment's `head_shift.aim_m` draws training views the
same way)."""

from __future__ import annotations

import numpy as np

from ..geometry.offsets import aimed_offset, random_direction, rotation_deg  # noqa: F401 - the benchmark's names

LOOK_M = 0.6  # the head camera looks at the table about this far ahead


def shift_offset(distance_m: float, rng: np.random.Generator, look_m: float = LOOK_M) -> np.ndarray:
    """An aimed offset of exactly `distance_m` in a random direction (an evaluation shift)."""
    return aimed_offset(distance_m * random_direction(rng), look_m)
