"""LoopAug samples: loop-closed target clips built from synchronized multi-view episodes.

A loop clip of `clip` frames follows a palindrome in both camera pose and scene time: frame k and frame
clip-1-k share a key u = min(k, clip-1-k), the scene time s + u * time_step and the pose
blend(head(t), wrist(t), u / u_max) (head view -> gripper view -> head view, the cameras as they were at t).
Each distinct key is rendered once and gathered, so the revisit frames are bit-identical by construction:
a model trained on these sees that a camera returning to a pose shows again what it showed.

Frame content comes from ground truth only: at the turn (u = u_max) the pose is the recorded wrist pose and
the frame is the recorded wrist frame; elsewhere it is a forward-splat of the recorded head and wrist RGB-D at
that time (the sample's ground-truth depth of every camera) into the blended pose, with the holes masked out of
the loss (`mask` 0). The hybrid prior is the head-only warp, as for ordinary pairs.

Shards (`loops_<episode>.safetensors[.gz]`, L samples of U = ceil(clip / 2) distinct frames):

    frames  (L, U, h, w, 3) uint8    target frames per key
    mask    (L, U, h, w) uint8       1 where the target is known (loss weight), 0 in holes
    prior   (L, U, h, w, 3) uint8    head -> loop warp render (hybrid input)
    covered (L, U, h, w) uint8       share of each pixel the head warp covered, 0..255
    c2w     (L, U, 4, 4) float32     pose per key; K (L, 3, 3) at (h, w)
    times   (L, U) int64             scene time per key (the contexts are the episode's clips at these times)
    wrist   (L,) int64               index into meta `wrists` of the loop's gripper camera

meta: `episode` (matches the training shard's), `wrists`, `keys` (clip,), `clip`, `height`, `width`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .data import WRISTS, resize_frames, write_shard
from .pack import ShardShape, prior_tensors


@dataclass
class LoopPackConfig(ShardShape):
    """`ShardShape` (as the training shards), and per_wrist: loop samples per wrist camera per episode, at evenly
    spaced start times; time_step: scene frames between consecutive keys (0 freezes time)."""

    per_wrist: int = 4
    time_step: int = 1


def loop_keys(clip: int) -> torch.Tensor:
    """`(clip,)` long key of each frame: 0, 1, .., u_max, .., 1, 0."""
    from ..geometry.loops import palindrome_index

    return palindrome_index(clip)


def _gt_depth(root: Path, task: str, episode: str, camera: str, times: np.ndarray) -> np.ndarray:
    """`(n, H, W)` float32 ground-truth depth of `camera` at `times`; a missing file is an EpisodeError."""
    from ..errors import EpisodeError
    from ..imageio import read_depth_png

    out = []
    for t in times:
        path = root / "ground_truth" / task / episode / "depth" / f"{camera}_depth_{int(t):06d}.png"
        if not path.is_file():
            raise EpisodeError(f"LoopAug needs every camera's ground-truth depth; {camera} at frame {t} is missing",
                               episode=f"{task}_{episode}", path=path)
        out.append(read_depth_png(path))
    return np.stack(out)


def loop_sample(episode, root: Path, wrist: str, start: int, cfg: LoopPackConfig) -> dict[str, np.ndarray]:
    """One loop sample (distinct keys only, at the training size): frames, mask, prior, covered, c2w, K, times."""
    from ..episode import CameraTrajectory
    from ..geometry import blend_poses, resize_intrinsics
    from ..generate.warp import WarpSynthesizer
    from ..memory import View

    keys = loop_keys(cfg.clip)
    u = torch.arange(int(keys.max()) + 1)
    times = (start + u * cfg.time_step).numpy()
    head, arm = episode.cameras["head"], episode.cameras[wrist]
    hc = torch.as_tensor(head.trajectory.extrinsics[times])
    wc = torch.as_tensor(arm.trajectory.extrinsics[times])
    alpha = u.double() / u.max()
    poses = blend_poses(hc, wc, alpha).numpy()  # alpha 1 returns the wrist pose exactly
    H, W = arm.trajectory.height, arm.trajectory.width
    K = arm.trajectory.intrinsics_per_frame()[0]
    target = CameraTrajectory(poses, K, H, W)
    task, ep = str(episode.task_id), str(episode.episode_id)
    views = {}
    for name, cam in (("head", head), (wrist, arm)):
        views[name] = View(name, cam[:][times], _gt_depth(root, task, ep, name, times), cam.trajectory.subset(times))
    warp = WarpSynthesizer(device=cfg.device)
    truth = warp.synthesize([views["head"], views[wrist]], target, 0)  # ground-truth RGB-D of both, splatted
    frames, known = truth.frames.copy(), truth.covered.copy()
    turn = alpha.numpy() == 1.0
    frames[turn], known[turn] = views[wrist].frames[turn], True  # the recorded frame at the recorded pose
    size = (cfg.height, cfg.width)
    prior, covered = prior_tensors(warp.synthesize([views["head"]], target, 0), size)
    return {"frames": resize_frames(frames, size),
            "mask": (resize_frames(known.astype(np.float32), size) > 0.999).astype(np.uint8),
            "prior": prior, "covered": covered,
            "c2w": poses.astype(np.float32),
            "K": resize_intrinsics(torch.as_tensor(K, dtype=torch.float32), (H, W), size).numpy(),
            "times": times.astype(np.int64)}


def pack_loops(input: str | Path, output: str | Path, config: LoopPackConfig | None = None, progress: bool = True,
               limit: int | None = None) -> list[Path]:
    """Loop samples of every episode under `input` (an AgiBot-layout sample tree with `ground_truth/`) into
    `output/loops_<task>_<episode>.safetensors[.gz]`, to train beside `pack_episodes`' shards of the same tree."""
    from tqdm import tqdm

    from ..io import get_reader

    cfg = config or LoopPackConfig()
    root, out = Path(input), Path(output)
    out.mkdir(parents=True, exist_ok=True)
    reader = get_reader("agibot", str(root))
    span = int(loop_keys(cfg.clip).max()) * cfg.time_step
    written = []
    for ref in tqdm(list(reader.refs())[:limit], desc="pack loops", disable=not progress):
        ep = reader.read(ref)
        wrists = [w for w in WRISTS if w in ep.cameras and ep.cameras[w].trajectory is not None]
        if "head" not in ep.cameras or not wrists or ep.num_frames <= span:
            continue
        starts = np.linspace(0, ep.num_frames - 1 - span, cfg.per_wrist).round().astype(int)
        samples = [(i, loop_sample(ep, root, w, int(s), cfg)) for i, w in enumerate(wrists) for s in starts]
        tensors = {k: np.stack([s[k] for _, s in samples]) for k in samples[0][1]}
        tensors["wrist"] = np.array([i for i, _ in samples], dtype=np.int64)
        meta = {"episode": f"{ep.task_id}_{ep.episode_id}", "wrists": wrists, "keys": loop_keys(cfg.clip).tolist(),
                "clip": cfg.clip, "height": cfg.height, "width": cfg.width, "time_step": cfg.time_step}
        written.append(write_shard(out / f"loops_{ep.task_id}_{ep.episode_id}", tensors, meta, cfg.compress))
    (out / "pack_loops.json").write_text(json.dumps({"config": cfg.__dict__, "episodes": [p.name for p in written]}, indent=1))
    return written


def expand(unique: torch.Tensor, keys) -> torch.Tensor:
    """Per-key tensor `(U, ...)` -> per-frame `(clip, ...)` (the palindrome)."""
    return unique[torch.as_tensor(keys, device=unique.device)]
