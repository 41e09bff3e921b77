"""The robot's own parts in a camera rigidly attached to it: the gripper fingers in a wrist view.

No other camera sees them right (the head camera sees the fingers from outside, and the arm that carries the
wrist camera is warped into it as streaks), but the camera's own recordings show them at every instant. A pixel
whose colour stays the same while the camera moves through the scene shows something that moves with the
camera: the robot itself. The fingers change shape with the gripper opening, so frames are binned by opening
and each bin keeps a median image and a mask of its constant pixels (:func:`build_self_parts`). At synthesis
the bin nearest the target frame's opening is composited over the warp (:func:`composite`, or
:func:`composite_uint8` on finished frames), so the arm seen from outside is not smeared into its own camera
where the fingers are. Dropping the source points that land in the mask before the splat
(:func:`drop_self_points`, ``PartsOverlay.drop``) is available but off: it measured no gain (docs/results.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

__all__ = ["SelfParts", "PartsOverlay", "constant_mask", "open_square", "build_self_parts", "drop_self_points", "composite",
           "composite_uint8", "save_library", "load_library"]


@dataclass
class SelfParts:
    """One camera's template: per opening bin a median image and the mask of the robot's own pixels.

    openings ``(N,)`` float64: each bin's representative gripper opening (the median of its frames', in the
    dataset's unit); images ``(N, H, W, 3)`` uint8; masks ``(N, H, W)`` bool; near: metres, source points
    nearer than this to the camera are the robot too (0: no such rule, the mask alone decides).
    """

    camera: str
    openings: np.ndarray
    images: np.ndarray
    masks: np.ndarray
    near: float = 0.0

    def __post_init__(self):
        self.openings = np.asarray(self.openings, np.float64).reshape(-1)
        self.images, self.masks = np.asarray(self.images, np.uint8), np.asarray(self.masks, bool)
        n = len(self.openings)
        if self.images.shape[:1] != (n,) or self.masks.shape != self.images.shape[:3]:
            raise ValueError(f"self parts of {self.camera}: {n} openings, images {self.images.shape}, "
                             f"masks {self.masks.shape}")

    @property
    def size(self) -> tuple[int, int]:
        return tuple(self.masks.shape[1:3]) if len(self.masks) else (0, 0)

    def select(self, openings: np.ndarray) -> np.ndarray:
        """``(T,)`` int64 bin nearest each of ``(T,)`` openings (ties: the lower bin)."""
        openings = np.asarray(openings, np.float64).reshape(-1, 1)
        return np.abs(openings - self.openings[None]).argmin(1)

    def overlay(self, openings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per frame of ``(T,)`` openings: images ``(T, H, W, 3)`` uint8 and masks ``(T, H, W)`` bool."""
        if not len(self.openings):
            raise ValueError(f"self parts of {self.camera} hold no bin")
        bins = self.select(openings)
        return self.images[bins], self.masks[bins]


class PartsOverlay(NamedTuple):
    """The parts to render into B target frames, on the synthesis device: image ``(B, H, W, 3)`` uint8, mask
    ``(B, H, W)`` bool, near (metres, see :class:`SelfParts`); drop: also remove the source points that land in
    the mask before the splat (:func:`drop_self_points`). Off by default: the composite alone covers the mask, and
    on the 12-shot table the drop changed PSNR by -0.02 to -0.04 dB and SSIM by at most 0.001 while it cost
    2 s of a 7.7 s 640x480 CPU episode in one cProfile run (docs/results.md, self parts)."""

    image: Tensor
    mask: Tensor
    near: float = 0.0
    drop: bool = False

    @property
    def drops_points(self) -> bool:
        """Whether source points are removed before the splat (the mask rule, or the `near` one)."""
        return self.drop or self.near > 0


