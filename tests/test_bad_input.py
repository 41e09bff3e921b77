"""The bad-input corpus (issue 12, item 8): single-defect copies of a clean 3-episode AgiBot sample, and abuse of
the output path. Every case ends in a dataset of the good episodes with a report entry naming the episode, the
file and the reason, or in one clear error line; no staging is ever left behind.

The clean sample (episodes 327/20, 327/21, 327/22; 8 frames at 32x24, depth, poses) is built once per module;
each case copies it and damages episode 327/21 (or the task as a whole), then converts with robomimic, the
cheapest writer, unless the defect is about another writer's schema.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
from agibot_fixtures import H, W, make_episode

from embodied_rerender.cli import main
from embodied_rerender.imageio import write_depth_png
from embodied_rerender.io import agibot_layout as layout
from embodied_rerender.video import write_video

N = 8
BAD = "327/21"
OBS = "observations/327/21"
VID = f"{OBS}/videos"
PAR = "parameters/327/21/parameters/camera"
H5 = "proprio_stats/327/21/proprio_stats.h5"
TASK = "task_info/task_327.json"


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("clean") / "src"
    for ep in ("20", "21", "22"):
        make_episode(root, episode=ep, n=N)
    return root


# -- damage: each takes the copied tree's root --------------------------------------------------------------------
def truncate(rel):
    def damage(root):
        data = (root / rel).read_bytes()
        (root / rel).write_bytes(data[: len(data) // 3])
    return damage


def zero_bytes(rel):
    return lambda root: (root / rel).write_bytes(b"")


def garbage(rel):
    return lambda root: (root / rel).write_bytes(b"\x00not a file of this kind\xff" * 40)


def remove(rel):
    return lambda root: (root / rel).unlink()


def bit_flip(rel):
    """Every byte of the second half of the file inverted: the stream's frames no longer decode."""
    def damage(root):
        data = bytearray((root / rel).read_bytes())
        for i in range(len(data) // 2, len(data)):
            data[i] ^= 0xFF
        (root / rel).write_bytes(bytes(data))
    return damage


def png_as_mp4(rel):
    def damage(root):
        from PIL import Image

        Image.fromarray(np.zeros((H, W, 3), np.uint8)).save(root / rel, format="PNG")
    return damage


def edit_json(rel, change):
    def damage(root):
        value = json.loads((root / rel).read_text())
        (root / rel).write_text(json.dumps(change(value)))
    return damage


def set_rotation(frame, matrix):
    def change(entries):
        entries[frame]["extrinsic"]["rotation_matrix"] = matrix
        return entries
    return change


def edit_h5(change):
    def damage(root):
        with h5py.File(root / H5, "a") as f:
            change(f)
    return damage


def replace(key, value):
    def change(f):
        del f[key]
        f[key] = value
    return change


def nan_at(key, frame):
    def change(f):
        value = f[key][()]
        value[frame] = np.nan
        replace(key, value)(f)
    return change


def depth_files(root, episode="21"):
    return sorted(layout.depth_dir(root, "327", episode).glob("head_depth_*.png"))


def depth_gap(root):
    """000003 missing, 000008 added: the count is right, the frames after the gap are not."""
    files = depth_files(root)
    files[3].unlink()
    shutil.copy(files[4], files[4].with_name("head_depth_000008.png"))


def depth_8bit(root):
    from PIL import Image

    Image.fromarray(np.full((H, W), 100, np.uint8)).save(depth_files(root)[2])


def depth_size(root, all_frames=True, episode="21"):
    for path in depth_files(root, episode) if all_frames else depth_files(root, episode)[5:6]:
        write_depth_png(path, np.full((H * 2, W * 2), 0.8, np.float32))


def video_frames(cam, n):
    from agibot_fixtures import grey_frames

    return lambda root: write_video(root / f"{VID}/{cam}_color.mp4", grey_frames(n), fps=30, codec="h264")


def symlink_to(target_rel):
    def damage(root):
        link = root / f"{VID}/hand_left_color.mp4"
        link.unlink()
        link.symlink_to(root / target_rel)
    return damage


def dangling_symlink(root):
    link = root / f"{VID}/hand_left_color.mp4"
    link.unlink()
    link.symlink_to(root / "nowhere.mp4")


def add_task_entry(**fields):
    def change(entries):
        return entries + [dict(entries[0], **fields)]
    return change


def empty_episode(root):
    """Episode 21 with 0 frames: its proprio has no rows."""
    with h5py.File(root / H5, "a") as f:
        replace("state/joint/position", np.zeros((0, 14)))(f)


def one_frame_episode(root):
    make_episode(root, episode="23", n=1)


# Each case: damage, then the expected skip (episode, file name, words of the reason) or None when the defect is
# tolerated (the episode is written, perhaps with a warning).
CASES = {
    "video truncated": (truncate(f"{VID}/head_color.mp4"), (BAD, "head_color.mp4", "video")),
    "video zero bytes": (zero_bytes(f"{VID}/hand_left_color.mp4"), (BAD, "hand_left_color.mp4", "video")),
    "video bit-flipped": (bit_flip(f"{VID}/hand_right_color.mp4"), (BAD, "hand_right_color.mp4", "")),
    "video is a png": (png_as_mp4(f"{VID}/head_color.mp4"), (BAD, "head_color.mp4", "video")),
    "video garbage": (garbage(f"{VID}/hand_left_color.mp4"), (BAD, "hand_left_color.mp4", "video")),
    "video too short": (video_frames("head", N - 2), (BAD, "head_color.mp4", "6 frames")),
    "video too long": (video_frames("hand_left", N + 3), (BAD, "hand_left_color.mp4", "11 frames")),
    "video symlink to another episode's": (symlink_to("observations/327/20/videos/hand_left_color.mp4"), None),
    "video dangling symlink": (dangling_symlink, (BAD, "hand_left_color.mp4", "")),
    "extrinsics missing": (remove(f"{PAR}/hand_right_extrinsic_params_aligned.json"),
                           (BAD, "hand_right_extrinsic_params_aligned.json", "missing")),
    "extrinsics short": (edit_json(f"{PAR}/head_extrinsic_params_aligned.json", lambda e: e[:-2]),
                         (BAD, "head_extrinsic_params_aligned.json", "entries")),
    "extrinsics empty list": (edit_json(f"{PAR}/head_extrinsic_params_aligned.json", lambda e: []),
                              (BAD, "head_extrinsic_params_aligned.json", "")),
    "extrinsics not json": (garbage(f"{PAR}/head_extrinsic_params_aligned.json"),
                            (BAD, "head_extrinsic_params_aligned.json", "")),
    "extrinsics nan": (edit_json(f"{PAR}/head_extrinsic_params_aligned.json",
                                 set_rotation(4, [[1, 0, 0], [0, float("nan"), 0], [0, 0, 1]])),
                       (BAD, "head_extrinsic_params_aligned.json", "non-finite")),
    "rotation not orthonormal": (edit_json(f"{PAR}/hand_left_extrinsic_params_aligned.json",
                                           set_rotation(6, [[2, 0, 0], [0, 1, 0], [0, 0, 1]])),
                                 (BAD, "hand_left_extrinsic_params_aligned.json", "orthonormal")),
    "rotation reflected": (edit_json(f"{PAR}/hand_left_extrinsic_params_aligned.json",
                                     set_rotation(2, [[-1, 0, 0], [0, 1, 0], [0, 0, 1]])),
                           (BAD, "hand_left_extrinsic_params_aligned.json", "reflection")),
    "rotation not 3x3": (edit_json(f"{PAR}/head_extrinsic_params_aligned.json", set_rotation(1, [[1, 0], [0, 1]])),
                         (BAD, "head_extrinsic_params_aligned.json", "")),
    "intrinsics missing": (remove(f"{PAR}/head_intrinsic_params.json"), (BAD, "head_intrinsic_params.json", "missing")),
    "intrinsics negative focal": (edit_json(f"{PAR}/head_intrinsic_params.json",
                                            lambda k: {**k, "intrinsic": {**k["intrinsic"], "fx": -5.0}}),
                                  (BAD, "head_intrinsic_params.json", "")),
    "h5 broken": (garbage(H5), (BAD, "proprio_stats.h5", "HDF5")),
    "h5 zero bytes": (zero_bytes(H5), (BAD, "proprio_stats.h5", "HDF5")),
    "h5 truncated": (truncate(H5), (BAD, "proprio_stats.h5", "HDF5")),
    "h5 missing": (remove(H5), (BAD, "proprio_stats.h5", "")),
    "h5 without joint state": (edit_h5(lambda f: f.__delitem__("state/joint/position")), (BAD, "proprio_stats.h5", "N")),
    "state nan": (edit_h5(nan_at("state/joint/position", 3)), (BAD, "proprio_stats.h5", "non-finite")),
    "state inf": (edit_h5(replace("state/head/position", np.full((N, 2), np.inf))), (BAD, "proprio_stats.h5", "non-finite")),
    "action nan": (edit_h5(nan_at("action/waist/position", 0)), (BAD, "proprio_stats.h5", "non-finite")),
    "state rows differ": (edit_h5(replace("state/waist/position", np.zeros((N - 1, 2)))), (BAD, "proprio_stats.h5", "rows")),
    "action longer than state": (edit_h5(replace("action/joint/position", np.zeros((N + 4, 14)))),
                                 (BAD, "proprio_stats.h5", "longer")),
    "sparse action index out of range": (edit_h5(lambda f: (replace("action/head/position", np.zeros((3, 2)))(f),
                                                            replace("action/head/index", np.array([0, 4, N + 5]))(f))),
                                         (BAD, "proprio_stats.h5", "outside")),
    "sparse action index negative": (edit_h5(lambda f: (replace("action/head/position", np.zeros((2, 2)))(f),
                                                        replace("action/head/index", np.array([-1, 3]))(f))),
                                     (BAD, "proprio_stats.h5", "outside")),
    "sparse action without index": (edit_h5(lambda f: (replace("action/head/position", np.zeros((3, 2)))(f),
                                                       replace("action/head/index", np.zeros((0,)))(f))),
                                    (BAD, "proprio_stats.h5", "index")),
    "depth png missing": (lambda root: depth_files(root)[4].unlink(), (BAD, "depth", "depth PNGs")),
    "depth png corrupt": (lambda root: depth_files(root)[2].write_bytes(b"\x89PNG broken"), (BAD, "head_depth_000002.png", "depth")),
    "depth png zero bytes": (lambda root: depth_files(root)[0].write_bytes(b""), (BAD, "head_depth_000000.png", "depth")),
    "depth png 8-bit": (depth_8bit, (BAD, "head_depth_000002.png", "16-bit")),
    "depth wrong size": (depth_size, (BAD, "head_depth_000000.png", "video is 32x24")),
    "depth one frame wrong size": (lambda root: depth_size(root, all_frames=False), (BAD, "head_depth_000005.png", "depth")),
    "depth gap with extra index": (depth_gap, (BAD, "head_depth_000003.png", "frame 3 is missing")),
    "task_info traversal id": (edit_json(TASK, add_task_entry(episode_id="../../../../tmp/PWNED")),
                               (None, "task_327.json", "unusable episode_id")),
    "task_info id with separator": (edit_json(TASK, add_task_entry(episode_id="a/b")), (None, "task_327.json", "unusable")),
    "task_info duplicate entry": (edit_json(TASK, add_task_entry(episode_id=21, task_name="Something else")),
                                  (BAD, "task_327.json", "twice")),
    "task_info entry without id": (edit_json(TASK, lambda e: e + [{"task_name": "x"}]), (None, "task_327.json", "unusable")),
    "task_info entry not an object": (edit_json(TASK, lambda e: e + ["episode 21"]), (None, "task_327.json", "unusable")),
    "task_info bad action_config": (edit_json(TASK, lambda e: [dict(x, label_info={"action_config": [{"start_frame": "a"}]})
                                                               if x["episode_id"] == 21 else x for x in e]), None),
    "episode without task_info entry": (edit_json(TASK, lambda e: [x for x in e if x["episode_id"] != 21]),
                                        (BAD, "task_327.json", "no task_info entry")),
    "episode with 0 frames": (empty_episode, (BAD, "proprio_stats.h5", "empty")),
    "episode with 1 frame": (one_frame_episode, None),
}
# Defects that take the whole task's index down: no good episode remains, so the run must fail cleanly.
FATAL = {
    "task_info not json": garbage(TASK),
    "task_info not a list": edit_json(TASK, lambda e: {"episodes": e}),
}


def convert(src: Path, out: Path, capsys, writer: str = "robomimic", *extra: str) -> tuple[int, dict | None, str]:
    code = main(["convert", f"input={src}", f"output={out}", f"writer={writer}", "progress=false", *extra])
    err = capsys.readouterr().err
    report = json.loads((out / "report.json").read_text()) if (out / "report.json").is_file() else None
    return code, report, err


def no_staging(parent: Path) -> bool:
    return not [p for p in parent.iterdir() if p.name.endswith(".staging") or ".old-" in p.name]


def damaged(clean: Path, tmp_path: Path, damage) -> Path:
    src = tmp_path / "src"
    shutil.copytree(clean, src, symlinks=True)
    damage(src)
    return src


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_case(clean, tmp_path, capsys, case):
    damage, expected = CASES[case]
    src = damaged(clean, tmp_path, damage)
    out = tmp_path / "out"
    code, report, err = convert(src, out, capsys)
    assert report is not None, err
    entries = {e["episode"]: e for e in report["episodes"]}
    written = {e["episode"] for e in report["episodes"] if e["status"] == "written"}
    assert {"327/20", "327/22"} <= written, report
    if expected is None:
        assert code == 0 and BAD in written, report
    else:
        episode, file_name, words = expected
        skipped = [e for e in report["episodes"] if e["status"] == "skipped"]
        hit = [e for e in skipped if (episode is None or e["episode"] == episode) and file_name in str(e.get("file"))
               and words in e["reason"]]
        assert code == 2 and hit, skipped
        assert BAD not in written or episode is None
    assert no_staging(tmp_path)
    assert not Path("/tmp/PWNED").exists() and not (tmp_path / "PWNED").exists()


@pytest.mark.parametrize("case", sorted(FATAL))
def test_fatal_input_fails_in_one_line(clean, tmp_path, capsys, case):
    src = damaged(clean, tmp_path, FATAL[case])
    code, report, err = convert(src, tmp_path / "out", capsys)
    assert code == 1 and report is None and not (tmp_path / "out").exists()
    assert len(err.strip().splitlines()) == 1 and "no episode could be written" in err
    assert no_staging(tmp_path)


def test_every_episode_failing_publishes_nothing_and_rerun_works(clean, tmp_path, capsys):
    src = damaged(clean, tmp_path, lambda root: [garbage(f"proprio_stats/327/{e}/proprio_stats.h5")(root)
                                                 for e in ("20", "21", "22")])
    out = tmp_path / "out"
    code, report, err = convert(src, out, capsys)
    assert code == 1 and not out.exists() and no_staging(tmp_path)
    assert "proprio_stats.h5" in err and len(err.strip().splitlines()) == 1
    shutil.rmtree(src)
    shutil.copytree(clean, src)  # the input fixed: the same command now succeeds
    code, report, err = convert(src, out, capsys)
    assert code == 0 and report["summary"]["written"] == 3


def test_camera_set_mismatch_writes_the_common_cameras(clean, tmp_path, capsys):
    """One episode lacks hand_left, another has an extra camera: every episode is written with the cameras
    all of them have, and the report says what was dropped (zarr, whose merge needs identical keys)."""
    from agibot_fixtures import grey_frames

    def damage(root):
        (root / f"{VID}/hand_left_color.mp4").unlink()
        write_video(root / "observations/327/22/videos/head_center_fisheye_color.mp4", grey_frames(N), fps=30, codec="h264")

    src = damaged(clean, tmp_path, damage)
    code, report, err = convert(src, tmp_path / "out", capsys, "zarr")
    assert code == 0, (err, report)
    entries = {e["episode"]: e for e in report["episodes"]}
    assert all(e["status"] == "written" for e in entries.values())
    assert entries["327/20"]["dropped_cameras"] == ["hand_left"]
    assert entries["327/22"]["dropped_cameras"] == ["hand_left", "head_center_fisheye"]
    from embodied_rerender.io.zarr_io import ZarrReader

    reader = ZarrReader(tmp_path / "out")
    assert all(sorted(reader.read(r).cameras) == ["hand_right", "head"] for r in reader.refs())
    assert no_staging(tmp_path)


def test_lerobot_mixed_codecs_and_one_frame_episode(clean, tmp_path, capsys):
    """An AV1 head video among H.264 ones, and a one-frame episode: the run never aborts with lerobot's
    `Same features is expected`; what cannot join the dataset is reported with its reason."""
    from agibot_fixtures import grey_frames

    def damage(root):
        write_video(root / f"{VID}/head_color.mp4", grey_frames(N), fps=30, codec="av1")
        make_episode(root, episode="23", n=1)

    src = damaged(clean, tmp_path, damage)
    code, report, err = convert(src, tmp_path / "out", capsys, "lerobot")
    assert code == 2 and report is not None, err
    entries = {e["episode"]: e for e in report["episodes"]}
    assert [entries[e]["status"] for e in ("327/20", "327/22", "327/23")] == ["written"] * 3
    assert entries[BAD]["status"] == "skipped" and "av1 video, the dataset's is h264" in entries[BAD]["reason"]
    code, report, err = convert(src, tmp_path / "reencoded", capsys, "lerobot", "lerobot.copy_videos=false")
    assert code == 0 and report["summary"]["written"] == 4, report
    assert no_staging(tmp_path)


def test_inspect_reports_what_convert_skips(clean, tmp_path, capsys):
    src = damaged(clean, tmp_path, lambda root: (bit_flip(f"{VID}/hand_right_color.mp4")(root),
                                                 depth_size(root, episode="22")))
    code = main(["inspect", f"input={src}", "format=json"])
    rows = json.loads(capsys.readouterr().out)
    errors = {r["episode"]: r for r in rows if r["status"] == "error"}
    assert code == 2 and set(errors) == {BAD, "327/22"}, rows
    assert errors[BAD]["file"].endswith("hand_right_color.mp4")
    assert errors["327/22"]["file"].endswith("head_depth_000000.png")


# -- output-path abuse ----------------------------------------------------------------------------------------------
def test_output_is_or_overlaps_the_input(clean, tmp_path, capsys):
    src = damaged(clean, tmp_path, lambda root: None)
    before = sorted(p.relative_to(src) for p in src.rglob("*"))
    for out, extra in ((src, "overwrite=true"), (src / "inner", "overwrite=true"), (tmp_path, "overwrite=true")):
        code, _, err = convert(src, out, capsys, "robomimic", extra)
        assert code == 1 and "input" in err and len(err.strip().splitlines()) == 1, err
    assert sorted(p.relative_to(src) for p in src.rglob("*")) == before
    assert no_staging(tmp_path) and no_staging(src)


def test_overwrite_replaces_only_our_own_output(clean, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "precious.txt").write_text("not ours")
    code, _, err = convert(clean, out, capsys, "robomimic", "overwrite=true")
    assert code == 1 and "not an output of embodied-rerender" in err and (out / "precious.txt").exists()
    (out / "precious.txt").unlink()
    assert convert(clean, out, capsys, "robomimic", "overwrite=true")[0] == 0
    assert convert(clean, out, capsys, "zarr", "overwrite=true")[0] == 0  # our own earlier output: replaced
    assert json.loads((out / "report.json").read_text())["writer"] == "zarr" and no_staging(tmp_path)


def test_output_dot_and_unwritable_places(clean, tmp_path, capsys, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    code, _, err = convert(clean, Path("."), capsys, "robomimic", "overwrite=true")
    assert code == 1 and "current directory" in err and not list(tmp_path.glob("*.staging")) and not list(work.iterdir())
    (tmp_path / "file").write_text("x")
    code, _, err = convert(clean, tmp_path / "file" / "out", capsys)
    assert code == 1 and "is a file" in err and len(err.strip().splitlines()) == 1
    if os.geteuid() != 0:  # root writes anywhere
        ro = tmp_path / "ro"
        ro.mkdir(mode=0o555)
        code, _, err = convert(clean, ro / "out", capsys)
        assert code == 1 and "not writable" in err


@pytest.mark.parametrize("name", ["with space", "nön-ascii ünïcode", "comma,and=equals"])
def test_paths_are_taken_as_given(clean, tmp_path, capsys, name):
    src = tmp_path / f"{name} in"
    shutil.copytree(clean, src)
    assert main(["inspect", f"input={src}"]) == 0
    code, report, err = convert(src, tmp_path / f"{name} out", capsys)
    assert code == 0 and report["summary"]["written"] == 3, err


def test_zarr_traversal_id_never_writes_outside(clean, tmp_path, capsys):
    """A zarr input whose attributes carry `x/../../../../tmp/PWNED`: the episode is refused by the reader
    (reported), the others are augmented, and no preview lands outside the output."""
    import zarr

    store = tmp_path / "z"
    assert convert(clean, store, capsys, "zarr", "+zarr.write_depth=true")[0] == 0
    root = zarr.open_group(str(store), mode="r+")
    attrs = dict(root.attrs["embodied_rerender"])
    attrs["episodes"][1] = dict(attrs["episodes"][1], episode_id=f"x/../../../..{tmp_path}/PWNED")
    root.attrs["embodied_rerender"] = attrs
    code = main(["augment", f"input={store}", f"output={tmp_path / 'aug'}", "writer=robomimic", "progress=false",
                 "targets=[head_to_gripper]", "samples=32"])
    report = json.loads((tmp_path / "aug" / "report.json").read_text())
    assert code == 2 and not (tmp_path / "PWNED.mp4").exists() and not list(tmp_path.glob("*PWNED*"))
    assert any("unusable episode id" in e["reason"] for e in report["episodes"] if e["status"] == "skipped")
    assert report["summary"]["written"] == 2


def test_zarr_with_a_pickle_codec_fails_naming_array_and_codec(clean, tmp_path, capsys):
    store = tmp_path / "z"
    assert convert(clean, store, capsys, "zarr", "zarr.zarr_format=2")[0] == 0
    bad = store / "data" / "notes"
    bad.mkdir()
    (bad / ".zarray").write_text(json.dumps({"zarr_format": 2, "shape": [24], "chunks": [24], "dtype": "|O",
                                             "compressor": None, "filters": [{"id": "pickle", "protocol": 4}],
                                             "fill_value": 0, "order": "C"}))
    code, _, err = convert(store, tmp_path / "out", capsys)
    assert code == 1 and "data/notes" in err and "pickle" in err and len(err.strip().splitlines()) == 1, err
    assert no_staging(tmp_path)


def test_shards_manifest_cannot_name_files_outside(clean, tmp_path, capsys):
    from embodied_rerender.errors import DatasetError
    from embodied_rerender.io.shards import ShardDataset

    out = tmp_path / "shards"
    assert convert(clean, out, capsys, "shards")[0] == 0
    (tmp_path / "outside.tar").write_bytes(b"")
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["shards"][0]["name"] = "../outside.tar"
    (out / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(DatasetError, match="not a file of the dataset"):
        ShardDataset(out)
