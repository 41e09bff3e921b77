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


def hdf5_content(path) -> dict:
    """Every group's and dataset's attributes and values (the bytes of the file differ from run to run: HDF5
    object headers keep creation times)."""
    import h5py

    def plain(attrs):
        return {k: v.tolist() if hasattr(v, "tolist") else v for k, v in attrs.items()}

    out = {}
    with h5py.File(path) as f:
        out["/"] = plain(f.attrs)
        f.visititems(lambda name, obj: out.__setitem__(name, (plain(obj.attrs), obj[()].tobytes(), obj.dtype.str,
                                                              obj.compression, obj.is_virtual)
                                                       if isinstance(obj, h5py.Dataset) else plain(obj.attrs)))
    return out


def assert_same_robomimic(a, b) -> None:
    assert hdf5_content(a / "data.hdf5") == hdf5_content(b / "data.hdf5")
    ra, rb = (json.loads((p / "report.json").read_text()) for p in (a, b))
    assert ra["episodes"] == rb["episodes"]


def _no_one_shot_merge(monkeypatch):
    from embodied_rerender.io.robomimic import RobomimicWriter

    def refuse(self, dirs, out):
        raise AssertionError("the one-shot merge ran: the early merge was not used")

    monkeypatch.setattr(RobomimicWriter, "merge", refuse)


def test_robomimic_is_merged_while_processes_write(source, tmp_path, monkeypatch):
    """The driver copies finished episodes into the HDF5 file during the run (the writers run in other
    processes); the file is the one a one-process run writes."""
    local = tmp_path / "local"
    run_job(Job(input=str(source), writer="robomimic"), local, progress=False)
    _no_one_shot_merge(monkeypatch)
    out = tmp_path / "two"
    report = run_job(Job(input=str(source), writer="robomimic"), out, progress=False, workers=2)
    assert len(report.written) == 4
    assert_same_robomimic(out, local)


def test_early_merge_gives_way_when_an_episode_is_rewritten(tmp_path, monkeypatch):
    """An episode rewritten to the common camera set after it was copied: the early copy is dropped and the
    usual merge writes the dataset, as one process would."""
    import h5py
    from agibot_fixtures import make_episode

    src = tmp_path / "src"
    for episode, cameras in (("30", ("head", "hand_left")), ("31", ("head",)), ("32", ("head", "hand_left"))):
        make_episode(src, episode=episode, n=6, cameras=cameras)
    from embodied_rerender.io.robomimic import RobomimicWriter

    one_shot, merges = RobomimicWriter.merge, []
    monkeypatch.setattr(RobomimicWriter, "merge", lambda self, dirs, out: merges.append(out) or one_shot(self, dirs, out))
    reports = {w: run_job(Job(input=str(src), writer="robomimic"), tmp_path / str(w), progress=False, workers=w)
               for w in (1, 2)}
    assert len(merges) == 2  # the two-process run fell back to the one-shot merge
    status = {e["episode"]: e for e in reports[2].episodes}
    assert status["327/30"]["dropped_cameras"] == ["hand_left"]
    with h5py.File(tmp_path / "2" / "data.hdf5") as f:
        assert all(sorted(k for k in f[f"data/demo_{i}/obs"] if k.endswith("_image")) == ["head_image"]
                   for i in range(3))
    assert_same_robomimic(tmp_path / "2", tmp_path / "1")


def test_cpu_share_follows_the_launchers_thread_limit(monkeypatch):
    from embodied_rerender.threads import cpu_share

    cores = len(os.sched_getaffinity(0))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert cpu_share() == 1
    monkeypatch.setenv("OMP_NUM_THREADS", str(cores + 5))
    assert cpu_share() == cores  # never more than this process may run on
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert cpu_share() == cores
    monkeypatch.setenv("OMP_NUM_THREADS", "two")
    assert cpu_share() == cores


def _report_environment(queue, env):
    from embodied_rerender.pipeline.processes import _adopt

    _adopt(env)
    import torch

    queue.put((os.environ.get("EMBODIED_RERENDER_PROBE"), os.environ.get("OMP_NUM_THREADS"), torch.get_num_threads()))


def test_workers_take_the_drivers_environment_of_the_moment_they_start(monkeypatch):
    """A forked worker starts with the forkserver's environment (set when the server started, maybe by an
    earlier run); it must see the driver's, and its thread share, as a spawned one would."""
    from embodied_rerender.pipeline import processes

    ctx = processes.worker_context()
    monkeypatch.setenv("EMBODIED_RERENDER_PROBE", "now")
    with processes._thread_limits(2):
        env = dict(os.environ)
    queue = ctx.Queue()
    proc = ctx.Process(target=_report_environment, args=(queue, env))
    proc.start()
    got = queue.get(timeout=120)
    proc.join(timeout=30)
    assert got == ("now", "2", 2)


def test_the_forkserver_preload_never_touches_cuda():
    """The server forks every worker: had its imports started CUDA (even `torch.cuda.is_available()` initializes
    the driver), a forked worker's CUDA would be broken. Run the preload with every way in to CUDA refused."""
    import subprocess
    import sys

    probe = ("import torch, torch.cuda\n"
             "def refuse(*a, **k):\n    raise RuntimeError('CUDA touched at import')\n"
             "torch.cuda._lazy_init = refuse\ntorch.cuda.is_available = refuse\ntorch.cuda.device_count = refuse\n"
             "torch._C._cuda_getDeviceCount = refuse\n"
             "import embodied_rerender.pipeline.preload\nprint('clean', torch.cuda.is_initialized())\n")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and "clean False" in out.stdout, out.stderr[-2000:]
