"""Rigid head-camera offsets: a translation and the rotation that keeps the camera on the same spot.

An offset is a `(4, 4)` pose in the camera's own OpenCV frame (x right, y down, z forward): the moved
camera is `c2w @ offset`. "Matching rotation": after moving by t, the camera turns (by the smallest
rotation) so its optical axis passes again through the point it looked at, `look_m` ahead on the old axis.
A 10 cm move at 0.6 m turns the camera by about 9.5 degrees.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

LOOK_M = 0.6  # the head camera looks at the table about this far ahead


def aimed_offset(translation, look_m: float = LOOK_M) -> np.ndarray:
    """`(4, 4)` offset that moves the camera by `translation` `(3,)` m (camera frame) and re-aims it at the
    point `look_m` ahead of the original camera."""
    t = np.asarray(translation, dtype=np.float64)
    axis = np.array([0.0, 0.0, look_m]) - t
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


def shift_offset(distance_m: float, rng: np.random.Generator, look_m: float = LOOK_M) -> np.ndarray:
    """An aimed offset of exactly `distance_m` in a random direction (an evaluation shift)."""
    return aimed_offset(distance_m * random_direction(rng), look_m)


def sampled_offset(max_translation_m: float, rng: np.random.Generator, look_m: float = LOOK_M) -> np.ndarray:
    """An aimed offset of a random distance in [0, max_translation_m] (a training viewpoint)."""
    return aimed_offset(rng.uniform(0.0, max_translation_m) * random_direction(rng), look_m)


def rotation_deg(offset: np.ndarray) -> float:
    """The rotation angle of an offset (degrees)."""
    return float(np.degrees(Rotation.from_matrix(offset[:3, :3]).magnitude()))
