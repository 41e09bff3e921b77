"""`validation.json` of a `train` run: warp vs the trained model on the held-out episodes, same frames.

Every held-out episode (an eval shard of the pack cache, full resolution) is re-rendered pair by pair: for each
target camera the bank holds only its recorded sources (never the target itself), both generators retrieve the
same k views from it, and each output is scored against the recorded target (PSNR / SSIM over the whole frame
and over the region the warp covers).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _mean(values) -> float | None:
    values = [v for v in values if v is not None and np.isfinite(v)]
    return round(float(np.mean(values)), 3) if values else None


def validate(shards: list[Path], checkpoint: Path, mode: str, device: str = "cpu", k: int = 4,
             seed: int = 0) -> dict:
    """{"checkpoint", "episodes", "rows": one per (episode, camera, generator), "summary": means per generator
    and the model-minus-warp PSNR / SSIM}."""
    from ..generate import SYNTHESIZERS, Target, WarpSynthesizer, run_autoregressive, seed_bank
    from ..io.packed import load_eval_episode
    from ..memory import MemoryBank
    from ..pipeline.augment import score_against
    from .cameras import find_pairs, sources_for, targets_of

    generators = {"warp": WarpSynthesizer(device=device),
                  "model": SYNTHESIZERS[mode](checkpoint=checkpoint, device=device)}
    rows, names = [], []
    for path in shards:
        ep = load_eval_episode(path)
        key = f"{ep.task_id}_{ep.episode_id}" if ep.task_id else ep.episode_id
        names.append(key)
        pairs = find_pairs(ep)
        for target in targets_of(pairs):
            truth = ep.cameras[target][:]
            for label, synth in generators.items():
                bank = MemoryBank()
                seed_bank(ep, sources_for(pairs, target), bank)
                step = run_autoregressive(bank, [Target(f"{target}_synth", ep.cameras[target].trajectory, target)],
                                          synth, k, "covisibility", seed, write_back=False)[0]
                score = score_against(step.synthesis.frames, truth, step.synthesis.covered)
                rows.append({"episode": key, "camera": target, "generator": label, "frames": len(truth),
                             "coverage": round(float(step.synthesis.covered.mean()), 3), **score})
    summary = {}
    for label in generators:
        mine = [r for r in rows if r["generator"] == label]
        summary[label] = {m: _mean(r[m] for r in mine) for m in ("psnr", "ssim", "psnr_covered", "ssim_covered")}
    for m in ("psnr", "ssim"):
        a, b = summary["model"][m], summary["warp"][m]
        summary[f"model_minus_warp_{m}"] = round(a - b, 3) if a is not None and b is not None else None
    note = None if shards else "no held-out episodes (val_episodes=0, or a dataset of one episode)"
    return {"checkpoint": str(checkpoint), "generator": mode, "k": k, "episodes": names, "rows": rows,
            "summary": summary, **({"note": note} if note else {})}
