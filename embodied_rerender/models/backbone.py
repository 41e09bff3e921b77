"""The interface between the flow-matching machinery and a video network, so a larger pretrained
video DiT (e.g. a latent-space one behind a VAE) can replace :class:`~.dit.VideoDiT` unchanged."""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch import Tensor, nn


@dataclass
class Conditioning:
    """Everything a target video is generated from (all videos in [-1, 1], channels first).

    context: `(B, k, 3, T, H, W)` the k retrieved context videos, or None (k = 0).
    context_rays: `(B, k, 6, T, H, W)` their Plücker raymaps in the reference frame.
    target_rays: `(B, 6, T, H, W)` the target trajectory's raymap in the same frame.
    context_mask: `(B, k)` bool, False = slot empty or dropped (classifier-free guidance); None = all present.
    prior: `(B, 4, T, H, W)` hybrid mode: the warp render (3) and its coverage mask (1, in {-1, 1}); else None.
    """

    target_rays: Tensor
    context: Tensor | None = None
    context_rays: Tensor | None = None
    context_mask: Tensor | None = None
    prior: Tensor | None = None

    def without_context(self) -> "Conditioning":
        """The same conditioning with every context slot dropped (the unconditional branch of CFG)."""
        if self.context is None:
            return self
        return replace(self, context_mask=torch.zeros(self.context.shape[:2], dtype=torch.bool,
                                                      device=self.context.device))

    def to(self, device=None, dtype=None) -> "Conditioning":
        def move(x):
            if x is None:
                return None
            return x.to(device=device, dtype=dtype if x.is_floating_point() else None)

        return Conditioning(move(self.target_rays), move(self.context), move(self.context_rays),
                            move(self.context_mask), move(self.prior))


class VideoBackbone(nn.Module):
    """A velocity network: `forward(x_t (B, 3, T, H, W), t (B,) or (B, F), cond) -> v (B, 3, T, H, W)`.

    `config()` returns a JSON-able dict with a `backbone` key naming the class in `BACKBONES`, from which
    :func:`~.checkpoint.load_model` rebuilds it. A plug-in wraps a pretrained model (and its VAE, if any)
    and maps :class:`Conditioning` onto its own inputs.
    """

    def forward(self, x_t: Tensor, t: Tensor, cond: Conditioning) -> Tensor:  # pragma: no cover - interface
        raise NotImplementedError

    def config(self) -> dict:  # pragma: no cover - interface
        raise NotImplementedError


def clip_raymaps(K: Tensor, c2w: Tensor, reference: Tensor, height: int, width: int) -> Tensor:
    """Plücker raymaps of N clips: K `(N, 3, 3)`, c2w `(N, T, 4, 4)`, reference `(N, 4, 4)` (the first context
    camera's first frame) -> `(N, 6, T, height, width)`."""
    from ..geometry.plucker import plucker_raymap

    N, T = c2w.shape[:2]
    with torch.autocast(c2w.device.type, enabled=False):  # camera maths (a 3x3 inverse) stays in float32
        rays = plucker_raymap(K[:, None].expand(N, T, 3, 3).reshape(N * T, 3, 3).float(), c2w.reshape(N * T, 4, 4).float(),
                              height, width, reference[:, None].expand(N, T, 4, 4).reshape(N * T, 4, 4).float())
    return rays.view(N, T, 6, height, width).transpose(1, 2)
