"""Streaming table: the causal student against the bidirectional teacher and warp, head -> wrist on held-out
episodes, all three through `runner.run_setting` (one context view: the head clip).

The student runs as `generate.StreamSynthesizer` (`generator=stream`): the head view streamed frame by frame
along the target trajectory, its coverage that of the engine's warp prior, so its scores line up with the
teacher's and warp's; its fps and latencies come from the synthesizer's `stats`. Scores per method: PSNR / SSIM
against the recorded wrist video (whole frame and covered region), the student's PSNR against the teacher, and
view synchronization (SIFT + RANSAC inliers between two views at the same instant; None where OpenCV is absent):
`sync_source` with the head frame (the recorded wrist video gives the reference value), `sync_truth` with the
recorded wrist frame, and student against teacher.

    embodied-rerender eval table=stream input=.carry/eval [student=DIR/student.safetensors] \
        teacher=weights/hybrid_ref.safetensors device=cuda output=DIR [window=1 frames=N sync_stride=2]
"""

from __future__ import annotations

from .runner import run_setting, trim
from .scoring import mean, means, sync_inliers

METHODS = ("student", "teacher", "warp")


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

    from ..generate import HybridSynthesizer, StreamSynthesizer, WarpSynthesizer
    from .heldout import load_episodes
    from .synthesizers import resolve_device

    device = resolve_device(cfg.get("device"))
    synths = {"student": StreamSynthesizer(cfg.get("student"), steps=cfg.get("steps"), window=cfg["window"],
                                           seed=cfg["seed"], device=device),
              "warp": WarpSynthesizer(device=device)}
    if cfg.get("teacher"):
        synths["teacher"] = HybridSynthesizer(cfg["teacher"], device=device)
    rows = evaluate_stream(load_episodes(cfg["input"]), synths, frames=cfg["frames"], sync_stride=cfg["sync_stride"],
                           seed=cfg["seed"])
    report = {"config": cfg, "summary": summarize(rows), "rows": rows}
    return report, json.dumps(report["summary"], indent=1)
