"""Held-out scoring of generators on head -> wrist re-rendering, through the same memory loop as `augment`.

Each setting (generator, k, retrieval) runs on every episode: the recorded head camera seeds the bank, the
wrist trajectories are synthesized in order (shot 1: hand_left, shot 2: hand_right, which may retrieve shot 1's
output), and each is scored against the recorded wrist video (PSNR / SSIM, whole frame and covered region).
Episodes come from AgiBot-layout trees (needs a video decoder) or eval shards (`data.pack_eval`, torch only).

View synchronization (SIFT + RANSAC inliers between the two synthesized wrist views at the same instants) is
reported per setting. With `loop=KIND` every setting also synthesizes a loop target (`pipeline.targets.loop`,
e.g. head -> gripper -> head) on each episode and scores its loop closure between revisit frames over the
static region (head depth splatted into the loop camera at both times agrees; `metrics.loop`).

    python -m embodied_rerender.train.evaluate input=DIR_OR_SHARDS output=report.json device=cuda \
        hybrid=weights/hybrid_ref.safetensors learned=PATH [hybrid_loop=PATH settings=ablation loop=head_gripper_head]
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
ABLATION = [  # LoopAug ablation: the same model trained without / with loop samples
    ("warp k=4", "warp", 4, "covisibility"),
    ("hybrid k=4", "hybrid", 4, "covisibility"),
    ("hybrid+LoopAug k=4", "hybrid_loop", 4, "covisibility"),
    ("learned k=4", "learned", 4, "covisibility"),
    ("learned+LoopAug k=4", "learned_loop", 4, "covisibility"),
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
             near: float = 0.05, far: float = 2.5, samples: int = 256, sync_stride: int = 6) -> list[dict]:
    """One row per (setting, episode, shot): psnr, ssim, psnr_covered, ssim_covered, coverage, context, seconds,
    view_sync (inliers between the episode's synthesized wrist views, every `sync_stride`-th frame)."""
    from ..generate import run_autoregressive, seed_bank
    from ..memory import MemoryBank
    from ..metrics import view_sync
    from ..pipeline.augment import score_against
    from ..pipeline.targets import head_to_gripper

    rows = []
    for ep in episodes:
        _trim(ep, frames)  # score a prefix only (CPU budgets)
        for label, gen_name, k, retrieval in settings:
            if gen_name not in synthesizers:
                continue
            bank = MemoryBank(near, far, samples)
            seed_bank(ep, ["head"], bank)
            t0 = time.monotonic()
            steps = run_autoregressive(bank, head_to_gripper(ep), synthesizers[gen_name], k, retrieval, seed)
            seconds = (time.monotonic() - t0) / max(len(steps), 1)
            sync = sync_rec = None
            if len(steps) >= 2 and sync_stride:
                sync = round(view_sync([st.synthesis.frames[::sync_stride] for st in steps]).mean_inliers, 2)
                sync_rec = round(view_sync([ep.cameras[st.target.ground_truth][::sync_stride] for st in steps]).mean_inliers, 2)
            for shot, step in enumerate(steps, 1):
                truth = ep.cameras[step.target.ground_truth][:]
                score = score_against(step.synthesis.frames, truth, step.synthesis.covered)
                rows.append({"setting": label, "generator": gen_name, "k": k, "retrieval": retrieval,
                             "episode": ep.episode_id, "shot": shot, "target": step.target.name,
                             "context": step.context, "coverage": round(float(step.synthesis.covered.mean()), 4),
                             "seconds": round(seconds, 2), "view_sync": sync, "view_sync_recorded": sync_rec, **score})
    return rows


def _trim(ep, frames: int | None):
    """`ep` with every camera cut to its first `frames` frames (in place; None: unchanged)."""
    from ..episode import ArrayFrames, CameraStream

    if frames and ep.num_frames > frames:
        for name, cam in list(ep.cameras.items()):
            depth = ArrayFrames(cam.read_depth(slice(0, frames))) if cam.depth is not None else None
            ep.cameras[name] = CameraStream(name, ArrayFrames(cam[:frames]), cam.trajectory.subset(range(frames)), depth)
    return ep


def evaluate_loops(episodes: list, synthesizers: dict, settings=SETTINGS, kind: str = "head_gripper_head",
                   wrist: str = "hand_left", seed: int = 0, frames: int | None = None, near: float = 0.05,
                   far: float = 2.5, samples: int = 256, max_pairs: int = 12, features: bool = True) -> list[dict]:
    """One row per (setting, episode): loop closure of a `kind` loop target synthesized from the head camera
    (k context views; the bank holds the head only), over the static region by head depth."""
    from ..generate import run_autoregressive, seed_bank
    from ..memory import MemoryBank
    from ..metrics.loop import loop_closure, splat_depth, static_from_depth
    from ..pipeline.targets import loop

    rows = []
    for ep in episodes:
        _trim(ep, frames)
        targets = loop(ep, kind=kind, wrist=wrist)
        if not targets:
            continue
        target = targets[0]
        pairs = np.asarray(target.info["revisits"], dtype=np.int64).reshape(-1, 2)
        head, traj = ep.cameras["head"], target.trajectory
        sd = splat_depth(head.read_depth(slice(None)), head.trajectory.intrinsics_per_frame(), head.trajectory.extrinsics,
                         traj.intrinsics_per_frame(), traj.extrinsics, (traj.height, traj.width))
        static = np.stack([static_from_depth(sd[i], sd[j]) for i, j in pairs])
        for label, gen_name, k, retrieval in settings:
            if gen_name not in synthesizers:
                continue
            bank = MemoryBank(near, far, samples)
            seed_bank(ep, ["head"], bank)
            step = run_autoregressive(bank, [target], synthesizers[gen_name], k, retrieval, seed)[0]
            scores = loop_closure(step.synthesis.frames, pairs, static, features=features, max_pairs=max_pairs)
            rows.append({"setting": label, "generator": gen_name, "episode": ep.episode_id, "loop": kind,
                         **scores.summary()})
    return rows


def summarize_loops(rows: list[dict]) -> list[dict]:
    """Mean loop-closure metrics per setting."""
    out = []
    for label in dict.fromkeys(r["setting"] for r in rows):
        mine = [r for r in rows if r["setting"] == label]
        entry = {"setting": label, "n": len(mine)}
        for key in ("loop_mae", "loop_psnr", "loop_match_px", "loop_inlier_ratio", "loop_static_fraction"):
            vals = [r[key] for r in mine if r.get(key) is not None]
            entry[key] = round(float(np.mean(vals)), 3) if vals else None
        out.append(entry)
    return out


def loop_table(summary: list[dict]) -> str:
    lines = ["| setting | n | loop MAE (0-255) | loop PSNR | match px | inlier ratio | static share |",
             "|---|---|---|---|---|---|---|"]
    for s in summary:
        lines.append(f"| {s['setting']} | {s['n']} | {s['loop_mae']} | {s['loop_psnr']} | {s['loop_match_px']} | "
                     f"{s['loop_inlier_ratio']} | {s['loop_static_fraction']} |")
    return "\n".join(lines)


def summarize(rows: list[dict]) -> list[dict]:
    """Mean of each metric per (setting, shot) and over all shots."""
    out = []
    labels = list(dict.fromkeys(r["setting"] for r in rows))
    for label in labels:
        mine = [r for r in rows if r["setting"] == label]
        for shot in sorted({r["shot"] for r in mine}) + ["all"]:
            sel = [r for r in mine if shot == "all" or r["shot"] == shot]
            entry = {"setting": label, "shot": shot, "n": len(sel)}
            for key in ("psnr", "ssim", "psnr_covered", "ssim_covered", "coverage", "view_sync", "view_sync_recorded", "seconds"):
                vals = [r[key] for r in sel if r.get(key) is not None]
                entry[key] = round(float(np.mean(vals)), 3) if vals else None
            out.append(entry)
    return out


def markdown_table(summary: list[dict]) -> str:
    lines = ["| setting | shot | n | PSNR | SSIM | PSNR covered | SSIM covered | coverage | view sync (recorded) | s / view |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for s in summary:
        lines.append(f"| {s['setting']} | {s['shot']} | {s['n']} | {s['psnr']} | {s['ssim']} | {s['psnr_covered']} | "
                     f"{s['ssim_covered']} | {s['coverage']} | {s.get('view_sync')} ({s.get('view_sync_recorded')}) | {s['seconds']} |")
    return "\n".join(lines)


def synthesizers_from_args(args: dict) -> dict:
    """`warp` always, plus one learned/hybrid synthesizer per checkpoint argument given (`hybrid=`, `learned=`,
    `hybrid_loop=`, `learned_loop=`), on `device=` (default: cuda when available), with `steps=` if given."""
    from ..generate import HybridSynthesizer, LearnedSynthesizer, WarpSynthesizer

    device = args.get("device", "cuda" if torch.cuda.is_available() else "cpu")
    steps = int(args["steps"]) if "steps" in args else None
    synths = {"warp": WarpSynthesizer(device=device)}
    for name in ("hybrid", "learned", "hybrid_loop", "learned_loop"):
        if args.get(name):
            cls = HybridSynthesizer if name.startswith("hybrid") else LearnedSynthesizer
            synths[name] = cls(args[name], steps=steps, device=device)
    return synths


def main(argv: list[str] | None = None) -> int:
    args = dict(a.split("=", 1) for a in (sys.argv[1:] if argv is None else argv))
    synths = synthesizers_from_args(args)
    settings = ABLATION if args.get("settings") == "ablation" else SETTINGS
    frames = int(args["frames"]) if "frames" in args else None
    episodes = load_episodes(args["input"])
    report = {"args": args}
    if args.get("loop"):  # first: `evaluate` below trims episodes the same way
        loop_rows = evaluate_loops(episodes, synths, settings, kind=args["loop"], frames=frames)
        report.update(loop_summary=summarize_loops(loop_rows), loop_rows=loop_rows)
        print(loop_table(report["loop_summary"]))
    rows = evaluate(episodes, synths, settings, frames=frames, sync_stride=int(args.get("sync_stride", 6)))
    report.update(summary=summarize(rows), rows=rows)
    print(markdown_table(report["summary"]))
    if args.get("output"):
        Path(args["output"]).write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
