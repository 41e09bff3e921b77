"""`augment`: read episodes, synthesize target camera trajectories through the memory loop, write them
with any writer, with a preview video per episode and PSNR/SSIM in report.json where ground truth exists.

Two output modes. `cameras` (the default): each episode is written once, with every synthesized view added
as a camera of its own. `episodes` (viewpoint augmentation for policy training): each episode is written
as recorded and once more per synthesized view, as episode `<id>__<target>`, whose recorded camera
`replace_camera` is that view (frames, depth and trajectory) with the same state, actions and task;
`metadata["synthetic"]` of that episode says what it is (generator, target, source episode, replaced camera).
"""

from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..episode import ArrayFrames, CameraStream, Episode
from ..errors import EpisodeError
from ..generate import Step, Synthesizer, run_autoregressive, seed_bank
from ..generate.self_parts import prepare_parts
from ..memory import MemoryBank
from ..metrics import score_views
from .outputs import confined
from .run import RunReport, extras_dir, run_episodes
from .targets import build_targets


@dataclass
class AugmentConfig:
    """What `augment` synthesizes and how; see configs/augment.yaml for each key."""

    targets: list[str] = field(default_factory=lambda: ["head_to_gripper"])
    sources: list[str] = field(default_factory=lambda: ["head"])
    k: int = 4
    retrieval: str = "covisibility"
    seed: int = 0
    near: float = 0.05
    far: float = 2.5
    samples: int = 256
    preview: bool = True
    target_options: dict = field(default_factory=dict)
    output_mode: str = "cameras"
    replace_camera: str = "head"
    merge: bool = False
    merge_threshold: float = 0.0

    def __post_init__(self):
        if self.output_mode not in OUTPUT_MODES:
            raise ValueError(f"unknown output_mode={self.output_mode!r}; choose from {', '.join(OUTPUT_MODES)}")


OUTPUT_MODES = ("cameras", "episodes")


class Augmenter:
    """The per-episode transform handed to `run_episodes`: returns the episode with its synthesized
    cameras added (output_mode=cameras), or the list of episodes to write, the recorded one first and one per
    synthesized view as `(label suffix, Episode)` (output_mode=episodes), and the report fields (targets,
    context used, coverage, PSNR/SSIM)."""

    def __init__(self, synthesizer: Synthesizer, config: AugmentConfig, preview_dir: Path | None = None):
        self.synthesizer, self.config, self.preview_dir = synthesizer, config, preview_dir

    def __call__(self, episode: Episode) -> tuple[Episode | list[tuple[str, Episode]], dict]:
        cfg = self.config
        missing = [s for s in cfg.sources if s not in episode.cameras]
        if missing:
            raise EpisodeError(f"source camera(s) {missing} not in the episode", episode=episode.episode_id)
        if cfg.output_mode == "episodes" and cfg.replace_camera not in episode.cameras:
            raise EpisodeError(f"replace_camera={cfg.replace_camera} is not a camera of the episode "
                               f"({', '.join(sorted(episode.cameras))})", episode=episode.episode_id)
        bank = MemoryBank(cfg.near, cfg.far, cfg.samples)
        seed_bank(episode, cfg.sources, bank)
        targets = build_targets(episode, cfg.targets, cfg.target_options, cfg.seed)
        if not targets:
            raise EpisodeError(f"no target trajectory can be built for {cfg.targets} (cameras without poses?)",
                               episode=episode.episode_id)
        # Every recorded camera is decoded once: sources are in the bank, ground truths decoded here, and the
        # self-parts template and the writer read both from these arrays.
        recorded = {name: bank[name].frames for name in cfg.sources}
        for target in targets:
            gt = target.ground_truth
            if gt is not None and gt not in recorded:
                recorded[gt] = episode.cameras[gt][:]
        for name, frames in recorded.items():
            episode.cameras[name].frames.keep(frames)
        prepare_parts(self.synthesizer, episode, targets)  # warp.self_parts: the robot's own parts, when on
        steps = run_autoregressive(bank, targets, self.synthesizer, cfg.k, cfg.retrieval, cfg.seed,
                                   merge=cfg.merge, merge_threshold=cfg.merge_threshold)
        with ThreadPoolExecutor(1) as pool:  # the preview is encoded (GIL released) while the views are scored
            preview = None
            if self.preview_dir is not None and cfg.preview:
                path = confined(self.preview_dir, self.preview_dir / f"{episode.task_id}_{episode.episode_id}.mp4")
                preview = pool.submit(write_preview, path, episode.fps, steps, recorded, cfg.sources[0])
            report = {step.target.name: self._score(step, recorded) for step in steps}
            if preview is not None:
                preview.result()  # its errors are this episode's
        if cfg.output_mode == "episodes":
            return [("", episode)] + [(f"__{step.target.name}", self._replaced(episode, step)) for step in steps], \
                {"synthesized": report}
        for step in steps:
            episode.add_camera(self._stream(step))
        return episode, {"synthesized": report}

    def _replaced(self, episode: Episode, step: Step) -> Episode:
        """A copy of `episode` named `<id>__<target>` whose camera `replace_camera` is the synthesized view.
        The stream keeps the recorded camera's name and carries no camera provenance (a dataset's camera is one
        column for all its episodes); the episode's `metadata["synthetic"]` marks it instead."""
        name = self.config.replace_camera
        recorded = episode.cameras[name]
        synth = self._stream(step)
        if (synth.height, synth.width) != (recorded.height, recorded.width):
            raise EpisodeError(f"target {step.target.name} is {synth.width}x{synth.height}, camera {name} is "
                               f"{recorded.width}x{recorded.height}: output_mode=episodes replaces a camera by a view "
                               "of its size (head_shift keeps the size)", episode=episode.episode_id)
        stream = CameraStream(name, synth.frames, synth.trajectory, synth.depth, {}, None)
        synthetic = {"generator": self.synthesizer.name, "target": step.target.name, "replaces": name,
                     "source_episode": episode.episode_id, "source_task": episode.task_id,
                     "provenance": synth.provenance}
        cameras = {k: (stream if k == name else v) for k, v in episode.cameras.items()}
        return dataclasses.replace(episode, episode_id=f"{episode.episode_id}__{step.target.name}", cameras=cameras,
                                   metadata={**episode.metadata, "synthetic": synthetic})

    def _stream(self, step: Step) -> CameraStream:
        provenance = {"generator": self.synthesizer.name, "config": self.synthesizer.config(), "seed": self.config.seed,
                      "sources": step.context, "retrieval": self.config.retrieval, "k": self.config.k,
                      "replaces": step.target.ground_truth, **step.target.info}
        return CameraStream(step.target.name, ArrayFrames(step.synthesis.frames), step.target.trajectory,
                            ArrayFrames(step.synthesis.depth), provenance)

    def _score(self, step: Step, recorded: dict[str, np.ndarray]) -> dict:
        out = {"context": step.context, "coverage": round(float(step.synthesis.covered.mean()), 4)}
        if step.target.ground_truth is not None:
            out.update(score_views(step.synthesis.frames, recorded[step.target.ground_truth], step.synthesis.covered,
                                   device=getattr(self.synthesizer, "device", None)))
        return out


