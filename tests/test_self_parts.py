"""The robot's own parts: the template finds a fixed overlay on a moving background (and not the background),
the bin nearest the gripper opening is composited over the warp, and source points in the mask are dropped."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from embodied_rerender.episode import ArrayFrames, CameraStream, CameraTrajectory, Episode
from embodied_rerender.generate import Target, WarpSynthesizer
from embodied_rerender.generate.self_parts import PartsFrames, attach_parts, gripper_opening, target_parts
from embodied_rerender.memory import View
from embodied_rerender.render.self_parts import (PartsOverlay, build_self_parts, constant_mask, drop_self_points,
                                                 load_library, save_library)

H, W, T = 24, 32, 40
K = np.array([[30.0, 0, (W - 1) / 2], [0, 30.0, (H - 1) / 2], [0, 0, 1]])
OPEN, CLOSED = 0.0, 50.0


def finger(opening: float) -> np.ndarray:
    """``(H, W)`` bool: a bar from the bottom edge, further in when the gripper is closed."""
    mask = np.zeros((H, W), bool)
    left = 4 if opening < 25 else 10
    mask[16:, left:left + 5] = True
    return mask


def wrist_frames(openings: np.ndarray, seed: int = 0) -> np.ndarray:
    """``(T, H, W, 3)`` uint8: a random texture scrolling by 3 px a frame (the camera moving over the scene),
    with the finger of each frame's opening painted over it (dark grey open, dark blue closed)."""
    rng = np.random.default_rng(seed)
    texture = rng.integers(0, 256, (H, W + 3 * len(openings), 3), dtype=np.uint8)
    frames = np.stack([texture[:, 3 * t:3 * t + W] for t in range(len(openings))])
    for frame, o in zip(frames, openings):
        frame[finger(o)] = (40, 40, 40) if o < 25 else (20, 20, 120)
    return frames


def openings() -> np.ndarray:
    return np.where(np.arange(T) % 2 == 0, OPEN, CLOSED)


def test_constant_mask_finds_the_fixed_overlay_not_the_moving_background():
    frames = wrist_frames(np.zeros(T))
    median, mask = constant_mask(frames)
    assert mask[finger(OPEN)].mean() > 0.95
    assert not mask[~finger(OPEN)].any()
    assert (median[finger(OPEN)] == 40).all()


def test_build_bins_by_opening_and_select_takes_the_nearest_bin():
    parts = build_self_parts("hand_left", wrist_frames(openings()), openings(), bins=4, min_frames=8)
    np.testing.assert_array_equal(parts.openings, [OPEN, CLOSED])  # empty middle bins are left out
    for b, o in enumerate((OPEN, CLOSED)):
        assert parts.masks[b][finger(o)].mean() > 0.95 and not parts.masks[b][~finger(o)].any()
    np.testing.assert_array_equal(parts.select(np.array([3.0, 24.0, 26.0, 47.0, 80.0])), [0, 0, 1, 1, 1])


def test_a_still_camera_gives_no_mask():
    frames = np.repeat(wrist_frames(np.zeros(1)), 20, axis=0)  # nothing moves: everything is "constant"
    parts = build_self_parts("hand_left", frames, np.zeros(20))
    assert not parts.masks.any()


def test_library_round_trip(tmp_path):
    parts = build_self_parts("hand_left", wrist_frames(openings()), openings(), near=0.04)
    save_library({"hand_left": parts}, tmp_path / "parts.npz")
    back = load_library(tmp_path / "parts.npz")["hand_left"]
    np.testing.assert_array_equal(back.masks, parts.masks)
    np.testing.assert_array_equal(back.images, parts.images)
    np.testing.assert_array_equal(back.openings, parts.openings)
    assert back.near == 0.04


def down_pose(x: float = 0.0) -> np.ndarray:
    pose = np.eye(4)
    pose[:3, :3] = np.diag([1.0, -1.0, -1.0])
    pose[:3, 3] = [x, 0.0, 1.0]
    return pose


def test_drop_removes_points_in_the_mask_and_nearer_than_near():
    depth = torch.ones(1, 1, H, W)
    depth[0, 0, :4, :4] = 0.3  # something right in front of the camera (the arm), outside the mask
    pose = torch.as_tensor(down_pose(), dtype=torch.float32)
    k = torch.as_tensor(K, dtype=torch.float32)
    mask = torch.from_numpy(finger(OPEN))[None]
    out = drop_self_points(depth, k[None, None], pose[None, None], k[None], pose[None], mask, near=0.5)
    expect = depth.clone()
    expect[0, 0][mask[0]] = 0  # same camera: every point lands on its own pixel
    expect[0, 0, :4, :4] = 0
    torch.testing.assert_close(out, expect)
    kept = drop_self_points(depth, k[None, None], pose[None, None], k[None], pose[None], mask)  # near 0: mask only
    assert (kept[0, 0, :4, :4] == 0.3).all()


