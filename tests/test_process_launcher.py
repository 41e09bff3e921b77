"""launcher=local workers=N: the same dataset as one process; bad episodes and dead processes cost only themselves."""

from __future__ import annotations

import json
import os

import pytest
from run_fixtures import assert_same_dataset, small_source, with_bad_episodes
from test_agibot_reader import BAD_CASES

from embodied_rerender.cli import main
from embodied_rerender.errors import DatasetError
from embodied_rerender.pipeline.launch import Job, run_job
from embodied_rerender.pipeline.processes import worker_devices

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    return small_source(tmp_path_factory.mktemp("agibot"), lengths=(8, 6, 7, 5))


@pytest.fixture(scope="module")
def local_zarr(source, tmp_path_factory):
    out = tmp_path_factory.mktemp("local") / "out.zarr"
    run_job(Job(input=str(source), writer="zarr"), out, progress=False)
    return out


def test_augment_in_processes_equals_one_process(tmp_path):
    src = tmp_path / "agibot"
    assert main(["sample", f"output={src}", "episodes=2", "frames=17", "width=64", "height=48", "progress=false"]) == 0
    args = ["augment", f"input={src}", "writer=shards", "generator=warp", "samples=32", "progress=false",
            "targets=[head_to_gripper]"]
    assert main(args + [f"output={tmp_path / 'one'}"]) == 0
    assert main(args + [f"output={tmp_path / 'two'}", "workers=2"]) == 0
    assert_same_dataset(tmp_path / "two", tmp_path / "one", skip_suffixes=(".mp4",))
    report = json.loads((tmp_path / "two" / "report.json").read_text())
    assert [e["episode"] for e in report["episodes"]] == [e["episode"] for e in
                                                          json.loads((tmp_path / "one" / "report.json").read_text())["episodes"]]
    assert all("hand_left_synth" in e["synthesized"] for e in report["episodes"])
    assert len(list((tmp_path / "two" / "previews").glob("*.mp4"))) == 2


def test_bad_episodes_are_reported_and_every_good_one_written(tmp_path):
    src = tmp_path / "src"
    expected = with_bad_episodes(src, good=5, cases=BAD_CASES)
    out = tmp_path / "out"
    report = run_job(Job(input=str(src), writer="shards"), out, progress=False, workers=2)
    assert sorted(e["episode"] for e in report.written) == [f"327/g{i}" for i in range(5)]
    skipped = {e["episode"]: e for e in report.episodes if e["status"] == "skipped"}
    assert sorted(skipped) == sorted(expected)


def test_process_killed_mid_write_is_retried_on_a_fresh_one(source, local_zarr, tmp_path, monkeypatch):
    monkeypatch.setenv("EMBODIED_RERENDER_KILL_AT", "write:1")
    monkeypatch.setenv("EMBODIED_RERENDER_KILL_ONCE", str(tmp_path / "killed-once"))
    out = tmp_path / "out.zarr"
    report = run_job(Job(input=str(source), writer="zarr"), out, progress=False, workers=2)
    assert (tmp_path / "killed-once").exists()  # a process did die
    assert not report.skipped
    assert_same_dataset(out, local_zarr)


def test_process_dying_again_costs_only_its_episode(source, tmp_path, monkeypatch):
    monkeypatch.setenv("EMBODIED_RERENDER_KILL_AT", "rename:2")  # every process dies on its second episode
    out = tmp_path / "out.zarr"
    from embodied_rerender.pipeline import processes

    monkeypatch.setattr(processes.ProcessLauncher.__init__, "__defaults__", (0,))  # retries=0
    report = run_job(Job(input=str(source), writer="zarr"), out, progress=False, workers=2)
    assert len(report.written) + len(report.skipped) == 4
    for entry in report.skipped:
        assert "worker process died 1 times" in entry["reason"]
    assert report.skipped and report.written


def test_processes_that_cannot_start_stop_the_run_with_the_reason(source, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["augment", f"input={source}", f"output={out}", "writer=zarr", "generator=hybrid",
                 f"hybrid.checkpoint={tmp_path / 'missing.safetensors'}", "workers=2", "progress=false"])
    assert code == 1
    err = capsys.readouterr().err
    assert "no worker process could start" in err and "missing.safetensors" in err
    assert not out.exists()


def test_workers_key_is_checked(capsys):
    base = ["convert", "input=/nonexistent", "output=/nonexistent_out"]
    assert main(base + ["workers=0"]) == 1
    assert "workers=0" in capsys.readouterr().err
    assert main(base + ["workers=2", "launcher=ray"]) == 1
    assert "ray.num_workers" in capsys.readouterr().err


def test_cuda_processes_go_round_the_visible_devices(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert worker_devices("cuda", 3) == ["cuda:0", "cuda:1", "cuda:0"]
    assert worker_devices("cuda:1", 2) == ["cuda:1", "cuda:1"]
    assert worker_devices("cpu", 2) == ["cpu", "cpu"]
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert worker_devices("cuda", 2) == ["cuda", "cuda"]


def test_zero_workers_is_refused():
    from embodied_rerender.pipeline.processes import ProcessLauncher

    with pytest.raises(DatasetError, match="workers=0"):
        ProcessLauncher(Job(input="x", writer="zarr"), 0)
