"""Memory bank retrieval and the autoregressive loop on a synthetic textured floor seen from above."""

from __future__ import annotations

import numpy as np
import torch

from embodied_rerender.episode import CameraTrajectory
from embodied_rerender.generate import Target, WarpSynthesizer, run_autoregressive
from embodied_rerender.memory import MemoryBank, View

H, W, T = 48, 64, 3
K = np.array([[50.0, 0, (W - 1) / 2], [0, 50.0, (H - 1) / 2], [0, 0, 1]])


def down_camera(x: float, y: float, height: float, yaw_deg: float = 0.0) -> np.ndarray:
    """`(4, 4)` camera-to-world looking straight down (-z world) from `height` above the floor z = 0."""
    yaw = np.radians(yaw_deg)
    rz = np.array([[np.cos(yaw), -np.sin(yaw), 0], [np.sin(yaw), np.cos(yaw), 0], [0, 0, 1]])
    pose = np.eye(4)
    pose[:3, :3] = rz @ np.diag([1.0, -1.0, -1.0])  # camera z -> world -z, y -> world -y
    pose[:3, 3] = [x, y, height]
    return pose


def trajectory(pose: np.ndarray) -> CameraTrajectory:
    return CameraTrajectory(np.repeat(pose[None], T, 0), K, H, W)


def floor_view(name: str, pose: np.ndarray, hole: tuple[slice, slice] | None = None) -> View:
    """A view of a procedurally textured floor: colour is a function of world x, y (so views agree)."""
    v, u = np.mgrid[0:H, 0:W].astype(np.float64)
    height = pose[2, 3]
    rays = np.stack([(u - K[0, 2]) / K[0, 0], (v - K[1, 2]) / K[1, 1], np.ones_like(u)], -1)
    world = (rays * height) @ pose[:3, :3].T + pose[:3, 3]
    x, y = world[..., 0], world[..., 1]
    rgb = np.stack([np.sin(37 * x) * np.cos(23 * y), np.sin(53 * y + 1), np.cos(29 * (x + y))], -1)
    frames = np.repeat(((rgb * 0.5 + 0.5) * 255).astype(np.uint8)[None], T, 0)
    depth = np.full((T, H, W), height, np.float32)
    if hole is not None:
        depth[:, hole[0], hole[1]] = 0.0  # the source never saw this patch
    return View(name, frames, depth, trajectory(pose))


def test_retrieval_prefers_covisible_over_closer_facing_away():
    target = trajectory(down_camera(0.0, 0.0, 1.0))
    bank = MemoryBank(near=0.1, far=2.0, num_samples=512)
    covisible = floor_view("covisible", down_camera(0.3, 0.0, 1.0))
    away = np.eye(4)
    away[:3, 3] = [0.0, 0.05, 1.0]  # 5 cm from the target but looking up (+z world), away from the floor
    bank.add(floor_view("facing_away", away))
    bank.add(covisible)
    gen = torch.Generator().manual_seed(0)
    found = bank.retrieve(target, 1, "covisibility", gen)
    assert [bank[i].name for i in found.indices] == ["covisible"]
    assert found.scores[1] > 0.3 and found.scores[0] < 0.05
    dist = {v.name: np.linalg.norm(v.trajectory.centers[0] - target.centers[0]) for v in bank.views}
    assert dist["facing_away"] < dist["covisible"] / 5  # it is the closer camera, yet sees nothing of the floor
    again = bank.retrieve(target, 2, "random", torch.Generator().manual_seed(3)).indices
    assert again == bank.retrieve(target, 2, "random", torch.Generator().manual_seed(3)).indices


def test_top_k_keeps_one_recorded_view_when_synthesized_ones_outrank_it():
    target = trajectory(down_camera(0.0, 0.0, 0.6))
    bank = MemoryBank(near=0.1, far=2.0, num_samples=512)
    bank.add(floor_view("head", down_camera(0.35, 0.0, 1.0)))  # recorded, sees the target's floor less well
    for i, dx in enumerate((0.0, 0.02, -0.02)):  # written back next to the target: they outrank the head
        view = floor_view(f"synth{i}", down_camera(dx, 0.0, 0.6))
        view.provenance = {"generator": "warp"}
        bank.add(view)
    gen = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    plain = bank.retrieve(target, 3, "covisibility", gen(), keep_measured=False)
    assert "head" not in [bank[i].name for i in plain.indices] and plain.scores[0] > 0
    kept = bank.retrieve(target, 3, "covisibility", gen())
    names = [bank[i].name for i in kept.indices]
    assert names[-1] == "head" and names[:2] == [bank[i].name for i in plain.indices][:2]
    assert [bank[i].name for i in bank.retrieve(target, 1, "covisibility", gen()).indices] == [bank[plain.indices[0]].name]
    assert bank.retrieve(target, 4, "covisibility", gen()).indices == bank.retrieve(target, 4, "covisibility", gen(),
                                                                                   keep_measured=False).indices


