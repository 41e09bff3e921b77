"""A small multi-in-single-out video diffusion transformer in pixel space (PlenopticDreamer's generator).

Token layout (one sequence per sample, full self-attention over it):

    [ target video tokens | context video 1 tokens | ... | context video k tokens ]

Each video is a clip of T frames patchified into (T / pt) x (H / p) x (W / p) tokens; the k context
videos are concatenated along time after the target (the seed's temporal concatenation), and every
video carries its own Plücker raymap, projected by a per-block camera encoder and added channel-wise
to its tokens before self-attention. Absent contexts (k below capacity, or dropped for
classifier-free guidance) are removed from attention by a key mask, so one batch can mix k.

Conditioning on the flow time is per token-frame: context frames and the clean overlap frames of a long
video (the last frames of the previous chunk) get t = 0, the frames being generated their noise level.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .backbone import Conditioning, VideoBackbone


@dataclass
class DiTConfig:
    """Shape of the network. `prior_channels`: extra target input channels (hybrid: warp RGB + hole
    mask = 4; learned: 0). `max_context`: the most context videos one sample can carry."""

    height: int = 72
    width: int = 96
    frames: int = 8
    patch: int = 6
    patch_t: int = 2
    dim: int = 256
    depth: int = 8
    heads: int = 4
    mlp_ratio: float = 4.0
    cam_dim: int = 64
    max_context: int = 4
    prior_channels: int = 4
    channels: int = 3

    def __post_init__(self):
        if self.height % self.patch or self.width % self.patch or self.frames % self.patch_t:
            raise ValueError(f"({self.frames}, {self.height}, {self.width}) is not divisible by patch "
                             f"({self.patch_t}, {self.patch}, {self.patch})")
        if self.dim % self.heads:
            raise ValueError(f"dim {self.dim} is not divisible by heads {self.heads}")

    @property
    def grid(self) -> tuple[int, int, int]:
        """Tokens per video along (time, height, width)."""
        return self.frames // self.patch_t, self.height // self.patch, self.width // self.patch

    @property
    def hybrid(self) -> bool:
        return self.prior_channels > 0

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "DiTConfig":
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


def timestep_embedding(t: Tensor, dim: int, max_period: float = 10_000.0) -> Tensor:
    """Sinusoidal features of flow times `t (...,)` in [0, 1] -> `(..., dim)`."""
    half = dim // 2
    freqs = torch.exp(-torch.log(torch.tensor(max_period)) * torch.arange(half, device=t.device) / half)
    args = (t.float() * 1000)[..., None] * freqs
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


class PatchEmbed(nn.Module):
    """`(B, C, T, H, W)` -> `(B, T/pt * H/p * W/p, D)` by a strided 3D convolution."""

    def __init__(self, channels: int, dim: int, patch: int, patch_t: int):
        super().__init__()
        self.proj = nn.Conv3d(channels, dim, (patch_t, patch, patch), (patch_t, patch, patch))

    def forward(self, x: Tensor) -> Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)


class Block(nn.Module):
    """Camera injection, then adaLN-zero self-attention and MLP, modulated per token-frame."""

    def __init__(self, cfg: DiTConfig):
        super().__init__()
        d = cfg.dim
        self.heads = cfg.heads
        # The seed's E_cam: a per-block projection of the Plücker features, zero-initialised so a
        # pretrained backbone starts unchanged when cameras are added.
        self.cam = nn.Linear(cfg.cam_dim, d)
        nn.init.zeros_(self.cam.weight)
        nn.init.zeros_(self.cam.bias)
        self.norm1 = nn.LayerNorm(d, elementwise_affine=False, eps=1e-6)
        self.qkv = nn.Linear(d, 3 * d)
        self.q_norm = nn.LayerNorm(d // cfg.heads, eps=1e-6)  # QK-norm: stable attention logits in bf16
        self.k_norm = nn.LayerNorm(d // cfg.heads, eps=1e-6)
        self.proj = nn.Linear(d, d)
        self.norm2 = nn.LayerNorm(d, elementwise_affine=False, eps=1e-6)
        hidden = int(d * cfg.mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(d, hidden), nn.GELU(approximate="tanh"), nn.Linear(hidden, d))
        self.ada = nn.Linear(d, 6 * d)
        nn.init.zeros_(self.ada.weight)
        nn.init.zeros_(self.ada.bias)

    def forward(self, x: Tensor, cam: Tensor, cond: Tensor, tokens_per_frame: int, attn_mask: Tensor | None) -> Tensor:
        """x, cam: `(B, L, D)`, `(B, L, cam_dim)`; cond: `(B, F, D)` one row per token-frame (L = F * S);
        attn_mask: `(B, 1, 1, L)` bool (True = attend) or None."""
        B, L, D = x.shape
        x = x + self.cam(cam)
        mod = self.ada(F.silu(cond)).repeat_interleave(tokens_per_frame, dim=1)  # (B, L, 6D)
        sh1, sc1, g1, sh2, sc2, g2 = mod.chunk(6, dim=-1)
        h = self.norm1(x) * (1 + sc1) + sh1
        q, k, v = self.qkv(h).view(B, L, 3, self.heads, D // self.heads).permute(2, 0, 3, 1, 4)
        q, k = self.q_norm(q).to(v.dtype), self.k_norm(k).to(v.dtype)
        a = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)
        x = x + g1 * self.proj(a.transpose(1, 2).reshape(B, L, D))
        h = self.norm2(x) * (1 + sc2) + sh2
        return x + g2 * self.mlp(h)


class VideoDiT(VideoBackbone):
    """The reference backbone. `forward(x_t, t, cond) -> v`, all videos `(B, C, T, H, W)` in [-1, 1]."""

    def __init__(self, cfg: DiTConfig):
        super().__init__()
        self.cfg = cfg
        d, (ft, fh, fw) = cfg.dim, cfg.grid
        self.target_embed = PatchEmbed(cfg.channels + cfg.prior_channels, d, cfg.patch, cfg.patch_t)
        self.context_embed = PatchEmbed(cfg.channels, d, cfg.patch, cfg.patch_t)
        self.ray_embed = PatchEmbed(6, cfg.cam_dim, cfg.patch, cfg.patch_t)  # shared; each block projects it
        # Learned factorised positions: space and time within a clip, plus which slot the video is in
        # (0 = target, 1..k = context). Contexts are synchronized with the target, so they share time rows.
        self.pos_space = nn.Parameter(torch.randn(fh * fw, d) * 0.02)
        self.pos_time = nn.Parameter(torch.randn(ft, d) * 0.02)
        self.slot = nn.Parameter(torch.randn(1 + cfg.max_context, d) * 0.02)
        self.t_embed = nn.Sequential(nn.Linear(d, d), nn.SiLU(), nn.Linear(d, d))
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.depth))
        self.norm_out = nn.LayerNorm(d, elementwise_affine=False, eps=1e-6)
        self.ada_out = nn.Linear(d, 2 * d)
        nn.init.zeros_(self.ada_out.weight)
        nn.init.zeros_(self.ada_out.bias)
        self.out = nn.Linear(d, cfg.patch_t * cfg.patch * cfg.patch * cfg.channels)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def config(self) -> dict:
        return {"backbone": "dit", **self.cfg.to_dict()}

    def _positions(self, slot: int) -> Tensor:
        ft, fh, fw = self.cfg.grid
        pos = self.pos_time[:, None, :] + self.pos_space[None, :, :]  # (ft, S, D)
        return (pos + self.slot[slot]).reshape(ft * fh * fw, -1)

    def forward(self, x_t: Tensor, t: Tensor, cond: Conditioning) -> Tensor:
        """x_t: `(B, 3, T, H, W)` noisy target; t: `(B,)` or `(B, T / pt)` flow time per token-frame
        (0 = clean condition frame); cond: see :class:`Conditioning`. Returns the velocity `(B, 3, T, H, W)`."""
        cfg = self.cfg
        B = x_t.shape[0]
        ft, fh, fw = cfg.grid
        S = fh * fw
        k = 0 if cond.context is None else cond.context.shape[1]
        if k > cfg.max_context:
            raise ValueError(f"{k} context videos but the model holds at most {cfg.max_context}")
        t = t.expand(B, ft) if t.ndim == 2 else t[:, None].expand(B, ft)
        inp = x_t if not cfg.hybrid else torch.cat([x_t, cond.prior.to(x_t)], dim=1)
        xs = [self.target_embed(inp) + self._positions(0)]
        rays = [cond.target_rays]
        times = [t]
        for i in range(k):
            xs.append(self.context_embed(cond.context[:, i].to(x_t)) + self._positions(i + 1))
            rays.append(cond.context_rays[:, i])
            times.append(torch.zeros_like(t))
        x = torch.cat(xs, dim=1)  # (B, (1 + k) * ft * S, D)
        cam = self.ray_embed(torch.cat(rays, dim=2).to(x_t))  # videos are time-concatenated, so rays are too
        cond_t = self.t_embed(timestep_embedding(torch.cat(times, dim=1), cfg.dim).to(x.dtype))  # (B, F, D)
        mask = None
        if k and cond.context_mask is not None and not bool(cond.context_mask.all()):
            keep = torch.cat([torch.ones(B, 1, dtype=torch.bool, device=x.device), cond.context_mask.bool()], 1)
            mask = keep.repeat_interleave(ft * S, dim=1)[:, None, None, :]
        for block in self.blocks:
            x = block(x, cam, cond_t, S, mask)
        x = x[:, : ft * S]
        shift, scale = self.ada_out(F.silu(cond_t[:, :ft])).repeat_interleave(S, dim=1).chunk(2, dim=-1)
        x = self.out(self.norm_out(x) * (1 + scale) + shift)
        return unpatchify(x, cfg)


def unpatchify(x: Tensor, cfg: DiTConfig) -> Tensor:
    """`(B, ft * fh * fw, pt * p * p * C)` -> `(B, C, T, H, W)`."""
    B = x.shape[0]
    ft, fh, fw = cfg.grid
    p, pt, c = cfg.patch, cfg.patch_t, cfg.channels
    x = x.view(B, ft, fh, fw, pt, p, p, c)
    return x.permute(0, 7, 1, 4, 2, 5, 3, 6).reshape(B, c, ft * pt, fh * p, fw * p)


def patchify(x: Tensor, cfg: DiTConfig) -> Tensor:
    """Inverse of :func:`unpatchify`: `(B, C, T, H, W)` -> `(B, ft * fh * fw, pt * p * p * C)`."""
    B, c = x.shape[:2]
    ft, fh, fw = cfg.grid
    p, pt = cfg.patch, cfg.patch_t
    x = x.view(B, c, ft, pt, fh, p, fw, p)
    return x.permute(0, 2, 4, 6, 3, 5, 7, 1).reshape(B, ft * fh * fw, pt * p * p * c)


def num_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


__all__ = ["DiTConfig", "VideoDiT", "patchify", "unpatchify", "timestep_embedding", "num_parameters"]
