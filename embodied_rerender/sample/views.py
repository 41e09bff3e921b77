"""Ground truth for camera trajectories no recorded camera took, rendered from a written sample dataset.

A sample episode is fully determined by the dataset's seed and the episode's index, so any pose at any frame
can be rendered after the fact: this is what scores virtual-wrist and orbit targets, which have no recorded
video to compare with.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .embodiment import DEFAULT_EMBODIMENT
from .episode import SampleEpisode
from .write import EPISODE_ID_BASE, MANIFEST


def sample_config(root: str | Path) -> dict:
    """`{"seed", "frames", "width", "height"}` (plus "randomize", "embodiment", "scene" where not the default) of a
    dataset written by `write_sample_dataset`."""
    path = Path(root) / MANIFEST
    if not path.is_file():
        raise FileNotFoundError(f"{root} is not a sample dataset (no {MANIFEST}); ground truth can only be "
                                "rendered for episodes of the built-in sample scene")
    return json.loads(path.read_text())["config"]


def render_trajectories(root: str | Path, episode_id: int, trajectories: dict[str, tuple[np.ndarray, np.ndarray]]
                        ) -> dict[str, np.ndarray]:
    """Render each named trajectory of sample episode `episode_id` at every frame.

    Args:
        trajectories: name -> (c2w `(T, 4, 4)` OpenCV camera-to-world, K `(3, 3)`), T = the episode's frames.

    Returns:
        name -> `(T, H, W, 3) uint8` RGB at the dataset's resolution.
    """
    cfg = sample_config(root)
    index = int(episode_id) - EPISODE_ID_BASE
    out = {}
    with SampleEpisode(cfg["seed"], index, cfg["frames"], cfg["width"], cfg["height"], cfg.get("randomize", False),
                       cfg.get("embodiment", DEFAULT_EMBODIMENT), cfg.get("scene", "full"), cfg.get("look_seed"),
                       cfg.get("looks")) as ep:
        for name, (c2w, K) in trajectories.items():
            if len(c2w) != ep.frames:
                raise ValueError(f"trajectory {name} has {len(c2w)} poses, episode {episode_id} has {ep.frames} frames")
            out[name] = np.stack([ep.render_pose(t, c2w[t], K)["rgb"] for t in range(ep.frames)])
    return out
