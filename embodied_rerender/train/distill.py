"""Distil the bidirectional teacher (`VideoDiT`, e.g. weights/hybrid_ref) into the few-step causal student.

Two phases over one run (progress = max(step / total_steps, elapsed / time_limit_s)):

1. Regression warm-up (`warmup_frac` of the run): the teacher samples each clip with its ODE (`teacher_steps`
   Euler steps); the student, teacher-forced on those outputs as its clean past frames, learns to predict them
   from any of its `steps` noise levels. Cheap at this scale, and it puts the student near the teacher before
   the distribution-matching phase (CausVid's ODE initialisation, simplified to noised teacher outputs).
2. Self-Forcing + DMD: the student rolls out every clip itself, frame by frame with its KV cache, its own
   outputs as context (what it will see when streaming). Each frame stops at a random one of the `steps` levels
   and only that last step carries gradient. The rollout is scored by distribution matching: re-noised at a
   random t, the teacher's denoised estimate (real score) and that of an online "fake" model trained by flow
   matching on the student's outputs (fake score) are compared; the generator is pushed along
   `x0_fake - x0_real` (normalized per sample by the mean |x_student - x0_real|). The fake model starts from the
   teacher and takes `fake_updates` flow-matching steps per generator step. An optional regression to the
   teacher's ODE outputs (`regression_weight`) and to ground truth (`gt_weight`) can stay on.

Clips come from the same packed shards as `train` (the head camera is the source, a wrist camera the target,
with its warp prior); `clip` may exceed the teacher's clip length (a multiple of it): the teacher then scores
each of its windows, and the student learns to roll its cache window on longer rollouts.

    python -m embodied_rerender.train.distill data=.carry/train output=DIR teacher=weights/hybrid_ref.safetensors \
        time_limit_s=300 steps=4 [student.window=8 ...]
"""

from __future__ import annotations

import csv
import json
import math
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from ..models import Conditioning, FlowConfig, add_noise, clip_raymaps, flow_loss, load_model, sample, save_model
from ..models.causal import CausalConfig, CausalDiT, PairConditioning, init_from_teacher
from ..stream.scheduler import noise_levels
from .pairs import PairSampler

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "distill.yaml"


@dataclass
class DistillConfig:
    """See configs/distill.yaml for every key."""

    data: str = ""
    output: str = ""
    teacher: str = "weights/hybrid_ref.safetensors"
    student: dict = field(default_factory=dict)
    init_from_teacher: bool = True
    steps: int = 4
    shift: float = 3.0
    clip: int = 8
    batch_size: int = 8
    lr: float = 1e-4
    fake_lr: float = 1e-4
    grad_clip: float = 1.0
    total_steps: int = 1000
    time_limit_s: float = 0.0
    warmup_frac: float = 0.3
    teacher_steps: int = 16
    guidance: float = 1.0
    dmd_weight: float = 1.0
    regression_weight: float = 0.25
    gt_weight: float = 0.0
    fake_updates: int = 1
    dmd_t_min: float = 0.02
    dmd_t_max: float = 0.98
    log_every: int = 10
    save_every: int = 200
    seed: int = 0
    device: str = "auto"
    amp: bool = True
    export_dtype: str = "bfloat16"

    @classmethod
    def from_dict(cls, d: dict) -> "DistillConfig":
        unknown = set(d) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown distill options {sorted(unknown)}")
        return cls(**d)


@dataclass
class Clips:
    """A batch of clips at the training resolution: source/target `(B, T, 3, h, w)`, prior `(B, T, 4, h, w)`,
    source_K/target_K `(B, 3, 3)`, source_c2w/target_c2w `(B, T, 4, 4)`."""

    source: torch.Tensor
    target: torch.Tensor
    prior: torch.Tensor
    source_K: torch.Tensor
    target_K: torch.Tensor
    source_c2w: torch.Tensor
    target_c2w: torch.Tensor

    def window(self, a: int, n: int) -> "Clips":
        sl = slice(a, a + n)
        return Clips(self.source[:, sl], self.target[:, sl], self.prior[:, sl], self.source_K, self.target_K,
                     self.source_c2w[:, sl], self.target_c2w[:, sl])