def test_write_back_makes_second_trajectory_agree_in_the_hole():
    hole = (slice(16, 32), slice(24, 40))
    first = Target("first", trajectory(down_camera(0.0, 0.0, 0.6)))
    second = Target("second", trajectory(down_camera(0.04, 0.02, 0.55, yaw_deg=10)))
    synth = WarpSynthesizer(chunk=2)
    results = {}
    for write_back in (True, False):
        bank = MemoryBank(near=0.1, far=2.0, num_samples=256)
        bank.add(floor_view("head", down_camera(0.0, 0.0, 1.0), hole))
        steps = run_autoregressive(bank, [first, second], synth, k=2, seed=0, write_back=write_back)
        results[write_back] = steps
    with_bank, without = results[True], results[False]
    assert sorted(with_bank[1].context) == ["first", "head"] and without[1].context == ["head"]
    # the first view, carried into the second camera with its own (filled) depth, is what the second should show
    bank = MemoryBank()
    s1 = with_bank[0].synthesis
    bank.add(View("first", s1.frames, s1.depth, first.trajectory))
    expected = WarpSynthesizer().synthesize([bank[0]], second.trajectory, 0)
    hole_in_second = ~without[1].synthesis.covered & expected.covered  # the head never saw it; the first view did

    def error(steps):
        a = steps[1].synthesis.frames.astype(float)
        return np.abs(a - expected.frames)[hole_in_second].mean()

    assert hole_in_second.sum() > 50
    assert error(with_bank) < 0.5 * error(without) and error(with_bank) < 4.0


def test_bank_save_load_round_trip(tmp_path):
    bank = MemoryBank(near=0.2, far=3.0, num_samples=64)
    bank.add(floor_view("head", down_camera(0, 0, 1.0)))
    view = floor_view("synth", down_camera(0.1, 0, 0.8))
    view.provenance = {"generator": "warp"}
    bank.add(view)
    bank.save(tmp_path / "bank")
    back = MemoryBank.load(tmp_path / "bank")
    assert (back.near, back.far, back.num_samples, len(back)) == (0.2, 3.0, 64, 2)
    np.testing.assert_array_equal(back["synth"].frames, view.frames)
    np.testing.assert_array_equal(back["synth"].trajectory.extrinsics, view.trajectory.extrinsics)
    assert back["synth"].provenance == {"generator": "warp"}


class Recording(WarpSynthesizer):
    """The warp synthesizer, keeping the context it was given."""

    def __init__(self):
        super().__init__(chunk=3)
        self.seen = []

    def synthesize(self, context, target, start, generator=None, parts=None):
        self.seen.append(context)
        return super().synthesize(context, target, start, generator, parts)


def merge_bank() -> MemoryBank:
    bank = MemoryBank(near=0.1, far=2.0, num_samples=512)
    for i, x in enumerate((0.0, 0.15, 0.3, 0.45)):  # co-visible with the target less and less
        view = floor_view(f"v{i}", down_camera(x, 0.0, 1.0))
        view.frames[:] = view.frames * 0 + np.arange(T, dtype=np.uint8)[:, None, None, None] + 10 * i  # who, when
        bank.add(view)
    return bank


def test_merge_gives_k_views_built_from_the_candidates_per_schedule():
    from embodied_rerender.geometry.covisibility import merge_schedule

    target = Target("t", trajectory(down_camera(0.0, 0.0, 0.9)))
    bank = merge_bank()
    synth = Recording()
    step = run_autoregressive(bank, [target], synth, k=3, seed=0, write_back=False, merge=True)[0]
    context = synth.seen[0]
    assert len(context) == 3 and [v.name for v in context[:2]] == ["v0", "v1"]
    assert step.context == [v.name for v in context]
    merged = context[2]
    # The l - k + 1 = 2 least co-visible fused, the better one first, frames shared per the schedule.
    assert merged.provenance["merged"] == ["v2", "v3"] and merged.name == "merge(v2+v3)"
    schedule = merge_schedule(2, T).tolist()
    assert merged.provenance["frame_source"] == [f"v{2 + m}" for m in schedule] == ["v2", "v2", "v3"]
    for f, name in enumerate(merged.provenance["frame_source"]):
        np.testing.assert_array_equal(merged.frames[f], bank[name].frames[f])
        np.testing.assert_array_equal(merged.trajectory.extrinsics[f], bank[name].trajectory.extrinsics[f])
    assert 0 < step.scores[merged.name] <= 1


def test_merge_changes_nothing_with_at_most_k_candidates():
    target = Target("t", trajectory(down_camera(0.0, 0.0, 0.9)))
    runs = {}
    for merge in (False, True):
        synth = Recording()
        step = run_autoregressive(merge_bank(), [target], synth, k=4, seed=0, write_back=False, merge=merge)[0]
        runs[merge] = (step, [v.name for v in synth.seen[0]])
    assert runs[True][1] == runs[False][1] == ["v0", "v1", "v2", "v3"]
    assert runs[True][0].scores == runs[False][0].scores
    np.testing.assert_array_equal(runs[True][0].synthesis.frames, runs[False][0].synthesis.frames)
