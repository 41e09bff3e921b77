"""Two small AgiBot-layout episodes read back as Episodes, for the dataset writer tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from agibot_fixtures import make_episode
from embodied_rerender.io.agibot import AgiBotReader

LENGTHS = (10, 12)


def two_episodes(root: Path, cameras: tuple[str, ...] = ("head", "hand_left", "hand_right")) -> list:
    """Episodes "327/100" (10 frames) and "327/101" (12 frames) with 32x24 videos, depth and poses."""
    for episode, n in zip(("100", "101"), LENGTHS):
        make_episode(root, episode=episode, n=n, cameras=cameras)
    reader = AgiBotReader(root)
    return [reader.read(ref) for ref in reader.refs()]


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of two uint8 image arrays (inf when equal)."""
    err = np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2)
    return float("inf") if err == 0 else float(10 * np.log10(255.0**2 / err))


def assert_same_annotations(a, b) -> None:
    """Ids, task text, scene, segments, names and timestamps equal."""
    assert (a.episode_id, a.task_id, a.task, a.scene, a.fps) == (b.episode_id, b.task_id, b.task, b.scene, b.fps)
    assert a.segments == b.segments
    assert a.names == b.names
    np.testing.assert_array_equal(a.timestamps, b.timestamps)


def assert_same_lowdim(a, b, action_atol: float = 0.0) -> None:
    """State and action dicts: same keys in the same order, shapes, float64 values; bit-exact, except actions
    within `action_atol` (a writer that stores them normalized maps them back to within float64 rounding)."""
    for group in ("state", "action"):
        src, got = getattr(a, group), getattr(b, group)
        assert list(src) == list(got)
        for key in src:
            assert got[key].dtype == np.float64 and got[key].shape == src[key].shape, key
            atol = action_atol if group == "action" else 0.0
            np.testing.assert_allclose(got[key], src[key], rtol=0, atol=atol, err_msg=key)


def assert_same_cameras(a, b, lossless: bool) -> None:
    """Camera set, trajectories exact, frames equal (lossless) or PSNR >= 40 dB."""
    assert set(a.cameras) == set(b.cameras)
    for name, cam in a.cameras.items():
        got = b.cameras[name]
        np.testing.assert_array_equal(got.trajectory.extrinsics, cam.trajectory.extrinsics)
        np.testing.assert_array_equal(got.trajectory.intrinsics, cam.trajectory.intrinsics)
        assert (got.trajectory.height, got.trajectory.width) == (cam.trajectory.height, cam.trajectory.width)
        src, frames = cam[:], got[:]
        assert frames.shape == src.shape and frames.dtype == np.uint8
        if lossless:
            np.testing.assert_array_equal(frames, src)
        else:
            assert psnr(frames, src) >= 40.0
        np.testing.assert_array_equal(got[[5, 1, 1]], src[[5, 1, 1]] if lossless else got[:][[5, 1, 1]])
