"""Fused splat kernels: footprint, depth test and winner selection in one pass, three backends behind `splat`.

All backends agree exactly on where each source point lands and how large its splat is (the lift, projection
and Jacobian footprint of :func:`~.splat.lift_for_splat`, the same float32 operations in the same order); the
kernel then walks every splat pixel and keeps, per target pixel, the smallest ``(candidate depth, source id)``
pair:

- ``triton`` (CUDA, render/triton_kernels.py): the whole splat in one launch, lift and footprint included; each
  splat pixel does one 64-bit ``atomic_min`` of the packed key ``float32 bits of the depth << 32 | source id``
  (positive floats order like their bit patterns, so the integer minimum is the nearest depth, exact ties to
  the lowest id: the reference's rule, without a second pass or any lock).
- ``numba`` (CPU, render/numba_kernels.py): lift, footprint and z-buffer compiled, frames in parallel; inside a
  frame the points go in id order, so a strict ``<`` keeps the lowest id on ties without packing.
- ``torch``: :func:`~.splat.lift_for_splat`, then the same packed key through ``scatter_reduce(amin)`` (any
  device; the fallback).

Point mode (``max_splat=1``) is bit-identical to :func:`~.splat.forward_splat_reference` on every backend, and
the splat mode to :func:`~.splat.forward_splat` (the Triton kernel runs with FMA contraction off and correctly
rounded division, so its float32 results equal torch's).
"""

from __future__ import annotations

import os

import torch
from torch import Tensor

from .splat import EMPTY_KEY, SplatResult, _check, clamp_far, lift_for_splat, splat_candidates

__all__ = ["splat", "BACKENDS", "available_backends", "resolve_backend"]

BACKENDS = ("triton", "numba", "torch")
_ID_BITS = 32


def available_backends(device: torch.device | str) -> list[str]:
    """Backends that can run on `device` here, fastest first."""
    device = torch.device(device)
    out = []
    if (device.type == "cuda" or os.environ.get("TRITON_INTERPRET") == "1") and _triton_available():
        out.append("triton")
    if device.type == "cpu" and _numba_available():
        out.append("numba")
    return out + ["torch"]


def _numba_available() -> bool:
    from . import numba_kernels  # imports numba: only where it may run

    return numba_kernels.available()


def _triton_available() -> bool:
    from . import triton_kernels  # imports triton: only where it may run

    return triton_kernels.available()


def splat(images: Tensor, depths: Tensor, src_K: Tensor, src_c2w: Tensor, tgt_K: Tensor, tgt_c2w: Tensor,
          out_size: tuple[int, int], max_splat: int = 9, backend: str = "auto",
          channels_last: bool = False) -> SplatResult:
    """Warp V context views into one target camera per frame (same contract as :func:`~.splat.forward_splat`).

    Args:
        images: ``(B, V, C, Hs, Ws)`` (or ``(B, V, Hs, Ws, C)`` with `channels_last`) of any dtype: colours are
            copied, never blended, so uint8 frames can stay uint8 until the fill.
        depths: ``(B, V, Hs, Ws)`` metres, 0 = invalid; computed in float32.
        src_K / src_c2w: ``(B, V, 3, 3)`` / ``(B, V, 4, 4)``; tgt_K / tgt_c2w: ``(B, 3, 3)`` / ``(B, 4, 4)``.
        out_size: target ``(H, W)``.
        max_splat: largest splat side; 1 = point mode (bit-identical to ``forward_splat_reference``).
        backend: ``"auto"`` (triton on CUDA, numba on CPU, else torch) or one of :data:`BACKENDS`.

    Returns:
        :class:`SplatResult`: image ``(B, C, H, W)`` in the images' dtype (a channels-last view when
        `channels_last`), depth ``(B, H, W)`` float32, mask ``(B, H, W)`` bool.
    """
    cf = images.permute(0, 1, 4, 2, 3) if channels_last else images
    B, V, C, Hs, Ws = cf.shape
    H, W = out_size
    depths = depths.float()
    name = resolve_backend(backend, depths.device)
    if name == "numba":  # lift, project and footprint inside the kernel too
        from . import numba_kernels

        _check(cf, depths, src_K, src_c2w, tgt_K, tgt_c2w)
        ids, z = numba_kernels.splat_ids(depths, src_K, src_c2w, tgt_K, tgt_c2w, (H, W), max_splat)
        return _assemble(cf, z, ids, (H, W))
    if name == "triton":  # the whole splat in one launch
        from . import triton_kernels

        _check(cf, depths, src_K, src_c2w, tgt_K, tgt_c2w)
        keys, z = triton_kernels.splat_keys(depths, src_K, src_c2w, tgt_K, tgt_c2w, (H, W), max_splat)
        return _assemble(cf, z, _keys_to_ids(keys), (H, W))
    uv, z, sides, valid = lift_for_splat(cf, depths, src_K.float(), src_c2w.float(), tgt_K.float(),
                                         tgt_c2w.float(), max_splat)
    return _assemble(cf, z, _ids_torch(uv, z, sides, valid, (H, W), max_splat), (H, W))


