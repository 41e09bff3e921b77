"""LeRobot v3 output: lerobot loads it, frames line up with the source, round trips are exact, merges work."""

from __future__ import annotations

import contextlib
import json
import os

import numpy as np
import pandas as pd
import pytest
import torch
from agibot_fixtures import make_episode

from embodied_rerender.episode import ArrayFrames, CameraStream
from embodied_rerender.io import EpisodeRef, get_reader
from embodied_rerender.io.agibot import AgiBotReader
from embodied_rerender.io.lerobot import LeRobotReader, LeRobotWriter
from embodied_rerender.io.policy import action_vector, state_vector
from embodied_rerender.pipeline.run import run_episodes

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    root = tmp_path_factory.mktemp("agibot")
    make_episode(root, episode="11", n=12, codec="av1")
    make_episode(root, episode="12", n=9, codec="av1")
    return root


@pytest.fixture(scope="module")
def converted(source, tmp_path_factory):
    out = tmp_path_factory.mktemp("lerobot") / "ds"
    report = run_episodes(AgiBotReader(source), LeRobotWriter(repo_id="test/ds"), out, progress=False)
    return out, report


def test_round_trip_is_exact(source, converted):
    out, report = converted
    assert [e["cameras"]["head"] for e in report.written] == ["copied", "copied"]
    src_reader, back = AgiBotReader(source), get_reader(None, out)
    assert isinstance(back, LeRobotReader) and len(back.refs()) == 2
    for ref in back.refs():
        ep = back.read(ref)
        src = src_reader.read(EpisodeRef("327", ep.episode_id))
        assert (ep.num_frames, ep.task, ep.scene, ep.task_id) == (src.num_frames, src.task, src.scene, "327")
        assert [(s.start, s.end, s.text, s.skill) for s in ep.segments] == [(s.start, s.end, s.text, s.skill) for s in src.segments]
        for group in ("state", "action"):
            a, b = getattr(src, group), getattr(ep, group)
            assert set(a) == set(b)
            for key in a:
                assert a[key].shape == b[key].shape and np.array_equal(a[key], b[key]), key
        np.testing.assert_array_equal(ep.timestamps, src.timestamps)
        for name, cam in src.cameras.items():
            # stream copy: the very same compressed frames, so decoding gives identical pixels
            np.testing.assert_array_equal(ep.cameras[name][:], cam[:])
            np.testing.assert_array_equal(ep.cameras[name].trajectory.extrinsics, cam.trajectory.extrinsics)
            np.testing.assert_array_equal(ep.cameras[name].trajectory.intrinsics, cam.trajectory.intrinsics)


