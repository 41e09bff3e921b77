"""Augment throughput with the Ray launcher at 1, 2, 4, 8 workers on one machine, each against the local
launcher measured on the same episodes in the same run.

    python benchmarks/ray_scaling.py [--input AGIBOT_ROOT] [--episodes 8] [--frames 24] [--width 96] [--height 72]
                                     [--workers 1,2,4,8] [--writer zarr] [--generator warp] [--samples 64]

Without --input it first writes sample episodes (AgiBot layout) to a temporary directory; that setup is
not timed. One local Ray is started before the timed runs with as many logical CPUs as the largest worker
count (at least os.cpu_count()), so every worker count can be placed even on a small machine; its start
is reported (`ray.init`) but not counted in the runs. Each run is the whole `run_job` call as the command
makes it: actors starting (each loads its synthesizer), episodes, merge, publish.

Figures (one JSON object per line on stdout):
  augment.local        the local launcher (one process): frames/s
  augment.ray.N        launcher=ray with N workers: frames/s; `ratio` = its frames/s / local frames/s
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MUJOCO_GL", "osmesa")
os.environ.setdefault("PYOPENGL_PLATFORM", "osmesa")

sys.path.insert(0, str(Path(__file__).parent))
from timing import timed  # noqa: E402


def make_job(args, source: Path):
    from embodied_rerender.pipeline.augment import AugmentConfig
    from embodied_rerender.pipeline.launch import Job

    config = AugmentConfig(targets=["head_to_gripper"], samples=args.samples)
    return Job(input=str(source), writer=args.writer, generator=args.generator, augment=config)


def run(job, out: Path, launcher: str, workers: int | None = None) -> tuple[float, dict]:
    from embodied_rerender.pipeline.launch import run_job

    ray = {"num_workers": workers} if workers else None
    seconds, report = timed(lambda: run_job(job, out, launcher, ray, overwrite=True, progress=False))
    summary = report.as_dict()["summary"]
    assert summary["skipped"] == 0, report.skip_lines()
    return seconds, summary


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--input", type=Path)
    p.add_argument("--episodes", type=int, default=8)
    p.add_argument("--frames", type=int, default=24)
    p.add_argument("--width", type=int, default=96)
    p.add_argument("--height", type=int, default=72)
    p.add_argument("--workers", default="1,2,4,8")
    p.add_argument("--writer", default="zarr")
    p.add_argument("--generator", default="warp")
    p.add_argument("--samples", type=int, default=64)
    p.add_argument("--small", action="store_true", help="1 episode, 17 frames, 32x24, 1 worker (smoke check)")
    args = p.parse_args()
    if args.small:
        args.episodes, args.frames, args.width, args.height, args.workers, args.samples = 1, 17, 32, 24, "1", 16
    workers = [int(w) for w in args.workers.split(",")]

    import ray

    tmp = Path(tempfile.mkdtemp(prefix="ray_scaling_"))
    try:
        source = args.input
        if source is None:
            from embodied_rerender.sample import write_sample_dataset

            source = tmp / "agibot"
            write_sample_dataset(source, episodes=args.episodes, frames=args.frames, width=args.width,
                                 height=args.height, progress=False)
        job = make_job(args, source)
        common = {"episodes": args.episodes, "frames": args.frames, "size": f"{args.width}x{args.height}",
                  "writer": args.writer, "generator": args.generator, "cpus": os.cpu_count()}

        seconds, summary = run(job, tmp / "local", "local")
        local_fps = summary["frames"] / seconds
        print(json.dumps({"figure": "augment.local", **common, "seconds": round(seconds, 2),
                          "fps": round(local_fps, 2)}), flush=True)

        cpus = max(max(workers), os.cpu_count() or 1)
        start = time.perf_counter()
        ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False)
        print(json.dumps({"figure": "ray.init", "logical_cpus": cpus, "seconds": round(time.perf_counter() - start, 2)}),
              flush=True)
        try:
            for n in workers:
                seconds, summary = run(job, tmp / f"ray{n}", "ray", n)
                fps = summary["frames"] / seconds
                print(json.dumps({"figure": f"augment.ray.{n}", **common, "workers": n, "seconds": round(seconds, 2),
                                  "fps": round(fps, 2), "ratio": round(fps / local_fps, 3)}), flush=True)
        finally:
            ray.shutdown()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
