"""The `train` verb, and what `torchrun -m embodied_rerender.train` runs: pack -> train -> validate.

`run(options)` takes the keys of configs/train.yaml. With `input=DATASET` it packs the dataset's camera pairs
into the cache beside the output (`train.pack`; rank 0 while the other ranks wait), trains (`train.trainer`:
a fresh run starts from `init`, a rerun on the same output resumes from its `last` checkpoint), and rank 0 writes
`validation.json` (`evaluation.validation`). With `data=SHARDS` (shards packed already) it trains only.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
import torch.distributed as dist

from ..errors import DatasetError

VERB_KEYS = ("input", "reader", "init", "val_episodes", "validate", "val_k", "pack", "progress")


def resolve_init(init: str | None, mode: str) -> Path | None:
    """The weights file `init` names: "pretrained" the shipped `weights/<mode>_ref`, "none" nothing, else a
    checkpoint (file, stem or `train` output directory)."""
    from ..generate.learned import resolve_checkpoint

    if init in (None, "", "none"):
        return None
    try:
        return resolve_checkpoint(None if init == "pretrained" else init, mode)
    except FileNotFoundError as err:
        hint = " (no shipped checkpoint for this mode: init=none trains from scratch)" if init == "pretrained" else ""
        raise DatasetError(f"init={init}: {err}{hint}") from None


def model_settings(options: dict, start: Path | None) -> tuple[dict, str]:
    """(model config, mode): the checkpoint's when starting from one (keys the user set must agree), else the
    configured keys (unset ones: the DiTConfig defaults)."""
    from ..models.checkpoint import read_config

    asked = {k: v for k, v in (options.get("model") or {}).items() if v is not None}
    if start is None:
        return asked, options["mode"]
    model = {k: v for k, v in read_config(start)["model"].items() if k != "backbone"}
    clash = {k: (v, model.get(k)) for k, v in asked.items() if model.get(k) != v}
    if clash:
        raise DatasetError(f"{start} has {', '.join(f'model.{k}={b}' for k, (a, b) in clash.items())}, not "
                           f"{', '.join(f'{k}={a}' for k, (a, b) in clash.items())}; drop those keys, or init=none")
    mode = "hybrid" if model.get("prior_channels", 4) else "learned"
    return model, mode


def _device(name: str) -> torch.device:
    local = int(os.environ.get("LOCAL_RANK", 0))
    if name == "auto":
        return torch.device(f"cuda:{local}" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise DatasetError(f"device={name} but CUDA is not available here")
    return torch.device(name)


def run(options: dict) -> dict:
    """Pack, train, validate; returns the trainer's summary plus `pack` and `validation` (paths and means)."""
    from .pack import PackConfig, pack_dataset
    from .trainer import TrainConfig, train

    options = dict(options)
    verb = {k: options.pop(k, None) for k in VERB_KEYS}
    out = Path(options["output"])
    if bool(verb["input"]) == bool(options.get("data")):
        raise DatasetError("give input=DATASET (packed here) or data=SHARDS (packed already), one of them")
    last = out / "last.safetensors"
    resuming = options.get("resume", True) and last.exists()
    start = last if resuming else resolve_init(verb["init"], options["mode"])
    model, mode = model_settings(options, start)
    device = _device(options.get("device", "auto"))
    world = int(os.environ.get("WORLD_SIZE", 1))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    rank = dist.get_rank() if dist.is_initialized() else 0
    cache = None
    if verb["input"]:
        from ..models import DiTConfig

        shape = DiTConfig.from_dict({**model, "prior_channels": 4 if mode == "hybrid" else 0})
        pack_cfg = PackConfig(height=shape.height, width=shape.width, clip=shape.frames,
                              device=str(device) if device.type == "cuda" else "cpu", **(verb["pack"] or {}))
        if rank == 0:
            cache = pack_dataset(verb["input"], out, pack_cfg, verb["val_episodes"], verb["reader"],
                                 progress=verb["progress"] is not False)
        if world > 1:
            dist.barrier()
        from .pack import cache_dir

        options["data"] = str(cache_dir(out))
    options.update(model=model, mode=mode, init=str(start) if start is not None and not resuming else "",
                   device=str(device))
    summary = train(TrainConfig.from_dict(options))
    if cache is not None:
        summary["pack"] = {"cache": str(cache.root), "train": len(cache.shards("train")), "val": len(cache.shards("val")),
                           "skipped": cache.state["skipped"]}
    if rank == 0 and cache is not None and verb["validate"] is not False:
        from ..evaluation.validation import validate

        report = validate(cache.shards("val"), out / "model.safetensors", mode, str(device), k=verb["val_k"] or 4,
                          seed=options.get("seed", 0))
        (out / "validation.json").write_text(json.dumps(report, indent=1))
        summary["validation"] = {"path": str(out / "validation.json"), **report["summary"]}
    if rank == 0:
        (out / "summary.json").write_text(json.dumps(summary, indent=1))
    return summary
