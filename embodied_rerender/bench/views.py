"""Novel head-camera viewpoints per demonstration, written as extra LeRobot episodes.

For each view index j, every demonstration is read from the AgiBot-layout input, its recorded head
camera (RGB-D + poses) seeds the memory bank, a rigidly offset head trajectory (`shifts.sampled_offset`,
drawn per episode and view) is synthesized by the chosen generator, and the episode is written with its
`head` camera replaced by that synthesized view (same state, actions, task, wrist videos; provenance marks
the camera as synthetic) through `run_episodes` and the LeRobot writer: one dataset per view index, as
`augment output_mode=episodes replace_camera=head` would write them.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np

from ..episode import ArrayFrames, CameraStream, CameraTrajectory, Episode
from .shifts import rotation_deg, sampled_offset


class HeadShift:
    """The per-episode transform for `run_episodes`: replaces `head` by view `view` of the episode."""

    def __init__(self, synthesizer, view: int, max_translation_m: float, seed: int = 0):
        self.synthesizer, self.view, self.max_translation_m, self.seed = synthesizer, view, max_translation_m, seed

    def offset(self, episode_id: str) -> np.ndarray:
        """`(4, 4)` this view's offset for the episode: one draw from (seed, episode, view)."""
        rng = np.random.default_rng([self.seed, zlib.crc32(str(episode_id).encode()), self.view])
        return sampled_offset(self.max_translation_m, rng)

    def __call__(self, episode: Episode) -> tuple[Episode, dict]:
        from ..generate import Target, run_autoregressive, seed_bank
        from ..memory import MemoryBank

        head = episode.cameras["head"]
        offset = self.offset(episode.episode_id)
        traj = head.trajectory
        moved = CameraTrajectory(traj.extrinsics @ offset, traj.intrinsics, traj.height, traj.width)
        bank = MemoryBank()
        seed_bank(episode, ["head"], bank)
        (step,) = run_autoregressive(bank, [Target("head_shift", moved, ground_truth=None)], self.synthesizer,
                                     k=1, seed=self.seed + self.view, write_back=False)
        info = {"offset": offset.tolist(), "translation_m": round(float(np.linalg.norm(offset[:3, 3])), 4),
                "rotation_deg": round(rotation_deg(offset), 3), "view": self.view}
        provenance = {"generator": self.synthesizer.name, "config": self.synthesizer.config(), "seed": self.seed,
                      "sources": step.context, "replaces": "head", "synthetic_episode": True, **info}
        episode.cameras["head"] = CameraStream("head", ArrayFrames(step.synthesis.frames), moved,
                                               ArrayFrames(step.synthesis.depth), provenance)
        episode.metadata = {**episode.metadata, "synthetic": {"replaced_camera": "head", **info}}
        return episode, {"head_shift": {**info, "coverage": round(float(step.synthesis.covered.mean()), 4)}}


def write_views(raw: Path, out: Path, generator: str, count: int, max_translation_m: float, seed: int = 0,
                device: str = "cpu", progress: bool = False, codec: dict | None = None) -> list[Path]:
    """`count` LeRobot datasets `out/view_<j>` of the demonstrations in `raw` with a synthesized head camera,
    encoded with the LeRobot writer's `codec` options (`vcodec`, `crf`, `pix_fmt`; default its own).
    A dataset already written is kept."""
    from ..generate import get_synthesizer
    from ..io import get_reader, get_writer
    from ..pipeline.run import run_episodes

    synthesizer = get_synthesizer(generator, device=device)
    paths = []
    for view in range(count):
        path = out / f"view_{view}"
        if not (path / "meta" / "info.json").is_file():
            writer = get_writer("lerobot", repo_id=f"embodied-rerender/{out.name}_view_{view}", **(codec or {}))
            report = run_episodes(get_reader("agibot", raw), writer, path,
                                  HeadShift(synthesizer, view, max_translation_m, seed), overwrite=True,
                                  progress=progress, input_name=str(raw))
            if report.skipped:
                raise RuntimeError(f"{generator} view {view}: {report.skip_lines()}")
        paths.append(path)
    return paths
