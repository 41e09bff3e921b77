"""Older import path of the packed-shard format (now `io.packed`) and the stand-alone packers.

`embodied-rerender train input=DATASET` packs by itself (`train.pack`); `pack_episodes` / `pack_eval` remain for
scripts that pack a directory of shards by hand (docs/results.md, the LoopAug and held-out table tooling).
"""

from __future__ import annotations

import json
from pathlib import Path

from ..io.packed import (camera_tensors, clip_starts, episode_key, eval_tensors, load_eval_episode, read_shard,
                         resize_frames, shard_paths, write_shard)
from .cameras import find_pairs, targets_of
from .pack import PackConfig, covisibility_table, training_tensors

WRISTS = ("hand_left", "hand_right")

__all__ = ["WRISTS", "PackConfig", "camera_tensors", "clip_starts", "covisibility_table", "load_eval_episode",
           "pack_episodes", "pack_eval", "read_shard", "resize_frames", "shard_paths", "write_shard"]


def _episodes(input, reader: str, limit: int | None = None):
    from ..io import get_reader

    rdr = get_reader(reader, str(input))
    for ref in list(rdr.refs())[:limit]:
        yield rdr.read(ref)


def pack_episodes(input: str | Path, output: str | Path, config: PackConfig | None = None, progress: bool = True,
                  limit: int | None = None, reader: str = "agibot") -> list[Path]:
    """Training shards `output/episode_<id>.safetensors[.gz]` of every episode under `input` (no held-out split)."""
    from tqdm import tqdm

    cfg = config or PackConfig()
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for ep in tqdm(list(_episodes(input, reader, limit)), desc="pack", disable=not progress):
        tensors, meta = training_tensors(ep, find_pairs(ep), cfg)
        written.append(write_shard(out / f"episode_{episode_key(ep)}", tensors, meta, cfg.compress))
    (out / "pack.json").write_text(json.dumps({"config": cfg.__dict__, "episodes": [p.name for p in written]}, indent=1))
    return written


def pack_eval(input: str | Path, output: str | Path, compress: bool = True, progress: bool = True,
              reader: str = "agibot") -> list[Path]:
    """Full-resolution eval shards `output/eval_<id>.safetensors[.gz]` (sources with depth, targets' ground truth)."""
    from tqdm import tqdm

    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for ep in tqdm(list(_episodes(input, reader)), desc="pack eval", disable=not progress):
        pairs = find_pairs(ep)
        cams = list(dict.fromkeys([p.source for p in pairs] + targets_of(pairs)))
        tensors, meta = eval_tensors(ep, cams)
        written.append(write_shard(out / f"eval_{episode_key(ep)}", tensors, meta, compress))
    return written
