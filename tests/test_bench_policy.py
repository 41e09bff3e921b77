"""bench-policy: the closed-loop env, the expert, head-camera moves, and the small end-to-end run."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("mujoco")

from embodied_rerender.bench.env import EnvConfig, PickPlaceEnv  # noqa: E402
from embodied_rerender.bench.expert import expert_actions, run_expert  # noqa: E402
from embodied_rerender.bench.rollout import wilson  # noqa: E402
from embodied_rerender.bench.shifts import aimed_offset, rotation_deg, shift_offset  # noqa: E402

SMALL = EnvConfig(width=48, height=32, frames=20)


@pytest.fixture(scope="module")
def env():
    e = PickPlaceEnv(SMALL)
    yield e
    e.close()


def test_reset_is_deterministic_from_the_seed(env):
    a = env.reset(3, 1)
    pos_a = env.object_positions()
    b = env.reset(3, 1)
    assert np.array_equal(a["state"], b["state"])
    assert np.array_equal(pos_a, env.object_positions())
    for cam in a["images"]:
        assert np.array_equal(a["images"][cam], b["images"][cam])
    c = env.reset(4, 1)
    assert not np.array_equal(pos_a, env.object_positions()) or not np.array_equal(a["images"]["head"], c["images"]["head"])
    assert a["state"].shape == (20,) and a["images"]["head"].shape == (32, 48, 3) and a["depth"]["head"].shape == (32, 48)


def test_scripted_expert_succeeds(env):
    for index in range(2):
        success, info = run_expert(env, 11, index)
        assert success, info
        assert info["placed"] == [True, True]


def test_task_scene_keeps_the_draw_and_marks_the_landing_spots():
    """The benchmark's scene: the full scene's two task objects (same poses, same plan), no distractors, and a
    landing-spot disc per task, visible from the head camera."""
    from embodied_rerender.sample.scene import draw_scene, episode_rng, task_scene

    full = draw_scene(episode_rng(3, 1))
    task = task_scene(full)
    assert len(task.objects) == 2 and task.target_marks and not any(l["castshadow"] for l in task.lights)
    for a, b in zip(full.tasks, task.tasks):
        assert full.objects[a.obj] == task.objects[b.obj] and a.place_xy == b.place_xy
    e = PickPlaceEnv(SMALL)
    try:
        obs = e.reset(3, 1)
        assert e.model.geom("target0") and e.model.geom("target1")
        seg = e.episode.render_current("head", ("segmentation",))["segmentation"][..., 0]
        assert {e.model.geom("target0").id, e.model.geom("target1").id} <= set(np.unique(seg).tolist())
        assert obs["images"]["head"].shape == (32, 48, 3)
    finally:
        e.close()


def test_doing_nothing_fails(env):
    obs = env.reset(11, 0)
    hold = np.concatenate([obs["state"][:14], [0, 0], obs["state"][16:20], [0, 0]])
    for _ in range(SMALL.frames):
        _, success, info = env.step(hold)
    assert not success and info["placed"] == [False, False]


def test_moving_the_head_camera_changes_the_view_and_nothing_else(env):
    offset = shift_offset(0.10, np.random.default_rng(0))
    assert 8.0 < rotation_deg(offset) < 11.0  # 10 cm re-aimed at 0.6 m
    runs = []
    for head_offset in (None, offset):
        record = []
        run_expert(env, 5, 0, head_offset, on_step=lambda o: record.append(o))
        runs.append((record, env.object_positions().copy()))
    (base, base_obj), (moved, moved_obj) = runs
    assert len(base) == len(moved)
    assert np.array_equal(base_obj, moved_obj)
    for a, b in zip(base, moved):
        assert np.array_equal(a["state"], b["state"])
        for cam in ("hand_left", "hand_right"):
            assert np.array_equal(a["images"][cam], b["images"][cam])
    assert np.mean([np.abs(a["images"]["head"].astype(int) - b["images"]["head"]).mean() for a, b in zip(base, moved)]) > 3


def test_another_look_changes_the_appearance_and_not_the_layout():
    """`look_seed`: the same layout (state, objects, the expert's success) under another scene's table, floor, sky
    and lights; the scene's own seed as look_seed is the scene itself."""
    import dataclasses

    looks = {}
    for look_seed in (None, 3, 1000):
        env = PickPlaceEnv(dataclasses.replace(SMALL, look_seed=look_seed))
        obs = env.reset(3, 1)
        looks[look_seed] = (obs, env.object_positions().copy(), run_expert(env, 3, 1)[0])
        env.close()
    (own, own_obj, own_ok), (same, same_obj, _), (other, other_obj, other_ok) = looks[None], looks[3], looks[1000]
    assert np.array_equal(own["images"]["head"], same["images"]["head"])
    assert np.array_equal(own["state"], other["state"]) and np.array_equal(own_obj, other_obj)
    assert own_ok and other_ok
    assert np.abs(own["images"]["head"].astype(int) - other["images"]["head"]).mean() > 3


def test_shared_looks_repeat_across_layouts_and_seeds():
    """`looks` K: scene i takes the look of scene i % K (of look_seed), so layouts share K looks, and evaluation
    scenes of another seed draw from the same K as the demonstrations when given their seed as look_seed."""
    from embodied_rerender.sample.episode import SampleEpisode

    def look(spec):
        return (spec.table_texture, spec.floor_texture, spec.sky_rgb, spec.lights)

    specs = {}
    for seed, index, look_seed in ((3, 0, None), (3, 1, None), (3, 2, None), (1000, 2, 3)):
        with SampleEpisode(seed, index, SMALL.frames, 32, 24, scene="one_arm", look_seed=look_seed, looks=2) as ep:
            specs[seed, index] = ep.spec
    with SampleEpisode(3, 0, SMALL.frames, 32, 24, scene="one_arm") as ep:
        own = ep.spec
    assert look(specs[3, 0]) == look(own) and specs[3, 0].objects == own.objects  # scene 0 keeps its own look
    assert look(specs[3, 2]) == look(specs[3, 0]) and specs[3, 2].objects != specs[3, 0].objects
    assert look(specs[3, 1]) != look(specs[3, 0])
    assert look(specs[1000, 2]) == look(specs[3, 0])
    with pytest.raises(ValueError, match="looks=0"):
        SampleEpisode(3, 0, SMALL.frames, 32, 24, looks=0)


def test_aimed_offset_keeps_the_look_at_point():
    off = aimed_offset([0.1, -0.05, 0.0], aim_m=0.6)
    point = np.array([0.0, 0.0, 0.6])
    in_new = off[:3, :3].T @ (point - off[:3, 3])  # the point in the moved camera's frame
    assert np.allclose(in_new[:2], 0.0, atol=1e-9) and in_new[2] > 0


def test_wilson_interval():
    lo, hi = wilson(35, 50)
    assert lo < 0.7 < hi and 0.55 < lo < 0.6 and 0.8 < hi < 0.83
    assert wilson(0, 10)[0] == 0.0 and wilson(10, 10)[1] == pytest.approx(1.0)


def test_expert_actions_are_the_recorded_actions(tmp_path):
    """The expert's actions are what the sample writer records as `action/...` (next joints, gripper, head, waist)."""
    from embodied_rerender.io import get_reader
    from embodied_rerender.sample import SampleEpisode, write_sample_dataset

    write_sample_dataset(tmp_path, episodes=1, frames=SMALL.frames, seed=2, width=32, height=24, progress=False)
    reader = get_reader("agibot", tmp_path)
    (ref,) = reader.refs()
    episode = reader.read(ref)
    with SampleEpisode(2, 0, SMALL.frames, 32, 24) as ep:
        actions = expert_actions(ep)
    recorded = np.concatenate([episode.action[k].reshape(SMALL.frames, -1) for k in
                               ("joint.position", "effector.position", "head.position", "waist.position", "robot.velocity")], axis=1)
    assert np.allclose(actions, recorded[:-1])


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    """`bench-policy small=true arms=[a,c]`: its output directory."""
    from embodied_rerender.cli import main

    out = tmp_path_factory.mktemp("bench") / "bench"
    assert main(["bench-policy", f"output={out}", "small=true", "arms=[a,c]", "progress=false"]) == 0
    return out


def test_small_end_to_end_through_the_cli(small_run):
    out = small_run
    results = json.loads((out / "results.json").read_text())
    assert results["expert"]["n"] == 2 and results["expert"]["successes"] == 2
    assert set(results["arms"]) == {"a", "c"}
    for arm, entry in results["arms"].items():
        assert entry["train"]["steps"] == 5
        assert set(entry["shifts"]) == {"0", "10"}
        for cell in entry["shifts"].values():
            assert cell["n"] == 2 and 0 <= cell["successes"] <= 2
            assert 0.0 <= cell["ci95"][0] <= cell["rate"] <= cell["ci95"][1] <= 1.0
        assert (out / "arms" / arm / "policy.safetensors").is_file()
        assert list((out / "arms" / arm / "videos").glob("*.mp4"))
    assert results["arms"]["c"]["train"]["views"] == 1 and results["arms"]["c"]["train"]["head_replaced_share"] > 0
    assert results["arms"]["a"]["train"]["head_replaced_share"] == 0
    assert (out / "demos" / "lerobot" / "meta" / "info.json").is_file()
    info = json.loads((out / "views" / "warp" / "meta" / "info.json").read_text())
    assert info["total_episodes"] == 6 and "observation.images.head" in info["features"]  # 3 recorded + 3 views
    demo_info = json.loads((out / "demos" / "lerobot" / "meta" / "info.json").read_text())
    codec = [i["features"]["observation.images.head"]["info"] for i in (info, demo_info)]
    assert [(c["video.codec"], c["video.pix_fmt"]) for c in codec] == [("h264", "yuv444p")] * 2  # demo_video
    assert (out / "success_vs_shift.png").stat().st_size > 0


def test_views_are_what_augment_writes(small_run):
    """The benchmark's training views are `augment output_mode=episodes targets=[head_shift]`'s episodes: their
    recorded offsets move the head camera in its image plane by at most max_translation_m and re-aim it at the
    point 0.6 m ahead (the evaluation shifts' geometry); `load_views` keys each by its demonstration's episode."""
    from embodied_rerender.bench.train import load_lerobot
    from embodied_rerender.bench.views import episode_records, load_views, write_views
    from embodied_rerender.io.lerobot import LeRobotReader

    views, demos = small_run / "views" / "warp", small_run / "demos" / "lerobot"
    report = json.loads((views / "report.json").read_text())
    assert report["writer"] == "lerobot" and report["summary"]["skipped"] == 0
    records = episode_records(views)
    synthetic = [r for r in records if r.get("synthetic")]
    assert len(synthetic) == 3 and [r["synthetic"]["target"] for r in synthetic] == ["head_shift_0"] * 3
    reader = LeRobotReader(views)
    recorded_index = {r["source_episode"]: r["episode_index"] for r in records if not r.get("synthetic")}
    for r in synthetic:
        syn = r["synthetic"]
        assert (syn["generator"], syn["replaces"], syn["provenance"]["aim_m"]) == ("warp", "head", 0.6)
        offset = np.array(syn["provenance"]["offset"])
        t = offset[:3, 3]
        assert abs(t[2]) < 1e-12 and np.linalg.norm(t) <= 0.15 + 1e-9  # bench-policy's max_translation_m
        in_new = offset[:3, :3].T @ (np.array([0.0, 0.0, 0.6]) - t)  # the aim point in the moved camera's frame
        assert np.allclose(in_new[:2], 0.0, atol=1e-9) and in_new[2] > 0
        shifted = reader.read(reader.refs()[r["episode_index"]]).cameras["head"].trajectory.extrinsics
        recorded = reader.read(reader.refs()[recorded_index[syn["source_episode"]]]).cameras["head"].trajectory.extrinsics
        np.testing.assert_allclose(shifted, recorded @ offset, atol=1e-5)
    demo_frames = load_lerobot(demos, ["head"])
    (view,) = load_views(views, demos, 1)
    assert sorted(set(view.episode.tolist())) == sorted(set(demo_frames.episode.tolist()))
    key = demo_frames.key()
    rows = [key[(int(e), int(f))] for e, f in zip(view.episode, view.frame)]
    assert np.array_equal(view.state.numpy(), demo_frames.state[rows].numpy())
    assert (view.images["head"].float() - demo_frames.images["head"][rows].float()).abs().mean() > 2
    with pytest.raises(ValueError, match="holds 1 head views"):
        load_views(views, demos, 2)
    before = (views / "report.json").stat().st_mtime_ns  # a complete views dataset is reused as it is
    assert write_views(small_run / "demos" / "agibot", views, "warp", 1, 0.15) == views
    assert (views / "report.json").stat().st_mtime_ns == before


def test_expert_with_binary_gripper_commands_succeeds(env):
    """What a binary gripper head runs (0 / 1 at p = 0.5) still completes the task when the joints are the expert's."""
    env.reset(0, 0)
    actions = expert_actions(env.episode).copy()
    actions[:, 14:16] = actions[:, 14:16] > 0.5
    for a in actions:
        _, success, _ = env.step(a)
    assert success


def test_binary_gripper_head_trains_to_a_zero_one_command():
    """The gripper entries are logits trained with BCE on closed = command > 0.5; `command` runs them as 0 / 1."""
    import torch

    from embodied_rerender.bench.policy import BCPolicy, PolicyConfig
    from embodied_rerender.bench.train import Frames, TrainConfig, train_policy

    n, g = 24, torch.Generator().manual_seed(0)
    action = torch.rand(n, 22, generator=g)
    action[:, 14:16] = torch.tensor([[0.2, 0.9]]).repeat(n, 1)
    frames = Frames({"head": torch.randint(0, 255, (n, 3, 24, 32), dtype=torch.uint8, generator=g)},
                    torch.rand(n, 20, generator=g), action, np.zeros(n, dtype=np.int64), np.arange(n))
    config = PolicyConfig(width=8, hidden=32, chunk=2, horizon=n)
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as d:
        summary = train_policy(frames, [], config, TrainConfig(steps=60, batch=8, state_noise=0.02), Path(d))
        policy = BCPolicy.load(Path(d) / "policy.safetensors")
    assert summary["state_noise"] == 0.02 and summary["final_loss"] < summary["first_loss"]
    image = frames.images["head"][0].permute(1, 2, 0).numpy()
    chunk = policy.act({"head": image}, frames.state[0].numpy(), 0)
    assert ((chunk[:, 14:16] >= 0) & (chunk[:, 14:16] <= 1)).all()  # probabilities
    assert chunk[0, 14] < 0.5 < chunk[0, 15]  # one open, one closed target: the head learnt the classes
    assert policy.command(chunk[0])[14:16].tolist() == [0.0, 1.0]


def test_delta_joint_targets_are_relative_to_the_state():
    """With `delta_joints` the arm entries are learnt as target - state and run as state + prediction."""
    import torch

    from embodied_rerender.bench.policy import BCPolicy, PolicyConfig

    policy = BCPolicy(PolicyConfig(width=8, hidden=16, chunk=2, delta_joints=True))
    state, action = torch.rand(3, 20), torch.rand(3, 2, 22)
    rel = policy.relative(action, state)
    assert torch.allclose(rel[..., :14] + state[:, None, :14], action[..., :14]) and torch.equal(rel[..., 14:], action[..., 14:])
    torch.nn.init.zeros_(policy.mlp[-1].weight), torch.nn.init.zeros_(policy.mlp[-1].bias)  # predicts the mean
    policy.action_mean.copy_(torch.full((22,), 0.25))
    out = policy.act({"head": np.zeros((24, 32, 3), np.uint8)}, state[0].numpy(), 0)
    assert np.allclose(out[:, :14], state[0, :14].numpy() + 0.25, atol=1e-6)


def test_one_arm_scene_moves_only_the_left_arm():
    """The default benchmark task: the left arm's pick-and-place over the whole episode; the right arm rests."""
    e = PickPlaceEnv(EnvConfig(width=48, height=32, frames=30, scene="one_arm"))
    try:
        for index in range(2):
            right = []
            success, info = run_expert(e, 5, index, on_step=lambda obs: right.append(obs["state"][7:14]))
            assert success and info["placed"] == [True]
            assert np.ptp(np.stack(right), axis=0).max() < 1e-6
        assert len(e.spec.objects) == 1 and [t.arm for t in e.spec.tasks] == ["left"]
    finally:
        e.close()


def test_two_task_plan_is_unchanged_by_the_task_spans():
    """`plan_motion` with the sample's two tasks: the left arm in the first half, the right in the second."""
    from embodied_rerender.sample.motion import plan_motion, task_spans
    from embodied_rerender.sample.scene import draw_scene, episode_rng

    assert task_spans(60, 2) == [(0, 30), (30, 59)] and task_spans(60, 1) == [(0, 59)]
    plan = plan_motion(draw_scene(episode_rng(0, 0)), 60)
    assert [t.arm for t in plan.tasks] == [0, 1]
    assert plan.tasks[0].bounds[0] == 0 and plan.tasks[1].bounds[0] == 30 and plan.tasks[1].bounds[-1] == 59
    assert (plan.gripper_cmd[:30, 1] == 0).all()


def test_packed_frames_round_trip(tmp_path, env):
    """bench.pack: what a machine without lerobot / PyAV trains on is the dataset's frames within the colour-space
    rounding (H.264 CRF 0 4:4:4, decoded by OpenCV) and its exact low-dimensional columns."""
    pytest.importorskip("cv2")
    import torch

    from embodied_rerender.bench.pack import export_frames, import_frames
    from embodied_rerender.bench.train import Frames

    images, states = [], []
    run_expert(env, 2, 0, on_step=lambda obs: (images.append(obs["images"]["head"]), states.append(obs["state"])))
    n = len(images)
    frames = Frames({"head": torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous()},
                    torch.from_numpy(np.stack(states)), torch.rand(n, 22), np.zeros(n, dtype=np.int64), np.arange(n))
    export_frames(frames, tmp_path / "pack")
    back = import_frames(tmp_path / "pack")
    assert back.images["head"].shape == frames.images["head"].shape
    err = (back.images["head"].float() - frames.images["head"].float()).abs()
    assert err.mean() < 1 and err.max() <= 3
    assert torch.equal(back.state, frames.state) and torch.equal(back.action, frames.action)
    assert np.array_equal(back.frame, frames.frame)


def test_rollouts_in_worker_processes_equal_the_serial_ones(env):
    import torch

    from embodied_rerender.bench.policy import BCPolicy, PolicyConfig
    from embodied_rerender.bench.rollout import evaluate_policy

    torch.manual_seed(0)
    policy = BCPolicy(PolicyConfig(width=8, hidden=16, chunk=2, horizon=SMALL.frames))
    serial = evaluate_policy(env, policy, 7, 2, [0.0, 10.0], 6, 0)
    parallel = evaluate_policy(env, policy, 7, 2, [0.0, 10.0], 6, 0, workers=2)
    assert serial == parallel


def test_views_pack_per_view_and_train_from_packs(small_run, tmp_path):
    """`bench.pack` writes a views dataset as one pack per view; `bench.train_packs` trains arm c from them."""
    pytest.importorskip("cv2")
    from omegaconf import OmegaConf

    from embodied_rerender.bench.pack import main as pack
    from embodied_rerender.bench.train_packs import train_runs
    from embodied_rerender.config import load_config

    pack([str(small_run / "demos" / "lerobot"), str(tmp_path / "demos"), str(small_run / "views" / "warp"),
          str(tmp_path / "views" / "warp")])
    assert sorted(p.name for p in (tmp_path / "views" / "warp").iterdir()) == ["view_0"]
    options = OmegaConf.to_container(load_config("bench-policy", [f"output={small_run}", "views=1", "steps=3",
                                                                  "batch=4", "progress=false"]), resolve=True)
    (summary,) = train_runs(tmp_path, tmp_path / "out", {"c": {"arm": "c", "options": options}}).values()
    assert summary["views"] == 1 and summary["head_replaced_share"] > 0