def test_lerobot_loads_it_frame_by_frame(source, converted):
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    out, _ = converted
    ds = LeRobotDataset("test/ds", root=out, video_backend="pyav")
    assert ds.meta.total_episodes == 2 and len(ds) == 21
    assert ds.meta.info["codebase_version"] == "v3.0" and ds.meta.features["observation.images.head"]["info"]["video.codec"] == "av1"
    src = AgiBotReader(source)
    for ep_index, ep_id in enumerate(("11", "12")):
        start = int(ds.meta.episodes[ep_index]["dataset_from_index"])
        ep = src.read(EpisodeRef("327", ep_id))
        for t in (0, ep.num_frames // 2, ep.num_frames - 1):
            item = ds[start + t]
            assert int(item["episode_index"]) == ep_index and int(item["frame_index"]) == t
            for cam in ("head", "hand_left", "hand_right"):
                got = (item[f"observation.images.{cam}"].permute(1, 2, 0).numpy() * 255).round()
                assert np.abs(got - ep.cameras[cam][t]).max() <= 1, (ep_id, t, cam)
            np.testing.assert_allclose(item["camera.head.extrinsics"].numpy().reshape(4, 4),
                                       ep.cameras["head"].trajectory.extrinsics[t])
            assert item["observation.state"].shape == (20,) and item["action"].shape == (22,)
            np.testing.assert_array_equal(item["observation.state"].numpy(), state_vector(ep).values[t])
            np.testing.assert_array_equal(item["action"].numpy(), action_vector(ep).values[t])
            assert item["task"] == "Pick up the cup"


def test_synthesized_camera_is_encoded_with_provenance(source, tmp_path):
    """A camera with no source file is encoded (PSNR >= 40 dB) and its provenance lands in the metadata."""
    src = AgiBotReader(source).read(EpisodeRef("327", "11"))
    frames = np.stack([np.roll(f, 3, axis=1) for f in src.cameras["head"][:]])
    src.add_camera(CameraStream("head_synth", ArrayFrames(frames), src.cameras["head"].trajectory,
                                provenance={"generator": "warp", "seed": 0, "sources": ["head"]}))
    writer = LeRobotWriter(repo_id="test/syn", crf=20)
    info = writer.write_episode(src, tmp_path / "one")
    assert info["cameras"]["head_synth"] == "encoded" and info["cameras"]["head"] == "copied"
    back = LeRobotReader(tmp_path / "one").read(EpisodeRef("", "0"))
    assert psnr(back.cameras["head_synth"][:], frames) >= 40
    assert back.cameras["head_synth"].provenance["generator"] == "warp"
    side = json.loads((tmp_path / "one" / "meta" / "embodied_rerender.json").read_text())
    assert side["cameras"]["head_synth"]["sources"] == ["head"]


def test_two_outputs_merge_with_lerobot_aggregate(source, converted, tmp_path):
    from lerobot.datasets.aggregate import aggregate_datasets
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    out, _ = converted
    second = tmp_path / "second"
    run_episodes(AgiBotReader(source), LeRobotWriter(repo_id="test/ds"), second, progress=False)
    aggregate_datasets(["test/a", "test/b"], "test/ab", roots=[out, second], aggr_root=tmp_path / "ab")
    ds = LeRobotDataset("test/ab", root=tmp_path / "ab", video_backend="pyav")
    assert ds.meta.total_episodes == 4 and len(ds) == 42
    assert abs(float(ds[21 + 12 + 4]["observation.images.head"].mean()) * 255 - (16 + 7 * 4)) <= 1


def test_episode_index_equals_lerobots_own_loader(converted):
    """The merge's fast `meta/episodes` read gives lerobot's `load_episodes` result: columns, types, values."""
    from lerobot.datasets.utils import load_episodes

    from embodied_rerender.io.lerobot import load_episode_index

    out, _ = converted
    ours, theirs = load_episode_index(out), load_episodes(out)
    assert ours.column_names == theirs.column_names and ours.features == theirs.features
    assert ours.to_pandas().equals(theirs.to_pandas())
    assert not any(c.startswith("stats/") for c in ours.column_names)


def _video_files(root) -> dict:
    """relative path -> decoded `(N, H, W, 3) uint8` frames of every video file of a LeRobot dataset."""
    from embodied_rerender.video import VideoReader

    out = {}
    for p in sorted((root / "videos").rglob("*.mp4")):
        reader = VideoReader(p)
        out[str(p.relative_to(root))] = reader.read(list(range(reader.num_frames)))
    return out


@pytest.mark.parametrize("file_mb", [None, 0.0025])
def test_merge_joins_each_video_file_once_with_lerobots_result(source, tmp_path, file_mb):
    """The deferred concatenation and parquet writes give lerobot's own aggregate: the same video files, frames
    table and episode index. With a size limit small enough to rotate files (0.0025 MB: about two of these
    1.1 KB episodes), ours judges a file's size by the sum of its parts, an upper bound of the joined file, so it may start new files sooner than
    lerobot does; every file stays under the limit and every episode reads back the same frames."""
    from lerobot.datasets.aggregate import aggregate_datasets
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    from embodied_rerender.io.lerobot import _deferred_appends, load_episode_index

    reader, writer = AgiBotReader(source), LeRobotWriter(repo_id="test/m")
    dirs = []
    for i, ref in enumerate(list(reader.refs()) * 2):
        dirs.append(tmp_path / f"staged_{i}")
        writer.write_episode(reader.read(ref), dirs[-1])
    outs = {}
    for name, deferred in (("lerobot", False), ("ours", True)):
        outs[name] = tmp_path / name
        with _deferred_appends() if deferred else contextlib.nullcontext():
            aggregate_datasets(repo_ids=[f"test/m_{i}" for i in range(len(dirs))], aggr_repo_id="test/m", roots=dirs,
                               aggr_root=outs[name], video_files_size_in_mb=file_mb)
    theirs, ours = _video_files(outs["lerobot"]), _video_files(outs["ours"])
    tables = [pd.concat([pd.read_parquet(f) for f in sorted((outs[n] / "data").rglob("*.parquet"))], ignore_index=True)
              for n in ("lerobot", "ours")]
    pd.testing.assert_frame_equal(tables[1], tables[0])
    if file_mb is None:
        assert theirs.keys() == ours.keys() and len(ours) == 3
        for key in theirs:
            np.testing.assert_array_equal(ours[key], theirs[key])
        assert load_episode_index(outs["ours"]).to_pandas().equals(load_episode_index(outs["lerobot"]).to_pandas())
        return
    assert len(ours) > 3 and all(p.stat().st_size <= file_mb * 1024**2 for p in (outs["ours"] / "videos").rglob("*.mp4"))
    a, b = (LeRobotDataset("test/m", root=outs[n], video_backend="pyav") for n in ("lerobot", "ours"))
    assert len(a) == len(b) == 42
    for i in range(len(a)):
        for cam in ("head", "hand_left", "hand_right"):
            key = f"observation.images.{cam}"
            assert torch.equal(a[i][key], b[i][key]), (i, cam)


def test_only_policy_features_use_policy_prefixes(converted):
    """Everything beside the videos, `observation.state` and `action` is under a name lerobot's factory skips."""
    from lerobot.datasets.utils import dataset_to_policy_features

    out, _ = converted
    features = json.loads((out / "meta" / "info.json").read_text())["features"]
    policy = dataset_to_policy_features(features)
    assert set(policy) == {"observation.images.head", "observation.images.hand_left", "observation.images.hand_right",
                           "observation.state", "action"}
    names = features["observation.state"]["names"]
    assert len(names) == len(set(names)) == 20 and "waist.position.pitch" in names and "head.position.pitch" in names
    assert features["action"]["names"][-2:] == ["robot.velocity.linear_x", "robot.velocity.yaw_rate"]
    for key in ("camera.head.extrinsics", "camera.hand_left.intrinsics", "proprio.state.end.orientation",
                "proprio.action.robot.velocity", "source.timestamp_ns", "annotation.skill"):
        assert key in features, key


OLD_NAMES = {"camera.": "observation.cameras.", "proprio.state.": "observation.states.", "proprio.action.": "actions.",
             "source.timestamp_ns": "observation.source_timestamp_ns"}


def _old_name(key: str) -> str:
    for new, old in OLD_NAMES.items():
        if key.startswith(new):
            return old + key[len(new):]
    return key


def test_reads_datasets_written_with_the_earlier_names(source, converted, tmp_path):
    """A dataset with the earlier feature names (`observation.cameras.*`, `observation.states.*`, `actions.*`,
    `observation.source_timestamp_ns`) reads back the same as the current one."""
    import shutil

    import pyarrow.parquet as pq

    out, _ = converted
    old = tmp_path / "old"
    shutil.copytree(out, old)
    info_path = old / "meta" / "info.json"
    info = json.loads(info_path.read_text())
    info["features"] = {_old_name(k): v for k, v in info["features"].items()}
    info_path.write_text(json.dumps(info))
    for path in (old / "data").rglob("*.parquet"):
        table = pq.read_table(path)
        pq.write_table(table.rename_columns([_old_name(c) for c in table.column_names]), path)
    side_path = old / "meta" / "embodied_rerender.json"
    side = json.loads(side_path.read_text())
    for record in side["episodes"]:
        record["shapes"] = {_old_name(k): v for k, v in record["shapes"].items()}
    side_path.write_text(json.dumps(side))
    assert "observation.states.end.position" in info["features"] and "camera.head.extrinsics" not in info["features"]
    new_reader, old_reader = LeRobotReader(out), LeRobotReader(old)
    for ref in new_reader.refs():
        a, b = new_reader.read(ref), old_reader.read(ref)
        assert (a.episode_id, a.task_id, len(a)) == (b.episode_id, b.task_id, len(b))
        for group in ("state", "action"):
            assert list(getattr(a, group)) == list(getattr(b, group))
            for key, value in getattr(a, group).items():
                np.testing.assert_array_equal(getattr(b, group)[key], value)
        np.testing.assert_array_equal(a.timestamps, b.timestamps)
        for name, cam in a.cameras.items():
            np.testing.assert_array_equal(b.cameras[name].trajectory.extrinsics, cam.trajectory.extrinsics)
            np.testing.assert_array_equal(b.cameras[name].trajectory.intrinsics, cam.trajectory.intrinsics)
