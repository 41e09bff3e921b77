"""Demonstrations as a user's data arrives: the scripted expert's episodes written in the AgiBot World raw
layout by the sample writer, then `convert`ed to LeRobot v3 by the project's own pipeline."""

from __future__ import annotations

from pathlib import Path


def write_demos(out: Path, episodes: int, frames: int, seed: int, width: int, height: int,
                progress: bool = False, scene: str = "task") -> tuple[Path, Path]:
    """`out/agibot` (AgiBot layout of the `scene` variant, head depth, ground truth) and `out/lerobot` (its LeRobot v3 conversion).
    Both are kept when already complete (the sample writer resumes; convert is skipped if its output exists)."""
    from ..pipeline.launch import Job, run_job
    from ..sample import write_sample_dataset

    raw, lerobot = out / "agibot", out / "lerobot"
    write_sample_dataset(raw, episodes=episodes, frames=frames, seed=seed, width=width, height=height,
                         progress=progress, scene=scene)
    if not (lerobot / "meta" / "info.json").is_file():
        report = run_job(Job(input=str(raw), writer="lerobot"), lerobot, overwrite=True, progress=progress)
        if report.skipped:
            raise RuntimeError(f"convert skipped demonstrations: {report.skip_lines()}")
    return raw, lerobot
