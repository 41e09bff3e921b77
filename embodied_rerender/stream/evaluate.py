"""Held-out quality of the streaming student: head -> wrist on eval episodes, against the teacher and ground truth.

For every episode and wrist camera the student streams the head camera (frames + depth) along the recorded wrist
trajectory; the bidirectional teacher (`HybridSynthesizer`, the head clip as its one context, its own chunked
sampling) and the warp-only baseline render the same target from the same input. Scores per method: PSNR / SSIM
against the recorded wrist video (whole frame and the covered region), the student's PSNR against the teacher,
and view synchronization (metrics.sync: SIFT + RANSAC inliers between two views at the same instant; None where
OpenCV is absent): `sync_source` with the head frame (the recorded wrist video gives the reference value),
`sync_truth` with the recorded wrist frame, and student against teacher.

    python -m embodied_rerender.stream.evaluate input=.carry/eval student=DIR/student.safetensors \
        teacher=weights/hybrid_ref.safetensors device=cuda output=quality.json [window=1 frames=N sync_stride=2]
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import torch


def _mean(x) -> float | None:
    x = torch.as_tensor(x, dtype=torch.float64)
    x = x[torch.isfinite(x)]
    return round(float(x.mean()), 3) if x.numel() else None


def sync_score(source: np.ndarray, views: np.ndarray, stride: int) -> float | None:
    """Mean RANSAC inliers between `source` and `views` `(T, H, W, 3)` uint8 at every `stride`-th frame."""
    try:
        from ..metrics.sync import view_sync

        return round(view_sync([source[::stride], views[::stride]]).mean_inliers, 2)
    except ImportError:
        return None


def evaluate_stream(episodes, student, teacher_synth, device, window: int = 1, steps: int | None = None,
                    shift: float = 1.0, frames: int | None = None, sync_stride: int = 2) -> list[dict]:
    """One row per (episode, wrist): scores of student, teacher and warp."""
    from ..generate import WarpSynthesizer
    from ..memory import View
    from ..pipeline.augment import score_against
    from ..pipeline.targets import head_to_gripper
    from ..metrics import psnr
    from .engine import StreamEngine
    from .sources import episode_items

    warp = WarpSynthesizer(device=device)
    rows = []
    for ep in episodes:
        head = ep.cameras["head"]
        n = min(len(head), frames or len(head))
        head_frames = head[:n]
        view = View("head", head_frames, head.read_depth(slice(0, n)), head.trajectory.subset(range(n)))
        for target in head_to_gripper(ep):
            traj = target.trajectory.subset(range(n))
            truth = ep.cameras[target.ground_truth][:n]
            engine = StreamEngine(student, steps=steps, window=window, size=(traj.height, traj.width), shift=shift,
                                  device=device)
            out = [f for it in episode_items(ep, traj, "head", n) for f in engine.push(it)] + engine.flush()
            stu = np.stack([f.frame for f in out])
            t0 = time.perf_counter()
            tea = teacher_synth.synthesize([view], traj, 0, torch.Generator().manual_seed(0)) if teacher_synth else None
            teacher_s = time.perf_counter() - t0
            wrp = warp.synthesize([view], traj, 0)
            sync = lambda v: {"sync_source": sync_score(head_frames, v, sync_stride),  # noqa: E731
                              "sync_truth": sync_score(truth, v, sync_stride)}
            row = {"episode": ep.episode_id, "target": target.name, "frames": n,
                   "student": {**score_against(stu, truth, wrp.covered), **sync(stu),
                               **{k: engine.stats.summary()[k] for k in ("fps", "first_latency_s", "steady_latency_s")}},
                   "warp": {**score_against(wrp.frames, truth, wrp.covered), **sync(wrp.frames)},
                   "ground_truth": {"sync_source": sync_score(head_frames, truth, sync_stride)}}
            if tea is not None:
                row["teacher"] = {**score_against(tea.frames, truth, wrp.covered), **sync(tea.frames),
                                  "s_per_view": round(teacher_s, 3)}
                row["student_vs_teacher"] = {"psnr": _mean(psnr(stu, tea.frames)),
                                             "sync": sync_score(tea.frames, stu, sync_stride)}
            rows.append(row)
    return rows


def summarize(rows: list[dict]) -> dict:
    out = {}
    for method in ("student", "teacher", "warp", "ground_truth", "student_vs_teacher"):
        keys = sorted({k for r in rows if method in r for k in r[method]})
        out[method] = {k: _mean([r[method][k] for r in rows if method in r and r[method].get(k) is not None] or [float("nan")])
                       for k in keys}
    out["n"] = len(rows)
    return out


def main(argv: list[str] | None = None) -> int:
    from ..generate import HybridSynthesizer
    from ..models.causal import load_student
    from ..train.evaluate import load_episodes

    args = dict(a.split("=", 1) for a in (sys.argv[1:] if argv is None else argv))
    device = args.get("device", "cuda" if torch.cuda.is_available() else "cpu")
    student, config = load_student(args["student"], device)
    trained = config.get("stream", {})
    teacher = HybridSynthesizer(args["teacher"], device=device) if args.get("teacher") else None
    episodes = load_episodes(args["input"])
    rows = evaluate_stream(episodes, student, teacher, device, window=int(args.get("window", 1)),
                           steps=int(args["steps"]) if "steps" in args else trained.get("steps", 4),
                           shift=trained.get("shift", 1.0), frames=int(args["frames"]) if "frames" in args else None,
                           sync_stride=int(args.get("sync_stride", 2)))
    report = {"summary": summarize(rows), "rows": rows, "args": args}
    print(json.dumps(report["summary"], indent=1))
    if args.get("output"):
        Path(args["output"]).write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
