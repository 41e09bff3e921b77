"""Frustum co-visibility (PlenopticDreamer Algorithm 1) and candidate merging (Algorithm 2).

Algorithm 1 (3D FOV retrieval), as the seed paper states it: "for each historical video, the
frustum is constructed frame-by-frame. Monte Carlo sampling is performed between the near and far
planes, counting 'sample points visible to the target camera.' Similarity is accumulated as
S_n <- S_n + (P_n + P_{K+1}) / (2P x F)." Here, for memory view ``n`` with ``F`` frames:

- ``P`` points are sampled inside the frustum of every memory frame (``frustum_points``);
  ``P_n`` of them are inside the target's frustum;
- ``P`` points are sampled inside the frustum of every target frame; ``P_{K+1}`` of them are inside
  the memory view's frustum (the reverse term, so a memory frustum that merely contains the target's
  does not score the same as one that matches it);
- ``S_n = sum_f (P_n(f) + P_{K+1}(f)) / (2 P F)`` lies in ``[0, 1]``: 1 for identical frustums, 0 for
  disjoint ones.

Choices where the paper is silent (all documented on the functions):

- Samples are uniform in frustum *volume* by default (pixel uniform over the image, depth with
  density proportional to z^2 between near and far), so ``P_n / P`` estimates the fraction of the
  memory frustum's volume that the target sees. ``sampling="depth"`` (uniform depth) is available.
- "Visible" means inside the other camera's frustum: in front of it between ``near`` and ``far``
  and projecting inside the image. There is no occlusion test (retrieval sees poses only).
- ``match="index"`` (default) compares memory frame ``f`` with target frame ``f`` only: chunks are
  time-synchronised and the scene moves, so frame f of a memory video helps generate frame f of the
  target. This is what NVIDIA's public plenoptic inference requests (``compute_similarity_matrix(...,
  match="index")`` in cosmos-transfer2.5 ``plenoptic.py``). ``match="any"`` counts a point as visible
  if any frame of the other trajectory sees it (``F_m`` and ``F_t`` may then differ; each direction
  is normalised by its own frame count).
- One set of uniform draws (per frame slot) is shared by all memory views scored together (common
  random numbers): each score is still an unbiased estimate, rankings between views are less noisy,
  and ``covisibility_many(...)[i]`` equals ``covisibility`` of view ``i`` under the same seed.

Algorithm 2 (divide and conquer): "For cases where l > k, a divide-and-conquer inference (Algorithm 2)
fuses the most divergent views into a single 'merged trajectory' P_merge, reducing the set until
l <= k." See :func:`merge_candidates`.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import torch
from torch import Tensor

from .camera import invert_pose, project

__all__ = [
    "frustum_points",
    "in_frustum",
    "covisibility",
    "covisibility_many",
    "select_views",
    "merge_schedule",
    "gather_frames",
    "merge_candidates",
    "MergedView",
]

Match = Literal["index", "any"]
Sampling = Literal["volume", "depth"]

# Elements (points x cameras) tested at once; bounds the memory of one projection batch
# (about 4M x 3 floats per intermediate).
_MAX_ELEMENTS = 1 << 22


def _unit_samples(prefix: tuple[int, ...], num_samples: int, generator: torch.Generator,
                  device: torch.device, dtype: torch.dtype) -> Tensor:
    if not isinstance(generator, torch.Generator):
        raise TypeError("an explicit torch.Generator is required (design.md §4: randomness)")
    # Draw on the generator's device, then move: a CPU generator gives the same samples whichever
    # device the cameras live on.
    u = torch.rand(*prefix, num_samples, 3, generator=generator, device=generator.device, dtype=dtype)
    return u.to(device)


def _frustum_from_unit(unit: Tensor, K: Tensor, c2w: Tensor, H: int, W: int, near: float, far: float,
                       sampling: Sampling) -> Tensor:
    """Map uniform ``(..., P, 3)`` draws in ``[0, 1)`` to world points inside the frustum."""
    u = unit[..., 0] * W - 0.5  # image spans [-0.5, W - 0.5) with integer pixel centres
    v = unit[..., 1] * H - 0.5
    if sampling == "volume":
        # Cross-section area grows as z^2, so inverse-CDF sample z with density ~ z^2.
        z = (near ** 3 + unit[..., 2] * (far ** 3 - near ** 3)) ** (1.0 / 3.0)
    elif sampling == "depth":
        z = near + unit[..., 2] * (far - near)
    else:
        raise ValueError(f"sampling must be 'volume' or 'depth', got {sampling!r}")
    Kinv = torch.linalg.inv(K)
    # x = z K^-1 [u, v, 1]; written out to broadcast K (..., 3, 3) against points (..., P).
    x = (Kinv[..., 0, 0, None] * u + Kinv[..., 0, 1, None] * v + Kinv[..., 0, 2, None]) * z
    y = (Kinv[..., 1, 0, None] * u + Kinv[..., 1, 1, None] * v + Kinv[..., 1, 2, None]) * z
    p_cam = torch.stack(torch.broadcast_tensors(x, y, z), dim=-1)
    return p_cam @ c2w[..., :3, :3].transpose(-1, -2) + c2w[..., None, :3, 3]


def frustum_points(K: Tensor, c2w: Tensor, H: int, W: int, near: float, far: float, num_samples: int,
                   generator: torch.Generator, sampling: Sampling = "volume") -> Tensor:
    """Uniform random points inside each camera's view frustum between ``near`` and ``far``.

    Args:
        K: ``(3, 3)`` or ``(..., 3, 3)`` intrinsics at ``(H, W)``, broadcast with ``c2w``.
        c2w: ``(..., 4, 4)`` camera-to-world, e.g. ``(F, 4, 4)`` for the frames of one view.
        H, W: image size; the frustum's side planes pass through the image border
            ``[-0.5, W - 0.5) x [-0.5, H - 0.5)``.
        near, far: z-depth range in metres.
        num_samples: points per camera ``P``.
        generator: source of every draw.
        sampling: ``"volume"`` (default) uniform in frustum volume; ``"depth"`` pixel uniform and
            depth uniform in ``[near, far]`` (denser near the camera).

    Returns:
        ``(..., P, 3)`` world points, e.g. ``(F, P, 3)``.
    """
    prefix = torch.broadcast_shapes(c2w.shape[:-2], K.shape[:-2])
    unit = _unit_samples(prefix, num_samples, generator, c2w.device, c2w.dtype)
    return _frustum_from_unit(unit, K.to(c2w), c2w, H, W, near, far, sampling)


def in_frustum(points: Tensor, K: Tensor, c2w: Tensor, H: int, W: int, near: float, far: float) -> Tensor:
    """Whether points lie inside a camera's view frustum.

    Inside means ``near <= z <= far`` and the projection falls on the image,
    ``-0.5 <= u < W - 0.5`` and ``-0.5 <= v < H - 0.5`` (pixel centres at integers). No occlusion.

    Args:
        points: ``(..., N, 3)`` world points.
        K: ``(..., 3, 3)``; c2w: ``(..., 4, 4)``; batch dims broadcast with ``points``'.

    Returns:
        ``(..., N)`` bool.
    """
    uv, z = project(points, c2w, K.to(c2w))
    u, v = uv[..., 0], uv[..., 1]
    return (z >= near) & (z <= far) & (u >= -0.5) & (u < W - 0.5) & (v >= -0.5) & (v < H - 0.5)


def _projection_matrices(K: Tensor, c2w: Tensor) -> Tensor:
    """``(..., 3, 4)`` ``K [R^T | -R^T t]``: world point to homogeneous pixel in one affine map."""
    w2c = invert_pose(c2w)
    return K @ w2c[..., :3, :]


def _visible_any(points: Tensor, K: Tensor, c2w: Tensor, H: int, W: int, near: float, far: float,
                 max_elements: int) -> Tensor:
    """``points (A, P, 3)`` against cameras ``K (A, C, 3, 3)``, ``c2w (A, C, 4, 4)``: ``(A, P)`` bool,
    true where any of row a's C cameras sees the point. Chunked over A and C to bound memory.

    Same test as :func:`in_frustum`, written division-free for speed: with ``(x, y, w) = M p`` and
    ``w = z >= near > 0``, ``-0.5 <= x / w < W - 0.5`` becomes ``-0.5 w <= x < (W - 0.5) w``.
    """
    A, P = points.shape[:2]
    C = c2w.shape[1]
    c_step = min(C, max(1, max_elements // P))
    a_step = max(1, max_elements // (c_step * P))
    out = torch.zeros(A, P, dtype=torch.bool, device=points.device)
    for a0 in range(0, A, a_step):
        a1 = min(A, a0 + a_step)
        for c0 in range(0, C, c_step):
            c1 = min(C, c0 + c_step)
            M = _projection_matrices(K[a0:a1, c0:c1], c2w[a0:a1, c0:c1])  # (a, c, 3, 4)
            xyw = points[a0:a1, None] @ M[..., :3].transpose(-1, -2) + M[..., None, :, 3]  # (a, c, P, 3)
            x, y, w = xyw.unbind(-1)
            vis = ((w >= near) & (w <= far) & (x >= -0.5 * w) & (x < (W - 0.5) * w)
                   & (y >= -0.5 * w) & (y < (H - 0.5) * w))
            out[a0:a1] |= vis.any(dim=1)
    return out


def _expand_memory_K(memory_K: Tensor, N: int, F: int) -> Tensor:
    if memory_K.ndim == 2:
        return memory_K.expand(N, F, 3, 3)
    if memory_K.ndim == 3:  # one K per memory view
        return memory_K[:, None].expand(N, F, 3, 3)
    return memory_K.expand(N, F, 3, 3)


def covisibility_many(memory_K: Tensor, memory_c2w: Tensor, target_K: Tensor, target_c2w: Tensor,
                      H: int, W: int, near: float, far: float, num_samples: int,
                      generator: torch.Generator, *, match: Match = "index", sampling: Sampling = "volume",
                      return_terms: bool = False, max_elements: int = _MAX_ELEMENTS
                      ) -> Tensor | tuple[Tensor, Tensor, Tensor]:
    """Algorithm 1 for many memory views against one target trajectory, vectorised over views and frames.

    Args:
        memory_K: ``(3, 3)``, ``(N, 3, 3)`` (one per view) or ``(N, F_m, 3, 3)`` (one per frame).
        memory_c2w: ``(N, F_m, 4, 4)`` camera-to-world of every frame of every memory view.
        target_K: ``(3, 3)`` or ``(F_t, 3, 3)``.
        target_c2w: ``(F_t, 4, 4)``.
        H, W: image size all K refer to.
        near, far: depth range (metres) sampled and tested.
        num_samples: ``P``, points per frame.
        generator: source of every draw. Memory draws ``(F_m, P, 3)`` come first, then target draws
            ``(F_t, P, 3)``; both are shared by all N views.
        match: ``"index"`` frame f against frame f (needs ``F_m == F_t``); ``"any"`` against all frames.
        sampling: see :func:`frustum_points`.
        return_terms: also return the two directional fractions.
        max_elements: points x cameras tested per batch; chunks beyond it (results do not change).

    Returns:
        ``(N,)`` scores ``S_n`` in ``[0, 1]``; with ``return_terms``, also ``forward (N,)`` (share of
        memory-frustum samples the target sees, ``sum P_n / (P F_m)``) and ``reverse (N,)`` (share of
        target-frustum samples the memory view sees, ``sum P_{K+1} / (P F_t)``); ``S = (forward + reverse) / 2``.
    """
    if not 0 < near < far:
        raise ValueError(f"need 0 < near < far, got near={near}, far={far}")
    if match not in ("index", "any"):
        raise ValueError(f"match must be 'index' or 'any', got {match!r}")
    N, F_m = memory_c2w.shape[:2]
    F_t = target_c2w.shape[0]
    if match == "index" and F_m != F_t:
        raise ValueError(f"match='index' needs equal frame counts, got memory {F_m} and target {F_t}")
    device, dtype = memory_c2w.device, memory_c2w.dtype
    P = num_samples
    target_c2w = target_c2w.to(device=device, dtype=dtype)
    K_m = _expand_memory_K(memory_K.to(device=device, dtype=dtype), N, F_m)
    K_t = target_K.to(device=device, dtype=dtype).expand(F_t, 3, 3)

    unit_m = _unit_samples((F_m,), P, generator, device, dtype)
    unit_t = _unit_samples((F_t,), P, generator, device, dtype)
    pts_t = _frustum_from_unit(unit_t, K_t, target_c2w, H, W, near, far, sampling)  # (F_t, P, 3)

    fwd = torch.zeros(N, device=device, dtype=dtype)
    rev = torch.zeros(N, device=device, dtype=dtype)
    C = 1 if match == "index" else max(F_m, F_t)
    # Views per chunk so that one chunk's points x cameras stays near the budget.
    n_step = max(1, max_elements // (max(F_m, F_t) * P * C))
    for n0 in range(0, N, n_step):
        n1 = min(N, n0 + n_step)
        n = n1 - n0
        Km, cm = K_m[n0:n1], memory_c2w[n0:n1]
        pts_m = _frustum_from_unit(unit_m, Km, cm, H, W, near, far, sampling)  # (n, F_m, P, 3)
        if match == "index":
            vis_f = _visible_any(pts_m.reshape(n * F_m, P, 3),
                                 K_t[None].expand(n, F_t, 3, 3).reshape(n * F_t, 1, 3, 3),
                                 target_c2w[None].expand(n, F_t, 4, 4).reshape(n * F_t, 1, 4, 4),
                                 H, W, near, far, max_elements)
            vis_r = _visible_any(pts_t[None].expand(n, F_t, P, 3).reshape(n * F_t, P, 3),
                                 Km.reshape(n * F_m, 1, 3, 3), cm.reshape(n * F_m, 1, 4, 4),
                                 H, W, near, far, max_elements)
        else:
            vis_f = _visible_any(pts_m.reshape(n * F_m, P, 3),
                                 K_t[None].expand(n * F_m, F_t, 3, 3),
                                 target_c2w[None].expand(n * F_m, F_t, 4, 4),
                                 H, W, near, far, max_elements)
            vis_r = _visible_any(pts_t[None].expand(n, F_t, P, 3).reshape(n * F_t, P, 3),
                                 Km[:, None].expand(n, F_t, F_m, 3, 3).reshape(n * F_t, F_m, 3, 3),
                                 cm[:, None].expand(n, F_t, F_m, 4, 4).reshape(n * F_t, F_m, 4, 4),
                                 H, W, near, far, max_elements)
        fwd[n0:n1] = vis_f.reshape(n, F_m * P).sum(dim=1).to(dtype) / (P * F_m)
        rev[n0:n1] = vis_r.reshape(n, F_t * P).sum(dim=1).to(dtype) / (P * F_t)
    # With F_m == F_t == F this is the paper's sum_f (P_n + P_{K+1}) / (2 P F).
    score = 0.5 * (fwd + rev)
    if return_terms:
        return score, fwd, rev
    return score


def covisibility(memory_K: Tensor, memory_c2w: Tensor, target_K: Tensor, target_c2w: Tensor,
                 H: int, W: int, near: float, far: float, num_samples: int, generator: torch.Generator,
                 *, match: Match = "index", sampling: Sampling = "volume", return_terms: bool = False
                 ) -> Tensor | tuple[Tensor, Tensor, Tensor]:
    """Algorithm 1 for one memory view: ``S = sum_f (P_n(f) + P_{K+1}(f)) / (2 P F)``.

    Args:
        memory_K: ``(3, 3)`` or ``(F_m, 3, 3)``; memory_c2w: ``(F_m, 4, 4)``.
        target_K: ``(3, 3)`` or ``(F_t, 3, 3)``; target_c2w: ``(F_t, 4, 4)``.
        Others as :func:`covisibility_many`, which this calls with one view (same draws, same result).

    Returns:
        ``()`` score in ``[0, 1]`` (plus ``forward`` and ``reverse`` ``()`` with ``return_terms``).
    """
    mK = memory_K[None] if memory_K.ndim == 3 else memory_K  # (1, F_m, 3, 3): per frame, not per view
    out = covisibility_many(mK, memory_c2w[None], target_K, target_c2w, H, W, near, far, num_samples,
                            generator, match=match, sampling=sampling, return_terms=return_terms)
    if return_terms:
        return tuple(t[0] for t in out)  # type: ignore[return-value]
    return out[0]


def select_views(scores: Tensor, k: int) -> Tensor:
    """Indices of the ``min(k, N)`` highest scores, best first; ties go to the lower index.

    Args:
        scores: ``(N,)``.

    Returns:
        ``(min(k, N),)`` long.
    """
    order = torch.sort(scores, descending=True, stable=True).indices
    return order[:k]


def merge_schedule(num_members: int, num_frames: int, mode: Literal["segments", "interleave"] = "segments",
                   device: torch.device | str | None = None) -> Tensor:
    """Which member of a merged trajectory supplies each frame.

    The paper fuses several views into one trajectory ``P_merge`` without saying how frames are
    shared. Frame ``f`` of the merged view is always frame ``f`` of some member, so time stays
    synchronised with the target. ``"segments"`` (default) gives member ``i`` the contiguous frames
    ``[i F / m, (i + 1) F / m)``, so the merged video cuts only ``m - 1`` times; ``"interleave"``
    takes frame ``f`` from member ``f mod m``.

    Returns:
        ``(num_frames,)`` long member indices.
    """
    f = torch.arange(num_frames, device=device)
    if mode == "segments":
        return (f * num_members) // num_frames
    if mode == "interleave":
        return f % num_members
    raise ValueError(f"mode must be 'segments' or 'interleave', got {mode!r}")


def gather_frames(per_view: Tensor, frame_source: Tensor) -> Tensor:
    """Frames of a merged view: ``out[f] = per_view[frame_source[f], f]``.

    Works for anything stored per view and frame: poses ``(N, F, 4, 4)``, intrinsics ``(N, F, 3, 3)``,
    video frames ``(N, F, C, H, W)``.

    Args:
        per_view: ``(N, F, ...)``.
        frame_source: ``(F,)`` long, original view index per frame.

    Returns:
        ``(F, ...)``.
    """
    frames = torch.arange(frame_source.shape[0], device=per_view.device)
    return per_view[frame_source.to(per_view.device), frames]


class MergedView(NamedTuple):
    """One context slot after Algorithm 2.

    members: original memory indices fused into this slot (one for an unmerged view), ascending.
    frame_source: ``(F,)`` long, the original memory view that supplies each frame
        (:func:`gather_frames` builds its poses, intrinsics and video).
    score: its Algorithm 1 score against the target (recomputed for merged trajectories).
    """

    members: tuple[int, ...]
    frame_source: Tensor
    score: float


def merge_candidates(memory_K: Tensor, memory_c2w: Tensor, target_K: Tensor, target_c2w: Tensor, k: int,
                     H: int, W: int, near: float, far: float, num_samples: int, generator: torch.Generator,
                     *, scores: Tensor | None = None, max_candidates: int | None = None,
                     match: Match = "index", sampling: Sampling = "volume",
                     mode: Literal["segments", "interleave"] = "segments") -> list[MergedView]:
    """Algorithm 2: reduce ``l`` candidate memory views to at most ``k`` context slots.

    The paper: "For cases where l > k, a divide-and-conquer inference (Algorithm 2) fuses the most
    divergent views into a single 'merged trajectory' P_merge, reducing the set until l <= k". The
    grouping follows NVIDIA's public plenoptic inference (cosmos-transfer2.5 ``plenoptic.py``):

    1. score every candidate against the target with Algorithm 1 (or take ``scores``);
    2. if ``max_candidates`` is set, keep only that many best-scoring candidates (NVIDIA uses 6);
    3. while ``l > k``: take the ``m = min(l - k + 1, k)`` lowest-scoring candidates (the most
       divergent from the target), fuse them into one trajectory (frames shared per
       :func:`merge_schedule`, best-scoring member first), score it anew, and put it back. A single
       merge finishes when ``l - k + 1 <= k``; otherwise groups of ``k`` are fused repeatedly (and
       merged views may be merged again). With ``k = 1`` groups of 2 are used so each step shrinks the set.

    The best ``k - 1`` (or more) co-visible views always survive as themselves; only the views that see
    least of the target are compressed.

    Args:
        memory_K, memory_c2w, target_K, target_c2w, H, W, near, far, num_samples, generator, match,
            sampling: as :func:`covisibility_many`; ``memory_c2w`` is ``(N, F, 4, 4)``.
        k: context capacity, ``>= 1``.
        scores: ``(N,)`` precomputed Algorithm 1 scores (skips the first scoring pass).
        max_candidates: prune to this many before merging; ``None`` keeps all.
        mode: frame sharing inside a merged trajectory, see :func:`merge_schedule`.

    Returns:
        ``min(k, N)`` :class:`MergedView`, best score first.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    N, F = memory_c2w.shape[:2]
    device = memory_c2w.device
    K_all = _expand_memory_K(memory_K.to(memory_c2w), N, F)
    if scores is None:
        scores = covisibility_many(K_all, memory_c2w, target_K, target_c2w, H, W, near, far, num_samples,
                                   generator, match=match, sampling=sampling)
    cands = [MergedView((i,), torch.full((F,), i, dtype=torch.long, device=device), float(scores[i]))
             for i in range(N)]
    if max_candidates is not None and N > max_candidates:
        keep = select_views(scores, max_candidates).tolist()
        cands = [cands[i] for i in sorted(keep)]

    def by_score(views: list[MergedView], descending: bool) -> list[MergedView]:
        # Stable and deterministic: ties resolved by the smallest member index.
        return sorted(views, key=lambda c: ((-c.score if descending else c.score), c.members[0]))

    while len(cands) > k:
        m = min(len(cands) - k + 1, max(k, 2))
        group = by_score(cands, descending=False)[:m]
        group = by_score(group, descending=True)  # best member supplies the first segment
        schedule = merge_schedule(m, F, mode, device=device)
        sources = torch.stack([g.frame_source for g in group])  # (m, F)
        frame_source = sources[schedule, torch.arange(F, device=device)]
        merged_c2w = gather_frames(memory_c2w, frame_source)
        merged_K = gather_frames(K_all, frame_source)
        s = covisibility(merged_K, merged_c2w, target_K, target_c2w, H, W, near, far, num_samples,
                         generator, match=match, sampling=sampling)
        members = tuple(sorted(i for g in group for i in g.members))
        gone = {g.members for g in group}
        cands = [MergedView(members, frame_source, float(s))] + [c for c in cands if c.members not in gone]
    return by_score(cands, descending=True)
