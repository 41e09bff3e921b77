"""Seconds until N local worker processes are ready (their `EpisodeWorker` built: reader, writer, synthesizer),
forked from the preloaded forkserver (`pipeline/processes.py` `worker_context`, what `workers=N` uses) against
spawned ones (the way before it), in the same run.

    python benchmarks/worker_start.py [--workers 2] [--repeat 3] [--device cpu] [--small]

The job is an augment job with the warp synthesizer on --device (the heaviest worker to build) over one sample
episode written first (not timed). Spawned workers import everything each time; forked ones find it imported
in the server, which starts (and imports it once) on the first forkserver run: `first_s`. Figures (one JSON line
each): `worker_start.spawn` and `worker_start.forkserver` (median `seconds` of the repeats), the latter with
`ratio` = spawn / forkserver (> 1: faster).
--small: a 17-frame 64x48 episode, 2 workers, one repeat (a smoke check; its figures mean nothing).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "osmesa")

sys.path.insert(0, str(Path(__file__).parent))
from inputs import input_or_sample  # noqa: E402


def ready_seconds(ctx, job, workers: int) -> float:
    """Start `workers` processes of `ctx` serving `job` and wait until every one reports ready (then stop them)."""
    from embodied_rerender.pipeline.processes import _serve, _thread_limits, threads_per_worker

    results, procs, queues = ctx.Queue(), [], []  # the queues stay referenced until the children have them
    start = time.perf_counter()
    with _thread_limits(threads_per_worker(workers)):
        for wid in range(workers):
            queues.append(ctx.Queue())
            queues[-1].put(None)  # stop as soon as it is ready
            procs.append(ctx.Process(target=_serve, args=(job, wid, queues[-1], results, dict(os.environ)),
                                     daemon=True))
            procs[-1].start()
    for _ in range(workers):
        wid, kind, payload, _ = results.get(timeout=120)
        if kind != "ready":
            raise SystemExit(f"worker {wid} could not start: {payload}")
    seconds = time.perf_counter() - start
    for p in procs:
        p.join(timeout=30)
    return seconds


def main() -> None:
    from embodied_rerender.pipeline.augment import AugmentConfig
    from embodied_rerender.pipeline.job import Job
    from embodied_rerender.pipeline.processes import worker_context

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--input", default=None)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--small", action="store_true")
    args = ap.parse_args()
    if args.small:
        args.workers, args.repeat = 2, 1
    root = Path(tempfile.mkdtemp(prefix="bench_worker_start_"))
    try:
        src = input_or_sample(args.input, root, args.small)
        job = Job(input=str(src), writer="robomimic", device=args.device, generator="warp",
                  augment=AugmentConfig(targets=["head_to_gripper"], preview=False))
        spawn = [ready_seconds(mp.get_context("spawn"), job, args.workers) for _ in range(max(1, args.repeat))]
        t0 = time.perf_counter()
        ctx = worker_context()  # starts the server (its imports) unless this process already has one
        first = ready_seconds(ctx, job, args.workers) + (time.perf_counter() - t0)
        forked = [ready_seconds(ctx, job, args.workers) for _ in range(max(1, args.repeat))]
        common = {"workers": args.workers, "device": args.device, "cpu_count": os.cpu_count(), "small": args.small,
                  "input": str(args.input or "sample")}
        s, f = statistics.median(spawn), statistics.median(forked)
        print(json.dumps({"figure": "worker_start.spawn", **common, "seconds": round(s, 3),
                          "runs": [round(x, 3) for x in spawn]}), flush=True)
        print(json.dumps({"figure": "worker_start.forkserver", **common, "start_method": ctx.get_start_method(),
                          "first_s": round(first, 3), "seconds": round(f, 3), "runs": [round(x, 3) for x in forked],
                          "ratio": round(s / f, 2)}), flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
