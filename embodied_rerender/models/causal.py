"""The causal streaming student: a frame-by-frame DiT over synchronized (source, target) pairs (RealCam's
cross-frame in-context layout), block-causal over frames, with a bounded KV cache.

Token layout, one block of `2 S` tokens per time step (S = (h / p) * (w / p) spatial patches):

    [ source_0 | target_0 ][ source_1 | target_1 ] ... [ source_n | target_n ]

The source frame (the recorded camera, clean, flow time 0) carries its own Plücker raymap; the target frame
(noisy, flow time t_i: one time per frame, so a window of frames at staggered noise levels runs in one pass)
carries the target pose's raymap and, in hybrid mode, the warp render + hole mask as extra input channels.

Attention is block-causal over frames with a band: frame i sees frame j iff j <= i and (j < sink or
i - j <= window). The band is what makes streaming exact and bounded at once: the KV cache keeps the `sink`
first frames forever plus the last `window` committed frames, and a pass over a cached stream computes the same
numbers as one full pass over the whole sequence with the banded mask.

Temporal positions: rotary embedding over the frame index on a fraction of each head's channels, with
frequencies that are integer multiples of 2 pi / `rope_period`, so the rotation is exactly periodic: angles are
computed from `index mod rope_period` (no precision loss however long the stream runs) and still encode the
exact relative distance of any two frames less than a period apart (the band is). Sink frames keep no
rotary channels in their keys (zeroed), so they act as position-free anchors: their logits do not drift as
the stream moves away from them. Spatial positions are learned per patch (the working resolution is fixed).

The network runs at a fixed working resolution (the teacher's, 96x72 for the reference); the stream engine
resizes inputs to it and upsamples its output (with the warp render's high frequencies added back).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .dit import timestep_embedding


@dataclass
class CausalConfig:
    """height, width: working resolution; patch: spatial patch side (one frame = (h/p)(w/p) tokens per
    stream); prior_channels: 4 in hybrid mode (warp RGB + hole mask), 0 otherwise; sink / window: frames kept
    forever / the band of recent frames each frame attends to; rope_period, rope_fraction: the periodic
    temporal rotary embedding (period in frames, share of each head's channels it rotates)."""

    height: int = 72
    width: int = 96
    patch: int = 6
    dim: int = 256
    depth: int = 8
    heads: int = 4
    mlp_ratio: float = 4.0
    cam_dim: int = 64
    prior_channels: int = 4
    channels: int = 3
    sink: int = 1
    window: int = 8
    rope_period: int = 64
    rope_fraction: float = 0.5

    def __post_init__(self):
        if self.height % self.patch or self.width % self.patch:
            raise ValueError(f"({self.height}, {self.width}) is not divisible by patch {self.patch}")
        if self.dim % self.heads:
            raise ValueError(f"dim {self.dim} is not divisible by heads {self.heads}")
        if self.rope_pairs >= self.rope_period // 2:
            raise ValueError(f"{self.rope_pairs} rotary pairs alias with period {self.rope_period}")
        if self.window + 1 >= self.rope_period:
            raise ValueError(f"window {self.window} must stay below the rotary period {self.rope_period}")

    @property
    def grid(self) -> tuple[int, int]:
        return self.height // self.patch, self.width // self.patch

    @property
    def tokens_per_stream(self) -> int:
        """Tokens of one frame of one stream (source or target)."""
        return self.grid[0] * self.grid[1]

    @property
    def rope_pairs(self) -> int:
        return int(self.dim // self.heads * self.rope_fraction) // 2

    @property
    def hybrid(self) -> bool:
        return self.prior_channels > 0

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "CausalConfig":
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


@dataclass
class PairConditioning:
    """Per-frame inputs of the student, all `(B, F, C, h, w)` float at the working resolution.

    source: `(B, F, 3, h, w)` recorded frames in [-1, 1]; source_rays / target_rays: `(B, F, 6, h, w)` Plücker
    raymaps of the source and target cameras in one fixed reference frame; prior: `(B, F, 4, h, w)` warp RGB +
    coverage in [-1, 1] (hybrid), else None.
    """

    source: Tensor
    source_rays: Tensor
    target_rays: Tensor
    prior: Tensor | None = None

    def frames(self, sl: slice) -> "PairConditioning":
        """The same inputs restricted to frames `sl`."""
        return PairConditioning(self.source[:, sl], self.source_rays[:, sl], self.target_rays[:, sl],
                                None if self.prior is None else self.prior[:, sl])

    def to(self, device=None, dtype=None) -> "PairConditioning":
        move = lambda x: None if x is None else x.to(device=device, dtype=dtype)  # noqa: E731
        return PairConditioning(move(self.source), move(self.source_rays), move(self.target_rays), move(self.prior))

    @staticmethod
    def cat(parts: list["PairConditioning"]) -> "PairConditioning":
        prior = None if parts[0].prior is None else torch.cat([p.prior for p in parts], 1)
        return PairConditioning(torch.cat([p.source for p in parts], 1), torch.cat([p.source_rays for p in parts], 1),
                                torch.cat([p.target_rays for p in parts], 1), prior)


class KVCache:
    """Keys and values of committed frames, per layer: `(B, heads, n * 2S, head_dim)`, with their frame indices.

    Holds at most `sink + window` frames: the first `sink` frames of the stream forever and the last `window`
    committed ones; older frames are dropped as new ones are committed, so memory is bounded for any length.
    """

    def __init__(self, sink: int, window: int, depth: int):
        self.sink, self.window = sink, window
        self.k: list[Tensor | None] = [None] * depth
        self.v: list[Tensor | None] = [None] * depth
        self.frames = torch.zeros(0, dtype=torch.long)
        self._staged: list[tuple[Tensor, Tensor] | None] = [None] * depth

    def __len__(self) -> int:
        return int(self.frames.numel())

    def past(self, layer: int) -> tuple[Tensor, Tensor] | None:
        return None if self.k[layer] is None else (self.k[layer], self.v[layer])

    def reserve(self, n: int) -> None:
        """Called before a pass that will commit `n` frames (nothing to prepare here; see :class:`RingKVCache`)."""

    def stage(self, layer: int, k: Tensor, v: Tensor) -> None:
        self._staged[layer] = (k.detach(), v.detach())

    def commit(self, frames: Tensor) -> None:
        """Append the staged keys/values of `frames (n,)` (increasing) and evict what the band no longer needs."""
        frames = frames.detach().cpu().long()
        tokens = None
        for i, staged in enumerate(self._staged):
            k, v = staged
            self.k[i] = k if self.k[i] is None else torch.cat([self.k[i], k], dim=2)
            self.v[i] = v if self.v[i] is None else torch.cat([self.v[i], v], dim=2)
            tokens = k.shape[2] // frames.numel()
        self._staged = [None] * len(self._staged)
        self.frames = torch.cat([self.frames, frames])
        newest = int(self.frames.max())
        keep = (self.frames < self.sink) | (self.frames > newest - self.window)
        if not bool(keep.all()):
            # Frames are increasing, so what stays is a prefix (the sinks) and a suffix (the window): slices, no gather.
            head, tail = int((self.frames < self.sink).sum()), int((self.frames > newest - self.window).sum())
            cut = lambda x: torch.cat([x[:, :, : head * tokens], x[:, :, x.shape[2] - tail * tokens:]], dim=2)  # noqa: E731
            self.k = [cut(k) for k in self.k]
            self.v = [cut(v) for v in self.v]
            self.frames = self.frames[keep]

    def num_bytes(self) -> int:
        return sum(x.numel() * x.element_size() for x in self.k + self.v if x is not None)


class RingKVCache:
    """A full :class:`KVCache` in fixed storage: `sink + window` frame slots per layer, `(B, heads, slots * 2S, hd)`,
    each newly committed frame written over the slot of the oldest non-sink frame (the one the band drops).

    The keys of a pass are then the whole storage, in slot order rather than frame order; attention does not
    depend on key order, and the token mask of a pass is built from :attr:`frames` (the frame in each slot), so a
    pass computes what it computes over a :class:`KVCache` (up to float summation order). The storage and the slot
    index never move, which is what lets a pass be replayed as a CUDA graph (stream/graphs.py): staging is an
    in-place `index_copy_` at the token indices :meth:`reserve` wrote, and :meth:`commit` is host bookkeeping only.
    """

    def __init__(self, cache: KVCache):
        if len(cache) != cache.sink + cache.window or cache.k[0] is None:
            raise ValueError(f"a ring cache starts from a full cache ({cache.sink + cache.window} frames), "
                             f"got {len(cache)}")
        self.sink, self.window = cache.sink, cache.window
        self.k = [k.clone() for k in cache.k]
        self.v = [v.clone() for v in cache.v]
        self.frames = cache.frames.clone()
        self.tokens = self.k[0].shape[2] // len(self.frames)
        self._index: dict[int, Tensor] = {}  # n -> (n * tokens,) token indices the next n committed frames go to
        self._slots: list[int] = []

    def __len__(self) -> int:
        return int(self.frames.numel())

    def past(self, layer: int) -> tuple[Tensor, Tensor]:
        return self.k[layer], self.v[layer]

    def reserve(self, n: int) -> None:
        """Pick the slots of the `n` oldest non-sink frames for the next `n` committed ones."""
        movable = torch.nonzero(self.frames >= self.sink).flatten()
        if n > len(movable):
            raise ValueError(f"cannot commit {n} frames into {len(movable)} window slots")
        oldest = movable[torch.argsort(self.frames[movable])[:n]]
        self._slots = oldest.tolist()
        tokens = (oldest[:, None] * self.tokens + torch.arange(self.tokens)).flatten()
        index = self._index.get(n)
        if index is None:
            self._index[n] = index = torch.empty(n * self.tokens, dtype=torch.long, device=self.k[0].device)
        index.copy_(tokens)

    def stage(self, layer: int, k: Tensor, v: Tensor) -> None:
        index = self._index[k.shape[2] // self.tokens]
        self.k[layer].index_copy_(2, index, k.detach().to(self.k[layer].dtype))
        self.v[layer].index_copy_(2, index, v.detach().to(self.v[layer].dtype))

    def commit(self, frames: Tensor) -> None:
        frames = frames.detach().cpu().long()
        if len(frames) != len(self._slots):
            raise ValueError(f"{len(frames)} frames committed, {len(self._slots)} reserved")
        if len(frames) and int(frames.min()) <= int(self.frames.max()):
            raise ValueError(f"frames {frames.tolist()} are not after the cached {self.frames.tolist()}")
        self.frames[self._slots] = frames
        self._slots = []

    def num_bytes(self) -> int:
        return sum(x.numel() * x.element_size() for x in self.k + self.v)


def band_mask(q_frames: Tensor, k_frames: Tensor, sink: int, window: int) -> Tensor:
    """`(Fq, Fk)` bool: query frame i sees key frame j iff j <= i and (j < sink or i - j <= window)."""
    q, k = q_frames[:, None], k_frames[None, :]
    return (k <= q) & ((k < sink) | (q - k <= window))


def rope_angles(frames: Tensor, pairs: int, period: int) -> Tensor:
    """`(F,)` frame indices -> `(F, pairs)` angles, exactly periodic in the index with `period`."""
    freqs = 2 * math.pi * torch.arange(1, pairs + 1, dtype=torch.float64) / period
    return ((frames.cpu().long() % period).double()[:, None] * freqs).float()


def apply_rope(x: Tensor, cos: Tensor, sin: Tensor, pairs: int) -> Tensor:
    """Rotate the first `2 pairs` channels of `x (B, H, L, hd)` by per-token angles (`cos`, `sin`: `(L, pairs)`)."""
    r = 2 * pairs
    a, b = x[..., :r:2], x[..., 1:r:2]
    rot = torch.stack([a * cos - b * sin, a * sin + b * cos], dim=-1).flatten(-2)
    return torch.cat([rot, x[..., r:]], dim=-1)


class CausalBlock(nn.Module):
    """The teacher's block (same parameter names and shapes, so its weights load) with cached, banded attention."""

    def __init__(self, cfg: CausalConfig):
        super().__init__()
        d = cfg.dim
        self.heads = cfg.heads
        self.cam = nn.Linear(cfg.cam_dim, d)
        self.norm1 = nn.LayerNorm(d, elementwise_affine=False, eps=1e-6)
        self.qkv = nn.Linear(d, 3 * d)
        self.q_norm = nn.LayerNorm(d // cfg.heads, eps=1e-6)
        self.k_norm = nn.LayerNorm(d // cfg.heads, eps=1e-6)
        self.proj = nn.Linear(d, d)
        self.norm2 = nn.LayerNorm(d, elementwise_affine=False, eps=1e-6)
        hidden = int(d * cfg.mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(d, hidden), nn.GELU(approximate="tanh"), nn.Linear(hidden, d))
        self.ada = nn.Linear(d, 6 * d)
        for lin in (self.cam, self.ada):  # zero-init gates: a fresh student starts as the identity
            nn.init.zeros_(lin.weight)
            nn.init.zeros_(lin.bias)

    def forward(self, x: Tensor, cam: Tensor, cond: Tensor, S: int, rope: tuple[Tensor, Tensor, Tensor, int],
                past: tuple[Tensor, Tensor] | None, mask: Tensor | None) -> tuple[Tensor, Tensor, Tensor]:
        """x, cam: `(B, L, D)`, `(B, L, cam_dim)`; cond: `(B, L / S, D)` one row per S-token group;
        rope: (cos, sin `(L, pairs)`, sink-key channel mask `(L, hd)` or None, pairs); past: cached (k, v) or None;
        mask: `(L, L_past + L)` bool or None. Returns x and this pass's (k, v) `(B, heads, L, hd)`."""
        B, L, D = x.shape
        x = x + self.cam(cam)
        mod = self.ada(F.silu(cond)).repeat_interleave(S, dim=1)
        sh1, sc1, g1, sh2, sc2, g2 = mod.chunk(6, dim=-1)
        h = self.norm1(x) * (1 + sc1) + sh1
        q, k, v = self.qkv(h).view(B, L, 3, self.heads, D // self.heads).permute(2, 0, 3, 1, 4)
        q, k = self.q_norm(q).to(v.dtype), self.k_norm(k).to(v.dtype)
        cos, sin, sink_keep, pairs = rope
        q = apply_rope(q, cos.to(q), sin.to(q), pairs)
        k = apply_rope(k, cos.to(k), sin.to(k), pairs)
        if sink_keep is not None:  # sinks: position-free keys (rotary channels zeroed)
            k = k * sink_keep.to(k)
        keys, values = (k, v) if past is None else (torch.cat([past[0].to(k), k], 2), torch.cat([past[1].to(v), v], 2))
        a = F.scaled_dot_product_attention(q, keys, values, attn_mask=mask)
        x = x + g1 * self.proj(a.transpose(1, 2).reshape(B, L, D))
        h = self.norm2(x) * (1 + sc2) + sh2
        return x + g2 * self.mlp(h), k, v


class CausalDiT(nn.Module):
    """`forward(x_t (B, F, 3, h, w), t (B, F), cond, frames (F,), cache) -> v (B, F, 3, h, w)` velocity of the
    target frames (flow matching: x_t = (1 - t) x0 + t eps, v = eps - x0)."""

    def __init__(self, cfg: CausalConfig):
        super().__init__()
        self.cfg = cfg
        d, p = cfg.dim, cfg.patch
        S = cfg.tokens_per_stream
        self.source_embed = nn.Conv2d(cfg.channels, d, p, p)
        self.target_embed = nn.Conv2d(cfg.channels + cfg.prior_channels, d, p, p)
        self.ray_embed = nn.Conv2d(6, cfg.cam_dim, p, p)
        self.pos_space = nn.Parameter(torch.randn(S, d) * 0.02)
        self.kind = nn.Parameter(torch.randn(2, d) * 0.02)  # 0 = source token, 1 = target token
        self.t_embed = nn.Sequential(nn.Linear(d, d), nn.SiLU(), nn.Linear(d, d))
        self.blocks = nn.ModuleList(CausalBlock(cfg) for _ in range(cfg.depth))
        self.norm_out = nn.LayerNorm(d, elementwise_affine=False, eps=1e-6)
        self.ada_out = nn.Linear(d, 2 * d)
        self.out = nn.Linear(d, p * p * cfg.channels)
        for lin in (self.ada_out, self.out):
            nn.init.zeros_(lin.weight)
            nn.init.zeros_(lin.bias)

    def config(self) -> dict:
        return {"backbone": "causal", **self.cfg.to_dict()}

    def new_cache(self) -> KVCache:
        return KVCache(self.cfg.sink, self.cfg.window, self.cfg.depth)

    def _embed(self, conv: nn.Conv2d, x: Tensor) -> Tensor:
        """`(B, F, C, h, w)` -> `(B, F, S, D)`."""
        B, Fr = x.shape[:2]
        y = conv(x.flatten(0, 1))
        return y.flatten(2).transpose(1, 2).view(B, Fr, -1, y.shape[1])

    def forward(self, x_t: Tensor, t: Tensor, cond: PairConditioning, frames: Tensor,
                cache: "KVCache | RingKVCache | None" = None, commit: int = 0) -> Tensor:
        """x_t: `(B, F, 3, h, w)` noisy target frames; t: `(B, F)` flow time per frame (0 = clean); frames: `(F,)`
        long absolute frame indices, increasing and after every cached frame; cache: the committed past (read)
        and, with `commit = n`, where the keys/values of the first n frames of this pass are appended."""
        frames = frames.cpu().long()
        past_frames = cache.frames if cache is not None and len(cache) else torch.zeros(0, dtype=torch.long)
        rope, mask = self.pass_tables(frames, past_frames, x_t.device)
        if cache is not None and commit:
            cache.reserve(commit)
        v = self.denoise(x_t, t, cond, rope, mask, cache, commit)
        if cache is not None and commit:
            cache.commit(frames[:commit])
        return v

    def denoise(self, x_t: Tensor, t: Tensor, cond: PairConditioning, rope: tuple, mask: Tensor | None,
                cache: "KVCache | RingKVCache | None" = None, commit: int = 0) -> Tensor:
        """The network itself, given the pass's rotary tables and token mask (:meth:`pass_tables`): device work only
        (no host reads, no host-dependent shapes), so a pass over a full :class:`RingKVCache` can be captured in a
        CUDA graph. Stages, but does not commit, the keys/values of the first `commit` frames."""
        cfg = self.cfg
        B, Fr = x_t.shape[:2]
        S = cfg.tokens_per_stream
        target_in = x_t if not cfg.hybrid else torch.cat([x_t, cond.prior.to(x_t)], dim=2)
        src = self._embed(self.source_embed, cond.source.to(x_t)) + self.kind[0]
        tgt = self._embed(self.target_embed, target_in) + self.kind[1]
        x = (torch.stack([src, tgt], dim=2) + self.pos_space).reshape(B, Fr * 2 * S, -1)  # (B, L, D)
        rays = torch.stack([cond.source_rays, cond.target_rays], dim=2).flatten(1, 2).to(x_t)  # (B, 2F, 6, h, w)
        cam = self._embed(self.ray_embed, rays).reshape(B, Fr * 2 * S, -1)
        times = torch.stack([torch.zeros_like(t), t], dim=2).reshape(B, 2 * Fr)  # source clean, target at t
        cond_t = self.t_embed(timestep_embedding(times, cfg.dim).to(x.dtype))
        for i, block in enumerate(self.blocks):
            past = cache.past(i) if cache is not None else None
            x, k, v = block(x, cam, cond_t, S, rope, past, mask)
            if cache is not None and commit:
                cache.stage(i, k[:, :, : commit * 2 * S], v[:, :, : commit * 2 * S])
        x = x.view(B, Fr, 2, S, -1)[:, :, 1].reshape(B, Fr * S, -1)  # target tokens
        shift, scale = self.ada_out(F.silu(cond_t.view(B, Fr, 2, -1)[:, :, 1])).repeat_interleave(S, 1).chunk(2, -1)
        x = self.out(self.norm_out(x) * (1 + scale) + shift)
        return self._unpatchify(x, B, Fr)

    def pass_tables(self, frames: Tensor, past_frames: Tensor, device) -> tuple[tuple, Tensor | None]:
        """Rotary tables and the token mask of a pass. A stream repeats the same few patterns (same frames mod
        the period, same band layout), so they are built once and kept on the device: no host work per pass."""
        cfg, S = self.cfg, self.cfg.tokens_per_stream
        sink_part = lambda f: torch.where(f < cfg.sink, f, -1)  # noqa: E731
        base = int(frames[0])
        key = (tuple((frames % cfg.rope_period).tolist()), tuple(sink_part(frames).tolist()),
               tuple((frames - base).tolist()), tuple(torch.where(past_frames < cfg.sink, past_frames - 10**9,
                                                                  past_frames - base).tolist()), str(device))
        memo = self.__dict__.setdefault("_memo", {})
        if key not in memo:
            if len(memo) > 256:
                memo.clear()
            tok_frames = frames.repeat_interleave(2 * S)
            ang = rope_angles(tok_frames, cfg.rope_pairs, cfg.rope_period).to(device)
            sink_keep = None
            if bool((tok_frames < cfg.sink).any()):
                sink_keep = torch.ones(len(tok_frames), cfg.dim // cfg.heads)
                sink_keep[tok_frames < cfg.sink, : 2 * cfg.rope_pairs] = 0
                sink_keep = sink_keep.to(device)
            rope = (ang.cos(), ang.sin(), sink_keep, cfg.rope_pairs)
            visible = band_mask(frames, torch.cat([past_frames, frames]), cfg.sink, cfg.window)
            mask = None
            if not bool(visible.all()):
                mask = visible.repeat_interleave(2 * S, 0).repeat_interleave(2 * S, 1).to(device)
            memo[key] = (rope, mask)
        return memo[key]

    def _unpatchify(self, x: Tensor, B: int, Fr: int) -> Tensor:
        """`(B, F * S, p * p * C)` -> `(B, F, C, h, w)`."""
        cfg = self.cfg
        (gh, gw), p, c = cfg.grid, cfg.patch, cfg.channels
        x = x.view(B, Fr, gh, gw, p, p, c)
        return x.permute(0, 1, 6, 2, 4, 3, 5).reshape(B, Fr, c, gh * p, gw * p)


def init_from_teacher(student: CausalDiT, teacher: nn.Module) -> list[str]:
    """Copy the teacher's (`VideoDiT`) weights where they carry over; returns the names copied.

    Blocks, time MLP and output modulation copy as they are; per-clip 3D patch embeddings become per-frame 2D
    ones by summing over the temporal kernel (a static clip embeds the same); the output head averages its
    temporal sub-patches; the spatial position table copies when the grids agree.
    """
    s_cfg, copied = student.cfg, []
    t_state = teacher.state_dict()
    own = student.state_dict()
    for name, value in t_state.items():
        if name.startswith(("blocks.", "t_embed.", "ada_out.")) and name in own and own[name].shape == value.shape:
            own[name] = value.clone()
            copied.append(name)
    pairs = {"target_embed": "target_embed", "context_embed": "source_embed", "ray_embed": "ray_embed"}
    for t_name, s_name in pairs.items():
        w = t_state.get(f"{t_name}.proj.weight")
        if w is not None and w.shape[2:] != () and w.sum(2).shape == own[f"{s_name}.weight"].shape:
            own[f"{s_name}.weight"] = w.sum(2)
            own[f"{s_name}.bias"] = t_state[f"{t_name}.proj.bias"].clone()
            copied += [f"{s_name}.weight", f"{s_name}.bias"]
    w_out = t_state.get("out.weight")
    if w_out is not None:
        pt = w_out.shape[0] // own["out.weight"].shape[0]
        if pt * own["out.weight"].shape[0] == w_out.shape[0]:
            p, c = s_cfg.patch, s_cfg.channels
            own["out.weight"] = w_out.view(pt, p, p, c, -1).mean(0).reshape(p * p * c, -1)
            own["out.bias"] = t_state["out.bias"].view(pt, p, p, c).mean(0).reshape(-1)
            copied += ["out.weight", "out.bias"]
    pos = t_state.get("pos_space")
    if pos is not None and pos.shape == own["pos_space"].shape:
        own["pos_space"] = pos.clone()
        copied.append("pos_space")
    slot, pos_time = t_state.get("slot"), t_state.get("pos_time")
    if slot is not None and slot.shape[0] >= 2 and slot.shape[1] == own["kind"].shape[1]:
        # The teacher marks the target as slot 0 and the first context (the source) as slot 1; its time table has
        # no counterpart (the student's time is rotary), so its mean goes in as a constant.
        shift = pos_time.mean(0) if pos_time is not None else 0
        own["kind"] = torch.stack([slot[1], slot[0]]) + shift
        copied.append("kind")
    student.load_state_dict(own)
    return copied


def load_student(path, device="cpu") -> tuple[CausalDiT, dict]:
    """A student checkpoint (`<stem>.safetensors` + `<stem>.json`, as `checkpoint.save_model` writes it)."""
    from safetensors.torch import load_file

    from .checkpoint import _paths, read_config

    weights, _ = _paths(path)
    config = read_config(path)
    model_cfg = dict(config["model"])
    if model_cfg.pop("backbone", None) != "causal":
        raise ValueError(f"{weights} is not a causal student checkpoint (backbone {config['model'].get('backbone')!r})")
    model = CausalDiT(CausalConfig.from_dict(model_cfg))
    state = {k: v.float() if v.is_floating_point() else v for k, v in load_file(str(weights)).items()}
    model.load_state_dict(state)
    return model.to(device).eval(), config


__all__ = ["CausalConfig", "CausalDiT", "PairConditioning", "KVCache", "band_mask", "init_from_teacher", "load_student"]
