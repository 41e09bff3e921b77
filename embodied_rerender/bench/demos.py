"""Demonstrations as a user's data arrives: the scripted expert's episodes written in the AgiBot World raw
layout by the sample writer, then `convert`ed to LeRobot v3 by the project's own pipeline."""

from __future__ import annotations

from pathlib import Path


def video_settings(name: str):
    """`demo_video` ("near_lossless" | "agibot", AgiBot World's AV1 4:2:0) -> `sample.VideoSettings`."""
    from ..sample import NEAR_LOSSLESS, VideoSettings

    presets = {"near_lossless": NEAR_LOSSLESS, "agibot": VideoSettings()}
    if name not in presets:
        raise ValueError(f"demo_video must be one of {', '.join(presets)}, got {name!r}")
    return presets[name]


def lerobot_codec(name: str) -> dict:
    """The LeRobot writer's options that encode like `demo_video` does (for the synthesized head views)."""
    v = video_settings(name)
    return {"vcodec": v.codec, "crf": v.crf, "pix_fmt": v.pix_fmt}


def write_demos(out: Path, episodes: int, frames: int, seed: int, width: int, height: int,
                progress: bool = False, scene: str = "task", video: str = "agibot",
                workers: int = 1, looks: int | None = None) -> tuple[Path, Path]:
    """`out/agibot` (AgiBot layout of the `scene` variant, head depth, ground truth; colour videos encoded as
    `video` names) and `out/lerobot` (its LeRobot v3 conversion, the videos copied as they are). Both are kept
    when already complete (the sample writer resumes; convert is skipped if its output exists). `looks` K: every
    demonstration in one of K looks, those of its scenes 0..K-1 (`SampleEpisode`)."""
    from ..pipeline.launch import Job, run_job
    from ..sample import write_sample_dataset

    raw, lerobot = out / "agibot", out / "lerobot"
    write_sample_dataset(raw, episodes=episodes, frames=frames, seed=seed, width=width, height=height,
                         progress=progress, scene=scene, video=video_settings(video), workers=workers,
                         looks=looks)
    if not (lerobot / "meta" / "info.json").is_file():
        report = run_job(Job(input=str(raw), writer="lerobot"), lerobot, overwrite=True, progress=progress)
        if report.skipped:
            raise RuntimeError(f"convert skipped demonstrations: {report.skip_lines()}")
    return raw, lerobot
