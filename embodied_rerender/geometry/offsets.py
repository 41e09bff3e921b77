"""Rigid camera offsets that keep a camera on the same spot: a move in the camera's image plane and the
smallest rotation that re-aims its optical axis at the point it looked at.

An offset is a `(4, 4)` pose in the camera's own OpenCV frame (x right, y down, z forward): the moved camera is
`c2w @ offset`. Numpy (float64), for target builders and the benchmark's camera moves alike.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation


def aimed_offset(translation, aim_m: float) -> np.ndarray:
    """`(4, 4)` offset that moves the camera by `translation` `(3,)` m (camera frame) and re-aims it at the
    point `aim_m` ahead of the original camera. A 10 cm move at 0.6 m turns the camera by about 9.5 degrees."""
    t = np.asarray(translation, dtype=np.float64)
    axis = np.array([0.0, 0.0, aim_m]) - t
    axis /= np.linalg.norm(axis)
    z = np.array([0.0, 0.0, 1.0])
    cross = np.cross(z, axis)
    angle = np.arctan2(np.linalg.norm(cross), float(z @ axis))
    rot = Rotation.from_rotvec(cross / np.linalg.norm(cross) * angle) if angle > 1e-12 else Rotation.identity()
    out = np.eye(4)
    out[:3, :3] = rot.as_matrix()
    out[:3, 3] = t
    return out


def random_direction(rng: np.random.Generator) -> np.ndarray:
    """A unit vector `(3,)` in the camera's image plane (x, y), uniform in angle: a sideways or up/down move,
    the kind a remounted camera makes (a move along the optical axis would barely change the view)."""
    angle = rng.uniform(0.0, 2 * np.pi)
    return np.array([np.cos(angle), np.sin(angle), 0.0])


def sampled_offset(max_translation_m: float, rng: np.random.Generator, aim_m: float) -> np.ndarray:
    """An aimed offset of a random distance in [0, max_translation_m] in a random image-plane direction."""
    return aimed_offset(rng.uniform(0.0, max_translation_m) * random_direction(rng), aim_m)


def rotation_deg(offset: np.ndarray) -> float:
    """The rotation angle of an offset `(4, 4)` (degrees)."""
    return float(np.degrees(Rotation.from_matrix(offset[:3, :3]).magnitude()))
