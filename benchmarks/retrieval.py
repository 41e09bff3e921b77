"""Retrieval latency: Monte Carlo frustum co-visibility (Algorithm 1) of a memory bank of N views x F frames
against one F-frame target, `covisibility_many` (vectorized over views and frames, chunked) against a
Python loop of `covisibility` calls, one per view, on the same device in the same run.

    python benchmarks/retrieval.py [--device cpu|cuda] [--views 1000] [--frames 93] [--samples 256]
                                   [--repeat 3] [--warmup 1] [--loop-budget-s 60]

The bank is synthetic: N camera trajectories (640x480, f = 520 px) around a tabletop, each a smooth
F-frame path looking at a point near the table; some see the target's region, many do not. The target
is a wrist-like trajectory 0.2-0.3 m above the table. near / far / samples are the augment defaults
(0.05 m, 2.5 m, 256 points per frame); match="index", sampling="volume".

Figures (one JSON object per line on stdout):

  retrieval.vectorized         covisibility_many(...) with its default chunking (max_elements = 2^22)
  retrieval.vectorized_1chunk  covisibility_many(..., max_elements large enough for one chunk) (CUDA only)
Both against
  the per-view loop: [covisibility(K[i], c2w[i], ...) for i in range(N)], each call with a fresh
  generator seeded 0 (as MemoryBank.scores does without a generator), which gives the same draws as the
  vectorized call, so the scores must agree (`max_abs_diff`).

If one pass of the loop over all N views would take longer than --loop-budget-s (estimated from a
10-view probe), the loop is timed on the first `loop_views` views only and its time scaled linearly
to N (`loop_extrapolated: true`). Each time is the median of --repeat runs after --warmup runs, each run
bracketed by torch.cuda.synchronize() on CUDA. `ratio` is loop ms / vectorized ms (>1 means the
vectorized call is faster).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time

import torch

H, W, FOCAL = 480, 640, 520.0
NEAR, FAR = 0.05, 2.5


from timing import timed_median  # noqa: E402


def trajectories(n: int, frames: int, seed: int) -> torch.Tensor:
    """``(n, frames, 4, 4)`` camera-to-world: smooth paths on a hemisphere shell around the table."""
    from embodied_rerender.geometry.camera import look_at

    g = torch.Generator().manual_seed(seed)
    t = torch.linspace(0.0, 1.0, frames)[None, :, None]  # (1, F, 1)
    azim0 = torch.rand(n, 1, 1, generator=g) * 2 * math.pi
    sweep = (torch.rand(n, 1, 1, generator=g) - 0.5) * 1.2  # up to +-34 degrees over the view
    elev = 0.3 + torch.rand(n, 1, 1, generator=g) * 0.9
    radius = 0.25 + torch.rand(n, 1, 1, generator=g) * 1.0
    azim = azim0 + sweep * t
    eye = torch.cat([radius * torch.cos(elev) * torch.cos(azim), radius * torch.cos(elev) * torch.sin(azim),
                     radius * torch.sin(elev) + 0.0 * t], dim=-1)  # (n, F, 3)
    look0 = (torch.rand(n, 1, 3, generator=g) - 0.5) * torch.tensor([0.6, 0.6, 0.1])
    look = look0 + (torch.rand(n, 1, 3, generator=g) - 0.5) * 0.1 * t
    return look_at(eye, look)


def target_trajectory(frames: int) -> torch.Tensor:
    from embodied_rerender.geometry.camera import look_at

    t = torch.linspace(0.0, 1.0, frames)[:, None]
    eye = torch.tensor([-0.25, 0.05, 0.28]) + t * torch.tensor([0.15, -0.10, -0.06])
    look = torch.tensor([0.0, 0.0, 0.02]) + t * torch.tensor([0.08, -0.05, 0.0])
    return look_at(eye, look)


def main() -> None:
    from embodied_rerender.geometry.covisibility import covisibility, covisibility_many

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--views", type=int, default=1000, help="memory views N")
    parser.add_argument("--frames", type=int, default=93, help="frames per view and in the target")
    parser.add_argument("--samples", type=int, default=256, help="Monte Carlo points per frame")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--loop-budget-s", type=float, default=60.0,
                        help="longest one timed pass of the per-view loop may take before it is cut to a subset")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--small", action="store_true", help="10 views x 5 frames, one run (smoke check)")
    args = parser.parse_args()
    if args.small:
        args.views, args.frames, args.samples, args.repeat, args.warmup = 10, 5, 16, 1, 0
    device = torch.device(args.device)
    N, F, P = args.views, args.frames, args.samples

    K = torch.tensor([[FOCAL, 0.0, (W - 1) / 2], [0.0, FOCAL, (H - 1) / 2], [0.0, 0.0, 1.0]])
    mem_c2w = trajectories(N, F, args.seed).to(device)
    mem_K = K.expand(N, F, 3, 3).contiguous().to(device)  # per frame, as MemoryBank passes them
    tgt_c2w = target_trajectory(F).to(device)
    tgt_K = K.expand(F, 3, 3).contiguous().to(device)

    def gen() -> torch.Generator:
        return torch.Generator(device=device).manual_seed(0)

    def vectorized(max_elements: int | None = None):
        kw = {} if max_elements is None else {"max_elements": max_elements}
        return covisibility_many(mem_K, mem_c2w, tgt_K, tgt_c2w, H, W, NEAR, FAR, P, gen(), **kw)

    def loop(n: int):
        return torch.stack([covisibility(mem_K[i], mem_c2w[i], tgt_K, tgt_c2w, H, W, NEAR, FAR, P, gen())
                            for i in range(n)])

    # Probe the loop's per-view cost (after a warm-up) to decide whether all N views fit the budget.
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    loop(min(N, 3))
    sync()
    start = time.perf_counter()
    probe = min(N, 10)
    loop(probe)
    sync()
    per_view = (time.perf_counter() - start) / probe
    n_loop = N if per_view * N <= args.loop_budget_s else max(probe, int(args.loop_budget_s / per_view))
    loop_s, loop_runs, loop_scores = timed_median(lambda: loop(n_loop), device, args.repeat, 0)
    loop_full_s = loop_s * N / n_loop

    dev_name = (torch.cuda.get_device_name(device) if device.type == "cuda"
                else f"cpu ({os.cpu_count()} cores, {torch.get_num_threads()} threads)")
    common = {"device": dev_name, "torch": torch.__version__, "views": N, "frames": F, "samples": P,
              "image": f"{W}x{H}", "near": NEAR, "far": FAR, "match": "index", "sampling": "volume",
              "repeat": args.repeat, "warmup": args.warmup, "loadavg_1m": round(os.getloadavg()[0], 2)}
    variants = [("retrieval.vectorized", None)]
    if device.type == "cuda":
        variants.append(("retrieval.vectorized_1chunk", 2 * N * F * P))
    for name, max_elements in variants:
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        s, runs, scores = timed_median(lambda: vectorized(max_elements), device, args.repeat, args.warmup)
        extra = {"peak_gpu_mb": round(torch.cuda.max_memory_allocated(device) / 1e6)} if device.type == "cuda" else {}
        diff = float((scores[:n_loop] - loop_scores).abs().max())
        print(json.dumps({"figure": name, **common,
                          "max_elements": max_elements if max_elements is not None else 1 << 22,
                          "ms": round(s * 1e3, 2), "runs_ms": [round(r * 1e3, 2) for r in runs],
                          "views_per_s": round(N / s, 1), **extra,
                          "mean_score": round(float(scores.mean()), 4),
                          "share_scored_above_0.1": round(float((scores > 0.1).float().mean()), 3),
                          "baseline": "per-view loop of covisibility()",
                          "baseline_ms": round(loop_full_s * 1e3, 2), "loop_views": n_loop,
                          "loop_extrapolated": n_loop < N, "loop_runs_ms": [round(r * 1e3, 2) for r in loop_runs],
                          "loop_ms_per_view": round(loop_s / n_loop * 1e3, 3),
                          "max_abs_diff": diff, "ratio": round(loop_full_s / s, 2)}), flush=True)


if __name__ == "__main__":
    main()
