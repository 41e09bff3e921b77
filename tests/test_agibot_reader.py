"""The AgiBot reader on hand-built AgiBot-layout data: every variant in the spec, and every kind of bad input."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
from agibot_fixtures import K, frame_level, make_episode

from embodied_rerender.errors import ConsistencyError, DatasetError, FormatError
from embodied_rerender.io import EpisodeRef, detect_format, get_reader, iter_episodes
from embodied_rerender.io import agibot_layout as layout
from embodied_rerender.io.agibot import AgiBotReader


def levels(frames: np.ndarray) -> list[int]:
    """The grey level of each frame, snapped to the nearest fixture level (levels are 7 apart; codecs are lossy)."""
    known = np.array(sorted({frame_level(i) for i in range(64)}))
    return [int(known[np.abs(known - f.mean()).argmin()]) for f in frames]


def test_reads_every_field(tmp_path):
    written = make_episode(tmp_path, n=10)
    reader = get_reader(None, tmp_path)
    assert detect_format(tmp_path) == "agibot" and isinstance(reader, AgiBotReader)
    assert reader.refs() == [EpisodeRef("327", "648642")] and reader.problems == []
    ep = reader.read(reader.refs()[0])
    assert (ep.task_id, ep.episode_id, ep.fps, ep.num_frames) == ("327", "648642", 30.0, 10)
    assert ep.task == "Pick up the cup" and ep.scene == "A cup on a table."
    assert [(s.start, s.end, s.text, s.skill) for s in ep.segments] == [(0, 5, "Pick up the cup", "Pick"), (5, 10, "Place the cup", "Place")]
    assert ep.segment_text()[4] == "Pick up the cup" and ep.segment_text()[5] == "Place the cup"
    assert set(ep.cameras) == {"head", "hand_left", "hand_right"}
    head = ep.cameras["head"]
    assert head[3].shape == (24, 32, 3) and head[3].dtype == np.uint8
    assert head[2:5].shape == (3, 24, 32, 3)
    np.testing.assert_array_equal(head.trajectory.extrinsics, written["poses"]["head"])
    np.testing.assert_array_equal(head.trajectory.intrinsics, K)
    assert (head.trajectory.height, head.trajectory.width) == (24, 32)
    # depth: uint16 mm -> float32 m, only the head camera has it
    d = head.read_depth(3)
    assert d.dtype == np.float32 and d.shape == (24, 32)
    np.testing.assert_allclose(d, written["depth0"] + 0.003, atol=6e-4)
    assert ep.cameras["hand_left"].depth is None
    # proprio: float64, dotted keys, names, ns timestamps, xyzw quaternions kept as stored
    src = written["proprio"]
    np.testing.assert_array_equal(ep.state["joint.position"], src["state/joint/position"])
    np.testing.assert_array_equal(ep.state["end.orientation"], src["state/end/orientation"])
    assert ep.state["end.orientation"].shape == (10, 2, 4) and ep.state["joint.position"].dtype == np.float64
    np.testing.assert_array_equal(ep.action["joint.position"], src["action/joint/position"])
    assert ep.timestamps.dtype == np.int64 and ep.timestamps[1] - ep.timestamps[0] == 33_333_333
    assert ep.names["joint.position"][0] == "left_arm_0" and ep.names["end.orientation"][3] == "left_qw"
    assert ep.names["effector.position"] == ["left_gripper", "right_gripper"]
    assert "state/joint/effort" in ep.metadata["empty_keys"] and "joint.effort" not in ep.state
    assert ep.metadata["embodiment"] == "gripper"


@pytest.mark.parametrize("codec", ["h264", "av1"])
def test_frame_exact_random_access(tmp_path, codec):
    make_episode(tmp_path, n=40, cameras=("head",), codec=codec, gop=8, depth=False)
    cam = AgiBotReader(tmp_path).read(EpisodeRef("327", "648642")).cameras["head"]
    assert cam.frames.codec == codec
    order = [37, 3, 3, 20, 21, 0, 39, 8]
    assert levels(cam[order]) == [frame_level(i) for i in order]
    assert levels(cam[:]) == [frame_level(i) for i in range(40)]
    assert levels(cam[[-1]]) == [frame_level(39)]


def test_card_parameter_path_and_other_tools_variants(tmp_path):
    """The card's `parameters/<t>/<e>/camera/` path, sparse actions, empty groups, dexhand and tactile sets."""
    written = make_episode(tmp_path, episode="1", param_variant="card", sparse_action=True, empty_robot=True)
    make_episode(tmp_path, episode="2", cameras=("head", "hand_left_fisheye", "hand_right_fisheye", "back_left_fisheye"),
                 dexhand=True, tactile=True, depth=False)
    reader = AgiBotReader(tmp_path)
    ep1 = reader.read(EpisodeRef("327", "1"))
    assert ep1.cameras["hand_left"].trajectory is not None
    # sparse joint action scattered at its index over the state; end action uses the joint index (end index empty)
    idx = np.arange(0, 10, 3)
    act = ep1.action["joint.position"]
    np.testing.assert_array_equal(act[idx], written["proprio"]["action/joint/position"])
    others = np.setdiff1d(np.arange(10), idx)
    np.testing.assert_array_equal(act[others], ep1.state["joint.position"][others])
    np.testing.assert_array_equal(ep1.metadata["action_index"]["joint"], idx)
    assert ep1.action["end.position"].shape == (10, 2, 3)
    np.testing.assert_array_equal(ep1.action["end.position"][idx], written["proprio"]["action/end/position"])
    assert "robot.position" not in ep1.state and "state/robot/position" in ep1.metadata["empty_keys"]

    ep2 = reader.read(EpisodeRef("327", "2"))
    assert ep2.metadata["embodiment"] == "tactile"
    assert {"hand_left_fisheye", "hand_right_fisheye", "back_left_fisheye", "tactile_left_sensor_1", "tactile_right_sensor_2"} <= set(ep2.cameras)
    assert ep2.cameras["back_left_fisheye"].trajectory is None  # no parameter files for it: not an error
    assert ep2.cameras["tactile_left_sensor_1"][0].shape == (28, 16, 3)
    assert ep2.state["effector.position"].shape == (10, 12) and ep2.names["effector.position"][6] == "right_hand_0"


