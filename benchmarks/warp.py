"""Warp view end to end: `WarpSynthesizer.synthesize` (context uint8 frames + depth in, finished uint8 frames out)
against a plain numpy nearest-point splat of the same frames in the same run.

    python benchmarks/warp.py [--device cpu|cuda] [--size 480x640] [--k 4] [--frames 32] [--repeat 3]
                              [--warmup 1] [--backend auto] [--baseline-frames N] [--small]

Inputs are synthetic RGB-D (no video, no rendering library; building them is not timed): the ray-cast
table-and-boxes scene of benchmarks/splat.py, k context cameras (head-like, 0.2-0.7 m from the table) and one
wrist-like target about 2-3x closer, all drifting a few mm per frame; uint8 frames and float32 depth, the
`View`s the memory loop hands the synthesizer.

Figures (one JSON object per line on stdout):

  warp.view  `WarpSynthesizer(device, backend).synthesize(views, target, 0)`: upload of the context, splat
             (render/kernels.py), depth-aware fill, uint8 composite, copy back; the median of --repeat calls
             after --warmup (CUDA-synchronized). `fps` = target frames / second.
  Baseline:  numpy, per frame and view: lift + project with matrix products, round to the nearest pixel,
             z-buffer by a lexicographic sort (nearest wins), uint8 colours gathered; no hole filling.
             On the first --baseline-frames frames (default: all), given per frame; its runs alternate with
             ours (one each per repeat, medians), so a shared machine's load swings hit both sides alike, with
             --gap-s seconds of pause before each side (thread pools of the other side go idle).
             `ratio` = ours fps / numpy fps (>1: ours is faster).

--small: 48x64, 4 frames, k = 2, one repeat (a smoke check for the test suite; its figures mean nothing).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from splat import camera_poses, intrinsics, raycast  # noqa: E402


def synthetic_views(frames: int, k: int, H: int, W: int, device: torch.device):
    """k context `View`s (T frames each, uint8 + depth) and the target `CameraTrajectory`."""
    from embodied_rerender.episode import CameraTrajectory
    from embodied_rerender.memory import View

    K = intrinsics(H, W)
    src, tgt = camera_poses(frames, k)  # (T, k, 4, 4), (T, 4, 4)
    rgb, depth = [], []
    for lo in range(0, frames, 8):  # ray-cast in chunks: bounded memory at 480x640
        img, dep = raycast(K, src[lo:lo + 8].to(device), H, W)
        rgb.append((img.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 1, 3, 4, 2).cpu())
        depth.append(dep.float().cpu())
    rgb, depth = torch.cat(rgb).numpy(), torch.cat(depth).numpy()
    views = [View(f"cam{i}", np.ascontiguousarray(rgb[:, i]), np.ascontiguousarray(depth[:, i]),
                  CameraTrajectory(src[:, i].numpy().astype(np.float64), K.numpy().astype(np.float64), H, W))
             for i in range(k)]
    return views, CameraTrajectory(tgt.numpy().astype(np.float64), K.numpy().astype(np.float64), H, W)


def numpy_point_splat(views, target, frames: int) -> np.ndarray:
    """The baseline: `(frames, H, W, 3)` uint8, nearest source point per target pixel, holes black."""
    H, W = target.height, target.width
    out = np.zeros((frames, H, W, 3), np.uint8)
    vs, us = np.mgrid[0:H, 0:W]
    pix = np.stack([us.ravel(), vs.ravel(), np.ones(H * W)], 0).astype(np.float32)  # (3, HW)
    tK = target.intrinsics_per_frame().astype(np.float32)
    tE = target.extrinsics.astype(np.float32)
    for t in range(frames):
        w2c = np.linalg.inv(tE[t])
        lins, zs, cols = [], [], []
        for v in views:
            d = v.depth[t].reshape(-1)
            K = v.trajectory.intrinsics_per_frame()[t].astype(np.float32)
            c2w = v.trajectory.extrinsics[t].astype(np.float32)
            cam = (np.linalg.inv(K) @ pix) * d  # (3, HW)
            p = (w2c @ c2w)[:3, :3] @ cam + (w2c @ c2w)[:3, 3:]
            z = p[2]
            ok = (d > 0) & (z > 1e-4)
            uv = (tK[t] @ (p[:, ok] / z[ok]))[:2]
            px, py = np.rint(uv[0]).astype(np.int64), np.rint(uv[1]).astype(np.int64)
            inside = (px >= 0) & (px < W) & (py >= 0) & (py < H)
            lins.append((py * W + px)[inside])
            zs.append(z[ok][inside])
            cols.append(v.frames[t].reshape(-1, 3)[ok][inside])
        lin, z, col = np.concatenate(lins), np.concatenate(zs), np.concatenate(cols)
        order = np.lexsort((z, lin))  # by pixel, nearest first
        first = np.unique(lin[order], return_index=True)[1]
        win = order[first]
        out[t].reshape(-1, 3)[lin[win]] = col[win]
    return out


def profile_view(synth, views, target, device: torch.device, rows: int = 30) -> None:
    """One view under torch.profiler; the ops with the most device (or CPU) time, and the launch count, to stderr."""
    from torch.profiler import ProfilerActivity, profile

    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with profile(activities=acts) as prof:
        synth.synthesize(views, target, 0)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
    key = "self_cuda_time_total" if device.type == "cuda" else "self_cpu_time_total"
    table = prof.key_averages().table(sort_by=key, row_limit=rows, max_name_column_width=60)
    launches = sum(e.count for e in prof.key_averages() if e.key in ("cudaLaunchKernel", "cuLaunchKernel",
                                                                      "cudaLaunchKernelExC"))
    print(table, f"kernel launches: {launches}", file=sys.stderr, sep="\n", flush=True)


def main() -> None:
    from embodied_rerender.generate.warp import WarpSynthesizer
    from embodied_rerender.render.kernels import resolve_backend

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--size", default="480x640", help="HxW of every camera")
    ap.add_argument("--k", type=int, default=4, help="context views")
    ap.add_argument("--frames", type=int, default=32)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--chunk", type=int, default=None, help="WarpSynthesizer chunk (frames per splat call; default: its own)")
    ap.add_argument("--backend", default="auto", help="splat kernel: auto, triton, numba, torch")
    ap.add_argument("--baseline-frames", type=int, default=None, help="frames the numpy baseline runs (default: all)")
    ap.add_argument("--static-memory", default="auto",
                    help="WarpSynthesizer static_memory: 2 x N other instants of the first recorded view; 0 = off; "
                         "auto (augment's default): 2 on CUDA, 0 on the CPU")
    ap.add_argument("--small", action="store_true", help="tiny sizes, one repeat (smoke check)")
    ap.add_argument("--gap-s", type=float, default=0.1,
                    help="pause before each timed side: the other side's worker threads (numba / OpenMP, OpenBLAS) "
                         "spin for a while after their work: with no pause our runs on 2 cores varied 0.10-0.21 s, with 0.1 s 0.10-0.11 s")
    ap.add_argument("--profile", action="store_true",
                    help="after the timed runs, one more view under torch.profiler: its top ops go to stderr")
    args = ap.parse_args()
    if args.small:
        args.size, args.frames, args.k, args.repeat, args.warmup, args.gap_s = "48x64", 4, 2, 1, 1, 0.0
    H, W = (int(x) for x in args.size.lower().split("x"))
    device = torch.device(args.device)
    views, target = synthetic_views(args.frames, args.k, H, W, device)
    synth = WarpSynthesizer(chunk=args.chunk, device=device, backend=args.backend, static_memory=args.static_memory)
    backend = resolve_backend(args.backend, device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    n_base = min(args.frames, args.baseline_frames or args.frames)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    for _ in range(args.warmup):
        out = synth.synthesize(views, target, 0)
    runs, base_runs = [], []
    for _ in range(args.repeat):  # alternate the two sides: a shared machine's load swings between runs
        sync()
        time.sleep(args.gap_s)
        t0 = time.perf_counter()
        out = synth.synthesize(views, target, 0)
        sync()
        runs.append(time.perf_counter() - t0)
        time.sleep(args.gap_s)
        t0 = time.perf_counter()
        base = numpy_point_splat(views, target, n_base)
        base_runs.append((time.perf_counter() - t0) / n_base)
    if args.profile:
        profile_view(synth, views, target, device)
    sec, base_s = statistics.median(runs), statistics.median(base_runs)
    peak = {"peak_gpu_mb": round(torch.cuda.max_memory_allocated(device) / 1e6)} if device.type == "cuda" else {}
    fps = args.frames / sec
    dev_name = (torch.cuda.get_device_name(device) if device.type == "cuda"
                else f"cpu ({os.cpu_count()} cores, {torch.get_num_threads()} threads)")
    print(json.dumps({"figure": "warp.view", "device": dev_name, "torch": torch.__version__, "size": f"{H}x{W}",
                      "k": args.k, "static_memory": synth.static_memory, "static_sources": synth.static_sources,
                      "frames": args.frames, "chunk": synth.chunk, "backend": backend,
                      "repeat": args.repeat, "warmup": args.warmup, "gap_s": args.gap_s,
                      "loadavg_1m": round(os.getloadavg()[0], 2),
                      "seconds_per_view": round(sec, 4), "runs_s": [round(r, 4) for r in runs], "fps": round(fps, 2),
                      "baseline_runs_s_per_frame": [round(r, 5) for r in base_runs],
                      "coverage": round(float(out.covered.mean()), 4), **peak,
                      "baseline": "numpy nearest-point splat (no fill)", "baseline_frames": n_base,
                      "baseline_fps": round(1 / base_s, 2), "baseline_coverage": round(float((base > 0).any(-1).mean()), 4),
                      "ratio": round(fps * base_s, 3), "small": args.small}), flush=True)


if __name__ == "__main__":
    main()
