"""ShardWriter / ShardDataset: pre-windowed WebDataset tar shards."""

from __future__ import annotations

import json
import tarfile

import numpy as np
import pytest

from writer_fixtures import LENGTHS, psnr, two_episodes

torch = pytest.importorskip("torch")

from embodied_rerender.errors import ConsistencyError  # noqa: E402
from embodied_rerender.io import get_writer  # noqa: E402
from embodied_rerender.io.policy import action_vector, state_vector  # noqa: E402
from embodied_rerender.io.shards import ShardDataset, ShardWriter, window_indices  # noqa: E402

TO, TA = 2, 4
CAMERAS = ("head", "hand_left", "hand_right")


@pytest.fixture(scope="module")
def episodes(tmp_path_factory):
    return two_episodes(tmp_path_factory.mktemp("agibot"))


def write_merged(episodes, root, **options):
    writer = ShardWriter(obs_horizon=TO, action_horizon=TA, **options)
    dirs = []
    for i, ep in enumerate(episodes):
        info = writer.write_episode(ep, root / f"ep{i}")
        assert info["samples"] == len(ep)
        dirs.append(root / f"ep{i}")
    writer.merge(dirs, root / "out")
    return root / "out"


def test_window_indices_pad_at_edges():
    obs, obs_pad, act, act_pad = window_indices(0, 5, 3, 4)
    assert obs.tolist() == [0, 0, 0] and obs_pad.tolist() == [True, True, False]
    assert act.tolist() == [0, 1, 2, 3] and not act_pad.any()
    obs, obs_pad, act, act_pad = window_indices(3, 5, 3, 4)
    assert obs.tolist() == [1, 2, 3] and not obs_pad.any()
    assert act.tolist() == [3, 4, 4, 4] and act_pad.tolist() == [False, False, True, True]


def test_tar_layout_and_manifest(episodes, tmp_path):
    limit = 40_000
    out = write_merged(episodes, tmp_path, lossless=True, max_shard_bytes=limit)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["num_samples"] == sum(LENGTHS) == sum(s["samples"] for s in manifest["shards"])
    assert len(manifest["shards"]) > 1
    assert [e["episode_id"] for e in manifest["episodes"]] == ["100", "101"]
    assert [e["first_sample"] for e in manifest["episodes"]] == [0, LENGTHS[0]]
    assert manifest["shapes"]["action"] == [TA, 22] and manifest["shapes"]["image.head"] == [TO, 24, 32, 3]
    assert manifest["cameras"]["head"]["provenance"] == {} and manifest["state_columns"] == list(state_vector(episodes[0]).names)
    keys_seen = []
    for shard in manifest["shards"]:
        path = out / shard["name"]
        assert path.stat().st_size == shard["bytes"]
        assert shard["bytes"] <= limit or shard["samples"] == 1
        with tarfile.open(path) as tar:
            names = tar.getnames()
        keys = [n.split(".", 1)[0] for n in names]
        grouped = [k for i, k in enumerate(keys) if i == 0 or keys[i - 1] != k]
        assert len(grouped) == len(set(grouped)) == shard["samples"]  # each sample's files are consecutive
        first = [n.split(".", 1)[1] for n in names if n.startswith(grouped[0] + ".")]
        assert first == manifest["keys"]
        keys_seen += grouped
    assert keys_seen[:2] == ["327-100_000000", "327-100_000001"] and keys_seen[-1] == "327-101_000011"


def expected_window(ep, t):
    n = len(ep)
    obs, obs_pad, act, act_pad = window_indices(t, n, TO, TA)
    state = state_vector(ep).values
    action = action_vector(ep).values
    return obs, obs_pad, act, act_pad, state[obs], action[act]


@pytest.mark.parametrize("lossless", [True, False])
def test_every_window_matches_source(episodes, tmp_path, lossless):
    out = write_merged(episodes, tmp_path, lossless=lossless, max_shard_bytes=100_000)
    ds = ShardDataset(out, dtype=torch.float64)
    assert len(ds) == sum(LENGTHS)
    i = 0
    for ep in episodes:
        frames = {c: ep.cameras[c][:] for c in CAMERAS}
        for t in range(len(ep)):
            s = ds[i]
            obs, obs_pad, act, act_pad, state, action = expected_window(ep, t)
            assert s["key"] == f"327-{ep.episode_id}_{t:06d}" and s["frame"] == t and s["episode"] == ep.episode_id
            assert s["obs_pad"].tolist() == obs_pad.tolist() and s["action_pad"].tolist() == act_pad.tolist()
            assert s["obs_pad"].tolist() == ([True, False] if t == 0 else [False, False])
            assert s["action_pad"].sum() == max(0, t + TA - len(ep))
            assert torch.equal(s["state"], torch.from_numpy(state))
            assert torch.equal(s["action"], torch.from_numpy(action))
            for c in CAMERAS:
                img = s[f"images.{c}"]
                assert img.shape == (TO, 3, 24, 32) and img.dtype == torch.uint8
                want = frames[c][obs]
                got = img.permute(0, 2, 3, 1).numpy()
                if lossless:
                    np.testing.assert_array_equal(got, want)
                else:
                    assert psnr(got, want) >= 40.0
                np.testing.assert_array_equal(s[f"{c}.extrinsics"].numpy(), ep.cameras[c].trajectory.extrinsics[obs])
                np.testing.assert_array_equal(s[f"{c}.intrinsics"].numpy(), np.broadcast_to(ep.cameras[c].trajectory.intrinsics, (TO, 3, 3)))
            assert s["task"] == "Pick up the cup"
            assert s["segment"] == ("Pick up the cup" if t < len(ep) // 2 else "Place the cup")
            i += 1


def test_stats_over_all_frames(episodes, tmp_path):
    out = write_merged(episodes, tmp_path, max_shard_bytes=10**6)
    stats = json.loads((out / "stats.json").read_text())
    for group in ("state", "action"):
        x = np.concatenate([{"state": state_vector, "action": action_vector}[group](ep).values for ep in episodes])
        s = stats[group]
        assert s["count"] == len(x) == sum(LENGTHS)
        np.testing.assert_allclose(s["mean"], x.mean(0))
        np.testing.assert_allclose(s["std"], x.std(0))
        assert s["min"] == x.min(0).tolist() and s["max"] == x.max(0).tolist()
        np.testing.assert_allclose(s["q01"], np.quantile(x, 0.01, axis=0))
        np.testing.assert_allclose(s["q99"], np.quantile(x, 0.99, axis=0))
        assert len(s["columns"]) == x.shape[1]
    assert ShardDataset(out).stats()["action"]["count"] == sum(LENGTHS)


def test_default_dtype_and_dataloader(episodes, tmp_path):
    out = write_merged(episodes, tmp_path)
    ds = ShardDataset(out)
    batch = next(iter(torch.utils.data.DataLoader(ds, batch_size=4)))
    assert batch["action"].shape == (4, TA, 22) and batch["action"].dtype == torch.float32
    assert batch["images.head"].shape == (4, TO, 3, 24, 32)


def test_merge_refuses_different_horizons(episodes, tmp_path):
    ShardWriter(obs_horizon=2).write_episode(episodes[0], tmp_path / "a")
    ShardWriter(obs_horizon=3).write_episode(episodes[1], tmp_path / "b")
    with pytest.raises(ConsistencyError, match="layout"):
        get_writer("shards").merge([tmp_path / "a", tmp_path / "b"], tmp_path / "out")
