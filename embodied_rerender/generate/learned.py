"""Learned synthesizers over a trained video DiT checkpoint (`generator=learned`, `generator=hybrid`).

Both run inside the same autoregressive memory loop as the warp generator: the retrieved context views (best
first; the first is the raymap reference) are resized to the checkpoint's resolution, the target is generated
in chunks of the model's clip length, each chunk after the first holding `overlap` frames of the previous one as
clean conditions, and the result is resized back to the target's size.

hybrid: the warp render of the same context (and its coverage mask) is an extra input, so the network repairs
and completes the geometric prior; the output keeps the warp's depth (for write-back into the memory bank) and
coverage, and with `detail_transfer` the warp's high frequencies (lost at the model's resolution) are added back.
learned: contexts only; its depth is all 0 (invalid in the bank's convention), so later warps ignore it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..episode import CameraTrajectory
from ..memory import View
from ..render.resize import resize, upsample_with_detail
from .base import Synthesis


def resolve_checkpoint(checkpoint: str | Path | None, name: str) -> Path:
    """The `.safetensors` weights file meant by `checkpoint`: a weights or JSON file, a stem, or a `train` output
    directory (its exported `model.safetensors`); None: the shipped `weights/<name>_ref`. Its `.json` must exist."""
    from ..models.checkpoint import shipped_checkpoint

    if not checkpoint:
        path = shipped_checkpoint(name)
    else:
        path = Path(checkpoint)
        if path.is_dir():
            path = path / "model.safetensors"
        elif path.suffix in ("", ".json"):
            path = path.with_name(path.stem + ".safetensors") if path.suffix == ".json" else path.with_name(path.name + ".safetensors")
    if not path.with_suffix(".json").exists() or not path.exists():
        raise FileNotFoundError(f"generator={name}: no checkpoint at {path} (train one with `embodied-rerender train "
                                f"input=DATASET output=DIR`, then pass checkpoint=DIR)")
    return path


class LearnedSynthesizer:
    """`generator=learned`. checkpoint: weights path (`.safetensors` with its `.json` beside it; default
    weights/learned_ref); steps / guidance: Euler steps and context CFG scale (None: the checkpoint's);
    overlap: frames kept clean from the previous chunk (a multiple of the model's temporal patch)."""

    name = "learned"
    needs_prior = False

    def __init__(self, checkpoint: str | Path | None = None, steps: int | None = None, guidance: float | None = None,
                 overlap: int = 2, detail_transfer: bool = True, device: str | torch.device = "cpu"):
        from ..models import load_model

        self.checkpoint = resolve_checkpoint(checkpoint, self.name)
        self.device = torch.device(device)
        self.model, self.flow, _ = load_model(self.checkpoint, self.device)
        self.cfg = self.model.cfg
        if self.cfg.hybrid != self.needs_prior:
            raise ValueError(f"{self.checkpoint} is a {'hybrid' if self.cfg.hybrid else 'learned'} checkpoint; "
                             f"use generator={'hybrid' if self.cfg.hybrid else 'learned'}")
        self.steps = steps or self.flow.steps
        self.guidance = self.flow.guidance if guidance is None else guidance
        if overlap % self.cfg.patch_t or overlap >= self.cfg.frames:
            raise ValueError(f"overlap {overlap} must be a multiple of {self.cfg.patch_t} below {self.cfg.frames}")
        self.overlap, self.detail_transfer = overlap, detail_transfer

    def config(self) -> dict:
        return {"checkpoint": str(self.checkpoint), "steps": self.steps, "guidance": self.guidance,
                "overlap": self.overlap, "detail_transfer": self.detail_transfer, "model": self.model.config()}

    # -- helpers -------------------------------------------------------------------------------
    def _prior(self, context: list[View], target: CameraTrajectory, start: int, parts=None) -> Synthesis | None:
        from .warp import WarpSynthesizer

        if not any(v.depth is not None for v in context):
            return None
        return WarpSynthesizer(device=self.device).synthesize(context, target, start, parts=parts)

    def _low(self, frames: np.ndarray) -> torch.Tensor:
        """uint8 `(n, H, W, 3)` -> `(3, n, h, w)` in [-1, 1] at model resolution."""
        x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float()
        return (resize(x, (self.cfg.height, self.cfg.width)) / 127.5 - 1).transpose(0, 1)

    def _camera(self, traj: CameraTrajectory, idx: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        from ..geometry.camera import resize_intrinsics

        K = torch.as_tensor(traj.intrinsics_per_frame()[idx[0]], dtype=torch.float32)
        K = resize_intrinsics(K, (traj.height, traj.width), (self.cfg.height, self.cfg.width))
        return K, torch.as_tensor(traj.extrinsics[idx], dtype=torch.float32)

    # -- the Synthesizer protocol ----------------------------------------------------------------
    @torch.no_grad()
    def synthesize(self, context: list[View], target: CameraTrajectory, start: int,
                   generator: torch.Generator | None = None, parts=None) -> Synthesis:
        """`parts` (the robot's own parts, :class:`~.self_parts.PartsFrames`) go into the hybrid's warp prior."""
        from ..models import Conditioning, clip_raymaps, sample

        if not context:
            raise ValueError(f"generator={self.name} needs at least one context view")
        generator = generator or torch.Generator().manual_seed(0)
        cfg, dev = self.cfg, self.device
        n, (H, W), T, pt = len(target), (target.height, target.width), cfg.frames, cfg.patch_t
        views = context[:cfg.max_context]
        prior = self._prior(context, target, start, parts) if self.needs_prior else None
        if self.needs_prior and prior is None:
            raise ValueError("generator=hybrid needs a context view with depth for its warp prior")
        out = torch.zeros(3, n, cfg.height, cfg.width)
        done = 0  # frames generated so far
        lo = 0
        amp = torch.bfloat16 if dev.type == "cuda" else None
        while done < n:
            lo = max(0, min(lo, n - T))
            idx = np.clip(np.arange(lo, lo + T), 0, n - 1)  # short videos: the last frame repeats
            ctx_frames, ctx_K, ctx_c2w = [], [], []
            for v in views:
                local = np.clip(idx + start - v.start, 0, len(v.frames) - 1)
                ctx_frames.append(self._low(v.frames[local]))
                K, c2w = self._camera(v.trajectory, local)
                ctx_K.append(K)
                ctx_c2w.append(c2w)
            tK, tc2w = self._camera(target, idx)
            ref = ctx_c2w[0][0][None]
            k = len(views)
            cond = Conditioning(
                target_rays=clip_raymaps(tK[None], tc2w[None], ref, cfg.height, cfg.width),
                context=torch.stack(ctx_frames)[None],
                context_rays=clip_raymaps(torch.stack(ctx_K), torch.stack(ctx_c2w), ref.expand(k, 4, 4),
                                          cfg.height, cfg.width)[None],
                context_mask=torch.ones(1, k, dtype=torch.bool))
            if prior is not None:
                rgb = self._low(prior.frames[idx])
                cov = resize(torch.from_numpy(prior.covered[idx]).float()[:, None], (cfg.height, cfg.width))
                cond.prior = torch.cat([rgb, cov.transpose(0, 1) * 2 - 1])[None]
            known = min(max(done - lo, 0), T)  # frames of this window already generated
            clean_tf = known // pt
            clean = clean_frames = None
            if clean_tf:
                clean = (torch.arange(T // pt) < clean_tf)[None]
                clean_frames = out[:, lo:lo + T][None] if lo + T <= n else None
                if clean_frames is None:  # padded window: clean part lies inside the video anyway
                    clean_frames = out[:, idx][None]
            gen = sample(self.model, cond.to(dev), (1, 3, T, cfg.height, cfg.width), generator, steps=self.steps,
                         guidance=self.guidance, clean_frames=clean_frames, clean=clean, dtype=amp,
                         shift=self.flow.shift)[0].cpu()
            stop = min(lo + T, n)
            out[:, lo + known:stop] = gen[:, known:stop - lo]
            done = stop
            lo = stop - self.overlap
        low = out.transpose(0, 1)  # (n, 3, h, w) in [-1, 1]
        if prior is not None and self.detail_transfer:
            full = upsample_with_detail(low, torch.from_numpy(prior.frames).permute(0, 3, 1, 2).float() / 127.5 - 1)
        else:
            full = resize(low, (H, W))
        frames = ((full.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
        if prior is not None:
            return Synthesis(frames, prior.depth, prior.covered)
        return Synthesis(frames, np.zeros((n, H, W), np.float32), np.zeros((n, H, W), bool))


class HybridSynthesizer(LearnedSynthesizer):
    """`generator=hybrid`: the learned generator with the warp render + hole mask as extra inputs
    (default checkpoint weights/hybrid_ref)."""

    name = "hybrid"
    needs_prior = True
