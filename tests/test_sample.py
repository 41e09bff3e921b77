"""The built-in sample scene: layout, determinism, real motion, and exact camera geometry.

The geometry tests read the written JSON files directly (json + numpy) and compare projections with
what the renderer drew (segmentation re-rendered through the sample module's API).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest

if not os.environ.get("DISPLAY"):
    os.environ.setdefault("MUJOCO_GL", "osmesa")  # must precede the first `import mujoco`
mujoco = pytest.importorskip("mujoco")
h5py = pytest.importorskip("h5py")

from PIL import Image  # noqa: E402
from scipy.spatial.transform import Rotation  # noqa: E402

from embodied_rerender.sample import SampleEpisode, write_sample_dataset  # noqa: E402
from embodied_rerender.sample.write import fisheye_size  # noqa: E402
from embodied_rerender.sample.motion import MIN_FRAMES  # noqa: E402
from embodied_rerender.sample.scene import TABLE_CENTER_XY, TABLE_HALF_XY  # noqa: E402

TASK = 1001
FRAMES, W, H, SEED = 24, 160, 120, 3
SHORT = MIN_FRAMES  # frames of the randomised and second-robot fixtures (kept short: they only add coverage)
CAMERAS = ("head", "hand_left", "hand_right")
# the real AgiBot World Beta gripper set: eight colour videos (agibot_world_format.md §2.1)
FISHEYES = ("head_center_fisheye", "head_left_fisheye", "head_right_fisheye", "back_left_fisheye", "back_right_fisheye")
ALL_CAMERAS = CAMERAS + FISHEYES


def _write(root: Path, episodes: int, seed: int = SEED) -> Path:
    write_sample_dataset(root, episodes=episodes, frames=FRAMES, seed=seed, width=W, height=H, task_id=TASK,
                         progress=False)
    return root


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    return _write(tmp_path_factory.mktemp("sample_a"), episodes=2)


@pytest.fixture(scope="module")
def dataset_again(tmp_path_factory) -> Path:
    return _write(tmp_path_factory.mktemp("sample_b"), episodes=1)


@pytest.fixture(scope="module")
def random_dataset(tmp_path_factory) -> Path:
    """Two domain-randomised episodes."""
    root = tmp_path_factory.mktemp("sample_random")
    write_sample_dataset(root, episodes=2, frames=SHORT, seed=SEED, width=W, height=H, task_id=TASK,
                         progress=False, randomize=True)
    return root


@pytest.fixture(scope="module")
def wide_dataset(tmp_path_factory) -> Path:
    """One episode of the second robot design, written through the CLI; same seed as `dataset`, so the same
    scene draw (the default draw does not depend on the robot)."""
    from embodied_rerender.cli import main

    root = tmp_path_factory.mktemp("sample_wide")
    assert main(["sample", f"output={root}", "episodes=1", f"frames={SHORT}", f"seed={SEED}", f"width={W}",
                 f"height={H}", f"task_id={TASK}", "progress=false", "embodiment=wide_jaw"]) == 0
    return root


def _files(root: Path, ep: int) -> dict[str, str]:
    """relative path -> md5 of every file of episode `ep`."""
    out = {}
    for base in ("observations", "parameters", "proprio_stats", "ground_truth"):
        for p in sorted((root / base / str(TASK) / str(ep)).rglob("*")):
            if p.is_file():
                out[str(p.relative_to(root))] = hashlib.md5(p.read_bytes()).hexdigest()
    return out


def _camera_params(root: Path, ep: int, camera: str) -> tuple[np.ndarray, np.ndarray]:
    """K `(3, 3)` and per-frame camera-to-world `(T, 4, 4)` parsed straight from the JSON files."""
    d = root / "parameters" / str(TASK) / str(ep) / "parameters" / "camera"
    intr = json.loads((d / f"{camera}_intrinsic_params.json").read_text())["intrinsic"]
    K = np.array([[intr["fx"], 0, intr["ppx"]], [0, intr["fy"], intr["ppy"]], [0, 0, 1.0]])
    poses = []
    for entry in json.loads((d / f"{camera}_extrinsic_params_aligned.json").read_text()):
        c2w = np.eye(4)
        c2w[:3, :3] = entry["extrinsic"]["rotation_matrix"]
        c2w[:3, 3] = entry["extrinsic"]["translation_vector"]
        poses.append(c2w)
    return K, np.stack(poses)


def _project(K, c2w, point):
    p_cam = c2w[:3, :3].T @ (np.asarray(point) - c2w[:3, 3])
    return (K @ p_cam)[:2] / p_cam[2], p_cam[2]


def _gt_depth(root: Path, ep: int, camera: str, t: int) -> np.ndarray:
    path = root / "ground_truth" / str(TASK) / str(ep) / "depth" / f"{camera}_depth_{t:06d}.png"
    return np.asarray(Image.open(path)).astype(np.float64) / 1000.0


# -- layout ---------------------------------------------------------------------------------------
def test_layout(dataset: Path):
    info = json.loads((dataset / "task_info" / f"task_{TASK}.json").read_text())
    assert [e["episode_id"] for e in info] == [900000, 900001]
    for entry in info:
        ep = entry["episode_id"]
        assert entry["task_name"] and "table" in entry["init_scene_text"]
        segs = entry["label_info"]["action_config"]
        assert [s["skill"] for s in segs] == ["Pick", "Place", "Pick", "Place"]
        assert segs[0]["start_frame"] == 0 and segs[-1]["end_frame"] == FRAMES
        assert all(a["end_frame"] == b["start_frame"] for a, b in zip(segs, segs[1:]))
        obs = dataset / "observations" / str(TASK) / str(ep)
        assert sorted(p.name for p in (obs / "videos").iterdir()) == sorted(f"{c}_color.mp4" for c in ALL_CAMERAS)
        assert sorted(p.name for p in (obs / "depth").iterdir()) == [f"head_depth_{t:06d}.png" for t in range(FRAMES)]
        cam_dir = dataset / "parameters" / str(TASK) / str(ep) / "parameters" / "camera"
        assert sorted(p.name for p in cam_dir.iterdir()) == sorted(
            f"{c}_{k}.json" for c in CAMERAS for k in ("intrinsic_params", "extrinsic_params", "extrinsic_params_aligned"))
        gt = dataset / "ground_truth" / str(TASK) / str(ep)
        assert sorted(p.name for p in (gt / "depth").iterdir()) == sorted(
            f"{c}_depth_{t:06d}.png" for c in CAMERAS for t in range(FRAMES))
        assert (gt / "objects.json").is_file()
        # the AgiBot head depth is the ground-truth head depth
        assert (obs / "depth" / "head_depth_000005.png").read_bytes() == (gt / "depth" / "head_depth_000005.png").read_bytes()
        depth = np.asarray(Image.open(obs / "depth" / "head_depth_000000.png"))
        assert depth.dtype == np.uint16 and depth.shape == (H, W) and depth.max() > 0
        for c in CAMERAS:
            _, poses = _camera_params(dataset, ep, c)
            assert poses.shape == (FRAMES, 4, 4)
            assert np.allclose(poses[:, :3, :3] @ poses[:, :3, :3].transpose(0, 2, 1), np.eye(3), atol=1e-9)
    assert not [p for p in dataset.iterdir() if p.name.startswith(".tmp")]


def test_videos(dataset: Path):
    from embodied_rerender.video import VideoReader

    for c in CAMERAS:
        reader = VideoReader(dataset / "observations" / str(TASK) / "900000" / "videos" / f"{c}_color.mp4")
        assert reader.num_frames == FRAMES and reader.shape == (H, W)
        frame = reader.read([FRAMES // 2])[0]
        assert frame.std() > 5  # a scene, not a blank image
        reader.close()
    views = []
    for c in FISHEYES:  # small, at the real 960x768 aspect, each its own view
        reader = VideoReader(dataset / "observations" / str(TASK) / "900000" / "videos" / f"{c}_color.mp4")
        assert reader.num_frames == FRAMES and reader.shape == fisheye_size(W, H)
        h, w = reader.shape
        assert w / h == pytest.approx(960 / 768, rel=0.05)
        views.append(reader.read([FRAMES // 2])[0])
        reader.close()
    assert all(np.abs(a.astype(int) - b.astype(int)).mean() > 3 for a, b in zip(views, views[1:]))


def test_proprio(dataset: Path):
    with h5py.File(dataset / "proprio_stats" / str(TASK) / "900000" / "proprio_stats.h5") as f:
        ts = f["timestamp"][()]
        gaps = np.diff(ts)
        assert ts.dtype == np.int64 and ts[0] > 1.7e18 and set(gaps.tolist()) == {33_333_333, 66_666_666}
        assert (gaps == 66_666_666).sum() == 1  # one dropped frame, as real recordings have
        sent = f["action/joint/index"][()]  # sparse joint/end commands, as real files have (quirk Q1)
        m = len(sent)
        assert sent.dtype == np.int64 and 0 < m < FRAMES and sent[0] == 0 and np.all(np.diff(sent) > 0)
        assert f["action/end/index"].shape == (0,)  # readers fall back to the joint index
        shapes = {
            "state/joint/position": (FRAMES, 14), "state/joint/current_value": (FRAMES, 14),
            "state/effector/position": (FRAMES, 2), "state/end/position": (FRAMES, 2, 3),
            "state/end/orientation": (FRAMES, 2, 4), "state/head/position": (FRAMES, 2),
            "state/waist/position": (FRAMES, 2), "state/robot/position": (FRAMES, 3),
            "state/robot/orientation": (FRAMES, 4), "action/joint/position": (m, 14),
            "action/effector/position": (FRAMES, 2), "action/end/position": (m, 2, 3),
            "action/end/orientation": (m, 2, 4), "action/head/position": (FRAMES, 2),
            "action/waist/position": (FRAMES, 2), "action/robot/velocity": (FRAMES, 2),
        }
        for key, shape in shapes.items():
            assert f[key].shape == shape and f[key].dtype == np.float64, key
        for g in ("effector", "head", "waist", "robot"):
            assert np.array_equal(f[f"action/{g}/index"][()], np.arange(FRAMES)), g
        assert f["state/joint/effort"].shape == (0,)
        joints = f["state/joint/position"][()]
        assert np.ptp(joints[:, :7], axis=0).max() > 0.1 and np.ptp(joints[:, 7:], axis=0).max() > 0.1
        grip = f["action/effector/position"][()]
        assert grip.min() == 0.0 and grip.max() == pytest.approx(1.0) and np.all(grip <= 1.0)
        quat = f["state/end/orientation"][()]
        assert np.allclose(np.linalg.norm(quat, axis=-1), 1.0)
        # top-down grasping: the flange +z axis (tip direction) points down, and quaternions are xyzw
        tip_dir = Rotation.from_quat(quat.reshape(-1, 4)).apply([0, 0, 1.0])
        assert np.all(tip_dir[:, 2] < -0.99)
        # the arms reach their commanded flange poses (IK converged)
        sent_before_last = sent[sent < FRAMES - 1]
        assert np.abs(f["state/end/position"][sent_before_last + 1] - f["action/end/position"][:len(sent_before_last)]).max() < 1e-3


# -- determinism ----------------------------------------------------------------------------------
def test_same_seed_same_bytes(dataset: Path, dataset_again: Path):
    a, b = _files(dataset, 900000), _files(dataset_again, 900000)
    assert a.keys() == b.keys() and len(a) > 100
    differing = [k for k in a if a[k] != b[k]]
    assert not [k for k in differing if not k.endswith(".mp4")], differing
    info_a = json.loads((dataset / "task_info" / f"task_{TASK}.json").read_text())[0]
    info_b = json.loads((dataset_again / "task_info" / f"task_{TASK}.json").read_text())[0]
    assert info_a == info_b


def test_different_seed_different_scene(dataset: Path, tmp_path: Path):
    other = _write(tmp_path / "other", episodes=1, seed=SEED + 1)
    gt = "ground_truth/{}/900000/objects.json".format(TASK)
    a = json.loads((dataset / gt).read_text())
    b = json.loads((other / gt).read_text())
    assert [o["position"][0] for o in a["objects"]] != [o["position"][0] for o in b["objects"]]
    assert _files(dataset, 900000)[f"proprio_stats/{TASK}/900000/proprio_stats.h5"] != \
        _files(other, 900000)[f"proprio_stats/{TASK}/900000/proprio_stats.h5"]
    # episodes of one seed differ from each other too
    c = json.loads((dataset / gt.replace("900000", "900001")).read_text())
    assert [o["position"][0] for o in a["objects"]] != [o["position"][0] for o in c["objects"]]


def test_resume_rebuilds_only_missing(dataset_again: Path):
    root = dataset_again
    before = _files(root, 900000)
    mtime = (root / "proprio_stats" / str(TASK) / "900000" / "proprio_stats.h5").stat().st_mtime_ns
    # a killed run: episode 900001 half-moved into place and a stale temporary directory
    (root / "observations" / str(TASK) / "900001" / "videos").mkdir(parents=True)
    (root / f".tmp-{TASK}-900001").mkdir()
    pairs = write_sample_dataset(root, episodes=2, frames=FRAMES, seed=SEED, width=W, height=H, task_id=TASK,
                                 progress=False)
    assert pairs == [(TASK, 900000), (TASK, 900001)]
    assert (root / "proprio_stats" / str(TASK) / "900000" / "proprio_stats.h5").stat().st_mtime_ns == mtime
    assert _files(root, 900000) == before
    assert len(_files(root, 900001)) == len(before)
    assert not (root / f".tmp-{TASK}-900001").exists()
    info = json.loads((root / "task_info" / f"task_{TASK}.json").read_text())
    assert [e["episode_id"] for e in info] == [900000, 900001]
    with pytest.raises(ValueError):
        write_sample_dataset(root, episodes=2, frames=FRAMES + 2, seed=SEED, width=W, height=H, task_id=TASK,
                             progress=False)


def test_workers_write_the_same_files_and_near_lossless_keeps_the_render(tmp_path):
    """Episodes rendered in spawned processes are the files the serial writer makes; NEAR_LOSSLESS videos decode
    to the render within the colour-space rounding, and the manifest records the settings."""
    from embodied_rerender.sample import NEAR_LOSSLESS
    from embodied_rerender.video import VideoReader

    kw = dict(episodes=2, frames=SHORT, seed=SEED, width=64, height=48, task_id=TASK, progress=False,
              video=NEAR_LOSSLESS)
    write_sample_dataset(tmp_path / "serial", workers=1, **kw)
    write_sample_dataset(tmp_path / "spawned", workers=2, **kw)
    for ep in (900000, 900001):
        assert _files(tmp_path / "serial", ep) == _files(tmp_path / "spawned", ep)
    video = tmp_path / "serial" / "observations" / str(TASK) / "900001" / "videos" / "head_color.mp4"
    decoded = VideoReader(video).read(list(range(SHORT))).astype(int)
    with SampleEpisode(SEED, 1, SHORT, 64, 48) as ep:
        rendered = np.stack([ep.render(t, "head")["rgb"] for t in range(SHORT)]).astype(int)
    assert np.abs(decoded - rendered).max() <= 3
    manifest = json.loads((tmp_path / "serial" / ".sample_manifest.json").read_text())
    assert manifest["config"]["video"] == {"codec": "h264", "crf": 0, "pix_fmt": "yuv444p"}


def test_too_few_frames():
    with pytest.raises(ValueError):
        SampleEpisode(0, 0, frames=MIN_FRAMES - 1, width=W, height=H)


# -- motion ---------------------------------------------------------------------------------------
def test_objects_really_move(dataset: Path):
    gt = json.loads((dataset / "ground_truth" / str(TASK) / "900000" / "objects.json").read_text())
    picked = [o for o in gt["objects"] if o["picked_by"]]
    assert sorted(o["picked_by"] for o in picked) == ["left", "right"]
    for o in gt["objects"]:
        pos = np.array(o["position"])
        assert pos.shape == (FRAMES, 3) and np.array(o["orientation"]).shape == (FRAMES, 4)
        if o["picked_by"] is None:
            assert np.ptp(pos, axis=0).max() == 0.0
            continue
        assert np.linalg.norm(pos[-1, :2] - pos[0, :2]) > 0.03  # carried somewhere else
        assert pos[:, 2].max() - pos[0, 2] > 0.05  # lifted off the table on the way
        assert pos[-1, 2] == pytest.approx(pos[0, 2], abs=2e-3)  # set down on the table again
    # the gripper holds the object: commanded closed, fingers stopped at the object's width
    with h5py.File(dataset / "proprio_stats" / str(TASK) / "900000" / "proprio_stats.h5") as f:
        state = f["state/effector/position"][()]
    for o in picked:
        arm = 0 if o["picked_by"] == "left" else 1
        holding = state[o["grasp_frame"]:o["release_frame"], arm]
        assert 0 < holding.min() and holding.max() < 120


# -- geometry: projections land where the renderer drew -------------------------------------------
def _marker_world(obj: dict, t: int) -> np.ndarray:
    rot = Rotation.from_quat(obj["orientation"][t])  # xyzw
    return np.asarray(obj["position"][t]) + rot.apply(obj["marker"]["offset"])


@pytest.mark.parametrize("ep_index", [0, 1])
def test_projection_matches_rendering(dataset: Path, ep_index: int):
    """Every fully visible marker sphere: its centre projected with the written K and per-frame c2w
    lands on the centroid of its rendered segmentation mask (<= 1.5 px), and the ground-truth depth
    there is the sphere's front surface (camera z minus radius)."""
    ep_id = 900000 + ep_index
    gt = json.loads((dataset / "ground_truth" / str(TASK) / str(ep_id) / "objects.json").read_text())
    checked = {c: 0 for c in CAMERAS}
    errors = []
    with SampleEpisode(SEED, ep_index, FRAMES, W, H) as sim:
        geom_type = int(mujoco.mjtObj.mjOBJ_GEOM)
        for camera in CAMERAS:
            K, c2w = _camera_params(dataset, ep_id, camera)
            for t in range(FRAMES):
                seg = sim.render(t, camera, ("segmentation",))["segmentation"]
                depth = _gt_depth(dataset, ep_id, camera, t)
                for obj in gt["objects"]:
                    gid = sim.model.geom(f"{obj['name']}_marker").id
                    mask = (seg[..., 0] == gid) & (seg[..., 1] == geom_type)
                    centre = _marker_world(obj, t)
                    uv, z = _project(K, c2w[t], centre)
                    radius_px = K[0, 0] * obj["marker"]["radius"] / z
                    border = mask[0].any() or mask[-1].any() or mask[:, 0].any() or mask[:, -1].any()
                    if z <= 0 or border or mask.sum() < max(0.85 * np.pi * radius_px ** 2, 4):
                        continue  # not fully in view, or partly hidden
                    rows, cols = np.nonzero(mask)
                    assert abs(cols.mean() - uv[0]) <= 1.5 and abs(rows.mean() - uv[1]) <= 1.5, (camera, t, obj["name"])
                    d = depth[int(round(uv[1])), int(round(uv[0]))]
                    r = obj["marker"]["radius"]
                    assert z - r - 3e-3 <= d <= z + 3e-3, (camera, t, obj["name"], d, z)
                    checked[camera] += 1
                    errors.append((cols.mean() - uv[0], rows.mean() - uv[1]))
    assert all(n >= 2 for n in checked.values()), checked
    # no systematic offset: catches a half-pixel slip in the principal point
    assert np.all(np.abs(np.mean(errors, axis=0)) < 0.25), np.mean(errors, axis=0)


