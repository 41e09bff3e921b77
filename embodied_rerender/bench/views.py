"""Novel head-camera viewpoints per demonstration, written by `augment` itself.

`write_views` runs, in-process, what

    embodied-rerender augment input=demos/agibot output=views/<generator> generator=<generator> \
        targets=[head_shift] head_shift.count=<views> head_shift.max_translation_m=<m> head_shift.aim_m=0.6 \
        output_mode=episodes replace_camera=head lerobot.vcodec=... lerobot.crf=... lerobot.pix_fmt=...

runs (the same config, job and launcher): one LeRobot dataset holding, per demonstration, the recorded episode
and its `<id>__head_shift_<j>` episodes, whose head camera is synthesized from the recorded head (RGB-D + poses)
moved in its image plane and re-aimed at the point 0.6 m ahead (`shifts.LOOK_M`, the evaluation shifts' geometry).
`load_views` reads it back as one `Frames` per view index j, keyed by the demonstration's episode index in the
demos dataset (matched through the source ids the writer records in `meta/embodied_rerender.json`).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from ..io.lerobot import SIDECAR
from .shifts import LOOK_M
from .train import Frames, load_lerobot


def augment_overrides(raw: Path, out: Path, generator: str, count: int, max_translation_m: float, seed: int,
                      device: str, progress: bool, codec: dict) -> list[str]:
    """The `augment` command line (keys of configs/augment.yaml) that writes the views."""
    return [f"input={raw}", f"output={out}", f"generator={generator}", "targets=[head_shift]",
            f"head_shift.count={count}", f"head_shift.max_translation_m={max_translation_m}", f"head_shift.aim_m={LOOK_M}",
            "output_mode=episodes", "replace_camera=head", f"seed={seed}", f"device={device}", "preview=false",
            "overwrite=true", f"progress={str(progress).lower()}"] + [f"lerobot.{k}={v}" for k, v in codec.items()]


def write_views(raw: Path, out: Path, generator: str, count: int, max_translation_m: float, seed: int = 0,
                device: str = "cpu", progress: bool = False, codec: dict | None = None) -> Path:
    """`out`: the demonstrations in `raw` (AgiBot layout) and `count` synthesized head views of each, as
    `augment` writes them, encoded with the LeRobot writer's `codec` options (`vcodec`, `crf`, `pix_fmt`;
    default its own). A complete dataset is kept; a killed one resumes (augment's manifest)."""
    from ..config import load_config
    from ..pipeline.launch import augment_job, launch_options, run_job
    from ..pipeline.outputs import is_our_output

    if is_our_output(out):
        return out
    cfg = load_config("augment", augment_overrides(raw, out, generator, count, max_translation_m, seed, device,
                                                   progress, codec or {}))
    report = run_job(augment_job(cfg), cfg.output, **launch_options(cfg))
    if report.skipped:
        raise RuntimeError(f"{generator} views: {report.skip_lines()}")
    return out


def episode_records(root: Path) -> list[dict]:
    """The writer's record of every episode of the LeRobot dataset at `root` (episode_index, source_episode,
    task_id, and `synthetic` for an augmented one)."""
    return json.loads((Path(root) / SIDECAR).read_text())["episodes"]


def view_episodes(views: Path, demos: Path) -> dict[int, dict[int, int]]:
    """View j -> {episode index in `views` -> the index of its source demonstration in `demos`}."""
    demo_index = {(r["task_id"], r["source_episode"]): r["episode_index"] for r in episode_records(demos)}
    out: dict[int, dict[int, int]] = {}
    for r in episode_records(views):
        syn = r.get("synthetic")
        if not syn or not syn["target"].startswith("head_shift_"):
            continue
        source = (syn["source_task"], syn["source_episode"])
        if source not in demo_index:
            raise ValueError(f"{views}: episode {r['episode_index']} comes from {source}, not a demonstration of {demos}")
        out.setdefault(int(syn["target"].rsplit("_", 1)[1]), {})[r["episode_index"]] = demo_index[source]
    return out


def load_views(views: Path, demos: Path, count: int) -> list[Frames]:
    """The first `count` views of the dataset `write_views` wrote: per view a `Frames` of head images
    (`(N, 3, H, W) uint8`) whose episode numbers are the demonstrations' indices in `demos` (as `view_rows`
    matches them), only the synthetic episodes decoded."""
    mapping = view_episodes(views, demos)
    if len(mapping) < count:
        raise ValueError(f"{views} holds {len(mapping)} head views per demonstration, the run asks for {count}; "
                         "remove it to write them again")
    wanted = [mapping[j] for j in range(count)]
    frames = load_lerobot(views, ["head"], episodes={e for m in wanted for e in m})
    out = []
    for m in wanted:
        rows = torch.from_numpy(np.isin(frames.episode, list(m)))
        episode = np.array([m[int(e)] for e in frames.episode[rows.numpy()]], dtype=np.int64)
        out.append(Frames({"head": frames.images["head"][rows]}, frames.state[rows], frames.action[rows], episode,
                          frames.frame[rows.numpy()]))
    return out
