"""Streaming synthesis speed of the reference causal student at 256x256 and 480x640, against re-generating a clip
with the bidirectional teacher for every new frame (the way to stream without a causal model), in the same run.

    python benchmarks/stream.py [--device cuda|cpu] [--frames 120] [--sizes 256x256 480x640]
                                [--settings 1x4 4x4 1x1] [--checkpoint STUDENT] [--out FILE] [--tiny]

Figures (one JSON object per line on stdout; also written to --out):

  stream.fps       per output size and per setting WxS (W frames in flight, S noise levels per frame), the
                   engine's default (CUDA graphs once the KV cache is full; on CUDA the same stream is also run
                   eagerly: `student.eager` with its fps and the frames' max / mean abs difference in levels):
                   `StreamEngine.push` fed --frames synthetic frames as fast as it takes them (throughput mode);
                   fps = frames / wall time, first_latency_s = the first frame's push -> emission,
                   steady_latency_s = median push -> emission over the last three quarters, prepare_ms =
                   median per-frame input preparation (warp prior at the output size + resize + raymaps, the
                   part that grows with the output size). Each setting runs a 16-frame warm-up stream first.
                   Baseline `teacher_clip`: per new frame, the warp prior of that frame and the bidirectional
                   teacher (same size as the student, bf16) sampling the 8-frame clip that ends at it with its 16
                   Euler steps (--baseline-steps), at the working resolution, output upsampled; `ratio` = student
                   fps / baseline fps.
                   `realtime` = fps >= 30 and first latency < 0.2 s.

Model: the reference student (weights/hybrid_ref.json's shape: dim 256, depth 8, 4 heads, 96x72 working
resolution, patch 6 -> 192 tokens per stream per frame, hybrid prior; sink 1, window 8), random weights unless
--checkpoint (speed does not depend on the weights). Inputs: random texture on a plane 0.7 m away, the target
camera 4 cm beside the source, both drifting 2 mm per frame. --tiny: a CPU smoke check (figures mean nothing).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
ROOT = Path(__file__).resolve().parents[1]


def reference_student(args):
    from embodied_rerender.models.causal import CausalConfig, CausalDiT, load_student

    if args.checkpoint:
        return load_student(args.checkpoint)[0]
    if args.tiny:
        cfg = CausalConfig(height=24, width=32, patch=8, dim=32, depth=2, heads=2, cam_dim=8)
    else:
        t = json.loads((ROOT / "weights" / "hybrid_ref.json").read_text())["model"]
        cfg = CausalConfig.from_dict({k: t[k] for k in ("height", "width", "patch", "dim", "depth", "heads", "mlp_ratio",
                                                        "cam_dim", "prior_channels")})
    torch.manual_seed(0)
    return CausalDiT(cfg)  # random weights: the cost does not depend on them


def reference_teacher(student_cfg, tiny: bool):
    from embodied_rerender.models import DiTConfig, VideoDiT

    c = student_cfg
    torch.manual_seed(0)
    return VideoDiT(DiTConfig(height=c.height, width=c.width, frames=8, patch=c.patch, patch_t=2, dim=c.dim,
                              depth=c.depth, heads=c.heads, cam_dim=c.cam_dim, max_context=1,
                              prior_channels=c.prior_channels))


def synthetic_items(n: int, H: int, W: int, seed: int = 0):
    from embodied_rerender.stream import StreamItem

    rng = np.random.default_rng(seed)
    f = 520.0 * W / 640.0
    K = np.array([[f, 0.0, (W - 1) / 2], [0.0, f, (H - 1) / 2], [0.0, 0.0, 1.0]])
    texture = rng.integers(0, 256, size=(H, W, 3), dtype=np.uint8)
    depth = np.full((H, W), 0.7, np.float32)
    items = []
    for i in range(n):
        src = np.eye(4)
        src[0, 3] = 0.002 * i
        tgt = src.copy()
        tgt[0, 3] += 0.04
        items.append(StreamItem(np.roll(texture, i, axis=1), K, src, K, tgt, depth))
    return items


def run_student(model, items, size, window, steps, device, cuda_graphs: bool = True) -> tuple[dict, list]:
    """The stream's figures and its emitted `(H, W, 3)` uint8 frames."""
    from embodied_rerender.stream import StreamEngine

    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    warm = StreamEngine(model, steps=steps, window=window, size=size, device=device, cuda_graphs=cuda_graphs)
    for it in items[:16]:
        warm.push(it)
    warm.flush()
    sync()
    prep = []
    for it in items[:10]:
        sync()
        t0 = time.perf_counter()
        warm._prepare([it])
        sync()
        prep.append(time.perf_counter() - t0)
    engine = StreamEngine(model, steps=steps, window=window, size=size, device=device, cuda_graphs=cuda_graphs)
    frames = []
    for it in items:
        frames += [f.frame for f in engine.push(it)]
    frames += [f.frame for f in engine.flush()]
    assert len(frames) == len(items)
    s = engine.stats.summary()
    s["cuda_graphs"], s["graph_replays"] = engine.cuda_graphs, engine.run_pass.replays
    if engine.run_pass.failure:
        s["graph_failure"] = engine.run_pass.failure
    s["prepare_ms"] = round(1000 * statistics.median(prep), 2)
    s["cache_frames"] = len(engine.cache)
    s["cache_mb"] = round(engine.cache.num_bytes() / 2**20, 2)
    return s, frames


