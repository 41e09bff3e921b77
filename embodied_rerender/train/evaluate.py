"""Held-out scoring of generators on head -> wrist re-rendering, through the same memory loop as `augment`.

Each setting (generator, k, retrieval) runs on every episode: the recorded head camera seeds the bank, the
wrist trajectories are synthesized in order (shot 1: hand_left, shot 2: hand_right, which may retrieve shot 1's
output), and each is scored against the recorded wrist video (PSNR / SSIM, whole frame and covered region).
Episodes come from AgiBot-layout trees (needs a video decoder) or eval shards (`data.pack_eval`, torch only).

    python -m embodied_rerender.train.evaluate input=DIR_OR_SHARDS output=report.json device=cuda \
        hybrid=weights/hybrid_ref.safetensors learned=PATH
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

SETTINGS = [  # (label, generator, k, retrieval)
    ("warp k=4", "warp", 4, "covisibility"),
    ("learned k=4", "learned", 4, "covisibility"),
    ("hybrid k=4", "hybrid", 4, "covisibility"),
    ("warp k=1 covis", "warp", 1, "covisibility"),
    ("hybrid k=1 covis", "hybrid", 1, "covisibility"),
    ("hybrid k=1 random", "hybrid", 1, "random"),
]


def load_episodes(path: str | Path) -> list:
    from .data import load_eval_episode, shard_paths

    path = Path(path)
    shards = shard_paths(path, "eval_") if path.is_dir() else []
    if shards:
        return [load_eval_episode(p) for p in shards]
    from ..io import get_reader

    reader = get_reader("agibot", str(path))
    return [reader.read(r) for r in reader.refs()]


def evaluate(episodes: list, synthesizers: dict, settings=SETTINGS, seed: int = 0, frames: int | None = None,
             near: float = 0.05, far: float = 2.5, samples: int = 256) -> list[dict]:
    """One row per (setting, episode, shot): psnr, ssim, psnr_covered, ssim_covered, coverage, context, seconds."""
    from ..episode import ArrayFrames, CameraStream
    from ..generate import run_autoregressive, seed_bank
    from ..memory import MemoryBank
    from ..pipeline.augment import score_against
    from ..pipeline.targets import head_to_gripper

    rows = []
    for ep in episodes:
        if frames:  # score a prefix only (CPU budgets)
            for name, cam in list(ep.cameras.items()):
                depth = ArrayFrames(cam.read_depth(slice(0, frames))) if cam.depth is not None else None
                ep.cameras[name] = CameraStream(name, ArrayFrames(cam[:frames]), cam.trajectory.subset(range(frames)), depth)
        for label, gen_name, k, retrieval in settings:
            if gen_name not in synthesizers:
                continue
            bank = MemoryBank(near, far, samples)
            seed_bank(ep, ["head"], bank)
            t0 = time.monotonic()
            steps = run_autoregressive(bank, head_to_gripper(ep), synthesizers[gen_name], k, retrieval, seed)
            seconds = (time.monotonic() - t0) / max(len(steps), 1)
            for shot, step in enumerate(steps, 1):
                truth = ep.cameras[step.target.ground_truth][:]
                score = score_against(step.synthesis.frames, truth, step.synthesis.covered)
                rows.append({"setting": label, "generator": gen_name, "k": k, "retrieval": retrieval,
                             "episode": ep.episode_id, "shot": shot, "target": step.target.name,
                             "context": step.context, "coverage": round(float(step.synthesis.covered.mean()), 4),
                             "seconds": round(seconds, 2), **score})
    return rows


def summarize(rows: list[dict]) -> list[dict]:
    """Mean of each metric per (setting, shot) and over all shots."""
    out = []
    labels = list(dict.fromkeys(r["setting"] for r in rows))
    for label in labels:
        mine = [r for r in rows if r["setting"] == label]
        for shot in sorted({r["shot"] for r in mine}) + ["all"]:
            sel = [r for r in mine if shot == "all" or r["shot"] == shot]
            entry = {"setting": label, "shot": shot, "n": len(sel)}
            for key in ("psnr", "ssim", "psnr_covered", "ssim_covered", "coverage", "seconds"):
                vals = [r[key] for r in sel if r.get(key) is not None]
                entry[key] = round(float(np.mean(vals)), 3) if vals else None
            out.append(entry)
    return out


def markdown_table(summary: list[dict]) -> str:
    lines = ["| setting | shot | n | PSNR | SSIM | PSNR covered | SSIM covered | coverage | s / view |",
             "|---|---|---|---|---|---|---|---|---|"]
    for s in summary:
        lines.append(f"| {s['setting']} | {s['shot']} | {s['n']} | {s['psnr']} | {s['ssim']} | {s['psnr_covered']} | "
                     f"{s['ssim_covered']} | {s['coverage']} | {s['seconds']} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from ..generate import HybridSynthesizer, LearnedSynthesizer, WarpSynthesizer

    args = dict(a.split("=", 1) for a in (sys.argv[1:] if argv is None else argv))
    device = args.get("device", "cuda" if torch.cuda.is_available() else "cpu")
    synths = {"warp": WarpSynthesizer(device=device)}
    steps = int(args["steps"]) if "steps" in args else None
    if args.get("hybrid"):
        synths["hybrid"] = HybridSynthesizer(args["hybrid"], steps=steps, device=device)
    if args.get("learned"):
        synths["learned"] = LearnedSynthesizer(args["learned"], steps=steps, device=device)
    episodes = load_episodes(args["input"])
    rows = evaluate(episodes, synths, frames=int(args["frames"]) if "frames" in args else None)
    summary = summarize(rows)
    table = markdown_table(summary)
    print(table)
    if args.get("output"):
        Path(args["output"]).write_text(json.dumps({"summary": summary, "rows": rows, "args": args}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
