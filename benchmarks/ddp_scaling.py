"""Multi-GPU training scaling: the real trainer (`python -m embodied_rerender.train`) under torchrun on 1 GPU and on
N GPUs, same per-GPU batch (weak scaling), same shards, same wall-clock budget.

    python benchmarks/ddp_scaling.py --data .carry/train --gpus 2 [--seconds 60] [--batch 16] [--parallel ddp]

Every run trains at k = 4 contexts for the whole budget (stage_steps=[0,0,0,1], no self-conditioning), so every
step has the same token count. Figures: the median of the trainer's logged samples/s (all ranks together; it
logs every --log-every steps) after dropping the first two log rows (CUDA/NCCL warm-up); tokens/s from the
sequence length of the model config. `speedup` = N-GPU samples/s / 1-GPU samples/s; `efficiency` =
speedup / N. One JSON object per line on stdout.

--small: a CPU smoke check (figures mean nothing): tiny synthetic shards (written to a temporary directory when
--data is not given), a tiny model, 2 gloo processes, 3 s per run.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(nproc: int, args, out: Path) -> dict:
    # A static rendezvous on loopback: --standalone resolves the host name, which hung on the device machine.
    cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={nproc}", "--master_addr=127.0.0.1",
           f"--master_port={free_port()}",
           "-m", "embodied_rerender.train", f"data={args.data}", "init=none", f"output={out}", f"batch_size={args.batch}",
           f"time_limit_s={args.seconds}", f"stage_steps={args.stage_steps}", "self_cond_steps=0", "save_every=0",
           f"log_every={args.log_every}", "resume=false", f"parallel={args.parallel}", *args.extra]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    if args.small:
        env.update(GLOO_SOCKET_IFNAME="lo", OMP_NUM_THREADS="1")
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=args.seconds + 240)
    if proc.returncode != 0:
        raise RuntimeError(f"torchrun with {nproc} processes failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    with open(out / "loss.csv") as f:
        rows = list(csv.DictReader(f))
    rates = [float(r["samples_per_s"]) for r in rows[2:]] or [float(r["samples_per_s"]) for r in rows]
    summary = json.loads((out / "summary.json").read_text())
    model = json.loads((out / "model.json").read_text())["model"]
    tokens = 5 * (model["frames"] // model["patch_t"]) * (model["height"] // model["patch"]) * (model["width"] // model["patch"])
    rate = statistics.median(rates)
    return {"gpus": nproc, "samples_per_s": round(rate, 1), "tokens_per_s": round(rate * tokens),
            "steps": summary["steps"], "loss_first": summary["first_loss"], "loss_final": summary["final_loss"]}


SMALL_MODEL = dict(height=12, width=16, frames=4, patch=4, patch_t=2, dim=32, depth=2, heads=2, cam_dim=8,
                   max_context=3)


def small_shards(root: Path) -> Path:
    """Two tiny synthetic training shards (12x16, 12 frames, head + two wrists) for the smoke check."""
    import numpy as np

    from embodied_rerender.train.data import write_shard

    H, W, T, clip = SMALL_MODEL["height"], SMALL_MODEL["width"], 12, SMALL_MODEL["frames"]
    cams = ["head", "hand_left", "hand_right"]
    rng = np.random.default_rng(0)
    starts = list(range(0, T - clip + 1, 2))
    K = np.array([[12.0, 0, 7.5], [0, 12.0, 5.5], [0, 0, 1]], np.float32)
    root.mkdir(parents=True, exist_ok=True)
    for e in range(2):
        tensors = {}
        for i, cam in enumerate(cams):
            c2w = np.tile(np.eye(4, dtype=np.float32), (T, 1, 1))
            c2w[:, 0, 3], c2w[:, 1, 3] = 0.1 * i, 0.01 * np.arange(T)
            tensors[f"{cam}.frames"] = rng.integers(0, 255, (T, H, W, 3)).astype(np.uint8)
            tensors[f"{cam}.K"], tensors[f"{cam}.c2w"] = K, c2w
        for wrist in cams[1:]:
            tensors[f"{wrist}.prior"] = tensors[f"{wrist}.frames"] // 2
            tensors[f"{wrist}.covered"] = np.full((T, H, W), 255, np.uint8)
            tensors[f"covis.{wrist}"] = rng.random((len(starts), len(cams) * len(starts))).astype(np.float32)
        meta = {"episode": f"1_{e}", "cameras": cams, "wrists": cams[1:], "starts": starts, "clip": clip,
                "height": H, "width": W, "frames": T}
        write_shard(root / f"episode_1_{e}", tensors, meta, compress=False)
    return root


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--data", default=None, help="training shards (required unless --small)")
    p.add_argument("--gpus", type=int, default=2)
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--batch", type=int, default=16, help="per GPU")
    p.add_argument("--log-every", type=int, default=20)
    p.add_argument("--parallel", default="ddp", choices=("ddp", "fsdp"))
    p.add_argument("--out", default=None)
    p.add_argument("--small", action="store_true", help="CPU smoke check: tiny shards and model, 2 gloo processes")
    args = p.parse_args()
    work = Path(args.out or tempfile.mkdtemp(prefix="ddp_scaling_"))
    args.extra, args.stage_steps = [], "[0,0,0,1]"
    if args.small:
        args.stage_steps = "[0,1]"  # k = 2: the tiny shards have three cameras
        args.gpus, args.seconds, args.batch, args.log_every = 2, 3, 2, 1
        args.extra = [f"model={json.dumps(SMALL_MODEL)}", "flow.steps=1", "warmup=1", "device=cpu"]
        args.data = args.data or str(small_shards(work / "shards"))
    if args.data is None:
        p.error("--data is required (or --small)")
    base = run(1, args, work / "gpus_1")
    print(json.dumps({"bench": "train.ddp", **base, "parallel": args.parallel}), flush=True)
    multi = run(args.gpus, args, work / f"gpus_{args.gpus}")
    speedup = multi["samples_per_s"] / base["samples_per_s"]
    print(json.dumps({"bench": "train.ddp", **multi, "parallel": args.parallel, "speedup": round(speedup, 3),
                      "efficiency": round(speedup / args.gpus, 3)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
