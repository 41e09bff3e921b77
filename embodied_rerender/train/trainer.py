"""The trainer: flow matching with progressive context (k = 1 -> 2 -> 3 -> 4) and a self-conditioning stage.

Stages follow the seed: training starts with one context video (the head clip) and widens k stage by stage,
since large k from scratch trains unstably; the last stage replaces the wrist-camera contexts by the model's
own generations, so at inference it tolerates its imperfect outputs written back into the memory bank.
Stage lengths are steps (`stage_steps`, `self_cond_steps`); with `time_limit_s` the same proportions are laid
over the wall-clock budget instead (progress = max(steps done / total, time used / limit)), so a fixed device
lease always reaches the last stage.

Single process or torchrun (DDP, NCCL on CUDA, gloo on CPU): each rank draws its own batches from
`seed + rank`; rank 0 logs (CSV), draws sample grids (PNG) and writes checkpoints (safetensors + JSON).
"""

from __future__ import annotations

import csv
import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.distributed as dist

from ..models import (Conditioning, DiTConfig, FlowConfig, VideoDiT, clip_raymaps, flow_loss, load_model, read_optimizer,
                      sample, sample_timesteps, save_model, save_optimizer)
from .pairs import Batch, PairSampler
from .parallel import full_model_state, full_optimizer_state, is_sharded, load_full_optimizer_state, wrap


@dataclass
class TrainConfig:
    """See configs/train.yaml for every key."""

    data: str = ""
    output: str = ""
    init: str = ""  # a checkpoint whose weights a fresh run starts from (fine-tuning); "" from scratch
    mode: str = "hybrid"  # hybrid: warp render + mask as inputs; learned: contexts only
    model: dict = field(default_factory=dict)
    flow: dict = field(default_factory=dict)
    batch_size: int = 16
    lr: float = 3e-4
    weight_decay: float = 0.01
    warmup: int = 100
    grad_clip: float = 1.0
    stage_steps: list = field(default_factory=lambda: [400, 300, 200, 100])
    self_cond_steps: int = 100
    self_cond_prob: float = 0.5
    self_cond_sample_steps: int = 4
    steps: int = 0  # > 0: total steps, the stages keeping the proportions of stage_steps/self_cond_steps
    time_limit_s: float = 0.0
    retrieval: str = "covisibility"
    overlap_prob: float = 0.3
    loop_data: str = ""  # LoopAug shards (train.loops.pack_loops) of the training episodes
    loop_ratio: float = 0.0  # share of samples that are LoopAug loop clips (0: off, training unchanged)
    log_every: int = 10
    save_every: int = 500
    sample_every: int = 0
    seed: int = 0
    device: str = "auto"
    amp: bool = True
    resume: bool = True
    export_dtype: str = "bfloat16"  # the final weights file (model.safetensors); last.* stays float32
    parallel: str = "ddp"  # ddp | fsdp (several processes under torchrun; see train.parallel)
    compile: bool = False  # torch.compile the training forward/backward (one compile per context count k)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        unknown = set(d) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown train options {sorted(unknown)}")
        return cls(**d)

    def model_config(self) -> DiTConfig:
        model = {k: v for k, v in dict(self.model).items() if v is not None}
        model.setdefault("prior_channels", 4 if self.mode == "hybrid" else 0)
        return DiTConfig.from_dict(model)


def total_steps(cfg: TrainConfig) -> int:
    return cfg.steps if cfg.steps > 0 else sum(cfg.stage_steps) + cfg.self_cond_steps


def stage_at(cfg: TrainConfig, progress: float) -> tuple[int, int, bool]:
    """(stage index, k, self-conditioning?) at `progress` in [0, 1]."""
    lengths = list(cfg.stage_steps) + [cfg.self_cond_steps]
    total = sum(lengths)
    edge = 0.0
    for i, n in enumerate(lengths):
        edge += n / total
        if progress < edge or i == len(lengths) - 1:
            if i < len(cfg.stage_steps):
                return i, i + 1, False
            return i, len(cfg.stage_steps), True
    raise AssertionError


