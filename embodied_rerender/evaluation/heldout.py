"""Held-out pair tables: head -> wrist re-rendering per (generator, k, retrieval), through `runner.run_setting`.

Each setting runs on every episode: the recorded head camera seeds the bank, the wrist trajectories are
synthesized in order (shot 1: hand_left, shot 2: hand_right, which may retrieve shot 1's output), and each is
scored against the recorded wrist video (PSNR / SSIM, whole frame and covered region). View synchronization
(SIFT + RANSAC inliers between the two synthesized wrist views at the same instants) is reported per setting.
With `loop=KIND` every setting also synthesizes a loop target (`pipeline.targets.loop`, e.g. head -> gripper ->
head) on each episode and scores its loop closure between revisit frames over the static region (head depth
splatted into the loop camera at both times agrees; `metrics.loop`).

    embodied-rerender eval table=heldout input=DIR_OR_SHARDS output=DIR device=cuda \
        hybrid=weights/hybrid_ref.safetensors learned=PATH [stream=weights/stream_ref.safetensors] \
        [hybrid_loop=PATH settings=ablation loop=head_gripper_head]
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .markdown import table
from .runner import BankOptions, Setting, run_setting, trim
from .scoring import group_rows, means, sync_inliers

SETTINGS = [
    Setting("warp k=4", "warp", 4), Setting("learned k=4", "learned", 4), Setting("hybrid k=4", "hybrid", 4),
    Setting("warp k=1 covis", "warp", 1), Setting("hybrid k=1 covis", "hybrid", 1),
    Setting("hybrid k=1 random", "hybrid", 1, "random"), Setting("stream k=1 covis", "stream", 1),
]
ABLATION = [  # LoopAug ablation: the same model trained without / with loop samples
    Setting("warp k=4", "warp", 4), Setting("hybrid k=4", "hybrid", 4),
    Setting("hybrid+LoopAug k=4", "hybrid_loop", 4), Setting("learned k=4", "learned", 4),
    Setting("learned+LoopAug k=4", "learned_loop", 4),
]
SETTING_SETS = {"default": SETTINGS, "ablation": ABLATION}


def load_episodes(path: str | Path) -> list:
    """Episodes of eval shards (`eval_*.safetensors[.gz]`, torch only) in `path`, else of an AgiBot-layout tree."""
    from ..io import get_reader
    from ..io.packed import load_eval_episode, shard_paths

    path = Path(path)
    shards = shard_paths(path, "eval_") if path.is_dir() else []
    if shards:
        return [load_eval_episode(p) for p in shards]
    reader = get_reader("agibot", str(path))
    return [reader.read(r) for r in reader.refs()]


def evaluate(episodes: list, synthesizers: dict, settings=SETTINGS, seed: int = 0, frames: int | None = None,
             bank: BankOptions = BankOptions(), sync_stride: int = 6) -> list[dict]:
    """One row per (setting, episode, shot): setting, generator, k, retrieval, episode, shot, target, context,
    coverage, seconds, view_sync / view_sync_recorded (inliers between the episode's synthesized / recorded
    wrist views, every `sync_stride`-th frame), psnr, ssim, psnr_covered, ssim_covered."""
    from ..pipeline.targets import head_to_gripper

    rows = []
    for ep in episodes:
        trim(ep, frames)
        for s in settings:
            if s.generator not in synthesizers:
                continue
            targets = head_to_gripper(ep)
            run = run_setting(ep, ["head"], targets, synthesizers[s.generator], s.k, s.retrieval, seed, bank=bank)
            sync = sync_inliers([st.synthesis.frames for st in run.steps], sync_stride)
            sync_rec = sync_inliers([ep.cameras[st.target.ground_truth][:] for st in run.steps], sync_stride)
            for row in run.rows:
                rows.append({"setting": s.label, "generator": s.generator, "k": s.k, "retrieval": s.retrieval,
                             "episode": ep.episode_id, **row, "seconds": round(run.seconds, 2), "view_sync": sync,
                             "view_sync_recorded": sync_rec})
    return rows


def evaluate_loops(episodes: list, synthesizers: dict, settings=SETTINGS, kind: str = "head_gripper_head",
                   wrist: str = "hand_left", seed: int = 0, frames: int | None = None, bank: BankOptions = BankOptions(),
                   max_pairs: int = 12, features: bool = True) -> list[dict]:
    """One row per (setting, episode): loop closure of a `kind` loop target synthesized from the head camera
    (k context views; the bank holds the head only), over the static region by head depth."""
    from ..metrics.loop import loop_closure, splat_depth, static_from_depth
    from ..pipeline.targets import loop

    rows = []
    for ep in episodes:
        trim(ep, frames)
        targets = loop(ep, kind=kind, wrist=wrist)
        if not targets:
            continue
        target = targets[0]
        pairs = np.asarray(target.info["revisits"], dtype=np.int64).reshape(-1, 2)
        head, traj = ep.cameras["head"], target.trajectory
        sd = splat_depth(head.read_depth(slice(None)), head.trajectory.intrinsics_per_frame(), head.trajectory.extrinsics,
                         traj.intrinsics_per_frame(), traj.extrinsics, (traj.height, traj.width))
        static = np.stack([static_from_depth(sd[i], sd[j]) for i, j in pairs])
        for s in settings:
            if s.generator not in synthesizers:
                continue
            run = run_setting(ep, ["head"], [target], synthesizers[s.generator], s.k, s.retrieval, seed, bank=bank)
            scores = loop_closure(run.steps[0].synthesis.frames, pairs, static, features=features, max_pairs=max_pairs)
            rows.append({"setting": s.label, "generator": s.generator, "episode": ep.episode_id, "loop": kind,
                         **scores.summary()})
    return rows


LOOP_KEYS = ("loop_mae", "loop_psnr", "loop_match_px", "loop_inlier_ratio", "loop_static_fraction")
PAIR_KEYS = ("psnr", "ssim", "psnr_covered", "ssim_covered", "coverage", "view_sync", "view_sync_recorded", "seconds")


def summarize_loops(rows: list[dict]) -> list[dict]:
    """Mean loop-closure metrics per setting."""
    return [{"setting": label, "n": len(mine), **means(mine, LOOP_KEYS)} for label, mine in group_rows(rows).items()]


def summarize(rows: list[dict]) -> list[dict]:
    """Mean of each metric per (setting, shot) and over all shots."""
    out = []
    for label, mine in group_rows(rows).items():
        for shot in sorted({r["shot"] for r in mine}) + ["all"]:
            sel = [r for r in mine if shot == "all" or r["shot"] == shot]
            out.append({"setting": label, "shot": shot, "n": len(sel), **means(sel, PAIR_KEYS)})
    return out


LOOP_COLUMNS = [("setting", "setting"), ("n", "n"), ("loop MAE (0-255)", "loop_mae"), ("loop PSNR", "loop_psnr"),
                ("match px", "loop_match_px"), ("inlier ratio", "loop_inlier_ratio"),
                ("static share", "loop_static_fraction")]
PAIR_COLUMNS = [("setting", "setting"), ("shot", "shot"), ("n", "n"), ("PSNR", "psnr"), ("SSIM", "ssim"),
                ("PSNR covered", "psnr_covered"), ("SSIM covered", "ssim_covered"), ("coverage", "coverage"),
                ("view sync (recorded)", lambda s: f"{s.get('view_sync')} ({s.get('view_sync_recorded')})"),
                ("s / view", "seconds")]


def loop_table(summary: list[dict]) -> str:
    return table(LOOP_COLUMNS, summary)


def markdown_table(summary: list[dict]) -> str:
    return table(PAIR_COLUMNS, summary)


def run_table(cfg: dict) -> tuple[dict, str]:
    """(report, printable tables) for `eval table=heldout`."""
    from ..errors import DatasetError
    from .synthesizers import build_synthesizers

    if cfg["settings"] not in SETTING_SETS:
        raise DatasetError(f"settings={cfg['settings']}: use one of {', '.join(SETTING_SETS)}")
    synths, settings = build_synthesizers(cfg), SETTING_SETS[cfg["settings"]]
    bank = BankOptions(cfg["near"], cfg["far"], cfg["samples"])
    episodes = load_episodes(cfg["input"])
    report, text = {"config": cfg}, []
    if cfg.get("loop"):  # first: `evaluate` below trims episodes the same way
        loop_rows = evaluate_loops(episodes, synths, settings, kind=cfg["loop"], seed=cfg["seed"], frames=cfg["frames"],
                                   bank=bank)
        report.update(loop_summary=summarize_loops(loop_rows), loop_rows=loop_rows)
        text.append(loop_table(report["loop_summary"]))
    rows = evaluate(episodes, synths, settings, seed=cfg["seed"], frames=cfg["frames"], bank=bank,
                    sync_stride=cfg["sync_stride"])
    report.update(summary=summarize(rows), rows=rows)
    text.append(markdown_table(report["summary"]))
    return report, "\n\n".join(text)
