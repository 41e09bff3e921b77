"""Gradients of the tiny test model under DDP or FSDP (2 gloo processes) or in one process on the joined batch.

    python tests/ddp_grads.py SHARD_DIR RESULT.safetensors [ddp|fsdp]    # rank 0 writes the whole gradients
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import torch
import torch.multiprocessing as mp

sys.path.insert(0, str(Path(__file__).parent))
from test_train import MODEL  # noqa: E402

from embodied_rerender.models import DiTConfig, FlowConfig, VideoDiT  # noqa: E402
from embodied_rerender.models.flow import sample_timesteps  # noqa: E402
from embodied_rerender.train.pairs import PairSampler  # noqa: E402
from embodied_rerender.train.parallel import shutdown  # noqa: E402
from embodied_rerender.train.trainer import loss_on  # noqa: E402


def grads(root: str, world: int, rank: int, strategy: str = "ddp") -> dict:
    mcfg = DiTConfig(**MODEL)
    torch.manual_seed(0)
    model = VideoDiT(mcfg)
    for p in model.parameters():  # non-zero gates so every parameter gets a gradient
        if p.abs().sum() == 0:
            torch.nn.init.normal_(p, std=0.05)
    g = torch.Generator().manual_seed(0)
    batch = PairSampler.from_dir(root, k_max=3).sample(4, 3, g)
    t, eps = sample_timesteps(4, FlowConfig(), g), torch.randn(batch.target.shape, generator=g)
    net = model
    if world > 1:
        from embodied_rerender.train.parallel import wrap

        net = wrap(model, strategy, torch.device("cpu"))
        n = 4 // world
        batch, t, eps = batch.split(world, rank), t[rank * n:(rank + 1) * n], eps[rank * n:(rank + 1) * n]
    loss_on(net, batch, mcfg, t, eps, 3).backward()
    # FSDP leaves each rank its shard of every gradient (a DTensor): gather the whole one to compare
    return {k: (p.grad.full_tensor() if hasattr(p.grad, "full_tensor") else p.grad).detach().clone()
            for k, p in model.named_parameters()}


def _worker(rank: int, world: int, root: str, store: str, result: str, strategy: str):
    # Loopback only, and a file store instead of a TCP port: in a sandbox the hostname's address may be
    # unreachable, and gloo then retries its connections forever at full CPU.
    os.environ["GLOO_SOCKET_IFNAME"] = "lo"
    torch.set_num_threads(1)  # two workers on a 2-core machine: no oversubscription
    torch.distributed.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=world)
    out = grads(root, world, rank, strategy)
    if rank == 0:
        from safetensors.torch import save_file

        save_file(out, result)
    shutdown()


if __name__ == "__main__":
    shard_root, result_path = sys.argv[1], sys.argv[2]
    strategy = sys.argv[3] if len(sys.argv) > 3 else "ddp"
    store_path = str(Path(result_path).with_suffix(".store"))
    mp.spawn(_worker, args=(2, shard_root, store_path, result_path, strategy), nprocs=2, join=True)