def conditioning(batch: Batch, mcfg: DiTConfig, k: int | None = None) -> Conditioning:
    """Model inputs of a batch: raymaps in the frame of each sample's first context camera (first frame)."""
    k = batch.context.shape[1] if k is None else k
    B, _, T, h, w = batch.target.shape
    reference = batch.context_c2w[:, 0, 0]
    target_rays = clip_raymaps(batch.target_K, batch.target_c2w, reference, h, w)
    ctx_rays = clip_raymaps(batch.context_K[:, :k].reshape(B * k, 3, 3), batch.context_c2w[:, :k].reshape(B * k, T, 4, 4),
                            reference.repeat_interleave(k, 0), h, w).view(B, k, 6, T, h, w)
    return Conditioning(target_rays, batch.context[:, :k], ctx_rays, batch.context_mask[:, :k],
                        batch.prior if mcfg.hybrid else None)


def loss_on(model, batch: Batch, mcfg: DiTConfig, t: torch.Tensor, eps: torch.Tensor, k: int,
            drop: torch.Tensor | None = None, weighted: bool = False) -> torch.Tensor:
    """Flow loss of `batch` with its first `k` contexts; `drop (B,)` bool removes all contexts of a sample (CFG);
    weighted: apply the batch's per-pixel weight (LoopAug holes count 0)."""
    cond = conditioning(batch, mcfg, k)
    if drop is not None and cond.context_mask is not None:
        cond.context_mask = cond.context_mask & ~drop[:, None]
    return flow_loss(model, batch.target, cond, t, eps, batch.clean, batch.weight if weighted else None)


def self_condition(model, sampler: PairSampler, batch: Batch, mcfg: DiTConfig, steps: int, prob: float,
                   generator: torch.Generator, device, amp_dtype) -> Batch:
    """Replace target-camera context clips (slots >= 1; AgiBot: the wrists) by the model's own source -> target
    generations."""
    ids = batch.context_ids.cpu()

    def is_target(e: int, c: int) -> bool:
        return e >= 0 and sampler.camera_name(e, c) in sampler.episodes[e][1]["targets"]

    picks = [(b, j) for b in range(ids.shape[0]) for j in range(1, ids.shape[1])
             if is_target(int(ids[b, j, 0]), int(ids[b, j, 1])) and float(torch.rand((), generator=generator)) < prob]
    if not picks:
        return batch
    sub = sampler.batch_for([(int(ids[b, j, 0]), sampler.camera_name(int(ids[b, j, 0]), int(ids[b, j, 1])),
                              int(ids[b, j, 2])) for b, j in picks])
    sub = sub.to(device)
    cond = conditioning(sub, mcfg, 1)
    gen = sample(model, cond, tuple(sub.target.shape), generator, steps=steps, dtype=amp_dtype)
    context = batch.context.clone()
    for n, (b, j) in enumerate(picks):
        context[b, j] = gen[n].to(context)
    return Batch(**{**{f: getattr(batch, f) for f in Batch.__dataclass_fields__}, "context": context})


def _dist_env() -> tuple[int, int, int]:
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)), int(os.environ.get("LOCAL_RANK", 0))


