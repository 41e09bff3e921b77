"""The static-scene memory of the warp synthesizer: a hole that only another instant saw is filled with the
true background, and a moving object that was there only at that other instant does not ghost."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from embodied_rerender.episode import CameraTrajectory
from embodied_rerender.generate import WarpSynthesizer
from embodied_rerender.generate.warp import static_views
from embodied_rerender.memory import View

H, W, T, NOW, BEFORE = 48, 64, 11, 10, 5
K = np.array([[50.0, 0, (W - 1) / 2], [0, 50.0, (H - 1) / 2], [0, 0, 1]])
# Near squares at height 0.5 m over the floor z = 0: (x0, x1, y0, y1) and the frames they are there.
OCCLUDER = ((-0.12, 0.02, -0.08, 0.08), range(8, 11))  # hides the floor from the source at NOW, not at BEFORE
GHOST = ((0.12, 0.22, -0.1, 0.0), range(3, 7))          # there at BEFORE only


def down_camera(x: float, y: float, height: float) -> np.ndarray:
    """`(4, 4)` camera-to-world looking straight down from `height` above the floor."""
    pose = np.eye(4)
    pose[:3, :3] = np.diag([1.0, -1.0, -1.0])
    pose[:3, 3] = [x, y, height]
    return pose


def floor_colour(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    rgb = np.stack([np.sin(37 * x) * np.cos(23 * y), np.sin(53 * y + 1), np.cos(29 * (x + y))], -1)
    return ((rgb * 0.5 + 0.5) * 255).astype(np.uint8)


def head_view(squares: list, drift: float = 0.0) -> View:
    """A camera 1 m above the floor, moving `drift` metres along x a frame; `squares` at 0.5 m pass under it
    (red, depth 0.5)."""
    poses = np.stack([down_camera(drift * t, 0.0, 1.0) for t in range(T)])
    v, u = np.mgrid[0:H, 0:W].astype(np.float64)
    frames = np.zeros((T, H, W, 3), np.uint8)
    depth = np.ones((T, H, W), np.float32)
    for t, pose in enumerate(poses):
        rays = np.stack([(u - K[0, 2]) / K[0, 0], (v - K[1, 2]) / K[1, 1], np.ones_like(u)], -1) @ pose[:3, :3].T
        floor, near = rays * 1.0 + pose[:3, 3], rays * 0.5 + pose[:3, 3]
        frames[t] = floor_colour(floor[..., 0], floor[..., 1])
        for (x0, x1, y0, y1), when in squares:
            inside = (near[..., 0] >= x0) & (near[..., 0] <= x1) & (near[..., 1] >= y0) & (near[..., 1] <= y1)
            if t in when:
                frames[t][inside] = (230, 20, 20)
                depth[t][inside] = 0.5
    return View("head", frames, depth, CameraTrajectory(poses, K, H, W))


def target() -> CameraTrajectory:
    return CameraTrajectory(np.repeat(down_camera(0.12, 0.03, 0.8)[None], T, 0), K, H, W)


@pytest.mark.parametrize("drift", [0.0, 0.01], ids=["still", "moving"])
def test_static_memory_fills_from_another_instant_without_ghosts(drift):
    truth = WarpSynthesizer().synthesize([head_view([], drift)], target(), 0)  # the floor alone
    scene = head_view([OCCLUDER, GHOST], drift)
    plain = WarpSynthesizer().synthesize([scene], target(), 0)
    memory = WarpSynthesizer(static_memory=2, static_stride=5).synthesize([scene], target(), 0)
    hole = ~plain.covered[NOW] & truth.covered[NOW]  # floor the target sees that the source hides at NOW
    assert hole.sum() > 40
    err = lambda s: np.abs(s.frames[NOW].astype(int) - truth.frames[NOW].astype(int)).max(-1)  # noqa: E731
    # Filled from BEFORE with the floor's true colour, where the fill alone guessed.
    assert memory.covered[NOW][hole].mean() > 0.95
    # (From a moving camera the floor is resampled from another pose: its centimetre-scale texture aliases.)
    assert err(memory)[hole].mean() < (2.0 if drift == 0 else 25.0) and err(plain)[hole].mean() > 100.0
    # The occluder is still there at NOW (nearest surface wins) and the square seen only at BEFORE is not.
    near = lambda s: s.covered[NOW] & (s.depth[NOW] < 0.5)  # the squares are 0.3 m from the target  # noqa: E731
    assert np.array_equal(near(memory), near(plain)) and near(plain).sum() > 40
    # Elsewhere it changes only what comes closer to the truth (floor splats at the occluder's edge).
    assert (err(memory)[~hole] <= err(plain)[~hole]).all()
    # At BEFORE the ghost square is really in the scene: the same-instant view shows it, the memory keeps it.
    assert memory.covered[BEFORE][plain.depth[BEFORE] < 0.5].all()
    assert np.array_equal(near(memory), near(truth) | near(plain))


def test_static_views_keep_only_static_surfaces_unseen_at_t():
    view = head_view([OCCLUDER, GHOST])
    frames, depth = torch.from_numpy(view.frames), torch.from_numpy(view.depth)
    ks = torch.tensor(view.trajectory.intrinsics_per_frame(), dtype=torch.float32)
    poses = torch.tensor(view.trajectory.extrinsics, dtype=torch.float32)
    images, kept, _, _ = static_views(frames, depth, ks, poses, 0, torch.tensor([NOW, BEFORE]), 1, 5)
    # NOW = 10: the instants are 5 and 0 (nothing after 10); each keeps the floor the occluder hides at NOW.
    occluded = view.depth[NOW] < 0.9
    for c in range(2):
        assert (kept[0, c].numpy()[occluded] == 1.0).all() and (kept[0, c].numpy()[~occluded] == 0).all()
    # BEFORE = 5: instants 0 and 10 keep the floor under the square there at 5, never a square: at 10 the
    # occluder is seen through by 0 and 5 (both saw the floor behind it), so it is not kept.
    ghost = view.depth[BEFORE] < 0.9
    assert (kept[1].numpy()[:, ghost] == 1.0).all() and (kept[1].numpy()[:, ~ghost] == 0).all()
    assert (images[1].numpy()[:, ghost] != (230, 20, 20)).any(-1).all()


def test_static_memory_option_is_checked():
    with pytest.raises(ValueError, match="static_memory"):
        WarpSynthesizer(static_memory=-1)


def test_streamed_context_with_the_memory_equals_the_whole_context():
    # The streamed-context choice (CUDA's) with the memory on must give the whole context's frames; on a CPU both
    # are slices, so the choice runs here.
    scene = [head_view([OCCLUDER, GHOST], 0.01)]
    whole = WarpSynthesizer(static_memory=2, static_stride=5, chunk=4)
    streamed = WarpSynthesizer(static_memory=2, static_stride=5, chunk=4)
    streamed.streamed = True
    a, b = (s.synthesize(scene, target(), 0) for s in (whole, streamed))
    assert np.array_equal(a.frames, b.frames) and np.array_equal(a.covered, b.covered)
    assert (a.frames != WarpSynthesizer(chunk=4).synthesize(scene, target(), 0).frames).any()  # the memory acted


def test_auto_static_memory_is_on_only_on_cuda():
    assert WarpSynthesizer(static_memory="auto").static_memory == 0  # this test runs on the CPU
    assert WarpSynthesizer(static_memory="auto", device="cuda").static_memory == 2
