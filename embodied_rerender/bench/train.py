"""Training the BC policy on LeRobot datasets written by this project, read through lerobot's `LeRobotDataset`.

Every arm uses the same policy, seed, step budget and batch size; arms differ only in what a sample may see:
`crop_colour` (random shift crop + brightness / contrast on every camera) and `views` (the demonstrations' head
camera synthesized from other viewpoints, one `Frames` per view keyed by the demonstrations' (episode, frame):
`views.load_views`; with probability `view_rate` a sample's head image is replaced by the same frame from one of
them, chosen uniformly).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .policy import GRIPPER, BCPolicy, PolicyConfig


@dataclass
class Frames:
    """A dataset in memory. images camera -> `(N, 3, H, W) uint8`; state `(N, 20)`, action `(N, 22)` float32;
    episode, frame `(N,)` int64; `key` maps (episode, frame) -> row."""

    images: dict[str, torch.Tensor]
    state: torch.Tensor
    action: torch.Tensor
    episode: np.ndarray
    frame: np.ndarray

    def key(self) -> dict[tuple[int, int], int]:
        return {(int(e), int(f)): i for i, (e, f) in enumerate(zip(self.episode, self.frame))}


def load_lerobot(root: Path, cameras: list[str], episodes: set[int] | None = None) -> Frames:
    """Every frame of the LeRobot v3 dataset at `root` (of the episode indices in `episodes`, when given), read
    through `LeRobotDataset`: the tabular columns from its `hf_dataset`, each episode's video frames decoded in
    one call of its video query (all of the episode's timestamps at once: one seek and a forward decode, not one
    seek per frame as `ds[i]` would do)."""
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    ds = LeRobotDataset(f"embodied-rerender/{Path(root).name}", root=root, video_backend="pyav")
    table = ds.hf_dataset.with_format("numpy")
    episode = np.asarray(table["episode_index"]).astype(np.int64)
    frame = np.asarray(table["frame_index"]).astype(np.int64)
    timestamp = np.asarray(table["timestamp"], dtype=np.float64)
    images = {cam: [] for cam in cameras}
    order = []
    for ep in np.unique(episode):
        if episodes is not None and int(ep) not in episodes:
            continue
        rows = np.nonzero(episode == ep)[0]
        rows = rows[np.argsort(frame[rows])]
        order.append(rows)
        decoded = ds._query_videos({f"observation.images.{cam}": timestamp[rows].tolist() for cam in cameras}, int(ep))
        for cam in cameras:
            x = decoded[f"observation.images.{cam}"]
            if x.shape[0] != len(rows):
                raise ValueError(f"{root}: episode {ep} camera {cam}: {x.shape[0]} video frames for {len(rows)} rows")
            images[cam].append((x * 255).round().to(torch.uint8))
    rows = np.concatenate(order)
    state = torch.from_numpy(np.asarray(table["observation.state"], dtype=np.float32)[rows])
    action = torch.from_numpy(np.asarray(table["action"], dtype=np.float32)[rows])
    return Frames({c: torch.cat(v) for c, v in images.items()}, state, action, episode[rows], frame[rows])


def action_chunks(frames: Frames, chunk: int) -> torch.Tensor:
    """`(N, chunk, 22)`: the actions of frames t .. t + chunk - 1 of the same episode, the last one repeated."""
    key = frames.key()
    rows = np.zeros((len(frames.episode), chunk), dtype=np.int64)
    for i, (e, f) in enumerate(zip(frames.episode, frames.frame)):
        for j in range(chunk):
            rows[i, j] = key.get((int(e), int(f) + j), rows[i, j - 1] if j else i)
    return frames.action[torch.from_numpy(rows)]


def crop_colour(x: torch.Tensor, generator: torch.Generator, pad: int = 4, strength: float = 0.2) -> torch.Tensor:
    """Random shift crop (replicate pad by `pad` px, crop back) and per-image brightness / contrast jitter.
    x `(B, 3, H, W)` float in [0, 1] on any device; `generator` is a CPU one (draws do not depend on the device)."""
    b, _, h, w = x.shape
    dev = x.device
    padded = torch.nn.functional.pad(x, (pad,) * 4, mode="replicate")
    dy = torch.randint(0, 2 * pad + 1, (b,), generator=generator).to(dev)
    dx = torch.randint(0, 2 * pad + 1, (b,), generator=generator).to(dev)
    rows = (dy[:, None] + torch.arange(h, device=dev))[:, None, :, None].expand(b, 3, h, w + 2 * pad)
    x = padded.gather(2, rows)
    cols = (dx[:, None] + torch.arange(w, device=dev))[:, None, None, :].expand(b, 3, h, w)
    x = x.gather(3, cols)
    bright = 1 + strength * (2 * torch.rand(b, 1, 1, 1, generator=generator).to(dev) - 1)
    contrast = 1 + strength * (2 * torch.rand(b, 1, 1, 1, generator=generator).to(dev) - 1)
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return ((x - mean) * contrast + mean * bright).clamp(0, 1)


@dataclass
class TrainConfig:
    steps: int = 2000
    batch: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-4
    seed: int = 0
    crop_colour: bool = False
    view_rate: float = 0.5  # share of samples whose head image is a synthesized view (when views are given)
    # std (rad) of Gaussian noise on the arm joints of the input state (DART-style): the expert's targets are
    # absolute and do not depend on the state, so a perturbed state keeps its label and the policy learns to
    # steer back from the drift it meets closed-loop instead of copying the state
    state_noise: float = 0.0
    device: str = "cpu"  # where the data and the policy live while training (every draw stays on the CPU generator)


def chunk_loss(policy: BCPolicy, pred: torch.Tensor, target: torch.Tensor, raw: torch.Tensor) -> torch.Tensor:
    """MSE on normalized actions; with `gripper_binary`, BCE of the gripper logits against closed = raw > 0.5.
    pred, target (normalized), raw (not) `(B, chunk, 22)`."""
    if not policy.config.gripper_binary:
        return torch.nn.functional.mse_loss(pred, target)
    keep = torch.ones(pred.shape[-1], dtype=torch.bool)
    keep[GRIPPER] = False
    mse = torch.nn.functional.mse_loss(pred[..., keep], target[..., keep])
    bce = torch.nn.functional.binary_cross_entropy_with_logits(pred[..., GRIPPER], (raw[..., GRIPPER] > 0.5).float())
    return mse + 0.1 * bce


def view_rows(frames: Frames, views: list[Frames]) -> torch.Tensor:
    """`(V, N)` row of each original frame in each view dataset (-1 where a view lacks that frame)."""
    out = torch.full((len(views), len(frames.episode)), -1, dtype=torch.long)
    for v, view in enumerate(views):
        key = view.key()
        for i, (e, f) in enumerate(zip(frames.episode, frames.frame)):
            out[v, i] = key.get((int(e), int(f)), -1)
    return out


def train_policy(frames: Frames, views: list[Frames], policy_config: PolicyConfig, config: TrainConfig,
                 out: Path, progress: bool = False) -> dict:
    """Train; save `out/policy.safetensors` and the training summary (losses, time, view share) as `out/train.json`,
    and return the summary."""
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    dev = torch.device(config.device)
    policy = BCPolicy(policy_config)
    raw = action_chunks(frames, policy_config.chunk)
    policy.set_normalization(frames.state, policy.relative(raw, frames.state)[:, 0])
    policy.to(dev)
    rows = view_rows(frames, views).to(dev) if views else None
    images_all = {cam: frames.images[cam].to(dev) for cam in policy_config.cameras}
    view_heads = [view.images["head"].to(dev) for view in views]
    state_all, raw, phase_all = frames.state.to(dev), raw.to(dev), torch.from_numpy(frames.frame).to(dev)
    optim = torch.optim.AdamW(policy.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(optim, lambda s: 0.5 * (1 + math.cos(math.pi * s / config.steps)))
    n, losses, start = len(frames.episode), [], time.perf_counter()
    replaced = torch.zeros((), dtype=torch.long, device=dev)  # summed on the device: no sync per step
    policy.train()
    for step in range(config.steps):
        idx = torch.randint(0, n, (config.batch,), generator=generator).to(dev)
        images = {cam: x[idx].float() / 255 for cam, x in images_all.items()}
        if rows is not None and config.view_rate > 0:
            swap = (torch.rand(config.batch, generator=generator) < config.view_rate).to(dev)
            pick = torch.randint(0, len(views), (config.batch,), generator=generator).to(dev)
            for v, heads in enumerate(view_heads):
                r = rows[v, idx]
                take = swap & (pick == v) & (r >= 0)
                images["head"][take] = heads[r[take]].float() / 255
                replaced += take.sum()
        if config.crop_colour:
            images = {cam: crop_colour(x, generator) for cam, x in images.items()}
        phase = phase_all[idx].float() / policy_config.horizon
        state = state_all[idx]
        if config.state_noise > 0:
            state = state.clone()
            state[:, :14] += config.state_noise * torch.randn(config.batch, 14, generator=generator).to(dev)
        target = policy.normalize_action(policy.relative(raw[idx], state))  # noisy state: steer back to the target
        loss = chunk_loss(policy, policy(images, state, phase), target, raw[idx])
        optim.zero_grad(set_to_none=True)
        loss.backward()
        optim.step()
        sched.step()
        losses.append(loss.detach())
        if progress and (step % 100 == 0 or step == config.steps - 1):
            print(f"  step {step}: loss {float(losses[-1]):.4f}", flush=True)
    losses, replaced = torch.stack(losses).cpu().tolist(), int(replaced)
    policy.cpu().save(out / "policy.safetensors")
    fit = fit_error(policy, frames, generator)
    tail = losses[-max(1, len(losses) // 10):]
    summary = {"steps": config.steps, "batch": config.batch, "first_loss": round(losses[0], 5),
            "final_loss": round(float(np.mean(tail)), 5), "elapsed_s": round(time.perf_counter() - start, 1),
            "head_replaced_share": round(replaced / (config.steps * config.batch), 4), "frames": n,
            "views": len(views), "crop_colour": config.crop_colour, "state_noise": config.state_noise,
            "device": config.device, **fit}
    (out / "train.json").write_text(json.dumps(summary, indent=1))
    return summary


@torch.no_grad()
def fit_error(policy: BCPolicy, frames: Frames, generator: torch.Generator, n: int = 256) -> dict:
    """The overfit check: on `n` training frames (original images), the mean absolute error of the first
    predicted action against the recorded one: arm joints (rad) and gripper command (0..1)."""
    policy.eval()
    idx = torch.randint(0, len(frames.episode), (min(n, len(frames.episode)),), generator=generator)
    images = {cam: frames.images[cam][idx].float() / 255 for cam in policy.config.cameras}
    progress = torch.from_numpy(frames.frame[idx.numpy()]).float() / policy.config.horizon
    out = policy(images, frames.state[idx], progress)[:, 0]
    pred = out * policy.action_std + policy.action_mean
    if policy.config.delta_joints:
        pred[:, :14] += frames.state[idx, :14]
    if policy.config.gripper_binary:  # the command that runs: 0 / 1
        pred[:, GRIPPER] = (out[:, GRIPPER] > 0).float()
    err = (pred - frames.action[idx]).abs()
    return {"fit_joint_mae_rad": round(float(err[:, :14].mean()), 5),
            "fit_gripper_mae": round(float(err[:, 14:16].mean()), 5)}
