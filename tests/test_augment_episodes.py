"""`augment output_mode=episodes`: each source episode written as recorded plus one episode per synthesized
viewpoint (`<episode>__head_shift_<i>`, its head camera replaced), in LeRobot and zarr, resumable after a kill;
`head_shift` targets; the default cameras mode unchanged."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from run_fixtures import kill_then_rerun, made_on_first_use

from embodied_rerender.cli import main
from embodied_rerender.io.agibot import AgiBotReader
from embodied_rerender.pipeline.run import staging_dir
from embodied_rerender.pipeline.targets import build_targets

os.environ.setdefault("HF_HUB_OFFLINE", "1")

COUNT = 2
SOURCES = ["1000/900000", "1000/900001"]
LABELS = [f"{s}{suffix}" for s in SOURCES for suffix in ["", *(f"__head_shift_{i}" for i in range(COUNT))]]


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """Two sample episodes of 17 frames (the sample's shortest) at 80x60."""
    src = tmp_path_factory.mktemp("agibot") / "src"
    assert main(["sample", f"output={src}", "episodes=2", "frames=17", "width=80", "height=60", "progress=false"]) == 0
    return src


def _augment_args(src, out, writer, mode="episodes"):
    return ["augment", f"input={src}", f"output={out}", f"writer={writer}", "targets=[head_shift]",
            f"head_shift.count={COUNT}", f"output_mode={mode}", "replace_camera=head", "samples=64", "preview=false"]


@pytest.fixture(scope="module")
def augmented(source, tmp_path_factory):
    """Episodes-mode outputs, one per writer, made on first use."""
    def make(out, writer):
        assert main(_augment_args(source, out, writer) + ["progress=false"]) == 0

    return made_on_first_use(tmp_path_factory.mktemp("episodes"), make)


def _check_report(out):
    report = json.loads((out / "report.json").read_text())
    assert [e["episode"] for e in report["episodes"]] == LABELS
    assert report["summary"]["written"] == len(LABELS) and report["summary"]["skipped"] == 0
    for entry in report["episodes"]:
        if "__" in entry["episode"]:
            src, target = entry["episode"].split("__")
            assert entry["source_episode"] == src
            syn = entry["synthetic"]
            assert (syn["generator"], syn["target"], syn["replaces"]) == ("warp", target, "head")
        else:
            assert "synthetic" not in entry and set(entry["synthesized"]) == {"head_shift_0", "head_shift_1"}


def _check_episodes(episodes: list, recorded: dict):
    """Our reader's view of an episodes-mode dataset against the recorded source episodes."""
    assert len(episodes) == len(LABELS)
    written = dict(zip(LABELS, episodes))
    for label, ep in zip(LABELS, episodes):
        base, _, target = label.partition("__")
        rec = recorded[base]
        assert ep.episode_id == label.split("/")[1] and ep.task == rec.task
        for key in rec.action:
            np.testing.assert_allclose(ep.action[key], rec.action[key], atol=1e-6)
        for key in rec.state:
            np.testing.assert_allclose(ep.state[key], rec.state[key], atol=1e-6)
        head, rec_head = ep.cameras["head"][:].astype(np.float32), rec.cameras["head"][:].astype(np.float32)
        assert head.shape == rec_head.shape
        if not target:
            assert "synthetic" not in ep.metadata
            assert np.abs(head - rec_head).mean() < 3  # the recorded view (re-encoded at most)
            continue
        syn = ep.metadata["synthetic"]
        assert (syn["target"], syn["replaces"], syn["source_episode"]) == (target, "head", base.split("/")[1])
        assert np.abs(head - rec_head).mean() > 5, "a shifted head view must differ from the recorded one"
        offset = np.array(syn["provenance"]["offset"])
        np.testing.assert_allclose(ep.cameras["head"].trajectory.extrinsics,
                                   rec.cameras["head"].trajectory.extrinsics @ offset, atol=1e-5)
        # the other cameras are the recorded ones, written as in the recorded episode (zarr's codec is lossy)
        np.testing.assert_array_equal(ep.cameras["hand_left"][:4], written[base].cameras["hand_left"][:4])


@pytest.fixture(scope="module")
def recorded(source):
    reader = AgiBotReader(source)
    return {ref.label: reader.read(ref) for ref in reader.refs()}


def test_lerobot_episodes_mode(augmented, recorded):
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    from embodied_rerender.io.lerobot import LeRobotReader

    out = augmented("lerobot")
    _check_report(out)
    reader = LeRobotReader(out)
    _check_episodes([reader.read(ref) for ref in reader.refs()], recorded)

    ds = LeRobotDataset("embodied-rerender/lerobot", root=out, video_backend="pyav")
    assert ds.meta.total_episodes == len(LABELS)
    bounds = ds.meta.episodes
    first = {i: int(bounds[i]["dataset_from_index"]) for i in range(len(LABELS))}
    for group in (0, 3):  # each source episode and its two shifted copies
        a = ds[first[group] + 5]
        for j in (1, 2):
            b = ds[first[group + j] + 5]
            assert int(b["episode_index"]) == group + j and b["task"] == a["task"]
            np.testing.assert_array_equal(b["action"].numpy(), a["action"].numpy())
            np.testing.assert_array_equal(b["observation.state"].numpy(), a["observation.state"].numpy())
            assert (b["observation.images.head"] - a["observation.images.head"]).abs().mean() > 0.02
            assert (b["observation.images.hand_left"] - a["observation.images.hand_left"]).abs().max() == 0


def test_zarr_episodes_mode(augmented, recorded):
    from embodied_rerender.io.zarr_io import ZarrReader

    out = augmented("zarr")
    _check_report(out)
    reader = ZarrReader(out)
    _check_episodes([reader.read(ref) for ref in reader.refs()], recorded)


def test_robomimic_and_shards_episodes_mode(augmented):
    """The other two writers: every episode written, the synthetic ones marked in their own metadata."""
    from embodied_rerender.io.robomimic import RobomimicReader

    for writer in ("robomimic", "shards"):
        _check_report(augmented(writer))
    reader = RobomimicReader(augmented("robomimic") / "data.hdf5")
    episodes = [reader.read(ref) for ref in reader.refs()]
    assert [e.episode_id for e in episodes] == [label.split("/")[1] for label in LABELS]
    assert [e.metadata.get("synthetic", {}).get("target") for e in episodes] == \
        [label.partition("__")[2] or None for label in LABELS]
    manifest = json.loads((augmented("shards") / "manifest.json").read_text())
    assert [e["episode_id"] for e in manifest["episodes"]] == [label.split("/")[1] for label in LABELS]
    assert [e.get("synthetic", {}).get("target") for e in manifest["episodes"]] == \
        [label.partition("__")[2] or None for label in LABELS]


@pytest.mark.parametrize("kill_at", ["rename:1", "appended:1"])
def test_killed_episodes_run_resumes_to_the_same_dataset(source, augmented, tmp_path, kill_at):
    """Killed with the first source episode's three outputs written but not renamed (rename:1), or finished
    and in the manifest (appended:1): the rerun gives the uninterrupted dataset."""
    out = tmp_path / "out"
    kill_then_rerun(_augment_args(source, out, "zarr"), out, kill_at, augmented("zarr"), timeout=300)


def test_cameras_mode_is_unchanged(source, tmp_path):
    """The default mode: one episode per source, the shifted views added as cameras beside the recorded head."""
    from embodied_rerender.io.zarr_io import ZarrReader

    out = tmp_path / "out"
    args = _augment_args(source, out, "zarr", mode="cameras")
    assert main([a for a in args if not a.startswith(("output_mode=", "replace_camera="))] + ["progress=false"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert [e["episode"] for e in report["episodes"]] == SOURCES
    reader = ZarrReader(out)
    episodes = [reader.read(ref) for ref in reader.refs()]
    assert len(episodes) == 2
    for ep in episodes:
        assert {"head", "head_shift_0", "head_shift_1"} <= set(ep.cameras) and "synthetic" not in ep.metadata
        assert ep.cameras["head_shift_0"].provenance["shifted"] == "head"


def test_head_shift_targets_are_seeded_rigid_offsets_within_bounds(recorded):
    a, b = recorded[SOURCES[0]], recorded[SOURCES[1]]
    options = {"head_shift": {"count": 3, "max_translation_m": 0.1, "max_rotation_deg": 10}}
    first = build_targets(a, ["head_shift"], options, seed=0)
    assert [t.name for t in first] == ["head_shift_0", "head_shift_1", "head_shift_2"]
    again = build_targets(a, ["head_shift"], options, seed=0)
    other_episode = build_targets(b, ["head_shift"], options, seed=0)
    other_seed = build_targets(a, ["head_shift"], options, seed=1)
    head = a.cameras["head"].trajectory
    for t, t2, t3, t4 in zip(first, again, other_episode, other_seed):
        np.testing.assert_array_equal(t.trajectory.extrinsics, t2.trajectory.extrinsics)
        assert t.info["offset"] != t3.info["offset"] and t.info["offset"] != t4.info["offset"]
        assert t.info["translation_m"] <= 0.1 and t.info["rotation_deg"] <= 10
        offset = np.array(t.info["offset"])
        np.testing.assert_allclose(offset[:3, :3] @ offset[:3, :3].T, np.eye(3), atol=1e-12)
        np.testing.assert_allclose(t.trajectory.extrinsics, head.extrinsics @ offset)
        assert (t.trajectory.height, t.trajectory.width) == (head.height, head.width) and t.ground_truth is None


def test_head_shift_aim_m_moves_in_the_image_plane_and_re_aims(recorded):
    """`head_shift.aim_m`: the move lies in the camera's image plane, within max_translation_m, and the rotation
    turns the optical axis onto the point aim_m ahead (bench-policy's geometry); the default draw is unchanged."""
    from embodied_rerender.pipeline.targets import episode_seed, random_rigid_offset

    a = recorded[SOURCES[0]]
    options = {"head_shift": {"count": 3, "max_translation_m": 0.1, "aim_m": 0.6}}
    aimed = build_targets(a, ["head_shift"], options, seed=0)
    head = a.cameras["head"].trajectory
    for t in aimed:
        offset = np.array(t.info["offset"])
        move = offset[:3, 3]
        assert abs(move[2]) < 1e-12 and 0 < np.linalg.norm(move) <= 0.1 and t.info["aim_m"] == 0.6
        in_new = offset[:3, :3].T @ (np.array([0.0, 0.0, 0.6]) - move)  # the aim point in the moved camera
        np.testing.assert_allclose(in_new[:2], 0.0, atol=1e-9)
        assert in_new[2] > 0 and 0 < t.info["rotation_deg"] < 10
        np.testing.assert_allclose(t.trajectory.extrinsics, head.extrinsics @ offset)
    assert len({json.dumps(t.info["offset"]) for t in aimed}) == 3
    default = build_targets(a, ["head_shift"], {"head_shift": {"count": 3}}, seed=0)
    rng = np.random.default_rng(episode_seed(0, a, "head_shift"))
    for t in default:
        np.testing.assert_array_equal(np.array(t.info["offset"]), random_rigid_offset(rng, 0.10, 10.0))
        assert "aim_m" not in t.info
    with pytest.raises(ValueError, match="aim_m must be > 0"):
        build_targets(a, ["head_shift"], {"head_shift": {"aim_m": 0.0}})


def test_bad_output_mode_and_replace_camera_are_clear_errors(source, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(_augment_args(source, out, "zarr", mode="sideways") + ["progress=false"]) == 1
    assert "unknown output_mode=sideways" in capsys.readouterr().err
    args = [a if not a.startswith("replace_camera=") else "replace_camera=nope" for a in _augment_args(source, out, "zarr")]
    assert main(args + ["progress=false"]) == 1
    assert "replace_camera=nope is not a camera of the episode" in capsys.readouterr().err
    assert not out.exists() and not staging_dir(out).exists()
