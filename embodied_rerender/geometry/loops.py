"""Loop-closed camera trajectories (LoopAug) and revisit detection.

A loop is a camera path that comes back to poses it already held. Each builder returns the poses and the
revisit pairs ``(i, j)``, ``i < j``, whose poses are bit-identical: every builder computes each distinct
pose once (keyed by an integer: a palindromic time index or an orbit phase) and gathers, so a revisit never
differs by float noise from evaluating sines at two different angles.

Poses are camera-to-world ``(..., 4, 4)``, OpenCV axes, metres (design.md §4).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor

from .camera import look_at as _look_at
from .trajectory import blend_poses

__all__ = ["Loop", "palindrome_index", "loop_timing", "revisits_from_keys", "out_and_back", "head_gripper_head",
           "closed_orbit", "find_revisits"]


class Loop(NamedTuple):
    """c2w ``(N, 4, 4)``; revisits ``(P, 2)`` long pairs ``i < j`` with ``c2w[i] == c2w[j]`` exactly;
    keys ``(N,)`` long: frames with equal keys hold the same pose (the palindromic time index or orbit phase)."""

    c2w: Tensor
    revisits: Tensor
    keys: Tensor


def palindrome_index(frames: int) -> Tensor:
    """``(frames,)`` long ``min(t, frames - 1 - t)``: 0, 1, .., m, .., 1, 0 (the turn held twice for even
    ``frames``). Frame ``t`` and ``frames - 1 - t`` share an index."""
    t = torch.arange(frames)
    return torch.minimum(t, frames - 1 - t)


def loop_timing(frames: int, dwell: float = 0.1, ease: bool = True) -> Tensor:
    """``(frames,)`` float64 progress ``alpha`` 0 -> 1 -> 0, exactly palindromic.

    dwell: share of each half spent holding the ends (the start pose and the turning pose); ease: smoothstep
    in between (zero velocity at both ends of the move) instead of a constant speed.
    """
    if not 0 <= dwell < 0.5:
        raise ValueError(f"dwell must be in [0, 0.5), got {dwell}")
    tau = palindrome_index(frames).to(torch.float64)
    half = max((frames - 1) / 2, 1e-9)
    s = ((tau / half - dwell) / (1 - 2 * dwell)).clamp(0, 1)
    return s * s * (3 - 2 * s) if ease else s


def revisits_from_keys(keys: Tensor, c2w: Tensor | None = None) -> Tensor:
    """``(P, 2)`` pairs ``i < j`` with ``keys[i] == keys[j]``; given the poses ``c2w (N, 4, 4)``, only pairs
    with a different pose somewhere between them count (a camera standing still revisits nothing)."""
    keys = torch.as_tensor(keys)
    i, j = torch.triu_indices(len(keys), len(keys), offset=1)
    same = keys[i] == keys[j]
    if c2w is not None:
        differs = (c2w[:, None] != c2w[None]).flatten(2).any(-1)  # (N, N)
        cum = torch.cumsum(differs.long(), dim=1)
        same &= (cum[i, j - 1] - cum[i, i]) > 0  # some k in (i, j) with a pose unlike frame i's
    return torch.stack((i[same], j[same]), dim=1)


def _gather(keys: Tensor, build) -> Tensor:
    """Evaluate ``build(unique_keys) -> (U, 4, 4)`` once per distinct key, then index: equal keys, equal bytes."""
    uniq, inverse = torch.unique(keys, return_inverse=True)
    return build(uniq)[inverse]


def out_and_back(c2w: Tensor, frames: int | None = None) -> Loop:
    """Retrace a path: pose ``t`` is ``c2w[min(t, frames - 1 - t)]``.

    Args:
        c2w: ``(T, 4, 4)`` the outward path.
        frames: loop length; default ``2T - 1`` (the whole path out, then back). Shorter loops use the first
            ``ceil(frames / 2)`` poses, so a loop over an episode's clock keeps its length.

    Returns:
        :class:`Loop` with ``N = frames`` poses; frame ``t`` revisits frame ``N - 1 - t``.
    """
    frames = 2 * len(c2w) - 1 if frames is None else frames
    if (frames + 1) // 2 > len(c2w):
        raise ValueError(f"an out-and-back loop of {frames} frames needs {(frames + 1) // 2} poses, got {len(c2w)}")
    keys = palindrome_index(frames)
    out = _gather(keys, lambda u: c2w[u])
    return Loop(out, revisits_from_keys(keys, out), keys)


def head_gripper_head(head: Tensor, wrist: Tensor, frames: int | None = None, dwell: float = 0.1,
                      ease: bool = True) -> Loop:
    """Head view -> gripper view -> head view: SLERP/lerp blend with a palindromic progress (``loop_timing``).

    Args:
        head, wrist: ``(4, 4)`` fixed anchor poses, or ``(T, 4, 4)`` synchronized trajectories: then frame
            ``t`` blends the two cameras as they were at time ``min(t, N - 1 - t)``, so the way back retraces
            the way out and each revisit has the same pose (the scene may have moved on; its static part not).
        frames: loop length ``N``; default ``T`` (trajectories) or 2 x 24 + 1 (anchors).
        dwell, ease: see :func:`loop_timing`.

    Returns:
        :class:`Loop`; frame ``t`` revisits ``N - 1 - t``; alpha 0 is exactly the head pose, 1 the wrist pose.
    """
    moving = head.ndim == 3
    frames = (len(head) if moving else 49) if frames is None else frames
    if moving and (frames + 1) // 2 > min(len(head), len(wrist)):
        raise ValueError(f"a {frames}-frame loop needs {(frames + 1) // 2} synchronized poses, got {len(head)}, {len(wrist)}")
    keys = palindrome_index(frames)
    alpha = loop_timing(frames, dwell, ease).to(head.dtype)
    by_key = torch.zeros(int(keys.max()) + 1, dtype=head.dtype)
    by_key[keys] = alpha

    def build(u: Tensor) -> Tensor:
        h = head[u] if moving else head.expand(len(u), 4, 4)
        w = wrist[u] if moving else wrist.expand(len(u), 4, 4)
        return blend_poses(h, w, by_key[u])

    out = _gather(keys, build)
    return Loop(out, revisits_from_keys(keys, out), keys)


def closed_orbit(center: Tensor, radius: float, frames: int, laps: int = 1, look_at: Tensor | None = None,
                 axis: Tensor | None = None, up: Tensor | None = None, start_deg: float = 0.0) -> Loop:
    """``laps`` turns on a circle of ``radius`` around ``center`` in the plane normal to ``axis``, each camera
    looking at ``look_at``; the last frame closes the loop onto the first.

    Frame ``t`` is at phase ``p = t * laps mod (frames - 1)`` of ``frames - 1`` steps per turn, so with
    ``laps > 1`` (or the closing frame) several frames share a phase, hence a pose.

    Args:
        center: ``(3,)`` circle centre; look_at: ``(3,)`` defaults to ``center`` (an orbit around a point);
            a ``look_at`` off the circle's plane gives a camera circling its own viewpoint (a wobble).
        axis: ``(3,)`` circle normal, default world ``+z`` (a horizontal circle); up: world up for the roll.

    Returns:
        :class:`Loop` of ``frames`` poses.
    """
    if frames < 3 or laps < 1:
        raise ValueError(f"a closed orbit needs frames >= 3 and laps >= 1, got {frames}, {laps}")
    center = torch.as_tensor(center, dtype=torch.float64)
    target = center if look_at is None else torch.as_tensor(look_at).to(center)
    n = torch.as_tensor([0.0, 0.0, 1.0] if axis is None else axis).to(center)
    n = n / n.norm()
    ref = torch.eye(3, dtype=center.dtype)[int(n.abs().argmin())]
    e1 = torch.linalg.cross(n, ref)
    e1 = e1 / e1.norm()
    e2 = torch.linalg.cross(n, e1)
    steps = frames - 1
    keys = (torch.arange(frames) * laps) % steps

    def build(u: Tensor) -> Tensor:
        a = math.radians(start_deg) + 2 * math.pi * u.to(center.dtype) / steps
        eye = center + radius * (torch.cos(a)[:, None] * e1 + torch.sin(a)[:, None] * e2)
        return _look_at(eye, target.expand_as(eye), None if up is None else torch.as_tensor(up).to(center))

    out = _gather(keys, build)
    return Loop(out, revisits_from_keys(keys, out), keys)


def find_revisits(c2w, tol_m: float = 1e-3, tol_deg: float = 0.1, leave_m: float = 0.02,
                  leave_deg: float = 3.0) -> Tensor:
    """Revisit pairs of any stored trajectory: ``(P, 2)`` long ``i < j`` whose poses agree within ``tol_m``
    metres and ``tol_deg`` degrees, with the camera having left (more than ``leave_m`` or ``leave_deg`` from
    pose ``i``) somewhere between them, so a camera standing still is not a loop.

    Args:
        c2w: ``(T, 4, 4)`` camera-to-world (numpy or torch).
    """
    c2w = torch.as_tensor(c2w, dtype=torch.float64)
    t, R = c2w[:, :3, 3], c2w[:, :3, :3]
    dist = torch.cdist(t, t)
    cos = ((torch.einsum("iab,jab->ij", R, R) - 1) / 2).clamp(-1, 1)  # trace(R_i^T R_j) = 1 + 2 cos(angle)
    ang = torch.rad2deg(torch.acos(cos))
    close = (dist <= tol_m) & (ang <= tol_deg)
    away = (dist > leave_m) | (ang > leave_deg)
    T = len(c2w)
    # away_between[i, j]: some k in (i, j) is away from pose i. Cumulative count along each row.
    cum = torch.cumsum(away.long(), dim=1)
    i, j = torch.triu_indices(T, T, offset=2)
    left = (cum[i, j - 1] - cum[i, i]) > 0
    keep = close[i, j] & left
    return torch.stack((i[keep], j[keep]), dim=1)
