"""The video + camera memory bank: every recorded or synthesized view, retrievable by what it sees.

A memory unit is a whole view: synchronized frames over a time range, their depth when known, the
camera trajectory and provenance (PlenopticDreamer stores (P_n, V_n) pairs the same way). The next
synthesis step retrieves the top-k views whose frusta see the target's region (Algorithm 1's
Monte Carlo co-visibility), so what was hallucinated once is read back, not invented again.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..episode import CameraTrajectory

RETRIEVAL_METHODS = ("covisibility", "pose", "random")


@dataclass
class View:
    """One memory unit.

    frames: `(T, H, W, 3) uint8`; depth: `(T, H, W) float32` metres (0 = invalid) or None;
    trajectory: T poses and K at (H, W); start: the episode frame of frames[0];
    provenance: empty for a recorded camera, generator details for a synthesized one.
    """

    name: str
    frames: np.ndarray
    depth: np.ndarray | None
    trajectory: CameraTrajectory
    start: int = 0
    provenance: dict = field(default_factory=dict)

    def __post_init__(self):
        if len(self.frames) != len(self.trajectory):
            raise ValueError(f"view {self.name}: {len(self.frames)} frames but {len(self.trajectory)} poses")
        if self.depth is not None and self.depth.shape[:3] != self.frames.shape[:3]:
            raise ValueError(f"view {self.name}: depth {self.depth.shape} does not match frames {self.frames.shape}")

    @property
    def measured(self) -> bool:
        """True for a recorded camera (its depth measured), False for a view a generator wrote back (its depth
        partly the fill's guess); a merged view is measured when all its members are."""
        return bool(self.provenance.get("measured", "generator" not in self.provenance))

    @property
    def stop(self) -> int:
        return self.start + len(self.frames)

    @property
    def time_range(self) -> tuple[int, int]:
        return self.start, self.stop


@dataclass
class Retrieval:
    """The views chosen for one target: bank indices (best first) and every view's score."""

    indices: list[int]
    scores: np.ndarray


class MemoryBank:
    """An ordered store of Views with top-k retrieval.

    near / far: the depth range (metres) of the frusta sampled for co-visibility; num_samples:
    Monte Carlo points per frame.
    """

    def __init__(self, near: float = 0.05, far: float = 2.0, num_samples: int = 256, device: str | torch.device = "cpu"):
        self.views: list[View] = []
        self.near, self.far, self.num_samples = near, far, num_samples
        self.device = torch.device(device)

    def __len__(self) -> int:
        return len(self.views)

    def add(self, view: View) -> int:
        """Store `view`; returns its index."""
        if any(v.name == view.name for v in self.views):
            raise ValueError(f"the bank already holds a view named {view.name}")
        self.views.append(view)
        return len(self.views) - 1

    def __getitem__(self, key: int | str) -> View:
        if isinstance(key, str):
            return next(v for v in self.views if v.name == key)
        return self.views[key]

    # -- retrieval ---------------------------------------------------------------------------
    def scores(self, target: CameraTrajectory, method: str = "covisibility", generator: torch.Generator | None = None,
               candidates: list[int] | None = None) -> np.ndarray:
        """`(N,)` relevance of every view (or of `candidates`) to `target`; higher is better."""
        idx = list(range(len(self.views))) if candidates is None else candidates
        if method == "covisibility":
            return self._covisibility([self.views[i].trajectory for i in idx], target, generator)
        if method == "pose":
            return np.array([-_pose_distance(self.views[i].trajectory, target) for i in idx])
        if method == "random":
            gen = generator or torch.Generator().manual_seed(0)
            return torch.rand(len(idx), generator=gen).numpy()
        raise ValueError(f"unknown retrieval {method!r}; choose from {RETRIEVAL_METHODS}")

    def retrieve(self, target: CameraTrajectory, k: int, method: str = "covisibility",
                 generator: torch.Generator | None = None, require_depth: bool = False,
                 keep_measured: bool = True) -> Retrieval:
        """The top-k views for `target` (ties broken by bank order, so results are reproducible).

        keep_measured: with k >= 2 and a top-k of synthesized views only, the best recorded view that sees the
        target (co-visibility > 0; any, for pose retrieval) takes the last place. Written-back views rank high
        because they were made close to the next target, but what they show beyond their own context is guessed;
        on the 12-shot table the virtual wrists otherwise got four synthesized wrists and no measured surface.
        Not for k = 1 (the one view stays the best scoring) nor for random retrieval (the ablation)."""
        candidates = [i for i, v in enumerate(self.views) if not require_depth or v.depth is not None]
        scores = self.scores(target, method, generator, candidates)
        order = sorted(range(len(candidates)), key=lambda j: (-scores[j], candidates[j]))
        chosen = [candidates[j] for j in order[:k]]
        if keep_measured and k >= 2 and method != "random" and not any(self.views[i].measured for i in chosen):
            sees = (lambda j: scores[j] > 0) if method == "covisibility" else (lambda j: True)
            best = next((candidates[j] for j in order if self.views[candidates[j]].measured and sees(j)), None)
            if best is not None:
                chosen = chosen[:k - 1] + [best]
        full = np.full(len(self.views), np.nan)
        full[candidates] = scores
        return Retrieval(chosen, full)

    def retrieve_merged(self, target: CameraTrajectory, k: int, method: str = "covisibility",
                        generator: torch.Generator | None = None, require_depth: bool = False,
                        threshold: float = 0.0, mode: str = "segments") -> tuple[list[View], Retrieval]:
        """The k context views for `target` with Algorithm 2: when more than k views score above `threshold`,
        the least co-visible ones are fused frame by frame into merged views
        (:func:`~..geometry.covisibility.merge_candidates`, frames shared per ``mode``) so the synthesizer gets k
        views that together cover what all of them saw, instead of dropping the rest.

        Returns the views (a merged one is a new :class:`View` named ``merge(a+b)``, not stored in the bank,
        with ``provenance["merged"]`` its members and ``provenance["frame_source"]`` the member of each frame)
        and the plain retrieval (its indices the plain top-k). With ``<= k`` views above `threshold`, or views
        that differ in frame count, size, start or depth (they cannot share a trajectory), it is the plain
        top-k."""
        found = self.retrieve(target, k, method, generator, require_depth)
        above = [i for i in range(len(self.views)) if np.isfinite(found.scores[i]) and found.scores[i] > threshold]
        if len(above) <= k or not _mergeable([self.views[i] for i in above]):
            return [self.views[i] for i in found.indices], found
        from ..geometry.camera import resize_intrinsics
        from ..geometry.covisibility import gather_frames, merge_candidates

        as_t = lambda a: torch.as_tensor(a, dtype=torch.float32, device=self.device)  # noqa: E731
        members = [self.views[i] for i in above]
        h, w = members[0].trajectory.height, members[0].trajectory.width
        mk = torch.stack([as_t(v.trajectory.intrinsics_per_frame()) for v in members])
        mc = torch.stack([as_t(v.trajectory.extrinsics) for v in members])
        tk, tc = as_t(target.intrinsics_per_frame()), as_t(target.extrinsics)
        if (target.height, target.width) != (h, w):
            tk = resize_intrinsics(tk, (target.height, target.width), (h, w))
        gen = generator or torch.Generator(device=self.device).manual_seed(0)
        scores = torch.as_tensor(found.scores[above], dtype=torch.float32, device=self.device)
        merged = merge_candidates(mk, mc, tk, tc, k, h, w, self.near, self.far, self.num_samples, gen,
                                  scores=scores, mode=mode)
        views = []
        for m in merged:
            if len(m.members) == 1:
                views.append(members[m.members[0]])
                continue
            src = m.frame_source.cpu()
            pick = lambda arrays: gather_frames(torch.from_numpy(np.stack(arrays)), src).numpy()  # noqa: E731
            traj = CameraTrajectory(pick([v.trajectory.extrinsics for v in members]),
                                    pick([v.trajectory.intrinsics_per_frame() for v in members]), h, w)
            depth = pick([v.depth for v in members]) if members[0].depth is not None else None
            names = [members[i].name for i in m.members]
            views.append(View(f"merge({'+'.join(names)})", pick([v.frames for v in members]), depth, traj,
                              members[0].start, {"merged": names, "score": m.score,
                                                 "measured": all(members[i].measured for i in m.members),
                                                 "frame_source": [members[i].name for i in src.tolist()]}))
        return views, found

    def _covisibility(self, memory: list[CameraTrajectory], target: CameraTrajectory, generator) -> np.ndarray:
        """`(N,)` Algorithm 1 scores, one vectorized call per group of views with the same frames and size."""
        from ..geometry.camera import resize_intrinsics
        from ..geometry.covisibility import covisibility_many

        gen = generator or torch.Generator(device=self.device).manual_seed(0)
        as_t = lambda a: torch.as_tensor(a, dtype=torch.float32, device=self.device)  # noqa: E731
        scores = np.zeros(len(memory))
        groups: dict[tuple[int, int, int], list[int]] = {}
        for i, traj in enumerate(memory):
            groups.setdefault((len(traj), traj.height, traj.width), []).append(i)
        for (_, h, w), members in groups.items():
            mk = torch.stack([as_t(memory[i].intrinsics_per_frame()) for i in members])
            mc = torch.stack([as_t(memory[i].extrinsics) for i in members])
            tk, tc = as_t(target.intrinsics_per_frame()), as_t(target.extrinsics)
            if (target.height, target.width) != (h, w):  # visibility does not depend on resolution: test at one size
                tk = resize_intrinsics(tk, (target.height, target.width), (h, w))
            scores[members] = covisibility_many(mk, mc, tk, tc, h, w, self.near, self.far, self.num_samples, gen).cpu().numpy()
        return scores

    # -- persistence -------------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """Write the bank to directory `path`: tensors in safetensors, the rest in JSON; atomic."""
        from safetensors.numpy import save_file

        path = Path(path)
        tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
        tmp.mkdir(parents=True)
        index = {"near": self.near, "far": self.far, "num_samples": self.num_samples, "views": []}
        for i, v in enumerate(self.views):
            arrays = {"frames": np.ascontiguousarray(v.frames), "extrinsics": v.trajectory.extrinsics,
                      "intrinsics": v.trajectory.intrinsics}
            if v.depth is not None:
                arrays["depth"] = np.ascontiguousarray(v.depth, dtype=np.float32)
            save_file(arrays, str(tmp / f"view_{i:04d}.safetensors"))
            index["views"].append({"name": v.name, "start": v.start, "provenance": v.provenance,
                                   "height": v.trajectory.height, "width": v.trajectory.width})
        (tmp / "bank.json").write_text(json.dumps(index, indent=1))
        if path.exists():
            raise FileExistsError(f"{path} exists")
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str | Path, device: str | torch.device = "cpu") -> "MemoryBank":
        from safetensors.numpy import load_file

        path = Path(path)
        index = json.loads((path / "bank.json").read_text())
        bank = cls(index["near"], index["far"], index["num_samples"], device)
        for i, meta in enumerate(index["views"]):
            arrays = load_file(str(path / f"view_{i:04d}.safetensors"))
            traj = CameraTrajectory(arrays["extrinsics"], arrays["intrinsics"], meta["height"], meta["width"])
            bank.add(View(meta["name"], arrays["frames"], arrays.get("depth"), traj, meta["start"], meta["provenance"]))
        return bank


def _mergeable(views: list[View]) -> bool:
    """Whether `views` can share one merged trajectory: same frame count, size, start and depth presence."""
    first = views[0]
    return all(v.frames.shape == first.frames.shape and v.start == first.start
               and (v.depth is None) == (first.depth is None) for v in views)


def _pose_distance(a: CameraTrajectory, b: CameraTrajectory, metres_per_radian: float = 0.5) -> float:
    """Mean over frames of centre distance + weighted rotation angle (the pose-distance ablation)."""
    n = min(len(a), len(b))
    ra, rb = a.extrinsics[:n, :3, :3], b.extrinsics[:n, :3, :3]
    cos = (np.trace(np.swapaxes(ra, 1, 2) @ rb, axis1=1, axis2=2) - 1) / 2
    angle = np.arccos(np.clip(cos, -1, 1))
    dist = np.linalg.norm(a.centers[:n] - b.centers[:n], axis=1)
    return float(np.mean(dist + metres_per_radian * angle))
