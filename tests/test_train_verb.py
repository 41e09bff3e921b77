"""The `train` verb through `cli.main` on a tiny sample dataset: pair finding, the pack cache (resumable after a
kill, reused), training from scratch with a tiny model, resume, validation.json, and `augment generator=hybrid
checkpoint=OUT` on the result."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from run_fixtures import run_killed

from embodied_rerender.cli import main
from embodied_rerender.episode import ArrayFrames, CameraStream, CameraTrajectory, Episode
from embodied_rerender.errors import DatasetError
from embodied_rerender.train.cameras import Pair, episode_pairs, find_pairs, source_cameras

TINY = ["init=none", "device=cpu", "model.height=12", "model.width=16", "model.frames=4", "model.patch=4",
        "model.patch_t=2", "model.dim=32", "model.depth=2", "model.heads=2", "model.cam_dim=8", "model.max_context=2",
        "flow.steps=1", "batch_size=2", "warmup=1", "log_every=1", "self_cond_steps=1", "self_cond_sample_steps=1",
        "stage_steps=[1,1]", "pack.val_frames=6", "pack.samples=16", "val_k=2", "progress=false"]


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Path:
    """3 sample episodes (AgiBot layout) of 17 frames (the scene's shortest motion) at 64 x 48."""
    root = tmp_path_factory.mktemp("train_verb") / "agibot"
    assert main(["sample", f"output={root}", "episodes=3", "frames=17", "width=64", "height=48",
                 "progress=false"]) == 0
    return root


def camera(name: str, depth: bool = False, posed: bool = True, synthesized: bool = False) -> CameraStream:
    n, h, w = 4, 6, 8
    K = np.array([[8.0, 0, 4], [0, 8.0, 3], [0, 0, 1]])
    traj = CameraTrajectory(np.repeat(np.eye(4)[None], n, 0), K, h, w) if posed else None
    return CameraStream(name, ArrayFrames(np.zeros((n, h, w, 3), np.uint8)), traj,
                        ArrayFrames(np.ones((n, h, w), np.float32)) if depth else None,
                        {"generator": "warp"} if synthesized else {})


def test_pair_finder_finds_exactly_the_pairs_of_known_cameras():
    cams = [camera("hand_left"), camera("head", depth=True), camera("hand_right"), camera("side_view"),
            camera("chest", depth=True), camera("head_left_fisheye", posed=False),
            camera("hand_left_synth", depth=True, synthesized=True)]
    ep = Episode("7", 30.0, {c.name: c for c in cams}, task_id="1")
    assert source_cameras(ep) == ["head", "chest"]  # head first: context slot 0
    assert find_pairs(ep) == ([Pair("head", t) for t in ["hand_left", "hand_right", "side_view", "chest"]]
                              + [Pair("chest", t) for t in ["hand_left", "head", "hand_right", "side_view"]])
    no_depth = Episode("8", 30.0, {c.name: c for c in [camera("front"), camera("wrist")]})
    with pytest.raises(DatasetError, match=r"no camera pair in /data/mine \(episode 8\).*depth"):
        episode_pairs(no_depth, "/data/mine")
    lone = Episode("9", 30.0, {"head": camera("head", depth=True), "fish": camera("fish", posed=False)})
    with pytest.raises(DatasetError, match="no other recorded camera has camera parameters"):
        episode_pairs(lone, "/data/mine")


def test_train_packs_trains_resumes_validates_and_augment_loads_it(sample, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", f"input={sample}", f"output={out}", "steps=2", *TINY]) == 0
    cache = tmp_path / ".run.pack"
    index = json.loads((cache / "pack.json").read_text())
    splits = sorted(e["split"] for e in index["episodes"].values())
    assert splits == ["train", "train", "val"] and not index["skipped"]
    for entry in index["episodes"].values():
        assert entry["pairs"] == [["head", "hand_left"], ["head", "hand_right"]]
        assert entry["shard"].startswith("eval_" if entry["split"] == "val" else "episode_")
    for name in ("model.safetensors", "model.json", "last.safetensors", "last.optim.safetensors", "validation.json"):
        assert (out / name).exists(), name
    report = json.loads((out / "validation.json").read_text())
    held_out = [k for k, e in index["episodes"].items() if e["split"] == "val"]
    assert report["episodes"] == held_out
    rows = report["rows"]
    assert {(r["camera"], r["generator"]) for r in rows} == {(c, g) for c in ("hand_left", "hand_right")
                                                             for g in ("warp", "model")}
    assert all(r["frames"] == 6 and r["psnr"] > 0 for r in rows)  # the same 6 held-out frames for both
    assert set(report["summary"]) >= {"warp", "model", "model_minus_warp_psnr"}

    shards = {p.name: p.stat().st_mtime_ns for p in cache.iterdir()}
    assert main(["train", f"input={sample}", f"output={out}", "steps=4", *TINY]) == 0  # resumes at step 2
    summary = json.loads((out / "summary.json").read_text())
    assert summary["steps"] == 4 and summary["resumed_at"] == 2
    assert [int(r.split(",")[0]) for r in (out / "loss.csv").read_text().splitlines()[1:]] == [1, 2, 3, 4]
    assert {p.name: p.stat().st_mtime_ns for p in cache.iterdir() if p.name != "pack.json"} == \
        {k: v for k, v in shards.items() if k != "pack.json"}  # the cache was reused, nothing repacked

    aug = tmp_path / "augmented"
    code = main(["augment", f"input={sample}", f"output={aug}", "generator=hybrid", f"checkpoint={out}",
                 "writer=zarr", "preview=false", "progress=false", "k=2"])
    assert code == 0, capsys.readouterr().err
    written = json.loads((aug / "report.json").read_text())
    assert any("hand_left_synth" in e.get("synthesized", {}) for e in written["episodes"])


def test_packing_resumes_after_a_kill(sample, tmp_path):
    out = tmp_path / "killed"
    run_killed(["train", f"input={sample}", f"output={out}", "steps=1", *TINY], "pack:2", timeout=300)  # 2nd episode
    cache = tmp_path / ".killed.pack"
    first = json.loads((cache / "pack.json").read_text())["episodes"]
    assert len(first) == 1 and not out.exists()
    (key, entry), = first.items()
    stamp = (cache / entry["shard"]).stat().st_mtime_ns
    assert main(["train", f"input={sample}", f"output={out}", "steps=1", "validate=false", *TINY]) == 0
    after = json.loads((cache / "pack.json").read_text())["episodes"]
    assert len(after) == 3 and after[key] == entry
    assert (cache / entry["shard"]).stat().st_mtime_ns == stamp  # kept, not packed again


def test_init_resolves_the_shipped_checkpoint_and_refuses_a_clashing_model(tmp_path):
    from embodied_rerender.train.run import model_settings, resolve_init

    shipped = resolve_init("pretrained", "hybrid")
    assert shipped.name == "hybrid_ref.safetensors" and resolve_init("none", "hybrid") is None
    model, mode = model_settings({"model": {"height": None}, "mode": "learned"}, shipped)
    assert mode == "hybrid" and model["dim"] == 256  # the checkpoint decides
    with pytest.raises(DatasetError, match="model.dim=256, not dim=32"):
        model_settings({"model": {"dim": 32}, "mode": "hybrid"}, shipped)
    with pytest.raises(DatasetError, match="init=.*nowhere"):
        resolve_init(str(tmp_path / "nowhere"), "hybrid")
    assert main(["train", f"output={tmp_path / 'x'}"]) == 1  # neither input= nor data=


def test_train_reads_any_reader_and_names_a_dataset_without_depth(sample, tmp_path, capsys):
    """zarr written with depth trains like the AgiBot tree; the same zarr without its depth array is refused."""
    import shutil

    zarr = tmp_path / "zarr"
    assert main(["convert", f"input={sample}", f"output={zarr}", "writer=zarr", "+zarr.write_depth=true",
                 "progress=false"]) == 0
    assert main(["train", f"input={zarr}", f"output={tmp_path / 'z'}", "steps=1", "validate=false", *TINY]) == 0
    index = json.loads((tmp_path / ".z.pack" / "pack.json").read_text())
    assert len(index["episodes"]) == 3
    shutil.rmtree(zarr / "data" / "head.depth")
    capsys.readouterr()
    assert main(["train", f"input={zarr}", f"output={tmp_path / 'nd'}", "steps=1", *TINY]) == 1
    err = capsys.readouterr().err
    assert f"no camera pair in {zarr}" in err and "need a source camera with depth" in err
    assert not (tmp_path / ".nd.pack").exists()


def test_a_dataset_without_pairs_leaves_no_pack_cache(tmp_path, capsys):
    from agibot_fixtures import make_episode

    make_episode(tmp_path / "agibot", n=6, depth=False)
    assert main(["train", f"input={tmp_path / 'agibot'}", f"output={tmp_path / 'out'}", "steps=1", *TINY]) == 1
    assert "no camera pair" in capsys.readouterr().err
    assert not (tmp_path / ".out.pack").exists() and not (tmp_path / "out").exists()


@pytest.mark.ddp
def test_torchrun_entry_runs_the_same_verb(sample, tmp_path):
    """`torchrun -m embodied_rerender.train input=DATASET` on 2 gloo processes: rank 0 packs while rank 1 waits,
    both train, rank 0 validates; a rerun resumes."""
    import socket

    out = tmp_path / "ddp"
    env = dict(os.environ, GLOO_SOCKET_IFNAME="lo", OMP_NUM_THREADS="1")

    def run(steps: int) -> dict:
        with socket.socket() as s:  # a free loopback port
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_addr=127.0.0.1",
               f"--master_port={port}", "-m", "embodied_rerender.train", f"input={sample}", f"output={out}",
               f"steps={steps}", *TINY]
        proc = subprocess.run(cmd, env=env, cwd=Path(__file__).parents[1], capture_output=True, text=True,
                              timeout=300)
        assert proc.returncode == 0, proc.stderr[-2000:]
        return json.loads((out / "summary.json").read_text())

    first = run(2)
    assert first["steps"] == 2 and first["pack"]["train"] == 2 and "validation" in first
    assert run(3)["resumed_at"] == 2