def sample_clips(sampler: PairSampler, batch: int, clip: int, generator: torch.Generator) -> Clips:
    """Random (episode, wrist camera, start) clips of `clip` frames: head = source, wrist = target."""
    out = {k: [] for k in Clips.__dataclass_fields__}
    for _ in range(batch):
        e = int(torch.randint(len(sampler.episodes), (1,), generator=generator))
        tensors, meta = sampler.episodes[e]
        wrist = meta["wrists"][int(torch.randint(len(meta["wrists"]), (1,), generator=generator))]
        n = sampler.video[e]["head"].shape[0]
        if n < clip:
            raise ValueError(f"episode {meta['episode']} has {n} frames, fewer than clip={clip}")
        s = int(torch.randint(n - clip + 1, (1,), generator=generator))
        video = sampler.video[e]
        out["source"].append(video["head"][s:s + clip])
        out["target"].append(video[wrist][s:s + clip])
        out["prior"].append(video[f"{wrist}.prior"][s:s + clip])
        out["source_K"].append(tensors["head.K"])
        out["target_K"].append(tensors[f"{wrist}.K"])
        out["source_c2w"].append(tensors["head.c2w"][s:s + clip])
        out["target_c2w"].append(tensors[f"{wrist}.c2w"][s:s + clip])
    dev = sampler.device
    return Clips(**{k: torch.stack(v).to(dev).float() for k, v in out.items()})


def student_inputs(c: Clips, hybrid: bool) -> PairConditioning:
    """Per-frame student inputs; raymaps in the frame of the clip's first source camera."""
    B, T, _, h, w = c.source.shape
    ref = c.source_c2w[:, 0]
    s_rays = clip_raymaps(c.source_K, c.source_c2w, ref, h, w).transpose(1, 2)
    t_rays = clip_raymaps(c.target_K, c.target_c2w, ref, h, w).transpose(1, 2)
    return PairConditioning(c.source, s_rays, t_rays, c.prior if hybrid else None)


def teacher_inputs(c: Clips, frames: int, hybrid: bool) -> Conditioning:
    """Teacher conditioning of every `frames`-long window of the clips, stacked along the batch: one context
    (the source clip), raymaps in the frame of each window's first source camera."""
    B, T, _, h, w = c.source.shape
    n = T // frames
    split = lambda x: x.reshape(B * n, frames, *x.shape[2:])  # noqa: E731
    src, s_c2w, t_c2w = split(c.source), split(c.source_c2w), split(c.target_c2w)
    s_K, t_K = c.source_K.repeat_interleave(n, 0), c.target_K.repeat_interleave(n, 0)
    ref = s_c2w[:, 0]
    return Conditioning(target_rays=clip_raymaps(t_K, t_c2w, ref, h, w),
                        context=src.transpose(1, 2)[:, None],
                        context_rays=clip_raymaps(s_K, s_c2w, ref, h, w)[:, None],
                        context_mask=torch.ones(B * n, 1, dtype=torch.bool, device=src.device),
                        prior=split(c.prior).transpose(1, 2) if hybrid else None)


