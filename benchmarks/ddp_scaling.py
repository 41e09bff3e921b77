"""Multi-GPU training scaling: the real trainer (`python -m embodied_rerender.train`) under torchrun on 1 GPU and on
N GPUs, same per-GPU batch (weak scaling), same shards, same wall-clock budget.

    python benchmarks/ddp_scaling.py --data .carry/train --gpus 2 [--seconds 60] [--batch 16] [--parallel ddp]

Every run trains at k = 4 contexts for the whole budget (stage_steps=[0,0,0,1], no self-conditioning), so every
step has the same token count. Figures: the median of the trainer's logged samples/s (all ranks together; it
logs every --log-every steps) after dropping the first two log rows (CUDA/NCCL warm-up); tokens/s from the
sequence length of the model config. `speedup` = N-GPU samples/s / 1-GPU samples/s; `efficiency` =
speedup / N. One JSON object per line on stdout.
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
           "-m", "embodied_rerender.train", f"data={args.data}", f"output={out}", f"batch_size={args.batch}",
           f"time_limit_s={args.seconds}", "stage_steps=[0,0,0,1]", "self_cond_steps=0", "save_every=0",
           f"log_every={args.log_every}", "resume=false", f"parallel={args.parallel}"]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
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


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True)
    p.add_argument("--gpus", type=int, default=2)
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--batch", type=int, default=16, help="per GPU")
    p.add_argument("--log-every", type=int, default=20)
    p.add_argument("--parallel", default="ddp", choices=("ddp", "fsdp"))
    p.add_argument("--out", default=None)
    args = p.parse_args()
    work = Path(args.out or tempfile.mkdtemp(prefix="ddp_scaling_"))
    base = run(1, args, work / "gpus_1")
    print(json.dumps({"bench": "train.ddp", **base, "parallel": args.parallel}), flush=True)
    multi = run(args.gpus, args, work / f"gpus_{args.gpus}")
    speedup = multi["samples_per_s"] / base["samples_per_s"]
    print(json.dumps({"bench": "train.ddp", **multi, "parallel": args.parallel, "speedup": round(speedup, 3),
                      "efficiency": round(speedup / args.gpus, 3)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