def write_preview(path: Path, fps: float, steps: list[Step], recorded: dict[str, np.ndarray], source: str,
                  height: int = 240) -> None:
    """An mp4 with one row per target: source | synthesized | ground truth (black when none).
    recorded: decoded `(T, H, W, 3) uint8` frames of the source and ground-truth cameras."""
    from ..video import write_video

    path.parent.mkdir(parents=True, exist_ok=True)
    src = recorded[source]

    def fit(frames: np.ndarray) -> np.ndarray:  # nearest-neighbour resize to `height` rows, even width
        t, h, w, _ = frames.shape
        new_w = int(round(w * height / h / 2)) * 2
        rows = np.arange(height) * h // height
        cols = np.arange(new_w) * w // new_w
        return frames[:, rows][:, :, cols]

    rows = []
    for step in steps:
        gt = recorded[step.target.ground_truth] if step.target.ground_truth else np.zeros_like(step.synthesis.frames)
        rows.append([fit(src), fit(step.synthesis.frames), fit(gt)])
    widths = [sum(p.shape[2] for p in row) for row in rows]
    canvas = np.zeros((len(src), height * len(rows), max(widths), 3), np.uint8)  # narrower rows: black at the right
    for r, row in enumerate(rows):
        x = 0
        for part in row:
            canvas[:, r * height:(r + 1) * height, x:x + part.shape[2]] = part
            x += part.shape[2]
    write_video(path, canvas, fps=fps, codec="h264", crf=23)


def augment(reader, writer, output: str | Path, synthesizer: Synthesizer, config: AugmentConfig,
            overwrite: bool = False, progress: bool = True, input_name: str = "") -> RunReport:
    """Run the augmentation over every episode of `reader` into `output` (atomic, resumable)."""
    augmenter = Augmenter(synthesizer, config, extras_dir(Path(output)) / "previews")
    return run_episodes(reader, writer, output, transform=augmenter, overwrite=overwrite, progress=progress,
                        input_name=input_name)
