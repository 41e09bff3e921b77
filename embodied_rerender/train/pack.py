"""Packing inside `train`: any reader's episodes -> training shards (and eval shards of the held-out ones).

The cache lives beside the training output (`.<output name>.pack/`), its `pack.json` lists every finished
episode (split, shard, camera pairs) and every skipped one with the reason. It is rewritten atomically after
each episode, so a killed pack resumes at the first unlisted episode, and a later `train` on the same output
reuses it. A different pack configuration (size, clip, ...) or input starts a new cache.

Held-out episodes are chosen by the SHA-1 of their ids (deterministic, independent of listing order) and are
packed as full-resolution eval shards (`io.packed` format) for the validation report instead of training shards.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from ..errors import DatasetError, EpisodeError
from ..io.packed import clip_starts, episode_key, eval_tensors, resize_frames, write_shard
from ..pipeline.faults import kill_point
from .cameras import Pair, episode_pairs, sources_for, targets_of

FORMAT = 2  # pack.json layout (1: the hand-packed list of shard names)


@dataclass
class ShardShape:
    """What the training shards and the LoopAug shards of one run share: height, width (training resolution),
    clip (frames per clip), compress (gzip the shards), device (where the warp runs)."""

    height: int = 72
    width: int = 96
    clip: int = 8
    compress: bool = True
    device: str = "cpu"


@dataclass
class PackConfig(ShardShape):
    """`ShardShape`, and stride: clip start spacing (candidate grid for retrieval); near/far/samples:
    co-visibility frusta; val_frames: frames per held-out episode kept for validation (None: all)."""

    stride: int = 4
    near: float = 0.05
    far: float = 2.5
    samples: int = 128
    val_frames: int | None = 64

    def key(self) -> dict:
        """What a cache must agree on to be reused (the device does not change the bytes that matter)."""
        return {k: v for k, v in asdict(self).items() if k != "device"}


def ref_key(ref) -> str:
    """The episode key of a reader's ref, as :func:`io.packed.episode_key` names the episode."""
    return f"{ref.task_id}_{ref.episode_id}" if ref.task_id not in (None, "") else str(ref.episode_id)


def holdout(keys: list[str], count: int | None) -> set[str]:
    """The `count` keys with the smallest SHA-1 (None: 10 %, at least 1, none when there is only one episode)."""
    if count is None:
        count = 0 if len(keys) < 2 else max(1, round(0.1 * len(keys)))
    if count >= len(keys) and keys:
        raise DatasetError(f"val_episodes={count} leaves no training episode of {len(keys)}")
    ranked = sorted(keys, key=lambda k: hashlib.sha1(k.encode()).hexdigest())
    return set(ranked[:max(count, 0)])


def cache_dir(output: str | Path) -> Path:
    out = Path(output).resolve()
    return out.parent / f".{out.name}.pack"


def covisibility_table(K: dict[str, torch.Tensor], c2w: dict[str, torch.Tensor], cameras: list[str], target: str,
                       starts: list[int], clip: int, size: tuple[int, int], near: float, far: float,
                       samples: int, seed: int) -> np.ndarray:
    """`(S, C * S)` Algorithm-1 scores of target clip (target, s) against every candidate clip (c, s')."""
    from ..geometry.covisibility import covisibility_many

    gen = torch.Generator().manual_seed(seed)
    mem_K = torch.stack([K[c] for c in cameras for _ in starts])
    mem_c2w = torch.stack([c2w[c][s:s + clip] for c in cameras for s in starts])
    rows = [covisibility_many(mem_K, mem_c2w, K[target], c2w[target][s:s + clip], *size, near, far, samples, gen)
            for s in starts]
    return torch.stack(rows).numpy().astype(np.float32)


