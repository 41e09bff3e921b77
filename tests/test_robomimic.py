"""RobomimicWriter / RobomimicReader: one HDF5 file of demos in the robomimic layout."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from writer_fixtures import LENGTHS, assert_same_annotations, assert_same_cameras, assert_same_lowdim, two_episodes

h5py = pytest.importorskip("h5py")

from embodied_rerender.errors import FormatError  # noqa: E402
from embodied_rerender.io import get_reader, get_writer  # noqa: E402
from embodied_rerender.io.policy import action_vector, state_vector  # noqa: E402
from embodied_rerender.io.robomimic import RobomimicReader, RobomimicWriter, sorted_demos, split_demos  # noqa: E402


ACTION_ATOL = 1e-12  # actions are stored normalized to [-1, 1] and mapped back in float64


@pytest.fixture(scope="module")
def episodes(tmp_path_factory):
    return two_episodes(tmp_path_factory.mktemp("agibot"))


def write_merged(episodes, root, **options):
    writer = RobomimicWriter(**options)
    dirs = []
    for i, ep in enumerate(episodes):
        writer.write_episode(ep, root / f"ep{i}")
        dirs.append(root / f"ep{i}")
    writer.merge(dirs, root / "out")
    return root / "out"


def test_plain_h5py_layout(episodes, tmp_path):
    out = write_merged(episodes, tmp_path, valid_fraction=0.5)
    with h5py.File(out / "data.hdf5", "r") as f:
        data = f["data"]
        assert sorted_demos(f) == ["demo_0", "demo_1"]
        assert int(data.attrs["total"]) == sum(LENGTHS)
        env = json.loads(data.attrs["env_args"])
        assert env["env_name"] == "Pick up the cup" and set(env["env_kwargs"]["cameras"]) == {"head", "hand_left", "hand_right"}
        assert env["env_kwargs"]["cameras"]["head"]["intrinsics"] == episodes[0].cameras["head"].trajectory.intrinsics.tolist()
        for i, (ep, n) in enumerate(zip(episodes, LENGTHS)):
            demo = data[f"demo_{i}"]
            assert int(demo.attrs["num_samples"]) == n
            image = demo["obs/head_image"]
            assert image.shape == (n, 24, 32, 3) and image.dtype == np.uint8
            assert image.chunks == (1, 24, 32, 3) and image.compression == "gzip"
            np.testing.assert_array_equal(image[()], ep.cameras["head"][:])
            np.testing.assert_array_equal(demo["obs/hand_left_extrinsics"][()], ep.cameras["hand_left"].trajectory.extrinsics)
            assert demo["obs/hand_left_intrinsics"].shape == (n, 3, 3)
            policy = action_vector(ep)  # `actions` is the policy action, as LeRobot's `action`
            assert demo["actions"].dtype == np.float64 and demo["actions"].shape == (n, 22)
            normalized = demo["actions"][()]
            assert normalized.min() >= -1.0 and normalized.max() <= 1.0
            scale, offset = data.attrs["action_scale"], data.attrs["action_offset"]
            np.testing.assert_allclose(normalized * scale + offset, policy.values, rtol=0, atol=1e-9)
            np.testing.assert_array_equal(demo["obs/state"][()], state_vector(ep).values)
            assert json.loads(demo["obs/state"].attrs["names"]) == list(state_vector(ep).names)
            np.testing.assert_array_equal(demo["action_dict/robot.velocity"][()], ep.action["robot.velocity"])
            columns = list(policy.names)
            assert set(demo["next_obs"]) == set(demo["obs"])
            np.testing.assert_array_equal(demo["next_obs/head_image"][()], np.concatenate([image[1:], image[-1:]]))
            assert json.loads(demo.attrs["action_columns"]) == columns
            assert demo["obs/end.orientation"].shape == (n, 8)
            assert demo["rewards"].shape == (n,) and demo["dones"][()].tolist() == [0] * (n - 1) + [1]
        train = [m.decode() for m in f["mask/train"][()]]
        valid = [m.decode() for m in f["mask/valid"][()]]
        assert f["mask/train"].dtype.kind == "S"
        assert sorted(train + valid) == ["demo_0", "demo_1"] and len(valid) == 1


@pytest.mark.parametrize("compression", ["gzip", "lzf", None])
def test_round_trip(episodes, tmp_path, compression):
    out = write_merged(episodes, tmp_path, compression=compression)
    reader = get_reader("robomimic", out)
    assert isinstance(reader, RobomimicReader)
    assert [r.label for r in reader.refs()] == ["327/100", "327/101"]
    for ref, src in zip(reader.refs(), episodes):
        got = reader.read(ref)
        assert_same_annotations(src, got)
        assert_same_lowdim(src, got, action_atol=ACTION_ATOL)
        assert_same_cameras(src, got, lossless=True)


def test_depth_round_trip(episodes, tmp_path):
    RobomimicWriter(write_depth=True).write_episode(episodes[0], tmp_path / "ep")
    reader = RobomimicReader(tmp_path / "ep" / "data.hdf5")
    got = reader.read(reader.refs()[0])
    np.testing.assert_array_equal(got.cameras["head"].read_depth([3, 0]), episodes[0].cameras["head"].read_depth([3, 0]))


def test_split_is_deterministic():
    names = [f"demo_{i}" for i in range(20)]
    train, valid = split_demos(names, 0.2, seed=7)
    assert (train, valid) == split_demos(names, 0.2, seed=7)
    assert len(valid) == 4 and sorted(train + valid, key=lambda m: int(m[5:])) == names
    assert split_demos(names, 0.2, seed=8) != (train, valid)
    assert split_demos(["demo_0"], 0.5, seed=0) == (["demo_0"], [])


def test_demos_in_numeric_order(tmp_path):
    """demo_2 before demo_10; a foreign file without our attributes still reads."""
    path = tmp_path / "foreign.hdf5"
    with h5py.File(path, "w") as f:
        for i in (10, 2):
            g = f.create_group(f"data/demo_{i}")
            g.attrs["num_samples"] = 3
            g.create_dataset("actions", data=np.full((3, 7), i, np.float32))
            g.create_dataset("obs/agentview_image", data=np.full((3, 8, 8, 3), i, np.uint8))
            g.create_dataset("obs/robot0_eef_pos", data=np.zeros((3, 3)))
        f["data"].attrs["env_args"] = json.dumps({"env_name": "Lift", "type": 1, "env_kwargs": {}})
        assert sorted_demos(f) == ["demo_2", "demo_10"]
    reader = RobomimicReader(path)
    assert [r.label for r in reader.refs()] == ["demo_2", "demo_10"]
    ep = reader.read(reader.refs()[1])
    assert list(ep.cameras) == ["agentview"] and ep.cameras["agentview"][1][0, 0, 0] == 10
    assert ep.action["actions"].shape == (3, 7) and list(ep.state) == ["robot0_eef_pos"]


def test_refuses_non_empty_output(episodes, tmp_path):
    (tmp_path / "ep").mkdir()
    (tmp_path / "ep" / "x").write_text("keep me")
    with pytest.raises(FormatError, match="327/100"):
        get_writer("robomimic").write_episode(episodes[0], tmp_path / "ep")


def test_reads_files_with_the_earlier_action_layout(episodes, tmp_path):
    """Files written before the policy action: `actions` = every action group flattened (normalized), columns
    in `action_layout`, no `action_dict`; the reader maps them back to the groups."""
    out = write_merged(episodes, tmp_path)
    with h5py.File(out / "data.hdf5", "r+") as f:
        data = f["data"]
        raws = []
        for i, ep in enumerate(episodes):
            demo = data[f"demo_{i}"]
            del demo["action_dict"], demo["actions"]
            del demo.attrs["action_keys"]
            layout, start = [], 0
            for key, value in ep.action.items():
                width = int(np.prod(value.shape[1:]))
                layout.append({"key": key, "shape": list(value.shape[1:]), "start": start, "stop": start + width})
                start += width
            demo.attrs["action_layout"] = json.dumps(layout)
            raws.append(np.concatenate([v.reshape(len(v), -1) for v in ep.action.values()], axis=1))
        lo, hi = np.concatenate(raws).min(0), np.concatenate(raws).max(0)
        offset, scale = (hi + lo) / 2, np.where(hi > lo, (hi - lo) / 2, 1.0)
        for i, raw in enumerate(raws):
            data[f"demo_{i}"].create_dataset("actions", data=(raw - offset) / scale)
        data.attrs["action_offset"], data.attrs["action_scale"] = offset, scale
    reader = RobomimicReader(out)
    for ref, src in zip(reader.refs(), episodes):
        assert_same_lowdim(src, reader.read(ref), action_atol=ACTION_ATOL)


def test_a_raw_state_group_named_state(episodes, tmp_path):
    """An episode whose only state group is "state" (read from a dataset that kept no groups) stores it once as
    obs/state, bit-exact; beside other groups the name is refused, naming the episode."""
    ep = episodes[0]
    only = dataclasses.replace(ep, state={"state": ep.state["joint.position"]}, names={})
    out = write_merged([only], tmp_path / "one")
    got = RobomimicReader(out).read(RobomimicReader(out).refs()[0])
    assert list(got.state) == ["state"] and np.array_equal(got.state["state"], ep.state["joint.position"])
    with h5py.File(out / "data.hdf5", "r") as f:
        assert f["data/demo_0/obs/state"].dtype == np.float64
    both = dataclasses.replace(ep, state={"state": ep.state["joint.position"], **ep.state})
    with pytest.raises(FormatError, match="327/100.*collides"):
        RobomimicWriter().write_episode(both, tmp_path / "two")
