"""Rectified-flow matching (the seed's Eq. 3): x_t = (1 - t) x0 + t eps, v = eps - x0.

Training regresses v with an MSE over the frames being generated; t is drawn logit-normal and shifted
toward high noise (the seed biases t high so the model learns to rebuild from weakly correlated inputs,
i.e. to lean on its context). Sampling integrates dx/dt = v from t = 1 (noise) to 0 with Euler steps,
with classifier-free guidance on the context videos.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import Tensor

from .backbone import Conditioning, VideoBackbone


@dataclass
class FlowConfig:
    """logit_mean / logit_std: t = sigmoid(N(mean, std)); shift > 1 moves t toward 1 (more noise):
    t' = shift t / (1 + (shift - 1) t). steps: Euler steps at sampling; guidance: CFG scale on the
    context (1 = off); context_dropout: training probability of dropping all context (learns the
    unconditional branch)."""

    logit_mean: float = 0.0
    logit_std: float = 1.0
    shift: float = 3.0
    steps: int = 16
    guidance: float = 1.0
    context_dropout: float = 0.1

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "FlowConfig":
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


def shift_time(t: Tensor, shift: float) -> Tensor:
    return shift * t / (1 + (shift - 1) * t)


def sample_timesteps(n: int, cfg: FlowConfig, generator: torch.Generator | None = None) -> Tensor:
    """`(n,)` training times in (0, 1), biased to high noise."""
    u = torch.randn(n, generator=generator) * cfg.logit_std + cfg.logit_mean
    return shift_time(torch.sigmoid(u), cfg.shift)


def add_noise(x0: Tensor, eps: Tensor, t: Tensor) -> Tensor:
    """x_t for `x0, eps (B, C, T, H, W)` and `t (B,)` or per token-frame `(B, F)` (F divides T)."""
    return (1 - _expand(t, x0)) * x0 + _expand(t, x0) * eps


def _expand(t: Tensor, like: Tensor) -> Tensor:
    """`(B,)` -> `(B, 1, 1, 1, 1)`; `(B, F)` -> `(B, 1, T, 1, 1)` repeating each token-frame's t."""
    if t.ndim == 1:
        return t.view(-1, 1, 1, 1, 1).to(like)
    frames = like.shape[2]
    return t.repeat_interleave(frames // t.shape[1], dim=1).view(t.shape[0], 1, frames, 1, 1).to(like)


def flow_loss(model: VideoBackbone, x0: Tensor, cond: Conditioning, t: Tensor, eps: Tensor,
              clean: Tensor | None = None, weight: Tensor | None = None) -> Tensor:
    """Velocity-regression loss (mean over batch and generated pixels).

    x0, eps: `(B, 3, T, H, W)`; t: `(B,)` times; clean: `(B, F)` bool token-frames given clean
    (overlap frames of a long video): their t is 0, their x_t is x0, and they are left out of the loss
    (at t = 0 the velocity eps - x0 is unpredictable). All randomness comes in as arguments, so a
    data-parallel split of the batch gives exactly the gradient of the whole batch. weight: optional
    `(B, 1, T, H, W)` per-pixel loss weight (0 = unknown target pixel, e.g. a LoopAug hole); each sample's
    loss is then its weighted mean.
    """
    tf = t
    if clean is not None:
        tf = torch.where(clean, torch.zeros_like(clean, dtype=t.dtype), t[:, None].expand(clean.shape))
    x_t = add_noise(x0, eps, tf)
    v = model(x_t, tf, cond)
    err = (v.float() - (eps - x0).float()).pow(2)
    if weight is not None:
        w = weight.to(err)
        if clean is not None:
            w = w * _expand((~clean).float(), err)
        per_sample = (err * w).sum(dim=(1, 2, 3, 4)) / (w.sum(dim=(1, 2, 3, 4)) * err.shape[1]).clamp_min(1)
        return per_sample.mean()
    if clean is None:
        return err.mean()
    weight = _expand((~clean).float(), err)  # (B, 1, T, 1, 1)
    per_sample = (err * weight).sum(dim=(1, 2, 3, 4)) / (weight.sum(dim=(1, 2, 3, 4)) * err[0, :, 0].numel()).clamp_min(1)
    return per_sample.mean()


@torch.no_grad()
def sample(model: VideoBackbone, cond: Conditioning, shape: tuple[int, ...], generator: torch.Generator,
           steps: int = 16, guidance: float = 1.0, clean_frames: Tensor | None = None,
           clean: Tensor | None = None, dtype: torch.dtype | None = None, shift: float = 1.0) -> Tensor:
    """Generate `(B, 3, T, H, W)` in [-1, 1] by Euler integration from noise.

    generator: a CPU generator; the noise is drawn on the CPU so a seed gives the same video on every
    device. clean_frames / clean: known frames `(B, 3, T, H, W)` and the `(B, F)` token-frames to keep
    from them (the overlap with the previous chunk), held at t = 0 throughout. guidance > 1 mixes
    v = v_uncond + g (v_cond - v_uncond), the unconditional branch dropping every context video.
    dtype: autocast dtype on CUDA (e.g. torch.bfloat16), None for full precision. shift > 1 spends
    more of the steps at high noise (the same warp of t as in training).
    """
    device = next(model.parameters()).device
    x = torch.randn(shape, generator=generator).to(device)
    B = shape[0]
    uncond = cond.without_context() if guidance != 1.0 else None
    ts = shift_time(torch.linspace(1.0, 0.0, steps + 1), shift)
    use_amp = dtype is not None and device.type == "cuda"
    for i in range(steps):
        t_now, t_next = float(ts[i]), float(ts[i + 1])
        tf = torch.full((B,), t_now, device=device)
        if clean is not None:
            tf = tf[:, None].expand(clean.shape)
            x = torch.where(_expand(clean.float(), x) > 0, clean_frames.to(x), x)
            tf = torch.where(clean.to(device), torch.zeros_like(tf), tf)
        with torch.autocast(device.type, dtype=dtype or torch.bfloat16, enabled=use_amp):
            v = model(x, tf, cond).float()
            if uncond is not None:
                v_u = model(x, tf, uncond).float()
                v = v_u + guidance * (v - v_u)
        x = x + (t_next - t_now) * v  # t decreases: x moves from noise toward data
    if clean is not None:
        x = torch.where(_expand(clean.float(), x) > 0, clean_frames.to(x), x)
    return x.clamp(-1, 1)


__all__ = ["FlowConfig", "sample_timesteps", "add_noise", "flow_loss", "sample", "shift_time"]