def prior_tensors(warp, size: tuple[int, int], frames: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A warp `Synthesis` at the training `size`, as the shards store it: (prior `(T, h, w, 3) uint8`, covered
    `(T, h, w) uint8` 0..255), of its first `frames` frames (None: all)."""
    return (resize_frames(warp.frames[:frames], size),
            resize_frames(warp.covered[:frames].astype(np.uint8) * 255, size))


def _warp_prior(episode, sources: list[str], target: str, device: str):
    """Warp of `sources` (recorded RGB-D) into `target`'s trajectory at full resolution (`Synthesis`)."""
    from ..generate.warp import WarpSynthesizer
    from ..memory import View

    views = [View(s, episode.cameras[s][:], episode.cameras[s].read_depth(slice(None)), episode.cameras[s].trajectory)
             for s in sources]
    return WarpSynthesizer(device=device).synthesize(views, episode.cameras[target].trajectory, 0)


def training_tensors(episode, pairs: list[Pair], cfg: PackConfig) -> tuple[dict[str, np.ndarray], dict]:
    """A training shard of `episode` (see io.packed): frames/K/c2w of every paired camera, per target its warp
    prior, coverage and co-visibility table."""
    from ..geometry.camera import resize_intrinsics

    targets = targets_of(pairs)
    cameras = list(dict.fromkeys([p.source for p in pairs] + targets))
    n = min(len(episode.cameras[c]) for c in cameras)
    if n < cfg.clip:
        raise EpisodeError(f"{n} frames, fewer than one training clip of {cfg.clip}", episode=episode.episode_id)
    size = (cfg.height, cfg.width)
    tensors, K, c2w = {}, {}, {}
    for name in cameras:
        cam = episode.cameras[name]
        traj = cam.trajectory
        tensors[f"{name}.frames"] = resize_frames(cam[:n], size)
        K[name] = resize_intrinsics(torch.as_tensor(traj.intrinsics_per_frame()[0], dtype=torch.float32),
                                    (traj.height, traj.width), size)
        c2w[name] = torch.as_tensor(traj.extrinsics[:n], dtype=torch.float32)
        tensors[f"{name}.K"], tensors[f"{name}.c2w"] = K[name].numpy(), c2w[name].numpy()
    starts = clip_starts(n, cfg.clip, cfg.stride)
    for i, target in enumerate(targets):
        warp = _warp_prior(episode, sources_for(pairs, target), target, cfg.device)
        tensors[f"{target}.prior"], tensors[f"{target}.covered"] = prior_tensors(warp, size, n)
        tensors[f"covis.{target}"] = covisibility_table(K, c2w, cameras, target, starts, cfg.clip, size, cfg.near,
                                                        cfg.far, cfg.samples, seed=i)
    sources = list(dict.fromkeys(p.source for p in pairs))
    meta = {"episode": episode_key(episode), "cameras": cameras, "source": sources[0], "sources": sources,
            "source_of": {t: sources_for(pairs, t)[0] for t in targets}, "targets": targets, "wrists": targets,
            "starts": starts, "clip": cfg.clip, "height": cfg.height, "width": cfg.width, "frames": n}
    return tensors, meta


class PackCache:
    """The `pack.json` of a cache directory: what is packed, what was skipped, under which configuration."""

    def __init__(self, root: Path, input: str, cfg: PackConfig):
        self.root, self.path = root, root / "pack.json"
        state = json.loads(self.path.read_text()) if self.path.exists() else None
        fresh = {"format": FORMAT, "input": input, "config": cfg.key(), "episodes": {}, "skipped": {}}
        if state and (state.get("format") != FORMAT or state.get("input") != input or state.get("config") != cfg.key()):
            print(f"train: the pack cache {root} was made from other input or settings; packing again", file=sys.stderr)
            shutil.rmtree(root)
            state = None
        self.state = state or fresh  # the directory is made at the first write: a run that packs nothing leaves none

    def write(self, name: str, tensors: dict[str, np.ndarray], meta: dict, compress: bool) -> Path:
        """A shard `name` into the cache; returns its path."""
        self.root.mkdir(parents=True, exist_ok=True)
        return write_shard(self.root / name, tensors, meta, compress)

    def save(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(".pack.json.tmp")
        tmp.write_text(json.dumps(self.state, indent=1))
        tmp.replace(self.path)

    def done(self, key: str, split: str) -> bool:
        entry = self.state["episodes"].get(key)
        return bool(entry and entry["split"] == split and (self.root / entry["shard"]).exists())

    def shards(self, split: str) -> list[Path]:
        return [self.root / e["shard"] for _, e in sorted(self.state["episodes"].items()) if e["split"] == split]


def pack_dataset(input: str | Path, output: str | Path, cfg: PackConfig, val_episodes: int | None = None,
                 reader: str | None = None, progress: bool = True) -> PackCache:
    """Pack every episode of the dataset at `input` (any reader) into the cache beside `output`; returns it.
    Raises DatasetError when no episode yields a training pair."""
    from tqdm import tqdm

    from ..io import detect_format, get_reader

    input = str(Path(input).resolve())
    rdr = get_reader(reader or detect_format(input), input)
    refs = list(rdr.refs())
    if not refs:
        raise DatasetError(f"no episodes in {input}")
    val = holdout([ref_key(r) for r in refs], val_episodes)
    cache = PackCache(cache_dir(output), input, cfg)
    for ref in tqdm(refs, desc="pack", disable=not progress):
        key = ref_key(ref)
        split = "val" if key in val else "train"
        if cache.done(key, split):
            continue
        kill_point("pack")
        try:
            ep = rdr.read(ref)
            pairs = episode_pairs(ep, input)
            if split == "train":
                tensors, meta = training_tensors(ep, pairs, cfg)
                name = f"episode_{key}"
            else:
                cams = list(dict.fromkeys([p.source for p in pairs] + targets_of(pairs)))
                tensors, meta = eval_tensors(ep, cams, cfg.val_frames)
                meta.update(sources=list(dict.fromkeys(p.source for p in pairs)), targets=targets_of(pairs))
                name = f"eval_{key}"
        except (EpisodeError, ValueError) as err:  # a dataset without pairs (DatasetError) ends the run
            cache.state["skipped"][key] = str(err)
            cache.state["episodes"].pop(key, None)
            cache.save()
            print(f"train: skipped episode {ref.label}: {err}", file=sys.stderr)
            continue
        shard = cache.write(name, tensors, meta, cfg.compress)
        cache.state["skipped"].pop(key, None)
        cache.state["episodes"][key] = {"split": split, "shard": shard.name,
                                        "pairs": [[p.source, p.target] for p in pairs]}
        cache.save()
    if not cache.shards("train"):
        reasons = "; ".join(f"{k}: {v}" for k, v in list(cache.state["skipped"].items())[:3])
        raise DatasetError(f"no training episode could be packed from {input}" + (f" ({reasons})" if reasons else ""))
    return cache