def resolve_backend(backend: str, device: torch.device) -> str:
    """The backend `backend` ("auto" or a name) runs as on `device`; a clear error when it cannot run there."""
    have = available_backends(device)
    if backend == "auto":
        return have[0]
    if backend not in BACKENDS:
        raise ValueError(f"unknown splat backend {backend!r}; choose one of {BACKENDS} or 'auto'")
    if backend not in have:
        raise RuntimeError(f"splat backend {backend!r} is not available on {device} here (available: {have})")
    return backend


def _assemble(images: Tensor, z: Tensor, ids: Tensor, size: tuple[int, int]) -> SplatResult:
    """Result from the winning local source id per target pixel ``ids (B, H, W)`` int64 (-1 = none)."""
    B, V, C, Hs, Ws = images.shape
    H, W = size
    N = V * Hs * Ws
    covered = ids >= 0
    gid = (ids.clamp_min(0) + torch.arange(B, device=ids.device).view(B, 1, 1) * N).reshape(-1)
    colours = images.permute(0, 1, 3, 4, 2).reshape(B * N, C)  # no copy for channels-last input
    zero = torch.zeros((), dtype=images.dtype, device=images.device)
    image = torch.where(covered.unsqueeze(-1), colours[gid].reshape(B, H, W, C), zero)
    depth = torch.where(covered, z.reshape(-1)[gid].reshape(B, H, W), torch.zeros((), dtype=z.dtype, device=z.device))
    return SplatResult(image.permute(0, 3, 1, 2), depth, covered)


def _keys_to_ids(keys: Tensor) -> Tensor:
    return torch.where(keys == EMPTY_KEY, torch.full_like(keys, -1), keys & ((1 << _ID_BITS) - 1))


# -- torch ---------------------------------------------------------------------------------------
def _ids_torch(uv: Tensor, z: Tensor, sides: Tensor, valid: Tensor, size: tuple[int, int], max_splat: int,
               max_candidates: int = 1 << 23) -> Tensor:
    """Packed-key z-buffer with ``scatter_reduce(amin)``: ids ``(B, H, W)`` int64."""
    B, N = z.shape
    H, W = size
    b_idx, n_idx = valid.nonzero(as_tuple=True)
    uv_v = clamp_far(uv[b_idx, n_idx], max_splat, size)
    keys = torch.full((B * H * W,), EMPTY_KEY, dtype=torch.int64, device=z.device)
    for lin, zc, n in splat_candidates(uv_v, z[b_idx, n_idx], sides[b_idx, n_idx], n_idx, b_idx, size,
                                       max_candidates):
        key = (zc.contiguous().view(torch.int32).to(torch.int64) << _ID_BITS) | n
        keys = keys.scatter_reduce(0, lin, key, reduce="amin")
    return _keys_to_ids(keys).reshape(B, H, W)
