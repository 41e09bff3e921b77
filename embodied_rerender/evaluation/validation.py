"""`validation.json` of a `train` run: warp vs the trained model on the held-out episodes, same frames.

Every held-out episode (an eval shard of the pack cache, full resolution) is re-rendered pair by pair: for each
target camera the bank holds only its recorded sources (never the target itself), both generators retrieve the
same k views from it (`evaluation.runner.run_setting`, write-back off), and each output is scored against the recorded target (PSNR / SSIM over the whole frame
and over the region the warp covers).
"""

from __future__ import annotations

from pathlib import Path

from .runner import run_setting
from .scoring import means


def validate(shards: list[Path], checkpoint: Path, mode: str, device: str = "cpu", k: int = 4,
             seed: int = 0) -> dict:
    """{"checkpoint", "episodes", "rows": one per (episode, camera, generator), "summary": means per generator
    and the model-minus-warp PSNR / SSIM}."""
    from ..generate import SYNTHESIZERS, Target, WarpSynthesizer
    from ..io.packed import load_eval_episode
    from ..train.cameras import find_pairs, sources_for, targets_of

    generators = {"warp": WarpSynthesizer(device=device),
                  "model": SYNTHESIZERS[mode](checkpoint=checkpoint, device=device)}
    rows, names = [], []
    for path in shards:
        ep = load_eval_episode(path)
        key = f"{ep.task_id}_{ep.episode_id}" if ep.task_id else ep.episode_id
        names.append(key)
        pairs = find_pairs(ep)
        for target in targets_of(pairs):
            goal = Target(f"{target}_synth", ep.cameras[target].trajectory, target)
            for label, synth in generators.items():  # the bank holds the target's sources only, never the target
                run = run_setting(ep, sources_for(pairs, target), [goal], synth, k, "covisibility", seed,
                                  write_back=False)
                row = run.rows[0]
                rows.append({"episode": key, "camera": target, "generator": label, "frames": len(ep.cameras[target]),
                             "coverage": round(row["coverage"], 3),
                             **{m: row[m] for m in ("psnr", "ssim", "psnr_covered", "ssim_covered")}})
    summary = {}
    for label in generators:
        mine = [r for r in rows if r["generator"] == label]
        summary[label] = means(mine, ("psnr", "ssim", "psnr_covered", "ssim_covered"))
    for m in ("psnr", "ssim"):
        a, b = summary["model"][m], summary["warp"][m]
        summary[f"model_minus_warp_{m}"] = round(a - b, 3) if a is not None and b is not None else None
    note = None if shards else "no held-out episodes (val_episodes=0, or a dataset of one episode)"
    return {"checkpoint": str(checkpoint), "generator": mode, "k": k, "episodes": names, "rows": rows,
            "summary": summary, **({"note": note} if note else {})}