def constant_mask(frames: np.ndarray, tol: int = 12, agree: float = 0.9, open_px: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """The median of `frames` and where it holds: pixels whose colour stays within `tol` levels (every channel)
    of the median in at least `agree` of the frames; specks smaller than ``2 * open_px + 1`` pixels are opened away.

    Args:
        frames: ``(N, H, W, 3)`` uint8 of one camera that moved through the scene.

    Returns:
        median ``(H, W, 3)`` uint8 and mask ``(H, W)`` bool (compiled when numba is there:
        :func:`~.numba_kernels.median_hits`; equal to :func:`constant_mask_reference`).
    """
    from . import numba_kernels

    if not numba_kernels.available():
        return constant_mask_reference(frames, tol, agree, open_px)
    median, hits = numba_kernels.median_hits(frames, tol)
    mask = hits >= agree * len(frames)
    return median, open_square(mask, open_px) if open_px else mask


def open_square(mask: np.ndarray, r: int) -> np.ndarray:
    """``(H, W)`` bool opened by a ``(2r + 1)`` square: erosion, then dilation, nothing outside the image (scipy's
    ``binary_opening`` with that structure, which it equals; separable, and without importing scipy.ndimage,
    about 0.6 s of every augment worker's start in an H200 profile)."""
    from numpy.lib.stride_tricks import sliding_window_view

    def slide(m: np.ndarray, reduce) -> np.ndarray:  # the window's all / any, one axis at a time, False outside
        for axis in (0, 1):
            padded = np.pad(m, [(r, r) if a == axis else (0, 0) for a in (0, 1)])
            m = reduce(sliding_window_view(padded, 2 * r + 1, axis=axis), axis=-1)
        return m

    return slide(slide(mask, np.all), np.any)


def constant_mask_reference(frames: np.ndarray, tol: int = 12, agree: float = 0.9,
                            open_px: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """:func:`constant_mask` in numpy (the test oracle; 2.3 s for two 60-frame 640x480 wrist cameras on 2 cores,
    a hand timing)."""
    from scipy.ndimage import binary_opening

    median = np.median(frames, axis=0).round().astype(np.uint8)
    hits = np.zeros(frames.shape[1:3], np.int64)
    for lo in range(0, len(frames), 64):  # bounded memory: int16 differences of 64 frames at a time
        diff = np.abs(frames[lo:lo + 64].astype(np.int16) - median.astype(np.int16)).max(-1)
        hits += (diff <= tol).sum(0)
    mask = hits >= agree * len(frames)
    if open_px:
        mask = binary_opening(mask, np.ones((2 * open_px + 1,) * 2, bool))
    return median, mask


def build_self_parts(camera: str, frames: np.ndarray, openings: np.ndarray, bins: int = 6, min_frames: int = 8,
                     max_fraction: float = 0.5, near: float = 0.0, **mask_options) -> SelfParts:
    """The template of `camera` from its recorded frames, binned by gripper opening.

    Bins split ``[min, max]`` of the openings into `bins` equal widths; a bin with fewer than `min_frames`
    frames is left out (too few to tell the parts from a still scene), and a bin whose mask covers more than
    `max_fraction` of the image keeps an empty mask (the camera hardly moved: the scene itself stayed
    constant, or an object held for the whole bin did).

    Args:
        frames: ``(N, H, W, 3)`` uint8, pooled over any number of episodes.
        openings: ``(N,)`` the gripper opening at each frame.
        mask_options: :func:`constant_mask`'s `tol`, `agree`, `open_px`.
    """
    openings = np.asarray(openings, np.float64).reshape(-1)
    if len(openings) != len(frames):
        raise ValueError(f"{len(frames)} frames but {len(openings)} openings")
    h, w = frames.shape[1:3]
    edges = np.linspace(openings.min(), openings.max(), bins + 1) if len(openings) else np.zeros(bins + 1)
    index = np.clip(np.digitize(openings, edges[1:-1]), 0, bins - 1)
    reps, images, masks = [], [], []
    for b in range(bins):
        members = np.flatnonzero(index == b)
        if len(members) < min_frames:
            continue
        median, mask = constant_mask(frames[members], **mask_options)
        if mask.mean() > max_fraction:
            mask = np.zeros_like(mask)
        reps.append(float(np.median(openings[members])))
        images.append(median)
        masks.append(mask)
    empty = (0, h, w)
    return SelfParts(camera, np.array(reps), np.stack(images) if images else np.zeros(empty + (3,), np.uint8),
                     np.stack(masks) if masks else np.zeros(empty, bool), near)


def drop_self_points(depths: Tensor, src_K: Tensor, src_c2w: Tensor, tgt_K: Tensor, tgt_c2w: Tensor,
                     mask: Tensor, near: float = 0.0) -> Tensor:
    """`depths` with 0 (the splat's "invalid") at every source point that lands inside the target's parts mask
    (at its nearest pixel) or in front of the camera nearer than `near` metres.

    Args:
        depths: ``(B, V, Hs, Ws)`` metres; src_K / src_c2w ``(B, V, 3, 3)`` / ``(B, V, 4, 4)``.
        tgt_K / tgt_c2w: ``(B, 3, 3)`` / ``(B, 4, 4)``; mask: ``(B, H, W)`` bool, the parts in each target frame.
    """
    from ..geometry.camera import project, unproject

    B, V, Hs, Ws = depths.shape
    H, W = mask.shape[-2:]
    points = unproject(depths.float(), src_K.float(), src_c2w.float()).reshape(B, V * Hs * Ws, 3)
    uv, z = project(points, tgt_c2w.float(), tgt_K.float())  # (B, N, 2), (B, N)
    col, row = uv[..., 0].round().long(), uv[..., 1].round().long()
    ahead = (z > 0) & torch.isfinite(uv).all(-1)
    inside = ahead & (col >= 0) & (col < W) & (row >= 0) & (row < H)
    index = row.clamp(0, H - 1) * W + col.clamp(0, W - 1)
    drop = (inside & mask.flatten(1).gather(1, index)) | (ahead & (z < near))
    return torch.where(drop.reshape(B, V, Hs, Ws), torch.zeros((), dtype=depths.dtype, device=depths.device), depths)


def composite_uint8(frames: Tensor, depth: Tensor, covered: Tensor,
                    parts: PartsOverlay) -> tuple[Tensor, Tensor, Tensor]:
    """:func:`composite` on finished frames ``(B, H, W, 3)`` uint8 (the template's pixels are uint8 already)."""
    zero = torch.zeros((), dtype=depth.dtype, device=depth.device)
    return (torch.where(parts.mask[..., None], parts.image, frames), torch.where(parts.mask, zero, depth),
            covered | parts.mask)


def composite(image: Tensor, depth: Tensor, covered: Tensor, parts: PartsOverlay) -> tuple[Tensor, Tensor, Tensor]:
    """The parts' pixels over the render: image ``(B, 3, H, W)`` float in [0, 1], depth ``(B, H, W)`` and covered
    ``(B, H, W)`` bool. The parts count as covered (they come from recorded frames, not from the fill) and get
    depth 0 (unknown): a view written back into the memory bank must not warp its own fingers into the next
    target as if they were scene."""
    template = parts.image.permute(0, 3, 1, 2).to(image.dtype) / 255
    depth = torch.where(parts.mask, torch.zeros((), dtype=depth.dtype, device=depth.device), depth)
    return torch.where(parts.mask[:, None], template, image), depth, covered | parts.mask


def save_library(library: dict[str, SelfParts], path: str | Path) -> None:
    """One npz for the templates of every camera of `library` (built once per dataset)."""
    arrays = {}
    for name, parts in library.items():
        arrays.update({f"{name}/openings": parts.openings, f"{name}/images": parts.images,
                       f"{name}/masks": parts.masks, f"{name}/near": np.float64(parts.near)})
    np.savez_compressed(path, **arrays)


def load_library(path: str | Path) -> dict[str, SelfParts]:
    """The templates :func:`save_library` wrote, by camera name."""
    with np.load(path) as data:
        names = dict.fromkeys(key.rsplit("/", 1)[0] for key in data.files)
        return {n: SelfParts(n, data[f"{n}/openings"], data[f"{n}/images"], data[f"{n}/masks"],
                             float(data[f"{n}/near"])) for n in names}
