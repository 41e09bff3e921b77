"""Data parallelism for the trainer: DDP (replicated weights) or FSDP (sharded weights, gradients and AdamW
moments, for backbones that do not fit one GPU three times over).

Both are launched the same way (`torchrun --nproc_per_node=N -m embodied_rerender.train parallel=ddp|fsdp`);
checkpoints are always written whole (the same files a single process writes), so a run can be resumed with a
different process count or strategy. Under FSDP every rank must take part in gathering a checkpoint and in any
forward pass, which is why the collectives here are called on all ranks and only rank 0 writes files.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import nn

STRATEGIES = ("ddp", "fsdp")


def wrap(model: nn.Module, strategy: str, device: torch.device) -> nn.Module:
    """The module to train with: `model` itself in one process, else DDP around it, or `model` sharded in place
    (FSDP2: each transformer block its own unit, then the root for embeddings and head)."""
    if strategy not in STRATEGIES:
        raise ValueError(f"parallel={strategy!r}; choose from {', '.join(STRATEGIES)}")
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return model
    if strategy == "ddp":
        return nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    from torch.distributed.fsdp import fully_shard

    for block in model.blocks:
        fully_shard(block)
    fully_shard(model)
    return model


def shutdown() -> None:
    """Leave the process group on every rank together. Without the barrier a rank that finished first tears
    down its gloo pairs while its peer is still gathering, and gloo then aborts it ("terminate called without an
    active exception"; seen once in CI under FSDP)."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def is_sharded(model: nn.Module) -> bool:
    from torch.distributed.tensor import DTensor

    return any(isinstance(p, DTensor) for p in model.parameters())


def full_model_state(model: nn.Module) -> dict[str, torch.Tensor] | None:
    """Whole float weights on the CPU (rank 0; None elsewhere). Collective under FSDP: call on every rank."""
    model = getattr(model, "module", model)
    if not is_sharded(model):
        return {k: v.detach().cpu() for k, v in model.state_dict().items()}
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

    state = get_model_state_dict(model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
    return state if dist.get_rank() == 0 else None


def full_optimizer_state(model: nn.Module, optimizer: torch.optim.Optimizer) -> dict[str, torch.Tensor] | None:
    """AdamW moments keyed `<param name>.<field>` (the layout of `models.checkpoint.save_optimizer`), whole, on
    rank 0 (None elsewhere). Collective under FSDP."""
    model = getattr(model, "module", model)
    if not is_sharded(model):
        names = {id(p): n for n, p in model.named_parameters()}
        return {f"{names[id(p)]}.{key}": (v if torch.is_tensor(v) else torch.tensor(v)).detach().cpu()
                for group in optimizer.param_groups for p in group["params"]
                for key, v in optimizer.state.get(p, {}).items()}
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_optimizer_state_dict

    state = get_optimizer_state_dict(model, optimizer, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
    if dist.get_rank() != 0:
        return None
    return {f"{name}.{key}": (v if torch.is_tensor(v) else torch.tensor(v)).detach().cpu()
            for name, fields in state["state"].items() for key, v in fields.items()}


def load_full_optimizer_state(model: nn.Module, optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor]) -> None:
    """Put whole AdamW moments (`<param name>.<field>`, as saved) into a sharded or plain optimizer."""
    model = getattr(model, "module", model)
    per_param: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        name, field = key.rsplit(".", 1)
        per_param.setdefault(name, {})[field] = value
    if not is_sharded(model):
        params = dict(model.named_parameters())
        for name, fields in per_param.items():
            p = params[name]
            optimizer.state[p].update({f: (v.to(p.device) if f != "step" else v) for f, v in fields.items()})
        return
    from torch.distributed.checkpoint.state_dict import StateDictOptions, set_optimizer_state_dict

    groups = [{**{k: v for k, v in g.items() if k != "params"}, "params": [n for n, _ in model.named_parameters()]}
              for g in optimizer.param_groups]
    set_optimizer_state_dict(model, optimizer, {"state": per_param, "param_groups": groups},
                             options=StateDictOptions(full_state_dict=True))
