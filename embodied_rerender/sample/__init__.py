"""The built-in sample scene: a seeded MuJoCo tabletop with a two-armed robot doing scripted
pick-and-place, rendered from the head and both wrist cameras and written in the AgiBot World raw
layout (`write_sample_dataset`), with ground-truth depth and object poses beside it.

Modules: `scene` (seeded scene draw, default or domain-randomised, + MJCF), `embodiment` (robot designs),
`robot` (the robot MJCF of a design), `ik` (damped least squares),
`motion` (scripted phases), `episode` (kinematic rollout + rendering), `cameras` (MuJoCo -> OpenCV),
`write` (the dataset writer). Importing this package imports MuJoCo (and, on a machine without a
display, sets MUJOCO_GL to an offscreen backend unless it is set already).
"""

from __future__ import annotations

import ctypes.util
import os


def _default_gl_backend() -> None:
    """Headless machines need an offscreen GL backend chosen before MuJoCo is imported: OSMesa
    (software) where its library is installed, else EGL (GPU). An explicit MUJOCO_GL wins."""
    if "MUJOCO_GL" in os.environ or os.environ.get("DISPLAY"):
        return
    os.environ["MUJOCO_GL"] = "osmesa" if ctypes.util.find_library("OSMesa") else "egl"


_default_gl_backend()

from .episode import SampleEpisode
from .embodiment import DEFAULT_EMBODIMENT, EMBODIMENTS
from .write import DEFAULT_TASK_ID, EPISODE_ID_BASE, NEAR_LOSSLESS, VideoSettings, write_sample_dataset

__all__ = ["SampleEpisode", "write_sample_dataset", "DEFAULT_TASK_ID", "EPISODE_ID_BASE", "EMBODIMENTS",
           "DEFAULT_EMBODIMENT", "NEAR_LOSSLESS", "VideoSettings"]