def run_teacher(teacher, items, size, steps, device) -> dict:
    """Per new frame: its warp prior, then the teacher samples the 8-frame clip ending at it (k = 1 context)."""
    from embodied_rerender.models import Conditioning, sample
    from embodied_rerender.models.causal import CausalConfig
    from embodied_rerender.stream.engine import prepare_inputs

    cfg = teacher.cfg
    shape = CausalConfig(height=cfg.height, width=cfg.width, patch=cfg.patch, dim=cfg.dim, heads=cfg.heads,
                         prior_channels=cfg.prior_channels)  # the same per-frame inputs as the student's
    reference = torch.as_tensor(items[0].source_c2w, dtype=torch.float32, device=device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    amp = torch.bfloat16 if device.type == "cuda" else None
    history: list = []
    times = []

    def step(it):
        c, _ = prepare_inputs(it, shape, reference, size, device)
        history.append(c)
        del history[:-cfg.frames]
        clip = history + [history[-1]] * (cfg.frames - len(history))
        cat = lambda a: torch.cat([getattr(x, a) for x in clip], 1).transpose(1, 2)  # noqa: E731
        cond = Conditioning(cat("target_rays"), cat("source")[:, None], cat("source_rays")[:, None],
                            torch.ones(1, 1, dtype=torch.bool, device=device), cat("prior"))
        out = sample(teacher, cond, (1, 3, cfg.frames, cfg.height, cfg.width), torch.Generator().manual_seed(0),
                     steps=steps, dtype=amp)
        full = torch.nn.functional.interpolate(out[:, :, -1], size=size, mode="bilinear", align_corners=False)
        return ((full[0].clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()

    for it in items[:4]:
        step(it)
    history.clear()
    sync()
    start = time.perf_counter()
    for it in items:
        t0 = time.perf_counter()
        step(it)
        times.append(time.perf_counter() - t0)
    wall = time.perf_counter() - start
    return {"frames": len(items), "wall_s": round(wall, 4), "fps": round(len(items) / wall, 2),
            "first_latency_s": round(times[0], 4), "steady_latency_s": round(statistics.median(times[len(times) // 4:]), 4),
            "steps": steps, "clip": cfg.frames}


def profile_stream(model, items, size, window, steps, device, rows: int = 25) -> None:
    """One stream under torch.profiler (after a warm-up stream); the ops with the most device time, the ops with
    the most host time and the kernel launch count, to stderr."""
    from torch.profiler import ProfilerActivity, profile

    from embodied_rerender.stream import StreamEngine

    def stream():
        engine = StreamEngine(model, steps=steps, window=window, size=size, device=device)
        for it in items:
            engine.push(it)
        engine.flush()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return engine

    stream()  # warm-up
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with profile(activities=acts) as prof:
        engine = stream()
    avg = prof.key_averages()
    launches = sum(e.count for e in avg if e.key in ("cudaLaunchKernel", "cuLaunchKernel", "cudaLaunchKernelExC"))
    print(f"== stream profile {size} WxS {window}x{steps}, {len(items)} frames, {engine.stats.passes} passes, "
          f"kernel launches {launches}", file=sys.stderr)
    for key in (("self_cuda_time_total",) if device.type == "cuda" else ()) + ("self_cpu_time_total",):
        print(avg.table(sort_by=key, row_limit=rows, max_name_column_width=60), file=sys.stderr, flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--frames", type=int, default=120)
    ap.add_argument("--sizes", nargs="+", default=["256x256", "480x640"], help="output HxW")
    ap.add_argument("--settings", nargs="+", default=["1x4", "2x4", "4x4", "1x2", "1x1"], help="WxS")
    ap.add_argument("--baseline-steps", type=int, default=16, help="teacher Euler steps (its trained default: 16)")
    ap.add_argument("--checkpoint", default=None)
    ap.add_argument("--out", default=None)
    ap.add_argument("--tiny", action="store_true", help="a CPU smoke check (figures mean nothing)")
    ap.add_argument("--small", action="store_true", help="--tiny at one size and one setting (the test suite's)")
    ap.add_argument("--profile", action="store_true",
                    help="after the timed runs, one more stream of 24 frames per setting under torch.profiler: "
                         "its top ops (device and host time) go to stderr")
    args = ap.parse_args()
    args.tiny = args.tiny or args.small
    if args.tiny:
        args.frames, args.sizes, args.settings, args.baseline_steps = 12, ["24x32", "48x64"], ["1x2", "2x2"], 2
    if args.small:
        args.frames, args.sizes, args.settings = 8, ["24x32"], ["1x2"]
    device = torch.device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu ({os.cpu_count()} cores)"
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
    student = reference_student(args).to(device).eval()
    teacher = reference_teacher(student.cfg, args.tiny).to(device).eval()
    lines = []
    for size_s in args.sizes:
        H, W = (int(v) for v in size_s.split("x"))
        items = synthetic_items(args.frames, H, W)
        base = run_teacher(teacher, items[: max(8, args.frames // 4)], (H, W), args.baseline_steps, device)
        for setting in args.settings:
            window, steps = (int(v) for v in setting.split("x"))
            res, frames = run_student(student, items, (H, W), window, steps, device)
            if device.type == "cuda":  # the same stream without graphs: their speed-up, and that they change nothing
                eager, eager_frames = run_student(student, items, (H, W), window, steps, device, cuda_graphs=False)
                diff = np.abs(np.stack(frames).astype(np.int16) - np.stack(eager_frames))
                res["eager"] = {"fps": eager["fps"], "first_latency_s": eager["first_latency_s"],
                                "steady_latency_s": eager["steady_latency_s"],
                                "frames_max_abs_diff": int(diff.max()), "frames_mean_abs_diff": round(float(diff.mean()), 4)}
                res["graph_speedup"] = round(res["fps"] / eager["fps"], 2)
            out = {"figure": "stream.fps", "device": name, "height": H, "width": W, "window": window, "steps": steps,
                   "working": [student.cfg.height, student.cfg.width], "params": sum(p.numel() for p in student.parameters()),
                   "student": res, "teacher_clip": base, "ratio": round(res["fps"] / base["fps"], 2) if base["fps"] else None,
                   "realtime": bool(res["fps"] >= 30 and res["first_latency_s"] < 0.2),
                   "command": "python benchmarks/stream.py " + " ".join(sys.argv[1:])}
            print(json.dumps(out), flush=True)
            lines.append(out)
            if args.profile:
                profile_stream(student, items[:24], (H, W), window, steps, device)
    if args.out:
        Path(args.out).write_text("\n".join(json.dumps(x) for x in lines) + "\n")


if __name__ == "__main__":
    main()
