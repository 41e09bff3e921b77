"""`kill -9` of a run anywhere, then a rerun of the same command: the dataset of an uninterrupted run, and
never a partial dataset at the output path. Killed runs are subprocesses (pipeline/faults.py's points)."""

from __future__ import annotations

import random
import time

import pytest
from run_fixtures import KILLED, assert_same_dataset, kill_then_rerun, made_on_first_use, small_source, start_cli

from embodied_rerender.cli import main
from embodied_rerender.pipeline.run import staging_dir


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    return small_source(tmp_path_factory.mktemp("agibot"))


@pytest.fixture(scope="module")
def clean(source, tmp_path_factory):
    """Uninterrupted runs, one per writer, made on first use."""
    def make(out, writer):
        assert main(["convert", f"input={source}", f"output={out}", f"writer={writer}", "progress=false"]) == 0

    return made_on_first_use(tmp_path_factory.mktemp("clean"), make)


def _args(source, out, writer="shards"):
    return ["convert", f"input={source}", f"output={out}", f"writer={writer}"]


# Every point of pipeline/faults.py; episode points at the second episode so the first is already finished.
# The tiny shard merge is over in milliseconds, too soon for a timer: the LeRobot test below kills mid-merge.
POINTS = ["read:2", "write:2+0.01", "rename:2", "manifest:2", "appended:2", "merge:1", "publish:1"]


@pytest.mark.parametrize("kill_at", POINTS)
def test_kill_then_rerun_gives_the_uninterrupted_dataset(source, clean, tmp_path, kill_at):
    out = tmp_path / "out"
    kill_then_rerun(_args(source, out), out, kill_at, clean("shards"))


def test_kill_while_replacing_an_output_keeps_no_partial_one(source, clean, tmp_path):
    """overwrite=true over a previous dataset, killed between moving the old one aside and renaming the new
    one in: the output path is empty (never half of either), and the rerun publishes and tidies up."""
    out = tmp_path / "out"
    assert main(_args(source, out, "zarr") + ["progress=false"]) == 0
    kill_then_rerun(_args(source, out) + ["overwrite=true"], out, "swap:1", clean("shards"), staged=False)
    assert not list(tmp_path.glob(".out.*"))  # neither staging nor the old output's aside is left


def test_lerobot_killed_mid_merge(source, clean, tmp_path):
    """LeRobot (lerobot's aggregate merges): killed in the middle of the merge, then finished. The merge of 3
    episodes takes about 0.15 s since the linear join: 0.3 s after its start the run could already be published."""
    out = tmp_path / "out"
    kill_then_rerun(_args(source, out, "lerobot"), out, "merge:1+0.05", clean("lerobot"), staged=False)


def test_kill_at_random_times(source, clean, tmp_path):
    """Kills at seeded random moments after the run began: no window that the named points miss."""
    rng = random.Random(7)
    out = tmp_path / "out"
    for _ in range(4):
        proc = start_cli(_args(source, out))
        deadline = time.monotonic() + 60
        while not staging_dir(out).exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(rng.uniform(0, 0.6))
        proc.kill()
        assert proc.wait() in (0, KILLED)
        if out.exists():  # published before the kill landed: then it must be complete
            break
    if not out.exists():
        assert main(_args(source, out) + ["progress=false"]) == 0
    assert_same_dataset(out, clean("shards"))
