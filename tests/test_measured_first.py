"""Measured views first: a synthesized context view (its depth partly the fill's guess) only fills what the
recorded views leave uncovered; it never wins the z-test over what a recorded camera saw."""

from __future__ import annotations

import numpy as np
import pytest

from embodied_rerender.episode import CameraTrajectory
from embodied_rerender.generate import WarpSynthesizer
from embodied_rerender.memory import View

H, W, T = 24, 32, 2
K = np.array([[30.0, 0, (W - 1) / 2], [0, 30.0, (H - 1) / 2], [0, 0, 1]])
POSE = np.repeat(np.diag([1.0, -1.0, -1.0, 1.0])[None], T, 0)  # looking straight down
TRUE, GUESS = (20, 200, 40), (230, 20, 230)


def trajectory() -> CameraTrajectory:
    return CameraTrajectory(POSE.copy(), K, H, W)


def views():
    """A recorded floor 1 m away that misses the left quarter (depth 0) and a synthesized view of the same
    camera whose (guessed) surface is nearer, 0.6 m, everywhere."""
    depth = np.ones((T, H, W), np.float32)
    depth[:, :, : W // 4] = 0
    recorded = View("head", np.full((T, H, W, 3), TRUE, np.uint8), depth, trajectory())
    guessed = View("hand_left", np.full((T, H, W, 3), GUESS, np.uint8), np.full((T, H, W), 0.6, np.float32),
                   trajectory(), provenance={"generator": "warp"})
    return [guessed, recorded]  # retrieval order: the synthesized view ranked first


@pytest.mark.parametrize("backend", ["torch", "auto"])
@pytest.mark.parametrize("temporal_gap", [0, None], ids=["spatial", "temporal"])
def test_synthesized_views_only_fill_what_measured_views_leave(backend, temporal_gap):
    out = WarpSynthesizer(backend=backend, temporal_gap=temporal_gap).synthesize(views(), trajectory(), 0)
    inner = out.frames[:, 2:-2, W // 4 + 2: -2].reshape(-1, 3)
    assert (inner == TRUE).all(), "the recorded view must win where it saw the scene"
    hole = out.frames[:, 2:-2, 2: W // 4 - 2].reshape(-1, 3)
    assert (hole == GUESS).all(), "the synthesized view fills what the recorded one did not see"
    assert out.covered.all()
    np.testing.assert_allclose(out.depth[:, :, W // 4 + 2:], 1.0, atol=1e-5)


def test_measured_first_off_is_a_plain_z_test():
    out = WarpSynthesizer(backend="torch", measured_first=False).synthesize(views(), trajectory(), 0)
    assert (out.frames[:, 2:-2, W // 4 + 2: -2].reshape(-1, 3) == GUESS).all()  # the nearer guess wins


def test_only_measured_or_only_synthesized_unchanged():
    recorded = views()[1]
    a = WarpSynthesizer(backend="torch").synthesize([recorded], trajectory(), 0)
    b = WarpSynthesizer(backend="torch", measured_first=False).synthesize([recorded], trajectory(), 0)
    np.testing.assert_array_equal(a.frames, b.frames)
