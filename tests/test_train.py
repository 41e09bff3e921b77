"""Training: pair sampling, loss going down, the staged trainer with resume, DDP gradient equivalence, and the
learned/hybrid synthesizers in the memory loop (tiny configurations on synthetic shards, CPU)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from embodied_rerender.episode import CameraTrajectory
from embodied_rerender.models import DiTConfig, FlowConfig, VideoDiT, sample_timesteps, save_model
from embodied_rerender.train.data import read_shard, write_shard
from embodied_rerender.train.pairs import PairSampler
from embodied_rerender.train.trainer import TrainConfig, loss_on, stage_at, train

H, W, T, CLIP = 12, 16, 12, 4
MODEL = dict(height=H, width=W, frames=CLIP, patch=4, patch_t=2, dim=32, depth=2, heads=2, cam_dim=8, max_context=3)
CAMS = ["head", "hand_left", "hand_right"]


def pose(x: float, t: int) -> np.ndarray:
    p = np.eye(4, dtype=np.float32)
    p[:3, 3] = [x, 0.01 * t, 0.0]
    return p


def fake_shards(root, episodes: int = 2):
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    starts = list(range(0, T - CLIP + 1, 2))
    K = np.array([[12.0, 0, 7.5], [0, 12.0, 5.5], [0, 0, 1]], np.float32)
    for e in range(episodes):
        tensors = {}
        for i, cam in enumerate(CAMS):
            base = rng.integers(0, 255, (1, H, W, 3))
            tensors[f"{cam}.frames"] = np.clip(base + np.arange(T)[:, None, None, None] * 3, 0, 255).astype(np.uint8)
            tensors[f"{cam}.K"] = K
            tensors[f"{cam}.c2w"] = np.stack([pose(0.1 * i, t) for t in range(T)])
        for j, wrist in enumerate(CAMS[1:]):
            tensors[f"{wrist}.prior"] = tensors[f"{wrist}.frames"] // 2
            tensors[f"{wrist}.covered"] = np.full((T, H, W), 255, np.uint8)
            table = rng.random((len(starts), len(CAMS) * len(starts))).astype(np.float32)
            table[:, len(starts) * (2 - j) + 1] = 5.0  # the other wrist at start index 1 always wins
            tensors[f"covis.{wrist}"] = table
        meta = {"episode": f"1_{e}", "cameras": CAMS, "wrists": CAMS[1:], "starts": starts, "clip": CLIP,
                "height": H, "width": W, "frames": T}
        write_shard(root / f"episode_1_{e}", tensors, meta, compress=e % 2 == 1)
    return root


def test_shards_round_trip_and_pairs_follow_retrieval(tmp_path):
    root = fake_shards(tmp_path / "shards")
    tensors, meta = read_shard(next(root.glob("*.gz")))
    assert tensors["head.frames"].dtype == torch.uint8 and meta["clip"] == CLIP
    sampler = PairSampler.from_dir(root, k_max=3, jitter=0.0)
    batch = sampler.sample(8, 2, torch.Generator().manual_seed(0))
    assert batch.target.shape == (8, 3, CLIP, H, W) and batch.context.shape == (8, 3, 3, CLIP, H, W)
    assert batch.prior.shape == (8, 4, CLIP, H, W) and batch.clean.shape == (8, CLIP // 2)
    assert batch.context_mask.sum(1).tolist() == [2] * 8
    assert (batch.context_ids[:, 0, 1] == 0).all()  # slot 0: the head camera ...
    starts = batch.context_ids[:, 0, 2]
    torch.testing.assert_close(batch.context_c2w[:, 0, 0, 1, 3], 0.01 * starts.float())  # ... over the target's frames
    other = batch.context_ids[:, 1]
    assert set(other[:, 1].tolist()) <= {1, 2} and (other[:, 2] == 2).all()  # the planted top co-visibility clip
    assert (batch.context[~batch.context_mask] == 0).all()
    rand = PairSampler.from_dir(root, k_max=3, retrieval="random").sample(32, 3, torch.Generator().manual_seed(0))
    assert len(set(map(tuple, rand.context_ids[:, 1].tolist()))) > 3


def test_a_few_steps_lower_the_loss(tmp_path):
    sampler = PairSampler.from_dir(fake_shards(tmp_path / "s"), k_max=3)
    mcfg = DiTConfig(**MODEL)
    torch.manual_seed(0)
    model = VideoDiT(mcfg)
    g = torch.Generator().manual_seed(0)
    batch = sampler.sample(4, 2, g)
    t = sample_timesteps(4, FlowConfig(), g)
    eps = torch.randn(batch.target.shape, generator=g)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    before = float(loss_on(model, batch, mcfg, t, eps, 2).detach())
    for _ in range(25):
        loss = loss_on(model, batch, mcfg, t, eps, 2)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(loss_on(model, batch, mcfg, t, eps, 2).detach()) < 0.7 * before


def test_stage_schedule_is_progressive_then_self_conditioning():
    cfg = TrainConfig(stage_steps=[4, 3, 2, 1], self_cond_steps=2)
    seen = [stage_at(cfg, s / 12) for s in range(12)]
    assert [k for _, k, _ in seen] == [1, 1, 1, 1, 2, 2, 2, 3, 3, 4, 4, 4]
    assert [sc for _, _, sc in seen] == [False] * 10 + [True] * 2


def test_trainer_writes_checkpoints_logs_and_resumes(tmp_path):
    data = fake_shards(tmp_path / "s")
    cfg = dict(data=str(data), output=str(tmp_path / "out"), model=MODEL, flow={"steps": 2}, batch_size=2,
               stage_steps=[2, 1, 1], self_cond_steps=2, self_cond_prob=1.0, self_cond_sample_steps=1, log_every=1,
               warmup=1, save_every=0, device="cpu")
    summary = train(TrainConfig.from_dict(cfg))
    out = tmp_path / "out"
    assert summary["steps"] == 6
    for name in ("last.safetensors", "last.json", "last.optim.safetensors", "model.safetensors", "model.json",
                 "loss.csv", "samples_final.png", "summary.json"):
        assert (out / name).exists(), name
    rows = (out / "loss.csv").read_text().splitlines()
    assert rows[0].startswith("step,stage,k") and rows[-1].split(",")[3] == "1"  # ended in self-conditioning
    assert json.loads((out / "model.json").read_text())["model"]["prior_channels"] == 4
    again = train(TrainConfig.from_dict({**cfg, "self_cond_steps": 4}))  # resumes at step 6, runs 2 more
    assert again["steps"] == 8


@pytest.mark.ddp
@pytest.mark.parametrize("strategy", ["ddp", "fsdp"])
def test_ddp_two_processes_match_one_process_on_the_joined_batch(tmp_path, strategy):
    """DDP and FSDP (sharded weights) on 2 gloo processes give the one-process gradients of the joined batch.
    Run in a fresh interpreter with a hard timeout: gloo rendezvous inside a long pytest process that
    has already run many torch and video tests was seen to hang, which must never stall CI."""
    import subprocess
    import sys

    from ddp_grads import grads
    from safetensors.torch import load_file

    root = str(fake_shards(tmp_path / "s"))
    result = str(tmp_path / "ddp.safetensors")
    script = Path(__file__).with_name("ddp_grads.py")
    subprocess.run([sys.executable, str(script), root, result, strategy], check=True, timeout=300)
    ddp, single = load_file(result), grads(root, 1, 0)
    assert ddp.keys() == single.keys()
    for k in single:
        torch.testing.assert_close(ddp[k], single[k], rtol=1e-4, atol=1e-6, msg=k)


@pytest.mark.ddp
def test_fsdp_training_under_torchrun_writes_whole_checkpoints_and_resumes(tmp_path):
    """`torchrun -m embodied_rerender.train parallel=fsdp` on 2 gloo processes: the checkpoint it gathers loads
    as a plain model, and a rerun resumes from it (sharded AdamW moments restored) where it stopped."""
    import os
    import subprocess
    import sys

    from embodied_rerender.models import load_model

    import socket

    data, out = fake_shards(tmp_path / "s"), tmp_path / "out"
    env = dict(os.environ, GLOO_SOCKET_IFNAME="lo", OMP_NUM_THREADS="1")

    def run(stage_steps: str):
        with socket.socket() as s:  # a free loopback port (torchrun's static rendezvous hangs on port 0)
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_addr=127.0.0.1",
               f"--master_port={port}", "-m", "embodied_rerender.train", f"data={data}", f"output={out}",
               f"model={json.dumps(MODEL)}", "init=none", "flow.steps=1", "batch_size=2", f"stage_steps={stage_steps}",
               "self_cond_steps=0", "log_every=1", "warmup=1", "save_every=0", "device=cpu", "parallel=fsdp"]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-2000:]
        return json.loads((out / "summary.json").read_text())

    assert run("[2,1]")["steps"] == 3
    model, _, _ = load_model(out / "model")
    assert sum(p.numel() for p in model.parameters()) == sum(p.numel() for p in VideoDiT(DiTConfig(**MODEL)).parameters())
    assert run("[2,3]")["steps"] == 5  # resumed at step 3
    assert len((out / "loss.csv").read_text().splitlines()) == 1 + 5


def test_learned_and_hybrid_synthesizers_run_in_the_memory_loop(tmp_path):
    from embodied_rerender.generate import SYNTHESIZERS, Target, run_autoregressive
    from embodied_rerender.memory import MemoryBank, View

    for mode, prior in (("hybrid", 4), ("learned", 0)):
        torch.manual_seed(0)
        save_model(tmp_path / mode, VideoDiT(DiTConfig(**MODEL, prior_channels=prior)), FlowConfig(steps=2))
    n, h, w = 7, 24, 32  # longer than one clip and not a multiple of it; twice the model's size
    K = np.array([[24.0, 0, 15.5], [0, 24.0, 11.5], [0, 0, 1]])
    down = np.diag([1.0, -1.0, -1.0, 1.0])
    down[2, 3] = 1.0
    traj = CameraTrajectory(np.repeat(down[None], n, 0), K, h, w)
    frames = np.random.default_rng(0).integers(0, 255, (n, h, w, 3), dtype=np.uint8)
    for mode in ("hybrid", "learned"):
        bank = MemoryBank(num_samples=32)
        bank.add(View("head", frames, np.ones((n, h, w), np.float32), traj))
        synth = SYNTHESIZERS[mode](checkpoint=tmp_path / f"{mode}.safetensors")
        steps = run_autoregressive(bank, [Target("a", traj), Target("b", traj)], synth, k=2, seed=3)
        out = steps[1].synthesis
        assert steps[1].context == ["head", "a"]
        assert out.frames.shape == (n, h, w, 3) and out.frames.dtype == np.uint8
        assert out.depth.shape == (n, h, w) and out.covered.shape == (n, h, w)
        if mode == "hybrid":
            assert out.covered.mean() > 0.9 and out.depth.max() > 0  # the warp prior's depth goes back to the bank
        else:
            assert out.depth.max() == 0  # no geometry: invalid depth in the bank's convention
        again = run_autoregressive(MemoryBank(num_samples=32), [], synth)
        assert again == []
        bank2 = MemoryBank(num_samples=32)
        bank2.add(View("head", frames, np.ones((n, h, w), np.float32), traj))
        repeat = run_autoregressive(bank2, [Target("a", traj)], synth, k=2, seed=3)
        assert np.array_equal(repeat[0].synthesis.frames, steps[0].synthesis.frames)  # same seed, same bytes


def test_compiled_training_runs_the_same_step(tmp_path):
    # compile=true goes through torch.compile (inductor: a C++ compiler on the CPU) and trains the same model:
    # its first logged loss equals the eager run's on the same batch.
    data = fake_shards(tmp_path / "s")
    cfg = dict(data=str(data), model=MODEL, flow={"steps": 2}, batch_size=2, stage_steps=[1], self_cond_steps=0,
               log_every=1, warmup=1, save_every=0, device="cpu", amp=False)
    losses = {}
    for compiled in (False, True):
        out = tmp_path / f"out_{compiled}"
        assert train(TrainConfig.from_dict({**cfg, "output": str(out), "compile": compiled}))["steps"] == 1
        losses[compiled] = float((out / "loss.csv").read_text().splitlines()[1].split(",")[4])
    assert losses[True] == pytest.approx(losses[False], rel=1e-4)
