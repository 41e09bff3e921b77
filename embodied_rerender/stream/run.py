"""What `embodied-rerender stream` does: open the input, run the engine, write/show frames, report fps and latency."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from ..models.causal import load_student
from ..models.checkpoint import shipped_checkpoint
from .engine import StreamEngine, trained_schedule
from .sources import episode_items, load_episode, video_items

VIDEO_SUFFIXES = (".mp4", ".mkv", ".avi", ".mov", ".webm")


def default_checkpoint() -> Path | None:
    path = shipped_checkpoint("stream")
    return path if path.with_suffix(".json").exists() else None


def open_items(opts: dict):
    """(items iterator, output size or None, fps, description) of the configured input."""
    path = Path(opts["input"])
    if path.suffix.lower() in VIDEO_SUFFIXES:
        if not opts.get("poses"):
            raise ValueError("a video input needs poses=FILE.npz (source_K, source_c2w, target_K, target_c2w[, depth])")
        size = (opts["height"], opts["width"]) if opts.get("height") and opts.get("width") else None
        return video_items(path, opts["poses"], opts.get("frames")), size, opts.get("fps") or 30.0, f"video {path.name}"
    from ..pipeline.targets import build_targets

    episode = load_episode(path, opts.get("episode", 0))
    targets = build_targets(episode, [opts.get("target", "head_to_gripper")])
    if not targets:
        raise ValueError(f"target builder {opts.get('target')!r} gives no target for episode {episode.episode_id}")
    target = targets[opts.get("target_index", 0)]
    traj = target.trajectory
    items = episode_items(episode, traj, opts.get("source", "head"), opts.get("frames"))
    return items, (traj.height, traj.width), episode.fps, f"episode {episode.episode_id} {opts.get('source', 'head')} -> {target.name}"


def run_stream(opts: dict) -> dict:
    """Stream the input through the student; returns the stats summary (fps, first / steady latency, ...)."""
    checkpoint = opts.get("checkpoint") or default_checkpoint()
    if checkpoint is None:
        raise FileNotFoundError("stream: no student checkpoint; pass checkpoint=PATH (make one with "
                                "`python -m embodied_rerender.train.distill`)")
    device = opts.get("device") or "auto"
    device = ("cuda" if torch.cuda.is_available() else "cpu") if device == "auto" else device
    student, config = load_student(checkpoint, device)
    trained_steps, shift = trained_schedule(config)
    steps = opts.get("steps") or trained_steps
    items, size, fps, what = open_items(opts)
    engine = StreamEngine(student, steps=steps, window=opts.get("window") or 1, size=size, shift=shift, device=device,
                          seed=opts.get("seed", 0))
    frames, show = [], bool(opts.get("show"))
    for item in items:
        for out in engine.push(item):
            frames.append(out.frame)
            if show:
                _show(out.frame)
    for out in engine.flush():
        frames.append(out.frame)
        if show:
            _show(out.frame)
    summary = {"input": what, "checkpoint": str(checkpoint), "device": device, "steps": steps,
               "window": engine.scheduler.window, "cache_frames": len(engine.cache),
               "cuda_graph_replays": engine.run_pass.replays, **engine.stats.summary()}
    if opts.get("output"):
        from ..video import write_video

        Path(opts["output"]).parent.mkdir(parents=True, exist_ok=True)
        summary["encoder"] = write_video(opts["output"], frames, fps, codec=opts.get("codec", "h264"))
        summary["output"] = str(opts["output"])
    if opts.get("json"):
        Path(opts["json"]).write_text(json.dumps(summary, indent=1))
    return summary


def _show(frame) -> None:
    import cv2

    cv2.imshow("embodied-rerender stream", frame[..., ::-1])
    cv2.waitKey(1)


__all__ = ["run_stream", "open_items", "default_checkpoint"]
