"""The warp-plus-coverage prior: context views splatted into a target camera and hole-filled, in one call.

Every consumer of a geometric prior goes through :func:`warp_prior`: the warp synthesizer (and through it the
hybrid generator and the training shards' priors) and the stream engine, so they all see the same render.
:func:`warp_frames` is the same render finished as uint8 frames (what the warp synthesizer writes); on a CPU it
runs splat, fill and composite in one compiled pass.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from .fill import fill_holes
from . import kernels
from .kernels import splat
from .self_parts import PartsOverlay, composite, composite_uint8, drop_self_points

__all__ = ["Prior", "warp_prior", "warp_frames", "to_uint8"]


class Prior(NamedTuple):
    """image ``(B, 3, H, W)`` float in [0, 1] (holes filled), depth ``(B, H, W)`` float32 metres (filled),
    covered ``(B, H, W)`` bool (what the context saw, before the fill)."""

    image: Tensor
    depth: Tensor
    covered: Tensor


def warp_prior(images: Tensor, depths: Tensor, src_K: Tensor, src_c2w: Tensor, tgt_K: Tensor, tgt_c2w: Tensor,
               size: tuple[int, int], max_splat: int = 9, backend: str = "auto", channels_last: bool = False,
               fill: bool = True, depth_aware: bool = True, parts: PartsOverlay | None = None) -> Prior:
    """Splat V context views into the target camera of each of B frames and fill the holes, on their device.

    Args:
        images: ``(B, V, 3, Hs, Ws)`` (``(B, V, Hs, Ws, 3)`` with `channels_last`): uint8 (0..255) or float in
            [0, 1]; uint8 stays uint8 through the splat (only the gathered target pixels are converted).
        depths: ``(B, V, Hs, Ws)`` metres, 0 = invalid.
        src_K / src_c2w: ``(B, V, 3, 3)`` / ``(B, V, 4, 4)``; tgt_K / tgt_c2w: ``(B, 3, 3)`` / ``(B, 4, 4)``.
        size: target ``(H, W)``.
        max_splat / backend: as :func:`~.kernels.splat`.
        fill: False leaves the holes at 0 (image and depth).
        depth_aware: far-side fill (:func:`~.fill.far_push_pull`, the default) or plain push-pull.
        parts: the robot's own parts in each target frame (:mod:`.self_parts`): with `fill` they are composited
            over the filled render (covered, depth 0: :func:`~.self_parts.composite`); without `fill` the caller
            composites after its own fill. With ``parts.drop`` (or a `near`), the source points that land in the
            mask are dropped before the splat.
    """
    if parts is not None and parts.drops_points:
        depths = drop_self_points(depths, src_K, src_c2w, tgt_K, tgt_c2w, parts.mask, parts.near)
    out = splat(images, depths, src_K, src_c2w, tgt_K, tgt_c2w, size, max_splat=max_splat, backend=backend,
                channels_last=channels_last)
    image = out.image.float()
    if images.dtype == torch.uint8:
        image = image / 255
    if not fill:
        return Prior(image.contiguous(), out.depth, out.mask)
    image, depth = fill_holes(image, out.mask, out.depth, depth_aware=depth_aware)
    covered = out.mask
    if parts is not None:  # after the fill: the holes next to the fingers are not filled with finger colour
        image, depth, covered = composite(image, depth, covered, parts)
    return Prior(image, depth, covered)


def warp_frames(images: Tensor, depths: Tensor, src_K: Tensor, src_c2w: Tensor, tgt_K: Tensor, tgt_c2w: Tensor,
                size: tuple[int, int], max_splat: int = 9, backend: str = "auto", depth_aware: bool = True,
                parts: PartsOverlay | None = None) -> Prior:
    """:func:`warp_prior` of channels-last uint8 context ``(B, V, Hs, Ws, 3)``, finished as frames: the Prior's
    image is ``(B, H, W, 3)`` uint8 (:func:`to_uint8` of the filled render; covered pixels are their source
    colour exactly). With the numba backend and the depth-aware fill, splat, fill and composite run as one
    compiled CPU pass (:func:`~.numba_kernels.splat_fill_uint8`): the same frames, the fill to float rounding;
    parts that drop no points are composited over its frames. Other arguments as :func:`warp_prior`."""
    if ((parts is None or not parts.drops_points) and depth_aware and images.dtype == torch.uint8
            and kernels.resolve_backend(backend, depths.device) == "numba"):
        from . import numba_kernels

        out = numba_kernels.splat_fill_uint8(images, depths, src_K, src_c2w, tgt_K, tgt_c2w, size,
                                             max_splat=max_splat)
        return Prior(*(out if parts is None else composite_uint8(*out, parts)))
    out = warp_prior(images, depths, src_K, src_c2w, tgt_K, tgt_c2w, size, max_splat=max_splat, backend=backend,
                     channels_last=True, depth_aware=depth_aware, parts=parts)
    return Prior(to_uint8(out.image), out.depth, out.covered)


def to_uint8(image: Tensor) -> Tensor:
    """``(B, 3, H, W)`` float in [0, 1] -> ``(B, H, W, 3)`` uint8, on the image's device."""
    return (image.clamp(0, 1) * 255).round_().to(torch.uint8).permute(0, 2, 3, 1)
