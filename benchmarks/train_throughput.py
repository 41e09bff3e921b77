"""Training throughput of the reference VideoDiT (bf16 autocast against fp32 in the same run) and the time to
sample one 93-frame 480x640 view with the hybrid synthesizer (against the warp-only synthesizer, same inputs).

    python benchmarks/train_throughput.py [--device cuda|cpu] [--batch 16] [--contexts 4] [--repeat 10]
                                          [--warmup 3] [--view-frames 93] [--sample-repeat 3] [--tiny]

Figures (one JSON object per line on stdout; also written to --out if given), each the median of --repeat
timed calls after --warmup untimed ones (on CUDA every call is bracketed by torch.cuda.synchronize()):

  train.step       one optimizer step of the reference-size model (weights/hybrid_ref.json: 96x72, 8 frames,
                   dim 256, depth 8, heads 4, patch 6 / patch_t 2, hybrid prior) on a synthetic batch with k
                   contexts: `trainer.loss_on` (raymaps + flow loss) under bf16 autocast, backward,
                   grad-clip 1.0, AdamW step, as `train.trainer.train` does it. Baseline: the same step in fp32
                   (no autocast; TF32 matmuls on, as the trainer sets them). `ratio` = bf16 / fp32 samples/s.
                   `tokens_per_s` counts every token of the sequence (target + k contexts) of every sample.
                   `mfu` = achieved FLOP/s / --peak-tflops (H100 SXM dense bf16: 989 TFLOP/s; the fp32 baseline
                   is measured against the same peak), FLOPs per step by the formula in `flops_formula`.
  sample.view      `HybridSynthesizer` (default weights/hybrid_ref.safetensors, its 16 Euler steps, bf16 on CUDA)
                   generating one --view-frames frame 480x640 target from one head context of the same length
                   with depth (the synthesizer works at 96x72 in 8-frame chunks and resizes; its time includes
                   its own warp prior). Baseline: `WarpSynthesizer` on the same inputs. `ratio` = hybrid / warp
                   in frames/s (<1: the hybrid is slower).

Inputs are synthetic (not timed): random frames, a fronto-parallel plane at 0.7 m as depth, the target camera
4 cm beside the head camera, both drifting 2 mm per frame, K for 640x480. --tiny shrinks everything for a
CPU smoke check (its figures mean nothing).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from timing import timed_median  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FLOPS_FORMULA = ("6 * P_tok * N + 12 * depth * L^2 * dim * B; P_tok = weights of the per-token matmuls "
                 "(per block: qkv, proj, mlp, cam; plus the three patch embeddings, counted for every token), "
                 "N = B * L tokens per step, L = (1 + k) * (T/pt) * (H/p) * (W/p) tokens per sample "
                 "(adaLN/time MLPs run per token-frame and the output head on target tokens only: left out)")


def reference_config(tiny: bool):
    from embodied_rerender.models import DiTConfig

    if tiny:
        return DiTConfig(height=24, width=36, frames=4, patch=6, patch_t=2, dim=32, depth=2, heads=2, cam_dim=16)
    cfg = json.loads((ROOT / "weights" / "hybrid_ref.json").read_text())["model"]
    return DiTConfig.from_dict(cfg)


def per_token_params(model) -> int:
    n = 0
    for block in model.blocks:
        for lin in (block.qkv, block.proj, block.mlp[0], block.mlp[2], block.cam):
            n += lin.weight.numel()
    for emb in (model.target_embed, model.context_embed, model.ray_embed):
        n += emb.proj.weight.numel()
    return n


def synthetic_batch(cfg, B: int, k: int, device):
    from embodied_rerender.geometry.camera import look_at
    from embodied_rerender.train.pairs import Batch

    g = torch.Generator().manual_seed(0)
    T, h, w = cfg.frames, cfg.height, cfg.width
    f = 520.0 * w / 640.0
    K = torch.tensor([[f, 0.0, (w - 1) / 2], [0.0, f, (h - 1) / 2], [0.0, 0.0, 1.0]])
    drift = torch.arange(T, dtype=torch.float32)[:, None] * torch.tensor([0.002, 0.0, 0.0])

    def traj(offset):
        eye = torch.tensor([-0.5, offset, 0.5]) + drift
        return look_at(eye, torch.zeros(3) + drift)  # (T, 4, 4)

    tgt = traj(0.04)[None].expand(B, T, 4, 4).contiguous()
    ctx = torch.stack([traj(-0.03 * i) for i in range(k)])[None].expand(B, k, T, 4, 4).contiguous()
    fields = {f.name for f in dataclasses.fields(Batch)}
    extra = {"weight": torch.ones(B, 1, T, h, w)} if "weight" in fields else {}  # per-pixel loss weight: all 1
    batch = Batch(
        **extra,
        target=torch.rand(B, 3, T, h, w, generator=g) * 2 - 1,
        target_K=K.expand(B, 3, 3).contiguous(),
        target_c2w=tgt,
        context=torch.rand(B, k, 3, T, h, w, generator=g) * 2 - 1,
        context_K=K.expand(B, k, 3, 3).contiguous(),
        context_c2w=ctx,
        context_mask=torch.ones(B, k, dtype=torch.bool),
        context_ids=torch.zeros(B, k, 3, dtype=torch.long),
        prior=torch.rand(B, cfg.prior_channels, T, h, w, generator=g) * 2 - 1,
        clean=torch.zeros(B, T // cfg.patch_t, dtype=torch.bool),
    )
    return batch.to(device)


def bench_train(args, device) -> list[dict]:
    from embodied_rerender.models import FlowConfig, VideoDiT
    from embodied_rerender.models.flow import sample_timesteps
    from embodied_rerender.train.trainer import loss_on

    cfg = reference_config(args.tiny)
    B, k = args.batch, args.contexts
    ft, fh, fw = cfg.grid
    L = (1 + k) * ft * fh * fw
    batch = synthetic_batch(cfg, B, k, device)
    flow = FlowConfig()
    g = torch.Generator().manual_seed(1)
    t = sample_timesteps(B, flow, g).to(device)
    eps = torch.randn(batch.target.shape, generator=g).to(device)

    torch.manual_seed(0)
    model = VideoDiT(cfg).to(device).train()
    p_tok = per_token_params(model)
    p_all = sum(p.numel() for p in model.parameters())
    flops = 6 * p_tok * B * L + 12 * cfg.depth * L * L * cfg.dim * B
    fused = {"fused": True} if args.fused_adam and device.type == "cuda" else {}
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4, weight_decay=0.01, betas=(0.9, 0.99), **fused)
    compiled = torch.compile(model) if args.compile else None

    def make_step(amp: bool, net=model):
        def step():
            opt.zero_grad(set_to_none=True)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
                loss = loss_on(net, batch, cfg, t, eps, k)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0, foreach=True)
            opt.step()
            return loss.detach()
        return step

    # --compile: the compiled bf16 step against the eager bf16 step (the baseline) instead of fp32.
    variants = ((("bf16_compiled", make_step(True, compiled)), ("bf16", make_step(True))) if compiled is not None
                else (("bf16", make_step(True)), ("fp32", make_step(False))))
    res = {}
    for name, step in variants:
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        sec, runs, loss = timed_median(step, device, args.repeat, args.warmup)
        res[name] = {"s_per_step": sec, "runs": [round(r, 5) for r in runs], "loss": float(loss),
                     "peak_mem_gb": (torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else None)}
    peak = args.peak_tflops * 1e12
    out = {"figure": "train.step", "device": args.device_name, "batch": B, "contexts": k,
           "model": {"height": cfg.height, "width": cfg.width, "frames": cfg.frames, "dim": cfg.dim,
                     "depth": cfg.depth, "heads": cfg.heads, "patch": cfg.patch, "patch_t": cfg.patch_t},
           "params_total": p_all, "params_per_token": p_tok, "tokens_per_sample": L, "tokens_per_step": B * L,
           "flops_per_step": flops, "flops_formula": FLOPS_FORMULA, "peak_tflops": args.peak_tflops,
           "tf32": bool(torch.backends.cuda.matmul.allow_tf32), "repeat": args.repeat, "warmup": args.warmup,
           "compile": args.compile, "fused_adam": bool(fused)}
    for name, r in res.items():
        s = r["s_per_step"]
        out[name] = {"s_per_step": round(s, 6), "samples_per_s": round(B / s, 2), "tokens_per_s": round(B * L / s, 1),
                     "tflops": round(flops / s / 1e12, 2), "mfu": round(flops / s / peak, 4),
                     "peak_mem_gb": None if r["peak_mem_gb"] is None else round(r["peak_mem_gb"], 2),
                     "loss": round(r["loss"], 4), "runs": r["runs"]}
    (fast, _), (slow, _) = variants
    out["ratio"] = round(res[slow]["s_per_step"] / res[fast]["s_per_step"], 3)
    return [out]


def synthetic_view(n: int, H: int, W: int):
    from embodied_rerender.episode import CameraTrajectory
    from embodied_rerender.memory import View

    rng = np.random.default_rng(0)
    f = 520.0 * W / 640.0
    K = np.array([[f, 0.0, (W - 1) / 2], [0.0, f, (H - 1) / 2], [0.0, 0.0, 1.0]])

    def traj(x0):
        ext = np.tile(np.eye(4), (n, 1, 1))
        ext[:, 0, 3] = x0 + 0.002 * np.arange(n)  # camera looks along +z, drifts 2 mm per frame
        return CameraTrajectory(ext, K, H, W)

    frames = rng.integers(0, 256, size=(n, H, W, 3), dtype=np.uint8)
    depth = np.full((n, H, W), 0.7, np.float32)
    head = View("head", frames, depth, traj(0.0), start=0)
    return [head], traj(0.04)


def bench_sample(args, device) -> list[dict]:
    from embodied_rerender.generate.learned import HybridSynthesizer
    from embodied_rerender.generate.warp import WarpSynthesizer

    n, (H, W) = args.view_frames, args.view_size
    context, target = synthetic_view(n, H, W)
    hybrid = HybridSynthesizer(args.weights, steps=args.steps, device=device)
    warp = WarpSynthesizer(device=device)
    out = {"figure": "sample.view", "device": args.device_name, "frames": n, "height": H, "width": W,
           "checkpoint": str(hybrid.checkpoint.relative_to(ROOT) if hybrid.checkpoint.is_relative_to(ROOT)
                             else hybrid.checkpoint),
           "model_size": [hybrid.cfg.height, hybrid.cfg.width, hybrid.cfg.frames], "steps": hybrid.steps,
           "guidance": hybrid.guidance, "overlap": hybrid.overlap,
           "repeat": args.sample_repeat, "warmup": args.sample_warmup}
    res = {}
    for name, synth in (("hybrid", hybrid), ("warp", warp)):
        sec, runs, syn = timed_median(lambda: synth.synthesize(context, target, 0, torch.Generator().manual_seed(0)),
                                      device, args.sample_repeat, args.sample_warmup)
        assert syn.frames.shape == (n, H, W, 3), syn.frames.shape
        res[name] = sec
        out[name] = {"s_per_view": round(sec, 4), "fps": round(n / sec, 2), "runs": [round(r, 4) for r in runs],
                     "coverage": round(float(syn.covered.mean()), 4)}
    out["ratio"] = round(res["warp"] / res["hybrid"], 4)
    return [out]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--contexts", type=int, default=4)
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--peak-tflops", type=float, default=989.0, help="dense bf16 peak (H100 SXM: 989)")
    ap.add_argument("--view-frames", type=int, default=93)
    ap.add_argument("--view-size", type=int, nargs=2, default=(480, 640), metavar=("H", "W"))
    ap.add_argument("--weights", default=None, help="hybrid checkpoint (default weights/hybrid_ref.safetensors)")
    ap.add_argument("--steps", type=int, default=None, help="Euler steps (default: the checkpoint's)")
    ap.add_argument("--sample-repeat", type=int, default=3)
    ap.add_argument("--sample-warmup", type=int, default=1)
    ap.add_argument("--compile", action="store_true",
                    help="torch.compile the model; the baseline is then the eager bf16 step (not fp32)")
    ap.add_argument("--fused-adam", action="store_true", help="AdamW(fused=True) on CUDA")
    ap.add_argument("--skip", choices=("train", "sample"), action="append", default=[])
    ap.add_argument("--out", default=None, help="also write the JSON lines to this file")
    ap.add_argument("--tiny", "--small", action="store_true", help="tiny sizes for a CPU smoke check")
    args = ap.parse_args()
    if args.tiny:
        args.batch, args.contexts, args.repeat, args.warmup = 2, 2, 2, 1
        args.view_frames, args.view_size, args.steps = 10, (48, 64), args.steps or 2
        args.sample_repeat, args.sample_warmup = 1, 0
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True  # as train.trainer sets them
        torch.backends.cudnn.allow_tf32 = True
        args.device_name = torch.cuda.get_device_name(device)
    else:
        args.device_name = f"cpu ({os.cpu_count()} cores)"
    lines = []
    for name, fn in (("train", bench_train), ("sample", bench_sample)):
        if name in args.skip:
            continue
        for fig in fn(args, device):
            fig["torch"] = torch.__version__
            fig["tiny"] = args.tiny
            line = json.dumps(fig)
            print(line, flush=True)
            lines.append(line)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
