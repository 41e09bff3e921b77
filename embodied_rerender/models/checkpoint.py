"""Checkpoints as safetensors + JSON (design §4: never pickle).

A model checkpoint is `<stem>.safetensors` (weights) beside `<stem>.json` (`{"model": backbone config,
"flow": FlowConfig, ...}`); a training checkpoint adds `<stem>.optim.safetensors` (AdamW moments, RNG
state) so a run resumes where it stopped.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from torch import nn

from .dit import DiTConfig, VideoDiT
from .flow import FlowConfig

BACKBONES = {"dit": lambda cfg: VideoDiT(DiTConfig.from_dict(cfg))}
WEIGHTS_DIR = Path(__file__).resolve().parents[2] / "weights"


def shipped_checkpoint(name: str) -> Path:
    """`weights/<name>_ref.safetensors`, the checkpoint shipped for generator `name` (hybrid, stream; may be absent)."""
    return WEIGHTS_DIR / f"{name}_ref.safetensors"


def _paths(path: str | Path) -> tuple[Path, Path]:
    path = Path(path)
    stem = path.with_suffix("") if path.suffix in (".safetensors", ".json") else path
    return stem.with_name(stem.name + ".safetensors"), stem.with_name(stem.name + ".json")


def _atomic(write, target: Path) -> None:
    tmp = target.with_name(f".{target.name}.tmp{os.getpid()}")
    write(str(tmp))
    os.replace(tmp, target)


def save_model(path: str | Path, model: nn.Module, flow: FlowConfig, meta: dict | None = None,
               dtype: torch.dtype | None = None, state: dict[str, torch.Tensor] | None = None) -> Path:
    """Write weights (optionally cast, e.g. to bfloat16 to halve the file) and the JSON config; returns the weights
    path. `state`: the weights to write when `model`'s own are sharded (gathered by `train.parallel`)."""
    from safetensors.torch import save_file

    model = getattr(model, "module", model)  # unwrap DDP
    weights, config = _paths(path)
    weights.parent.mkdir(parents=True, exist_ok=True)
    state = {k: (v.to(dtype) if dtype is not None and v.is_floating_point() else v).detach().cpu().contiguous()
             for k, v in (model.state_dict() if state is None else state).items()}
    _atomic(lambda p: save_file(state, p), weights)
    body = {"model": model.config(), "flow": flow.to_dict(), **(meta or {})}
    _atomic(lambda p: Path(p).write_text(json.dumps(body, indent=1)), config)
    return weights


def read_config(path: str | Path) -> dict:
    return json.loads(_paths(path)[1].read_text())


def load_model(path: str | Path, device: str | torch.device = "cpu") -> tuple[nn.Module, FlowConfig, dict]:
    """Rebuild the backbone named in the JSON and load its weights (in float32). Returns (model, flow, config)."""
    from safetensors.torch import load_file

    weights, _ = _paths(path)
    config = read_config(path)
    model_cfg = dict(config["model"])
    name = model_cfg.pop("backbone", "dit")
    if name not in BACKBONES:
        raise ValueError(f"{weights}: unknown backbone {name!r}; known: {', '.join(BACKBONES)}")
    model = BACKBONES[name](model_cfg)
    state = {k: v.float() if v.is_floating_point() else v for k, v in load_file(str(weights)).items()}
    model.load_state_dict(state)
    return model.to(device).eval(), FlowConfig.from_dict(config.get("flow", {})), config


def save_optimizer(path: str | Path, moments: dict[str, torch.Tensor],
                   extra_tensors: dict[str, torch.Tensor] | None = None) -> Path:
    """Write `<stem>.optim.safetensors`: AdamW moments keyed `<param name>.<field>` (`exp_avg`, `exp_avg_sq`,
    `step`; whole tensors, as `train.parallel.full_optimizer_state` gathers them) and extra tensors (step, RNG)."""
    from safetensors.torch import save_file

    tensors = {k: v.detach().cpu().contiguous() for k, v in moments.items()}
    for key, value in (extra_tensors or {}).items():
        tensors[f"__extra__.{key}"] = value.detach().cpu().contiguous()
    weights, _ = _paths(path)
    target = weights.with_name(weights.name.replace(".safetensors", ".optim.safetensors"))
    _atomic(lambda p: save_file(tensors, p), target)
    return target


def read_optimizer(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """What :func:`save_optimizer` wrote: (moments keyed `<param name>.<field>`, extra tensors); put the moments
    back with `train.parallel.load_full_optimizer_state`."""
    from safetensors.torch import load_file

    weights, _ = _paths(path)
    tensors = load_file(str(weights.with_name(weights.name.replace(".safetensors", ".optim.safetensors"))))
    extra = "__extra__."
    return ({k: v for k, v in tensors.items() if not k.startswith(extra)},
            {k[len(extra):]: v for k, v in tensors.items() if k.startswith(extra)})