def source_view(colour: tuple[int, int, int] = (200, 100, 50)) -> View:
    """A head camera at the target's pose seeing a flat floor 1 m away in one colour."""
    poses = np.stack([down_pose()] * T)
    frames = np.broadcast_to(np.array(colour, np.uint8), (T, H, W, 3)).copy()
    return View("head", frames, np.ones((T, H, W), np.float32), CameraTrajectory(poses, K, H, W))


def test_composite_uses_the_bin_nearest_the_opening():
    parts = build_self_parts("hand_left", wrist_frames(openings()), openings(), bins=4)
    target_openings = np.where(np.arange(T) < T // 2, 5.0, 45.0)  # open, then nearly closed
    images, masks = parts.overlay(target_openings)
    target = source_view().trajectory
    plain = WarpSynthesizer().synthesize([source_view()], target, 0)
    out = WarpSynthesizer().synthesize([source_view()], target, 0, parts=PartsFrames(images, masks))
    for t in (0, T - 1):
        m = finger(OPEN if t < T // 2 else CLOSED)
        np.testing.assert_array_equal(masks[t], parts.masks[0 if t < T // 2 else 1])
        np.testing.assert_array_equal(out.frames[t][masks[t]], parts.images[0 if t < T // 2 else 1][masks[t]])
        assert (out.frames[t][m & masks[t]] == ((40, 40, 40) if t < T // 2 else (20, 20, 120))).all()
        np.testing.assert_array_equal(out.frames[t][~masks[t]], plain.frames[t][~masks[t]])  # the rest: the warp
        assert out.covered[t][masks[t]].all() and (out.depth[t][masks[t]] == 0).all()
    through_time = WarpSynthesizer(temporal_gap=None).synthesize([source_view()], target, 0,
                                                                 parts=PartsFrames(images, masks))
    np.testing.assert_array_equal(through_time.frames[masks], images[masks])  # the temporal fill's path too


def episode_with_wrist() -> Episode:
    ops = openings()
    state = {"effector.position": np.stack([ops, 50.0 - ops], 1)}
    traj = CameraTrajectory(np.stack([down_pose()] * T), K, H, W)
    cams = {"hand_left": CameraStream("hand_left", ArrayFrames(wrist_frames(ops)), traj),
            "hand_right": CameraStream("hand_right", ArrayFrames(wrist_frames(50.0 - ops, 1)), traj)}
    return Episode("e0", 10.0, cams, state=state, names={"effector.position": ["left_gripper", "right_gripper"]})


def test_openings_come_from_the_camera_side_and_only_that_camera_gets_parts():
    ep = episode_with_wrist()
    np.testing.assert_array_equal(gripper_opening(ep, "hand_right"), 50.0 - openings())
    assert gripper_opening(ep, "head") is None
    library = {"hand_left": build_self_parts("hand_left", ep.cameras["hand_left"][:], openings(), bins=4)}
    wrist = Target("hand_left_synth", ep.cameras["hand_left"].trajectory, ground_truth="hand_left")
    shifted = Target("shifted", CameraTrajectory(np.stack([down_pose(0.1)] * T), K, H, W), ground_truth="hand_left")
    other = Target("hand_right_synth", ep.cameras["hand_right"].trajectory, ground_truth="hand_right")
    parts = target_parts(ep, wrist, library)
    np.testing.assert_array_equal(parts.masks[0], library["hand_left"].masks[0])  # frame 0 open
    np.testing.assert_array_equal(parts.masks[1], library["hand_left"].masks[1])  # frame 1 closed
    assert target_parts(ep, shifted, library) is None and target_parts(ep, other, library) is None
    attach_parts(ep, [wrist, other], "auto")  # built from the episode's own frames of both wrists
    assert wrist.parts is not None and other.parts is not None
    assert other.parts.masks[0][finger(CLOSED)].mean() > 0.95  # hand_right is closed when hand_left is open


def test_a_held_out_wrist_gets_parts_by_its_target_alone():
    """The multi-shot table holds the wrists out of the episode (only their ground truth is packed): a target
    that says it replaces hand_left still gets hand_left's parts, picked by the episode's gripper opening."""
    ep = episode_with_wrist()
    library = {"hand_left": build_self_parts("hand_left", ep.cameras["hand_left"][:], openings(), bins=4)}
    traj = ep.cameras["hand_left"].trajectory
    del ep.cameras["hand_left"]
    parts = target_parts(ep, Target("hand_left", traj, ground_truth="hand_left"), library)
    np.testing.assert_array_equal(parts.masks[1], library["hand_left"].masks[1])
    assert target_parts(ep, Target("virtual_wrist_0", traj, ground_truth="virtual_wrist_0"), library) is None


def test_eval_refuses_parts_from_the_scored_episodes():
    from embodied_rerender.errors import DatasetError
    from embodied_rerender.evaluation.synthesizers import build_synthesizers

    with pytest.raises(DatasetError, match="held-out ground truth"):
        build_synthesizers({"device": "cpu", "self_parts": "auto"})
    assert build_synthesizers({"device": "cpu"})["warp"].self_parts is None
    assert build_synthesizers({"device": "cpu"})["warp"].static_memory == 0
    assert build_synthesizers({"device": "cpu", "static_memory": 2})["warp"].static_memory == 2  # eval static_memory=


@pytest.mark.parametrize("n", [1, 2, 7, 30, 128, 151])  # 151: the count, not the network
def test_compiled_constant_mask_equals_numpy(n):
    from embodied_rerender.render.self_parts import constant_mask, constant_mask_reference

    rng = np.random.default_rng(n)
    frames = rng.integers(0, 256, (n, 24, 32, 3), dtype=np.uint8)
    frames[:, :10] = 90 + rng.integers(0, 20, (n, 10, 32, 3), dtype=np.uint8)  # a part that holds (within tol)
    (median, mask), (ref_median, ref_mask) = constant_mask(frames), constant_mask_reference(frames)
    np.testing.assert_array_equal(median, ref_median)
    np.testing.assert_array_equal(mask, ref_mask)
    from embodied_rerender.render import numba_kernels

    if numba_kernels.available():  # both ways to the middle values, whichever "auto" picked above
        for method in ("sort", "count"):
            np.testing.assert_array_equal(numba_kernels.median_hits(frames, 12, method)[0], ref_median)


def test_square_opening_equals_scipy():
    from scipy.ndimage import binary_opening

    from embodied_rerender.render.self_parts import open_square

    rng = np.random.default_rng(0)
    for _ in range(200):  # sizes down to 1 pixel, every density, radii 1-3: the borders are where they could part
        (h, w), r = rng.integers(1, 30, 2), int(rng.integers(1, 4))
        mask = rng.random((h, w)) < rng.random()
        np.testing.assert_array_equal(open_square(mask, r), binary_opening(mask, np.ones((2 * r + 1,) * 2, bool)))


def test_parts_take_the_fused_cpu_path_and_match_the_torch_one():
    # Parts that drop no points are composited over the one-pass numba frames; the torch path (splat, fill,
    # composite in float) gives the same frames. With drop=True the points in the mask go before the splat.
    from embodied_rerender.render.prior import warp_frames

    pytest.importorskip("numba")
    parts = build_self_parts("hand_left", wrist_frames(openings()), openings(), bins=4)
    images, masks = parts.overlay(np.full(T, 5.0))
    view, target = source_view(), source_view().trajectory
    cams = (torch.from_numpy(view.frames)[:, None], torch.from_numpy(view.depth)[:, None],
            torch.tensor(view.trajectory.intrinsics_per_frame(), dtype=torch.float32)[:, None],
            torch.tensor(view.trajectory.extrinsics, dtype=torch.float32)[:, None],
            torch.tensor(target.intrinsics_per_frame(), dtype=torch.float32),
            torch.tensor(target.extrinsics, dtype=torch.float32), (H, W))
    overlay = PartsOverlay(torch.from_numpy(images), torch.from_numpy(masks))
    fused, ref = (warp_frames(*cams, backend=b, parts=overlay) for b in ("numba", "torch"))
    assert (fused.image.int() - ref.image.int()).abs().max() <= 1  # the fills agree to float rounding
    assert torch.equal(fused.covered, ref.covered) and torch.equal(fused.image[overlay.mask], ref.image[overlay.mask])
    dropped = warp_frames(*cams, backend="torch", parts=overlay._replace(drop=True))
    assert torch.equal(dropped.image[overlay.mask], ref.image[overlay.mask])  # the composite covers the mask either way