def sample_grid(path: Path | None, model, batch: Batch, mcfg: DiTConfig, flow: FlowConfig, k: int, device,
                amp_dtype) -> None:
    """PNG: one row per sample: head context | warp prior | generated | ground truth, first and last frame.
    `path` None: sample only (a rank that must join a sharded model's forward passes but writes nothing)."""
    from PIL import Image

    cond = conditioning(batch, mcfg, k)
    gen = sample(model, cond, tuple(batch.target.shape), torch.Generator().manual_seed(0), steps=flow.steps,
                 dtype=amp_dtype, shift=flow.shift)
    if path is None:
        return
    cols = [batch.context[:, 0], batch.prior[:, :3] if mcfg.hybrid else torch.zeros_like(gen), gen, batch.target]
    rows = []
    for b in range(gen.shape[0]):
        tiles = [c[b, :, f] for f in (0, -1) for c in cols]  # (3, h, w) each
        rows.append(torch.cat(tiles, dim=2))
    img = ((torch.cat(rows, dim=1).float().clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).cpu().numpy()
    Image.fromarray(img).save(path)


def train(cfg: TrainConfig) -> dict:
    """Run (or resume) training; returns a summary. Writes under cfg.output: last.{safetensors,json,optim.safetensors},
    model.{safetensors,json} (export), loss.csv, samples_<step>.png, summary.json."""
    rank, world, local = _dist_env()
    if cfg.device == "auto":
        device = torch.device(f"cuda:{local}" if torch.cuda.is_available() else "cpu")
    else:
        device = torch.device(cfg.device)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    if device.type == "cuda":
        torch.cuda.set_device(device)
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    amp_dtype = torch.bfloat16 if cfg.amp and device.type == "cuda" else None
    out = Path(cfg.output)
    out.mkdir(parents=True, exist_ok=True)
    mcfg, flow = cfg.model_config(), FlowConfig.from_dict(cfg.flow)
    torch.manual_seed(cfg.seed)  # parameter init: identical on every rank
    sampler = PairSampler.from_dir(cfg.data, k_max=mcfg.max_context, retrieval=cfg.retrieval, patch_t=mcfg.patch_t,
                                   overlap_prob=cfg.overlap_prob, loop_dir=cfg.loop_data or None,
                                   loop_ratio=cfg.loop_ratio).to(device)
    if (sampler.clip, sampler.height, sampler.width) != (mcfg.frames, mcfg.height, mcfg.width):
        raise ValueError(f"shards hold clips of {sampler.clip}x{sampler.height}x{sampler.width} but the model is "
                         f"{mcfg.frames}x{mcfg.height}x{mcfg.width}")
    model = VideoDiT(mcfg).to(device)
    gen = torch.Generator().manual_seed(cfg.seed + 1000 * rank)
    step, elapsed_before = 0, 0.0
    last = out / "last"
    resume = cfg.resume and (out / "last.safetensors").exists()
    start_from = last if resume else (cfg.init or None)
    if start_from:  # whole weights go in before sharding; the optimizer is built over the (possibly sharded) params
        loaded, _, _ = load_model(start_from, device)
        if loaded.config() != model.config():
            raise ValueError(f"{start_from}: its model {loaded.config()} is not the configured {model.config()}")
        model.load_state_dict(loaded.state_dict())
    ddp = wrap(model, cfg.parallel, device)
    sharded = is_sharded(model)
    if cfg.compile and sharded:
        raise ValueError("compile=true is for one process or parallel=ddp, not parallel=fsdp")
    # Compiled, the reference-size step ran 1.9x faster on an H200 (benchmarks/train_throughput.py --compile);
    # sampling (self-conditioning, sample grids) stays eager.
    net = torch.compile(ddp) if cfg.compile else ddp
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, betas=(0.9, 0.99))
    if resume:
        moments, extra = read_optimizer(last)
        load_full_optimizer_state(model, opt, moments)
        step, elapsed_before = int(extra["step"]), float(extra["elapsed"])
        gen.set_state(extra[f"generator_{rank}"] if f"generator_{rank}" in extra else extra["generator_0"])
    total = total_steps(cfg)
    first_step = step
    log_path = out / "loss.csv"
    new_log = not log_path.exists() or step == 0
    log = open(log_path, "w" if new_log else "a", newline="") if rank == 0 else None
    writer = csv.writer(log) if log else None
    if writer and new_log:
        writer.writerow(["step", "stage", "k", "self_cond", "loss", "lr", "elapsed_s", "samples_per_s"])
    fixed = sampler.sample(2, mcfg.max_context, torch.Generator().manual_seed(12345)).to(device)
    start = time.monotonic()
    window, window_t, losses = [], time.monotonic(), []

    def progress() -> float:
        if cfg.time_limit_s <= 0:
            return step / max(total, 1)
        # Wall clock sets the pace; steps then only name the stage proportions. Every rank must take the same
        # decision (stop, stage, k) at the same step, or the others wait in a collective forever: agree on the
        # slowest clock's value.
        p = (elapsed_before + time.monotonic() - start) / cfg.time_limit_s
        if world > 1:
            agreed = torch.tensor([p], dtype=torch.float64, device=device)
            dist.all_reduce(agreed, op=dist.ReduceOp.MAX)
            p = float(agreed)
        return p

    def save(tag: Path, weights: dict | None) -> None:
        """Whole checkpoint from rank 0, `weights` from `full_model_state` (None on other ranks); every rank must
        call it when the weights are sharded (it gathers the optimizer state)."""
        moments = full_optimizer_state(model, opt)
        if rank != 0:
            return
        extra = {"step": torch.tensor(step), "elapsed": torch.tensor(elapsed_before + time.monotonic() - start),
                 "generator_0": gen.get_state()}
        save_model(tag, model, flow, {"train": asdict(cfg), "step": step}, state=weights)
        save_optimizer(tag, moments, extra)

    model.train()
    while True:
        p = progress()
        if p >= 1.0:
            break
        stage, k, self_cond = stage_at(cfg, p)
        lr = cfg.lr * min(1.0, (step + 1) / max(cfg.warmup, 1)) * (0.55 + 0.45 * math.cos(math.pi * min(p, 1.0)))
        for g in opt.param_groups:
            g["lr"] = lr
        batch = sampler.sample(cfg.batch_size, k, gen).to(device)
        if self_cond:
            model.eval()
            batch = self_condition(model, sampler, batch, mcfg, cfg.self_cond_sample_steps, cfg.self_cond_prob,
                                   gen, device, amp_dtype)
            model.train()
        B = batch.target.shape[0]
        t = sample_timesteps(B, flow, gen).to(device)
        eps = torch.randn(batch.target.shape, generator=gen).to(device)
        drop = (torch.rand(B, generator=gen) < flow.context_dropout).to(device)
        with torch.autocast(device.type, dtype=amp_dtype or torch.bfloat16, enabled=amp_dtype is not None):
            loss = loss_on(net, batch, mcfg, t, eps, k, drop, weighted=cfg.loop_ratio > 0)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        step += 1
        window.append(float(loss.detach()))
        losses.append(window[-1])
        if writer and step % cfg.log_every == 0:
            now = time.monotonic()
            rate = len(window) * B * world / max(now - window_t, 1e-9)
            writer.writerow([step, stage, k, int(self_cond), f"{sum(window) / len(window):.5f}", f"{lr:.3e}",
                             f"{elapsed_before + now - start:.1f}", f"{rate:.1f}"])
            log.flush()
            print(f"step {step} stage {stage} k={k}{' self-cond' if self_cond else ''} loss "
                  f"{sum(window) / len(window):.4f} lr {lr:.2e} {rate:.0f} samples/s", flush=True)
            window, window_t = [], now
        if (rank == 0 or sharded) and cfg.save_every and step % cfg.save_every == 0:
            save(last, full_model_state(model))
        if (rank == 0 or sharded) and cfg.sample_every and step % cfg.sample_every == 0:
            model.eval()
            sample_grid(out / f"samples_{step:06d}.png" if rank == 0 else None, model, fixed, mcfg, flow,
                        mcfg.max_context, device, amp_dtype)
            model.train()
    summary = {"steps": step, "resumed_at": first_step if resume else None, "init": None if resume else cfg.init or None,
               "elapsed_s": round(elapsed_before + time.monotonic() - start, 1),
               "final_loss": round(sum(losses[-50:]) / max(len(losses[-50:]), 1), 5) if losses else None,
               "first_loss": round(sum(losses[:50]) / max(len(losses[:50]), 1), 5) if losses else None}
    if rank == 0 or sharded:
        weights = full_model_state(model)  # one gather for both the checkpoint and the export
        save(last, weights)
        model.eval()
        export = getattr(torch, cfg.export_dtype) if cfg.export_dtype else None
        if rank == 0:
            save_model(out / "model", model, flow, {"train": asdict(cfg), "step": step}, dtype=export, state=weights)
        sample_grid(out / "samples_final.png" if rank == 0 else None, model, fixed, mcfg, flow, mcfg.max_context,
                    device, amp_dtype)
    if rank == 0:
        (out / "summary.json").write_text(json.dumps(summary, indent=1))
        log.close()
    if world > 1:
        dist.barrier()
    return summary
