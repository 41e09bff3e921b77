"""Streaming table: the causal student against the bidirectional teacher and warp, head -> wrist on held-out
episodes, all three through `runner.run_setting` (one context view: the head clip).

`StreamSynthesizer` makes the streaming engine a Synthesizer: it streams the context view frame by frame along
the target trajectory and reports the warp's coverage (the region the prior covers), so its scores line up with
the teacher's and warp's. Scores per method: PSNR / SSIM against the recorded wrist video (whole frame and
covered region), the student's PSNR against the teacher, and view synchronization (SIFT + RANSAC inliers between
two views at the same instant; None where OpenCV is absent): `sync_source` with the head frame (the recorded
wrist video gives the reference value), `sync_truth` with the recorded wrist frame, and student against teacher.

    embodied-rerender eval table=stream input=.carry/eval student=DIR/student.safetensors \
        teacher=weights/hybrid_ref.safetensors device=cuda output=DIR [window=1 frames=N sync_stride=2]
"""

from __future__ import annotations

import numpy as np
import torch

from ..episode import CameraTrajectory
from ..generate import Synthesis
from ..memory import View
from .runner import run_setting, trim
from .scoring import mean, means, sync_inliers

METHODS = ("student", "teacher", "warp")


class StreamSynthesizer:
    """A `CausalDiT` student behind the Synthesizer protocol: the first context view, streamed along the target.
    `stats` holds one `StreamStats.summary()` per `synthesize` call (fps, latencies)."""

    name = "stream"

    def __init__(self, student, steps: int = 4, window: int = 1, shift: float = 1.0, device: str = "cpu"):
        from ..generate import WarpSynthesizer

        self.student, self.steps, self.window, self.shift, self.device = student, steps, window, shift, device
        self.warp = WarpSynthesizer(device=device)
        self.stats: list[dict] = []

    def config(self) -> dict:
        return {"steps": self.steps, "window": self.window, "shift": self.shift}

    def synthesize(self, context: list[View], target: CameraTrajectory, start: int,
                   generator: torch.Generator) -> Synthesis:
        """`(T, H, W, 3) uint8` student frames of `target`; depth and covered come from the warp of `context`."""
        from ..stream.engine import StreamEngine, StreamItem

        view = context[0]
        n = min(len(view.frames), len(target))
        engine = StreamEngine(self.student, steps=self.steps, window=self.window, size=(target.height, target.width),
                              shift=self.shift, device=self.device)
        s_K, t_K = view.trajectory.intrinsics_per_frame(), target.intrinsics_per_frame()
        out = []
        for i in range(n):
            depth = view.depth[i] if view.depth is not None else None
            out += engine.push(StreamItem(view.frames[i], s_K[i], view.trajectory.extrinsics[i], t_K[i],
                                          target.extrinsics[i], depth))
        out += engine.flush()
        self.stats.append(engine.stats.summary())
        prior = self.warp.synthesize(context, target, start, generator)
        return Synthesis(np.stack([f.frame for f in out]), prior.depth, prior.covered)


def evaluate_stream(episodes, synthesizers: dict, frames: int | None = None, sync_stride: int = 2,
                    seed: int = 0) -> list[dict]:
    """One row per (episode, wrist): per method of `synthesizers` ("student": a StreamSynthesizer, "teacher",
    "warp") its scores and view sync; the student's fps / latency; student against teacher."""
    from ..metrics import psnr
    from ..pipeline.targets import head_to_gripper

    rows = []
    for ep in episodes:
        trim(ep, frames)
        head = ep.cameras["head"][:]
        targets = head_to_gripper(ep)
        runs = {m: run_setting(ep, ["head"], targets, synthesizers[m], 1, "covisibility", seed, write_back=False)
                for m in METHODS if m in synthesizers}
        stats = synthesizers["student"].stats[-len(targets):] if "student" in runs else []
        for i, target in enumerate(targets):
            truth = ep.cameras[target.ground_truth][:]
            row = {"episode": ep.episode_id, "target": target.name, "frames": len(truth),
                   "ground_truth": {"sync_source": sync_inliers([head, truth], sync_stride)}}
            out = {m: run.steps[i].synthesis.frames for m, run in runs.items()}
            for m, run in runs.items():
                score = {k: v for k, v in run.rows[i].items() if k in ("psnr", "ssim", "psnr_covered", "ssim_covered")}
                row[m] = {**score, "sync_source": sync_inliers([head, out[m]], sync_stride),
                          "sync_truth": sync_inliers([truth, out[m]], sync_stride)}
            if "student" in runs:
                row["student"].update({k: stats[i][k] for k in ("fps", "first_latency_s", "steady_latency_s")})
            if "teacher" in runs:
                row["teacher"]["s_per_view"] = round(runs["teacher"].seconds, 3)
                if "student" in runs:
                    row["student_vs_teacher"] = {"psnr": mean(psnr(out["student"], out["teacher"])),
                                                 "sync": sync_inliers([out["teacher"], out["student"]], sync_stride)}
            rows.append(row)
    return rows


def summarize(rows: list[dict]) -> dict:
    """Mean of every metric per method over the rows, and n."""
    out = {}
    for method in (*METHODS, "ground_truth", "student_vs_teacher"):
        keys = sorted({k for r in rows if method in r for k in r[method]})
        out[method] = means([r[method] for r in rows if method in r], keys)
    out["n"] = len(rows)
    return out


def run_table(cfg: dict) -> tuple[dict, str]:
    """(report, printable summary) for `eval table=stream`."""
    import json

    from ..generate import HybridSynthesizer, WarpSynthesizer
    from ..models.causal import load_student
    from .heldout import load_episodes
    from .synthesizers import resolve_device

    device = resolve_device(cfg.get("device"))
    student, config = load_student(cfg["student"], device)
    trained = config.get("stream", {})
    steps = cfg["steps"] if cfg.get("steps") is not None else trained.get("steps", 4)
    synths = {"student": StreamSynthesizer(student, steps, cfg["window"], trained.get("shift", 1.0), device),
              "warp": WarpSynthesizer(device=device)}
    if cfg.get("teacher"):
        synths["teacher"] = HybridSynthesizer(cfg["teacher"], device=device)
    rows = evaluate_stream(load_episodes(cfg["input"]), synths, frames=cfg["frames"], sync_stride=cfg["sync_stride"],
                           seed=cfg["seed"])
    report = {"config": cfg, "summary": summarize(rows), "rows": rows}
    return report, json.dumps(report["summary"], indent=1)