def test_depth_is_metric_z_on_the_table(dataset: Path):
    """Back-projecting ground-truth depth of table-top pixels with K and c2w gives points at the
    table height: depth is z along the optical axis (not ray length), in metres, and poses are right."""
    gt = json.loads((dataset / "ground_truth" / str(TASK) / "900000" / "objects.json").read_text())
    with SampleEpisode(SEED, 0, FRAMES, W, H) as sim:
        table = sim.model.geom("table_top").id
        for camera in CAMERAS:
            K, c2w = _camera_params(dataset, 900000, camera)
            for t in (0, FRAMES // 2, FRAMES - 1):
                seg = sim.render(t, camera, ("segmentation",))["segmentation"]
                depth = _gt_depth(dataset, 900000, camera, t)
                v, u = np.nonzero((seg[..., 0] == table) & (depth > 0))
                if len(u) < 20:
                    continue
                z = depth[v, u]
                rays = np.linalg.solve(K, np.stack([u, v, np.ones_like(u)]).astype(np.float64))  # z = 1
                world = (c2w[t, :3, :3] @ (rays * z)).T + c2w[t, :3, 3]
                # the table box's side faces share the geom: keep the top's interior
                inside = (np.abs(world[:, 0] - TABLE_CENTER_XY[0]) < TABLE_HALF_XY[0] - 0.01) & (
                    np.abs(world[:, 1] - TABLE_CENTER_XY[1]) < TABLE_HALF_XY[1] - 0.01)
                assert inside.mean() > 0.8, (camera, t)
                world = world[inside]
                assert np.abs(world[:, 2] - gt["table_z"]).max() < 4e-3, (camera, t)


def _episode_of(root: Path, index: int) -> SampleEpisode:
    """The episode as the dataset's manifest settings rebuild it (what `sample.views` does for ground truth)."""
    from embodied_rerender.sample.views import sample_config

    cfg = sample_config(root)
    return SampleEpisode(cfg["seed"], index, cfg["frames"], cfg["width"], cfg["height"], cfg.get("randomize", False),
                         cfg.get("embodiment", "agibot_g1"))


@pytest.mark.parametrize("which", ["default", "randomized", "wide_jaw"])
def test_render_pose_reproduces_a_recorded_camera(which: str, request):
    """A world camera put at a recorded camera's written pose and K renders that camera's ground truth: the
    basis for scoring targets no camera recorded (sample.views). Holds for randomised intrinsics and mounts
    and for the second robot design, rebuilt from the manifest settings alone."""
    root = request.getfixturevalue({"default": "dataset", "randomized": "random_dataset", "wide_jaw": "wide_dataset"}[which])
    ep_id = 900001 if which == "default" else 900000
    with _episode_of(root, ep_id - 900000) as ep:
        for camera in ("head", "hand_left") if which != "default" else ("hand_left",):
            K, poses = _camera_params(root, ep_id, camera)
            for t in (0, ep.frames - 1):
                depth = ep.render_pose(t, poses[t], K, kinds=("depth",))["depth"]
                np.testing.assert_allclose(depth, _gt_depth(root, ep_id, camera, t), atol=1e-3)
        with pytest.raises(ValueError, match="principal point"):
            ep.render_pose(0, poses[0], K + np.array([[0, 0, 5.0], [0, 0, 0], [0, 0, 0]]))


def test_agibot_reader_reads_the_full_beta_set(dataset: Path):
    """All eight colour cameras; the sparse joint/end actions come back dense: the held state fills the frames
    without a command, which for joints is exactly the next frame's state (the dense command)."""
    from embodied_rerender.io.agibot import AgiBotReader

    reader = AgiBotReader(dataset)
    assert not reader.problems
    ep = reader.read(reader.refs()[0])
    assert set(ep.cameras) == set(ALL_CAMERAS)
    assert all(ep.cameras[c].trajectory is not None for c in CAMERAS)
    assert all((ep.cameras[c].height, ep.cameras[c].width) == fisheye_size(W, H) for c in FISHEYES)
    q = ep.state["joint.position"]
    np.testing.assert_array_equal(ep.action["joint.position"], np.concatenate([q[1:], q[-1:]]))
    assert ep.action["end.position"].shape == (FRAMES, 2, 3)


# -- domain randomisation and the second robot design ----------------------------------------------
def test_randomized_scenes_differ_per_episode_and_repeat_per_seed(random_dataset: Path):
    from embodied_rerender.sample.scene import build_mjcf, draw_scene, episode_rng

    a, b = (json.loads((random_dataset / "ground_truth" / str(TASK) / str(900000 + i) / "objects.json").read_text())
            for i in (0, 1))
    assert a["randomize"] is True and a["embodiment"] == "agibot_g1"
    assert (a["table_z"], a["table_half_xy"]) != (b["table_z"], b["table_half_xy"])
    assert [o["position"][0] for o in a["objects"]] != [o["position"][0] for o in b["objects"]]
    # deterministic per seed: the same draw and model twice, and not the default draw of that seed
    for i in range(2):
        one, two = draw_scene(episode_rng(SEED, i), randomize=True), draw_scene(episode_rng(SEED, i), randomize=True)
        assert one == two and build_mjcf(one, W, H) == build_mjcf(two, W, H)
        assert build_mjcf(one, W, H) != build_mjcf(draw_scene(episode_rng(SEED, i)), W, H)
        assert one.table_z == pytest.approx(json.loads((random_dataset / "ground_truth" / str(TASK) / str(900000 + i)
                                                        / "objects.json").read_text())["table_z"])
    # the draws really widen: over a few dozen episodes every randomised factor takes several values
    specs = [draw_scene(episode_rng(11, i), randomize=True) for i in range(40)]
    assert {o.kind for s in specs for o in s.objects} == {"box", "cylinder", "sphere", "capsule"}
    assert len({len(s.lights) for s in specs}) >= 3 and len({len(s.objects) for s in specs}) >= 3
    assert len({s.table_texture["builtin"] + s.table_texture.get("mark", "") for s in specs}) == 5
    assert np.ptp([s.head_fovy for s in specs]) > 10 and np.ptp([s.hand_fovy for s in specs]) > 10
    assert np.ptp([s.table_half_xy[0] for s in specs]) > 0.05 and np.ptp([s.table_z for s in specs]) > 0.1
    assert np.ptp([s.head_cam_jitter[0][2] for s in specs]) > 0.05 and np.ptp([s.hand_cam_tilt for s in specs]) > 0.1
    assert len({tuple(np.round(s.lights[0]["diffuse"], 3)) for s in specs}) > 10  # colour and intensity
    defaults = [draw_scene(episode_rng(11, i)) for i in range(40)]
    assert {s.head_fovy for s in defaults} == {60.0} and {len(s.lights) for s in defaults} == {2}


def test_randomized_intrinsics_are_written(random_dataset: Path):
    """The drawn fields of view reach the written K (fy from fovy, principal point at the centre)."""
    from embodied_rerender.sample.cameras import intrinsics_from_fovy
    from embodied_rerender.sample.scene import draw_scene, episode_rng

    spec = draw_scene(episode_rng(SEED, 0), randomize=True)
    for camera, fovy in (("head", spec.head_fovy), ("hand_left", spec.hand_fovy)):
        K, _ = _camera_params(random_dataset, 900000, camera)
        np.testing.assert_allclose(K, intrinsics_from_fovy(fovy, W, H), atol=1e-6)


def test_wide_jaw_gripper_is_seen_in_the_wrist_view(dataset: Path, wide_dataset: Path):
    """The second design's fingers fill a large part of the wrist view, in their own colour, where the default
    robot's view shows something else; the rest of the episode (scene, task) is the same draw. Frame 0 (both
    arms at home) is the same state in episodes of any length."""
    from embodied_rerender.video import VideoReader

    gt_default = json.loads((dataset / "ground_truth" / str(TASK) / "900000" / "objects.json").read_text())
    gt_wide = json.loads((wide_dataset / "ground_truth" / str(TASK) / "900000" / "objects.json").read_text())
    assert gt_wide["embodiment"] == "wide_jaw" and "embodiment" not in gt_default
    assert [o["label"] for o in gt_wide["objects"]] == [o["label"] for o in gt_default["objects"]]
    geom_type = int(mujoco.mjtObj.mjOBJ_GEOM)
    frames = {}
    for root in (dataset, wide_dataset):
        reader = VideoReader(root / "observations" / str(TASK) / "900000" / "videos" / "hand_left_color.mp4")
        frames[root] = reader.read([0])[0].astype(np.float64)
        reader.close()
    with _episode_of(wide_dataset, 0) as ep:
        seg = ep.render(0, "hand_left", ("segmentation",))["segmentation"]
        finger_bodies = {ep.model.body(f"left_finger_{x}_body").id for x in "ab"}
        finger = np.isin(seg[..., 0], [g for g in range(ep.model.ngeom) if ep.model.geom_bodyid[g] in finger_bodies])
        finger &= seg[..., 1] == geom_type
    assert 0.03 < finger.mean() < 0.6, finger.mean()
    wide, default = frames[wide_dataset][finger], frames[dataset][finger]
    assert np.abs(wide - default).mean() > 30
    assert (wide[:, 0] - wide[:, 2]).mean() > 40  # orange paddles, not the default's grey fingers
    assert np.abs(default[:, 0] - default[:, 2]).mean() < np.abs(wide[:, 0] - wide[:, 2]).mean() - 30


def test_wide_jaw_reaches_and_is_read(wide_dataset: Path):
    """The second design's arms still reach their targets, its wider stroke is in the gripper state, and the
    AgiBot reader reads its episode like any other."""
    from embodied_rerender.io.agibot import AgiBotReader

    with h5py.File(wide_dataset / "proprio_stats" / str(TASK) / "900000" / "proprio_stats.h5") as f:
        sent = f["action/joint/index"][()]
        sent = sent[sent < SHORT - 1]
        assert np.abs(f["state/end/position"][sent + 1] - f["action/end/position"][:len(sent)]).max() < 1e-3
        state = f["state/effector/position"][()]
        assert state.min() == pytest.approx(0.0) and 0 < state.max() < 120
    reader = AgiBotReader(wide_dataset)
    assert not reader.problems
    ep = reader.read(reader.refs()[0])
    assert set(ep.cameras) == set(ALL_CAMERAS) and ep.num_frames == SHORT
    assert all(ep.cameras[c].trajectory is not None for c in CAMERAS)
    assert ep.cameras["head"].depth is not None


def test_unknown_embodiment_is_refused(tmp_path: Path):
    with pytest.raises(ValueError, match="unknown embodiment 'ur5'.*agibot_g1, wide_jaw"):
        write_sample_dataset(tmp_path / "x", episodes=1, frames=FRAMES, width=W, height=H, embodiment="ur5",
                             progress=False)
    assert not (tmp_path / "x" / ".sample_manifest.json").exists()


def test_shared_looks_are_written_and_rebuilt_from_the_manifest(tmp_path: Path):
    """`sample looks=2`: the manifest records it (`sample.views` rebuilds episodes from it for ground truth), and
    episode 2, rebuilt from it, has episode 0's table and lights."""
    from embodied_rerender.cli import main
    from embodied_rerender.sample.views import sample_config

    root = tmp_path / "looks"
    assert main(["sample", f"output={root}", "episodes=3", f"frames={SHORT}", "width=32", "height=24", "looks=2",
                 "progress=false"]) == 0
    cfg = sample_config(root)
    assert cfg["looks"] == 2
    with SampleEpisode(cfg["seed"], 2, cfg["frames"], 32, 24, looks=cfg["looks"]) as rebuilt, \
            SampleEpisode(cfg["seed"], 0, cfg["frames"], 32, 24) as first:
        assert rebuilt.spec.table_texture == first.spec.table_texture and rebuilt.spec.lights == first.spec.lights
