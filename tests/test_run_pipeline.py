"""Runs are atomic and resumable, report every episode, and survive bad episodes."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from agibot_fixtures import make_episode

from embodied_rerender.cli import main
from embodied_rerender.errors import DatasetError
from embodied_rerender.io.agibot import AgiBotReader
from embodied_rerender.io.lerobot import LeRobotReader, LeRobotWriter
from embodied_rerender.pipeline.run import run_episodes, staging_dir

os.environ.setdefault("HF_HUB_OFFLINE", "1")


class Killed(BaseException):
    """Stands for a kill: not an Exception, so nothing in the run catches it."""


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    root = tmp_path_factory.mktemp("agibot")
    for i, n in enumerate((8, 6, 7)):
        make_episode(root, episode=str(20 + i), n=n, codec="h264")
    return root


def _content(out):
    reader = LeRobotReader(out)
    return [(e.episode_id, e.num_frames, e.state["joint.position"].tobytes(), e.cameras["head"][:].tobytes())
            for e in (reader.read(r) for r in reader.refs())]


def test_killed_run_leaves_nothing_and_rerun_completes(source, tmp_path):
    out = tmp_path / "out"
    seen = []

    def die_on_second(ep):
        seen.append(ep.episode_id)
        if len(seen) == 2:
            raise Killed()
        return ep, {}

    with pytest.raises(Killed):
        run_episodes(AgiBotReader(source), LeRobotWriter(repo_id="t/o"), out, transform=die_on_second, progress=False)
    assert not out.exists()
    manifest = (staging_dir(out) / "manifest.jsonl").read_text().splitlines()
    assert [json.loads(line)["episode"] for line in manifest] == ["327/20"]

    resumed = []
    report = run_episodes(AgiBotReader(source), LeRobotWriter(repo_id="t/o"), out,
                          transform=lambda ep: (resumed.append(ep.episode_id) or ep, {}), progress=False)
    assert resumed == ["21", "22"]  # the finished episode was not redone
    assert not staging_dir(out).exists() and len(report.written) == 3
    clean = tmp_path / "clean"
    run_episodes(AgiBotReader(source), LeRobotWriter(repo_id="t/o"), clean, progress=False)
    assert _content(out) == _content(clean)


def test_bad_episode_is_skipped_and_reported_by_convert(source, tmp_path, capsys):
    import shutil

    root = tmp_path / "src"
    shutil.copytree(source, root)
    video = root / "observations/327/21/videos/hand_right_color.mp4"
    video.write_bytes(video.read_bytes()[:200])
    out = tmp_path / "out"
    code = main(["convert", f"input={root}", f"output={out}", "progress=false"])
    assert code == 2
    report = json.loads((out / "report.json").read_text())
    status = {e["episode"]: e for e in report["episodes"]}
    assert status["327/20"]["status"] == status["327/22"]["status"] == "written"
    assert status["327/21"]["status"] == "skipped" and status["327/21"]["file"].endswith("hand_right_color.mp4")
    assert "cannot read video" in status["327/21"]["reason"]
    assert [e.episode_id for e in map(LeRobotReader(out).read, LeRobotReader(out).refs())] == ["20", "22"]
    assert "skipped 327/21" in capsys.readouterr().out


def test_existing_output_is_kept_unless_overwrite(source, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(DatasetError):
        run_episodes(AgiBotReader(source), LeRobotWriter(repo_id="t/o"), out, progress=False)
    assert (out / "keep.txt").read_text() == "mine"
    with pytest.raises(DatasetError, match="not an output of embodied-rerender"):  # not ours: never deleted
        run_episodes(AgiBotReader(source), LeRobotWriter(repo_id="t/o"), out, overwrite=True, progress=False)
    assert (out / "keep.txt").read_text() == "mine"
    (out / "keep.txt").unlink()
    run_episodes(AgiBotReader(source), LeRobotWriter(repo_id="t/o"), out, progress=False, overwrite=True)
    (out / "keep.txt").write_text("ours now")  # an earlier output of ours (it has our report.json) is replaced
    run_episodes(AgiBotReader(source), LeRobotWriter(repo_id="t/o"), out, overwrite=True, progress=False)
    assert not (out / "keep.txt").exists() and len(LeRobotReader(out).refs()) == 3
    assert np.isfinite(json.loads((out / "report.json").read_text())["summary"]["seconds"])


@pytest.mark.parametrize("script", ["agibot_to_lerobot", "agibot_to_zarr", "lerobot_to_zarr", "zarr_to_lerobot", "lerobot_to_shards"])
def test_conversion_scripts_have_help(script):
    import subprocess
    import sys
    from pathlib import Path

    path = Path(__file__).parents[1] / "conversions" / f"{script}.py"
    out = subprocess.run([sys.executable, str(path), "--help"], capture_output=True, text=True, check=True).stdout
    assert "usage:" in out and "output" in out
