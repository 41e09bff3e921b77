"""Closed-loop evaluation: a policy in `PickPlaceEnv` under head-camera shifts; success rates with Wilson
intervals; rollout videos (head | left wrist | right wrist)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .env import PickPlaceEnv
from .shifts import rotation_deg, shift_offset


def wilson(successes: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """95 % Wilson score interval of a success rate."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def eval_offset(seed: int, rollout: int, shift_cm: float) -> np.ndarray:
    """The head offset of rollout `rollout` at `shift_cm`: the same direction for one rollout at every shift."""
    return shift_offset(shift_cm / 100.0, np.random.default_rng([seed, rollout]))


class TemporalEnsemble:
    """ACT's temporal ensembling: a chunk is predicted every step, and the action run at step t is the average
    of every chunk's prediction for t, weighted exp(-decay * i) with i = 0 for the oldest (ACT's scheme)."""

    def __init__(self, decay: float = 0.01):
        self.decay, self.chunks = decay, []  # (start step, (chunk, 22) actions)

    def __call__(self, step: int, chunk: np.ndarray) -> np.ndarray:
        self.chunks = [(s, c) for s, c in self.chunks if step - s < len(c)] + [(step, chunk)]
        preds = np.stack([c[step - s] for s, c in self.chunks])  # oldest first
        w = np.exp(-self.decay * np.arange(len(preds)))
        return (w[:, None] * preds).sum(0) / w.sum()


def rollout(env: PickPlaceEnv, policy, seed: int, index: int, offset: np.ndarray, steps: int, execute: int,
            frames: list | None = None) -> dict:
    """One episode of at most `steps` steps, ended at success. `execute` 0: a chunk every step, temporally ensembled (`TemporalEnsemble`); else a chunk
    every `execute` steps, its first `execute` actions run open-loop. `frames`, when given, collects
    `(H, W, 3) uint8` video frames of the observed cameras side by side."""
    obs = env.reset(seed, index, offset)
    plan, success, info, ensemble = [], False, {}, TemporalEnsemble()
    for step in range(steps):
        if frames is not None:
            frames.append(np.concatenate(list(obs["images"].values()), axis=1))
        if execute <= 0:
            action = policy.command(ensemble(step, policy.act(obs["images"], obs["state"], step)))
        else:
            if not plan:
                plan = [policy.command(a) for a in policy.act(obs["images"], obs["state"], step)[:execute]]
            action = plan.pop(0)
        obs, success, info = env.step(action)
        if success:  # the episode ends at success (as robomimic's rollouts do): later steps cannot undo it
            break
    return {"success": bool(success), "placed": info.get("placed", []), "steps": step + 1}


_WORKER: dict = {}  # per worker process: its own env (MuJoCo contexts do not cross a fork) and the policy


def _worker_init(env_config, policy) -> None:
    import torch

    torch.set_num_threads(1)
    _WORKER["env"], _WORKER["policy"] = PickPlaceEnv(env_config), policy


def _worker_rollout(job: tuple) -> tuple[dict, list | None]:
    seed, index, offset, steps, execute, video = job
    frames = [] if video else None
    result = rollout(_WORKER["env"], _WORKER["policy"], seed, index, offset, steps, execute, frames)
    return result, frames


def evaluate_policy(env: PickPlaceEnv, policy, seed: int, rollouts: int, shifts_cm: list[float], steps: int,
                    execute: int, videos: int = 0, video_dir: Path | None = None, progress: bool = False,
                    workers: int = 1) -> dict:
    """Per shift: successes, n, rate, 95 % Wilson interval, share of tasks placed, mean rotation (deg).
    Scenes are sample episodes 0..rollouts-1 of `seed` (held out when `seed` differs from the demos').
    `workers` > 1 runs the rollouts in that many processes, each with its own env of `env.config` (the results
    are the same: a rollout depends only on its seed, scene, shift and the policy)."""
    from ..video import write_video

    cells = [(shift, i) for shift in shifts_cm for i in range(rollouts)]
    offsets = [eval_offset(seed, i, shift) for shift, i in cells]
    jobs = [(seed, i, offset, steps, execute, i < videos and video_dir is not None)
            for (_, i), offset in zip(cells, offsets)]
    if workers > 1:
        import multiprocessing as mp

        # spawn, not fork: a forked child can inherit a held lock of the parent's OpenMP pool or GL context and hang
        with mp.get_context("spawn").Pool(workers, _worker_init, (env.config, policy)) as pool:
            done = pool.map(_worker_rollout, jobs, chunksize=1)
    else:
        _WORKER["env"], _WORKER["policy"] = env, policy
        done = [_worker_rollout(job) for job in jobs]
    out = {}
    for shift in shifts_cm:
        mine = [(i, offset, res) for (s, i), offset, res in zip(cells, offsets, done) if s == shift]
        wins = sum(res[0]["success"] for _, _, res in mine)
        placed = [p for _, _, res in mine for p in res[0]["placed"]]
        rot = [rotation_deg(offset) for _, offset, _ in mine]
        for i, _, (_, frames) in mine:
            if frames:
                video_dir.mkdir(parents=True, exist_ok=True)
                write_video(video_dir / f"shift{shift:g}cm_rollout{i}.mp4", np.stack(frames), fps=15, codec="h264")
        lo, hi = wilson(wins, rollouts)
        out[f"{shift:g}"] = {"shift_cm": shift, "successes": wins, "n": rollouts, "rate": round(wins / max(rollouts, 1), 4),
                             "ci95": [round(lo, 4), round(hi, 4)], "placed_rate": round(float(np.mean(placed)), 4) if placed else 0.0,
                             "rotation_deg": round(float(np.mean(rot)), 2)}
        if progress:
            print(f"  shift {shift:g} cm: {wins}/{rollouts} ({out[f'{shift:g}']['placed_rate']:.0%} of tasks placed)", flush=True)
    return out