def to_teacher(x: torch.Tensor, frames: int) -> torch.Tensor:
    """Student layout `(B, T, 3, h, w)` -> teacher windows `(B * T / frames, 3, frames, h, w)`."""
    B, T = x.shape[:2]
    return x.reshape(B * (T // frames), frames, *x.shape[2:]).transpose(1, 2)


def from_teacher(x: torch.Tensor, B: int) -> torch.Tensor:
    """Inverse of :func:`to_teacher`."""
    return x.transpose(1, 2).reshape(B, -1, *x.shape[1:2], *x.shape[3:])


def rollout(student: CausalDiT, cond: PairConditioning, noise: torch.Tensor, levels: torch.Tensor,
            exits: list[int], context: torch.Tensor | None = None) -> torch.Tensor:
    """Generate `(B, T, 3, h, w)` frame by frame with the KV cache (Self-Forcing).

    Frame i is denoised from `noise[:, i]` through the levels; at step `exits[i]` it stops and that step's x0
    prediction (the only one with gradient) is its output. The clean frame then enters the cache: the student's
    own output (detached), or `context[:, i]` when teacher-forced (regression warm-up, where the noisy input is
    built directly from `context` instead of by the student's earlier steps).
    """
    B, T = noise.shape[:2]
    cache = student.new_cache()
    outs = []
    for i in range(T):
        c_i, f_i = cond.frames(slice(i, i + 1)), torch.tensor([i])
        x = noise[:, i:i + 1]
        k_exit = exits[i]
        if context is not None:
            t = levels[k_exit]
            x = (1 - t) * context[:, i:i + 1] + t * x
        else:
            with torch.no_grad():
                for k in range(k_exit):
                    v = student(x, levels[k].expand(B, 1).to(x), c_i, f_i, cache)
                    x = x + (levels[k + 1] - levels[k]).to(x) * v.float()
        t = levels[k_exit].expand(B, 1).to(x)
        x0 = x - t[..., None, None, None] * student(x, t, c_i, f_i, cache).float()
        outs.append(x0)
        clean = (context[:, i:i + 1] if context is not None else x0).detach()
        with torch.no_grad():
            student(clean, torch.zeros(B, 1, device=x.device), c_i, f_i, cache, commit=1)
    return torch.cat(outs, dim=1)


def teacher_ode(teacher, cond: Conditioning, shape, steps: int, shift: float, guidance: float,
                generator: torch.Generator, amp_dtype) -> torch.Tensor:
    return sample(teacher, cond, shape, generator, steps=steps, guidance=guidance, dtype=amp_dtype, shift=shift)


def dmd_direction(teacher, fake, x: torch.Tensor, cond: Conditioning, t: torch.Tensor, eps: torch.Tensor,
                  guidance: float) -> torch.Tensor:
    """Normalized DMD gradient for teacher-layout samples `x (N, 3, T, h, w)`: x0_fake - x0_real at x_t."""
    x_t = add_noise(x, eps, t)
    tt = t.view(-1, 1, 1, 1, 1)
    with torch.no_grad():
        v_real = teacher(x_t, t, cond).float()
        if guidance != 1.0:
            v_u = teacher(x_t, t, cond.without_context()).float()
            v_real = v_u + guidance * (v_real - v_u)
        v_fake = fake(x_t, t, cond).float()
    x0_real, x0_fake = x_t - tt * v_real, x_t - tt * v_fake
    norm = (x - x0_real).abs().mean(dim=(1, 2, 3, 4), keepdim=True).clamp_min(1e-3)
    return (x0_fake - x0_real) / norm


def resolve_teacher(path: str) -> Path:
    """A teacher path as given, or relative to the repository (so the default works from any directory)."""
    p = Path(path)
    if not p.with_suffix(".json").exists() and (CONFIG.parents[2] / p).with_suffix(".json").exists():
        return CONFIG.parents[2] / p
    return p


def distill(cfg: DistillConfig) -> dict:
    """Run the distillation; writes under cfg.output: student.{safetensors,json} (export dtype), loss.csv,
    summary.json. Returns the summary."""
    device = torch.device(("cuda" if torch.cuda.is_available() else "cpu") if cfg.device == "auto" else cfg.device)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
    amp_dtype = torch.bfloat16 if cfg.amp and device.type == "cuda" else None
    out = Path(cfg.output)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed)
    teacher_path = resolve_teacher(cfg.teacher)
    teacher, t_flow, _ = load_model(teacher_path, device)
    teacher.requires_grad_(False)
    tcfg = teacher.cfg
    scfg = CausalConfig.from_dict({"height": tcfg.height, "width": tcfg.width, "patch": tcfg.patch, "dim": tcfg.dim,
                                   "depth": tcfg.depth, "heads": tcfg.heads, "mlp_ratio": tcfg.mlp_ratio,
                                   "cam_dim": tcfg.cam_dim, "prior_channels": tcfg.prior_channels, **cfg.student})
    if cfg.clip % tcfg.frames:
        raise ValueError(f"clip {cfg.clip} must be a multiple of the teacher's {tcfg.frames} frames")
    student = CausalDiT(scfg).to(device)
    copied = init_from_teacher(student, teacher) if cfg.init_from_teacher else []
    fake, _, _ = load_model(teacher_path, device)
    fake.train()
    sampler = PairSampler.from_dir(cfg.data, k_max=1, patch_t=tcfg.patch_t).to(device)
    if (sampler.height, sampler.width) != (scfg.height, scfg.width):
        raise ValueError(f"shards are {sampler.width}x{sampler.height}, the student works at {scfg.width}x{scfg.height}")
    opt = torch.optim.AdamW(student.parameters(), lr=cfg.lr, weight_decay=0.0, betas=(0.9, 0.99))
    fake_opt = torch.optim.AdamW(fake.parameters(), lr=cfg.fake_lr, weight_decay=0.0, betas=(0.9, 0.99))
    levels = noise_levels(cfg.steps, cfg.shift).to(device)
    gen = torch.Generator().manual_seed(cfg.seed)
    log = open(out / "loss.csv", "w", newline="")
    writer = csv.writer(log)
    writer.writerow(["step", "phase", "loss", "regression", "dmd", "gt", "fake", "elapsed_s"])
    start = time.monotonic()
    step, history = 0, []
    autocast = lambda: torch.autocast(device.type, dtype=amp_dtype or torch.bfloat16, enabled=amp_dtype is not None)  # noqa: E731
    meta = lambda: {"distill": asdict(cfg), "step": step, "stream": {"steps": cfg.steps, "shift": cfg.shift},  # noqa: E731
                    "teacher": str(cfg.teacher)}
    flow_meta = FlowConfig(shift=cfg.shift, steps=cfg.steps)

    def progress() -> float:
        p = step / cfg.total_steps if cfg.total_steps > 0 else 0.0
        if cfg.time_limit_s > 0:  # whichever ends first; the warm-up share is then a share of the time
            p = max(p, (time.monotonic() - start) / cfg.time_limit_s)
        return p

    while progress() < 1.0:
        regression_phase = progress() < cfg.warmup_frac
        for g in opt.param_groups:
            g["lr"] = cfg.lr * min(1.0, (step + 1) / 20)
        clips = sample_clips(sampler, cfg.batch_size, cfg.clip, gen)
        B = cfg.batch_size
        s_cond = student_inputs(clips, scfg.hybrid)
        t_cond = teacher_inputs(clips, tcfg.frames, tcfg.hybrid)
        noise = torch.randn(clips.target.shape, generator=gen).to(device)
        exits = torch.randint(cfg.steps, (cfg.clip,), generator=gen).tolist()
        need_teacher = regression_phase or cfg.regression_weight > 0
        target = None
        if need_teacher:
            t_shape = (B * (cfg.clip // tcfg.frames), 3, tcfg.frames, tcfg.height, tcfg.width)
            target = from_teacher(teacher_ode(teacher, t_cond, t_shape, cfg.teacher_steps, t_flow.shift, cfg.guidance,
                                              gen, amp_dtype), B)
        terms = {"regression": 0.0, "dmd": 0.0, "gt": 0.0, "fake": 0.0}
        student.train()
        with autocast():
            x = rollout(student, s_cond, noise, levels, exits, context=target if regression_phase else None)
        loss = torch.zeros((), device=device)
        if target is not None:
            reg = F.mse_loss(x, target)
            terms["regression"] = float(reg.detach())
            loss = loss + (1.0 if regression_phase else cfg.regression_weight) * reg
        if cfg.gt_weight > 0:
            gt = F.mse_loss(x, clips.target)
            terms["gt"] = float(gt.detach())
            loss = loss + cfg.gt_weight * gt
        if not regression_phase:
            xt = to_teacher(x, tcfg.frames)
            N = xt.shape[0]
            t = (cfg.dmd_t_min + (cfg.dmd_t_max - cfg.dmd_t_min) * torch.rand(N, generator=gen)).to(device)
            eps = torch.randn(xt.shape, generator=gen).to(device)
            with autocast():
                g = dmd_direction(teacher, fake, xt.detach(), t_cond, t, eps, cfg.guidance)
            dmd = 0.5 * F.mse_loss(xt, (xt - g).detach())
            terms["dmd"] = float(g.abs().mean())  # the size of the push (the loss value itself means little)
            loss = loss + cfg.dmd_weight * dmd
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(student.parameters(), cfg.grad_clip)
        opt.step()
        # The fake score tracks the student's current outputs, also during the warm-up, so it is ready for DMD.
        xs = to_teacher(x.detach(), tcfg.frames)
        for _ in range(cfg.fake_updates):
            t_f = (cfg.dmd_t_min + (cfg.dmd_t_max - cfg.dmd_t_min) * torch.rand(xs.shape[0], generator=gen)).to(device)
            e_f = torch.randn(xs.shape, generator=gen).to(device)
            with autocast():
                f_loss = flow_loss(fake, xs, t_cond, t_f, e_f)
            fake_opt.zero_grad(set_to_none=True)
            f_loss.backward()
            if cfg.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(fake.parameters(), cfg.grad_clip)
            fake_opt.step()
            terms["fake"] = float(f_loss.detach())
        step += 1
        history.append({"loss": float(loss.detach()), **terms})
        if step % cfg.log_every == 0 or step == 1:
            elapsed = time.monotonic() - start
            phase = "regression" if regression_phase else "dmd"
            writer.writerow([step, phase, f"{history[-1]['loss']:.5f}", *(f"{terms[k]:.5f}" for k in terms), f"{elapsed:.1f}"])
            log.flush()
            print(f"distill step {step} {phase} loss {history[-1]['loss']:.4f} " +
                  " ".join(f"{k} {v:.4f}" for k, v in terms.items()) + f" {elapsed:.0f}s", flush=True)
        if cfg.save_every and step % cfg.save_every == 0:
            save_model(out / "student", student, flow_meta, meta())
        if not all(math.isfinite(h) for h in history[-1].values()):
            raise FloatingPointError(f"non-finite distillation loss at step {step}: {history[-1]}")
    log.close()
    student.eval()
    export = getattr(torch, cfg.export_dtype) if cfg.export_dtype else None
    save_model(out / "student", student, flow_meta, meta(), dtype=export)
    tail = history[-20:]
    summary = {"steps": step, "elapsed_s": round(time.monotonic() - start, 1), "copied_from_teacher": len(copied),
               "params": sum(p.numel() for p in student.parameters()),
               "final": {k: round(sum(h[k] for h in tail) / max(len(tail), 1), 5) for k in (tail[0] if tail else {})},
               "first": {k: round(v, 5) for k, v in (history[0] if history else {}).items()}}
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    return summary


def main(argv: list[str] | None = None) -> int:
    import yaml

    from .__main__ import parse

    options = yaml.safe_load(CONFIG.read_text()) or {}
    for key, value in parse(sys.argv[1:] if argv is None else argv).items():
        if isinstance(value, dict) and isinstance(options.get(key), dict):
            options[key] = {**options[key], **value}
        else:
            options[key] = value
    summary = distill(DistillConfig.from_dict(options))
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
