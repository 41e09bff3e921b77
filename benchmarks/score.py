"""Scoring a synthesized view against its ground truth (`metrics.score_views`: PSNR and SSIM, whole frame and
covered region, what `augment` reports per target and every eval table uses) on a device, against the same call
on the CPU in the same run.

    python benchmarks/score.py [--device cuda] [--frames 60] [--size 480x640] [--repeat 3] [--small]

Inputs: random uint8 frames, the ground truth the same plus noise, a random covered mask (speed does not depend
on the content). Figure (one JSON line): `score.views` seconds per view (median of --repeat after one warm-up) on
--device, the CPU baseline, `ratio` = CPU s / device s, and the largest difference between the two results;
`score.cpu_kernels` the CPU call (compiled kernels for uint8) against the torch path on the same CPU.
--small: 4 frames at 48x64 on the CPU (a smoke check for the test suite).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import numpy as np
import torch


def timed(fn, repeat: int, sync) -> float:
    fn()
    runs = []
    for _ in range(repeat):
        sync()
        t0 = time.perf_counter()
        fn()
        sync()
        runs.append(time.perf_counter() - t0)
    return statistics.median(runs)


def main() -> None:
    from embodied_rerender.metrics import score_views

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--size", default="480x640", help="HxW")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--small", action="store_true")
    args = ap.parse_args()
    if args.small:
        args.device, args.frames, args.size, args.repeat = "cpu", 4, "48x64", 1
    H, W = (int(x) for x in args.size.lower().split("x"))
    g = np.random.default_rng(0)
    frames = g.integers(0, 256, (args.frames, H, W, 3), dtype=np.uint8)
    truth = np.clip(frames.astype(np.int16) + g.integers(-25, 25, frames.shape), 0, 255).astype(np.uint8)
    covered = g.random((args.frames, H, W)) > 0.3
    device = torch.device(args.device)
    sync = (lambda: torch.cuda.synchronize(device)) if device.type == "cuda" else (lambda: None)
    ours = timed(lambda: score_views(frames, truth, covered, device=device), args.repeat, sync)
    base = timed(lambda: score_views(frames, truth, covered), args.repeat, lambda: None)
    a, b = score_views(frames, truth, covered, device=device), score_views(frames, truth, covered)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu ({os.cpu_count()} cores)"
    print(json.dumps({"figure": "score.views", "device": name, "frames": args.frames, "size": f"{H}x{W}",
                      "seconds_per_view": round(ours, 4), "fps": round(args.frames / ours, 1),
                      "baseline": f"score_views on the CPU ({os.cpu_count()} cores)", "baseline_seconds": round(base, 4),
                      "ratio": round(base / ours, 2), "max_abs_diff": max(abs(a[k] - b[k]) for k in a),
                      "small": args.small}), flush=True)
    # On the CPU, uint8 frames take the compiled kernels (metrics/numba_ssim.py); the torch path is the baseline.
    from embodied_rerender.metrics import image

    compiled = image._numba_ssim
    if compiled() is None:
        return
    fast = timed(lambda: score_views(frames, truth, covered), args.repeat, lambda: None)
    c = score_views(frames, truth, covered)
    image._numba_ssim = lambda: None
    try:
        slow = timed(lambda: score_views(frames, truth, covered), args.repeat, lambda: None)
        t = score_views(frames, truth, covered)
    finally:
        image._numba_ssim = compiled
    print(json.dumps({"figure": "score.cpu_kernels", "device": f"cpu ({os.cpu_count()} cores)", "frames": args.frames,
                      "size": f"{H}x{W}", "seconds_per_view": round(fast, 4), "fps": round(args.frames / fast, 1),
                      "baseline": "the torch path on the same CPU", "baseline_seconds": round(slow, 4),
                      "ratio": round(slow / fast, 2), "max_abs_diff": max(abs(c[k] - t[k]) for k in c),
                      "small": args.small}), flush=True)


if __name__ == "__main__":
    main()
