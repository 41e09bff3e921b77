"""launcher=ray gives the local launcher's dataset; bad episodes and dead workers cost only themselves."""

from __future__ import annotations

import json
import os

import pytest
from run_fixtures import assert_same_dataset, run_cli, run_killed, small_source, with_bad_episodes
from test_agibot_reader import BAD_CASES

from embodied_rerender.cli import main
from embodied_rerender.pipeline.launch import convert
from embodied_rerender.pipeline.run import staging_dir

ray = pytest.importorskip("ray")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
RAY = {"num_workers": 2}


@pytest.fixture(scope="module", autouse=True)
def ray_session():
    """One local Ray for the module (the launcher uses an initialized Ray as it is)."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    return small_source(tmp_path_factory.mktemp("agibot"), lengths=(8, 6, 7, 5))


@pytest.fixture(scope="module")
def local_zarr(source, tmp_path_factory):
    out = tmp_path_factory.mktemp("local") / "out.zarr"
    convert(source, out, "zarr", progress=False)
    return out


def test_ray_convert_equals_local(source, local_zarr, tmp_path):
    out = tmp_path / "out.zarr"
    report = convert(source, out, "zarr", progress=False, launcher="ray", ray=RAY)
    assert [e["episode"] for e in report.written] == ["327/20", "327/21", "327/22", "327/23"]
    assert_same_dataset(out, local_zarr)
    assert not (tmp_path / ".out.zarr.staging").exists()


def test_ray_augment_equals_local(tmp_path):
    src = tmp_path / "agibot"
    assert main(["sample", f"output={src}", "episodes=2", "frames=17", "width=64", "height=48", "progress=false"]) == 0
    args = ["augment", f"input={src}", "writer=shards", "generator=warp", "samples=32", "progress=false",
            "targets=[head_to_gripper]"]
    assert main(args + [f"output={tmp_path / 'local'}"]) == 0
    assert main(args + [f"output={tmp_path / 'ray'}", "launcher=ray", "ray.num_workers=2"]) == 0
    assert_same_dataset(tmp_path / "ray", tmp_path / "local", skip_suffixes=(".mp4",))
    report = json.loads((tmp_path / "ray" / "report.json").read_text())
    assert all("hand_left_synth" in e["synthesized"] for e in report["episodes"])
    assert len(list((tmp_path / "ray" / "previews").glob("*.mp4"))) == 2


@pytest.mark.parametrize("launcher", ["local", "ray"])
def test_bad_episodes_are_reported_and_every_good_one_written(tmp_path, launcher):
    src = tmp_path / "src"
    expected = with_bad_episodes(src, good=5, cases=BAD_CASES)
    out = tmp_path / "out"
    report = convert(src, out, "shards", progress=False, launcher=launcher, ray=RAY)
    assert sorted(e["episode"] for e in report.written) == [f"327/g{i}" for i in range(5)]
    skipped = {e["episode"]: e for e in json.loads((out / "report.json").read_text())["episodes"]
               if e["status"] == "skipped"}
    assert sorted(skipped) == sorted(expected)
    for label, (reason, name) in expected.items():
        assert reason in skipped[label]["reason"] and skipped[label]["file"].endswith(name), skipped[label]
    assert len(json.loads((out / "manifest.json").read_text())["episodes"]) == 5


def test_worker_killed_mid_write_is_retried_on_a_fresh_worker(source, local_zarr, tmp_path, monkeypatch):
    monkeypatch.setenv("EMBODIED_RERENDER_KILL_AT", "write:1")
    monkeypatch.setenv("EMBODIED_RERENDER_KILL_ONCE", str(tmp_path / "killed-once"))
    out = tmp_path / "out.zarr"
    report = convert(source, out, "zarr", progress=False, launcher="ray", ray=RAY)
    assert (tmp_path / "killed-once").exists()  # a worker did die
    assert not report.skipped
    assert_same_dataset(out, local_zarr)


def test_worker_dying_again_costs_only_its_episode(source, tmp_path, monkeypatch):
    monkeypatch.setenv("EMBODIED_RERENDER_KILL_AT", "rename:2")  # every worker dies on its second episode
    out = tmp_path / "out.zarr"
    report = convert(source, out, "zarr", progress=False, launcher="ray", ray={"num_workers": 1, "retries": 0})
    status = {e["episode"]: e for e in report.episodes}
    assert status["327/21"]["status"] == "skipped" and "worker died" in status["327/21"]["reason"]
    assert [e["episode"] for e in report.written] == ["327/20", "327/22"]  # the third worker died on 327/23
    assert status["327/23"]["status"] == "skipped"


def test_driver_killed_then_rerun(source, local_zarr, tmp_path):
    """A command joined to an existing cluster by address (this module's Ray) dies after its first result
    came back; the rerun, with a Ray the command starts itself, skips what the manifest holds and gives
    the uninterrupted dataset."""
    out = tmp_path / "out.zarr"
    args = ["convert", f"input={source}", f"output={out}", "writer=zarr", "launcher=ray", "ray.num_workers=2"]
    address = ray.get_runtime_context().gcs_address
    run_killed(args + [f"ray.address={address}"], "appended:1")
    assert not out.exists()
    assert len((staging_dir(out) / "manifest.jsonl").read_text().splitlines()) >= 1
    rerun = run_cli(args + ["ray.num_cpus=2"])
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert "Started a local Ray instance" in rerun.stderr
    assert_same_dataset(out, local_zarr)


def test_lerobot_schema_is_checked_across_workers(tmp_path):
    """Each worker has its own LeRobot writer; the driver still brings every episode to one schema, as one
    writer would have: the cameras all episodes share are written, the extra ones dropped and reported."""
    from agibot_fixtures import make_episode

    src = tmp_path / "src"
    for episode, cameras in (("30", ("head", "hand_left")), ("31", ("head",)), ("32", ("head", "hand_left"))):
        make_episode(src, episode=episode, n=6, cameras=cameras)
    reports = {launcher: convert(src, tmp_path / launcher, "lerobot", progress=False, launcher=launcher, ray=RAY)
               for launcher in ("local", "ray")}
    for report in reports.values():
        status = {e["episode"]: e for e in report.episodes}
        assert [e["episode"] for e in report.written] == ["327/30", "327/31", "327/32"]
        assert status["327/30"]["dropped_cameras"] == status["327/32"]["dropped_cameras"] == ["hand_left"]
        assert "dropped_cameras" not in status["327/31"]
    assert_same_dataset(tmp_path / "ray", tmp_path / "local")


@pytest.mark.parametrize("verb", ["convert", "augment"])
def test_launcher_keys_are_checked(verb, capsys):
    base = [verb, "input=/nonexistent", "output=/nonexistent_out"]
    assert main(base + ["ray.num_worker=2"]) == 1  # a typo of ray.num_workers
    assert "ray.num_worker" in capsys.readouterr().err
    assert main(base + ["launcher=slurm"]) == 1
    assert "launcher=slurm" in capsys.readouterr().err


def test_workers_that_cannot_start_stop_the_run_with_the_reason(source, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["augment", f"input={source}", f"output={out}", "writer=zarr", "generator=hybrid",
                 f"hybrid.checkpoint={tmp_path / 'missing.safetensors'}", "launcher=ray", "progress=false"])
    assert code == 1
    err = capsys.readouterr().err
    assert "no Ray worker could start" in err and "missing.safetensors" in err
    assert not out.exists()


def test_a_worker_that_fits_nowhere_is_refused(source, tmp_path):
    from embodied_rerender.errors import DatasetError

    with pytest.raises(DatasetError, match="GPU"):
        convert(source, tmp_path / "out", "zarr", progress=False, launcher="ray", ray={"num_gpus_per_worker": 1})