# -- bad input: each breaks one episode, names episode + file + reason, and the others still read ----------
def _truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])


def _drop_file(path):
    path.unlink()


def _shorten_extrinsics(path):
    path.write_text(json.dumps(json.loads(path.read_text())[:-2]))


def _nan_rotation(path):
    entries = json.loads(path.read_text())
    entries[4]["extrinsic"]["rotation_matrix"][1][1] = float("nan")
    path.write_text(json.dumps(entries).replace("NaN", "NaN"))


def _skewed_rotation(path):
    entries = json.loads(path.read_text())
    entries[6]["extrinsic"]["rotation_matrix"][0] = [2.0, 0.0, 0.0]
    path.write_text(json.dumps(entries))


def _long_action(path):
    with h5py.File(path, "a") as f:
        del f["action/joint/position"]
        f["action/joint/position"] = np.zeros((12, 14))


def _drop_depth(path):
    sorted(path.glob("head_depth_*.png"))[-1].unlink()


P = "parameters/327/bad/parameters/camera"
BAD_CASES = {
    "truncated mp4": ("observations/327/bad/videos/hand_left_color.mp4", _truncate, FormatError, "cannot read video"),
    "missing extrinsics": (f"{P}/hand_right_extrinsic_params_aligned.json", _drop_file, FormatError, "missing"),
    "short extrinsics": (f"{P}/head_extrinsic_params_aligned.json", _shorten_extrinsics, ConsistencyError, "8 entries, proprio_stats has N=10"),
    "nan rotation": (f"{P}/head_extrinsic_params_aligned.json", _nan_rotation, ConsistencyError, "non-finite value in the pose of frame 4"),
    "non-orthonormal": (f"{P}/hand_left_extrinsic_params_aligned.json", _skewed_rotation, ConsistencyError, "frame 6 is not orthonormal"),
    "action longer than state": ("proprio_stats/327/bad/proprio_stats.h5", _long_action, ConsistencyError, "more than the N=10 state rows"),
    "depth count": ("observations/327/bad/depth", _drop_depth, ConsistencyError, "9 head depth PNGs, proprio_stats has N=10"),
}


@pytest.fixture(scope="module")
def good_and_bad_template(tmp_path_factory):
    root = tmp_path_factory.mktemp("template")
    make_episode(root, episode="good", n=10)
    make_episode(root, episode="bad", n=10)
    return root


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_episode_is_reported_and_others_read(good_and_bad_template, tmp_path, case):
    import shutil

    rel, damage, kind, reason = BAD_CASES[case]
    root = tmp_path / "data"
    shutil.copytree(good_and_bad_template, root)
    damage(root / rel)
    results = dict(iter_episodes(AgiBotReader(root)))
    good = results[EpisodeRef("327", "good")]
    err = results[EpisodeRef("327", "bad")]
    assert good.num_frames == 10 and good.cameras["head"][9].shape == (24, 32, 3)
    assert isinstance(err, kind), err
    assert err.episode == "327/bad"
    assert err.path is not None and err.path.endswith(rel.rstrip("/"))
    assert reason in err.reason
    assert "327/bad" in str(err) and rel.split("/")[-1] in str(err)


def test_task_info_problems_are_reported(tmp_path):
    make_episode(tmp_path, episode="5", n=6)
    make_episode(tmp_path, episode="6", n=6, task_info=False)  # data without a task_info entry
    path = layout.task_info_path(tmp_path, "327")
    entries = json.loads(path.read_text())
    entries += [dict(entries[0], episode_id="../../etc"), dict(entries[0], episode_id="a/b"), dict(entries[0], episode_id=777)]
    path.write_text(json.dumps(entries))
    reader = AgiBotReader(tmp_path)
    assert reader.refs() == [EpisodeRef("327", "5")]
    reasons = {(p.episode, p.reason.split(" (")[0].split(";")[0]) for p in reader.problems}
    assert (None, "entry 1 has an unusable episode_id '../../etc'") in reasons
    assert (None, "entry 2 has an unusable episode_id 'a/b'") in reasons
    assert ("327/777", "episode has no videos directory, proprio_stats.h5") in reasons
    assert ("327/6", "episode has no task_info entry") in reasons
    assert all(p.path for p in reader.problems)
    assert not (tmp_path.parent / "etc").exists()


def test_not_an_agibot_tree(tmp_path):
    with pytest.raises(DatasetError):
        AgiBotReader(tmp_path)
    with pytest.raises(DatasetError):
        detect_format(tmp_path)
