"""The synthesizers an evaluation compares, built from its config: warp always, plus one per checkpoint key."""

from __future__ import annotations

CHECKPOINT_KEYS = ("hybrid", "learned", "hybrid_loop", "learned_loop", "stream")


def resolve_device(device: str | None) -> str:
    """`auto` (or None): cuda when available, else cpu; anything else as given."""
    import torch

    if device in (None, "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def build_synthesizers(cfg: dict) -> dict:
    """{"warp": WarpSynthesizer, and for each of `hybrid=`, `learned=`, `hybrid_loop=`, `learned_loop=` given a
    checkpoint: a Hybrid/LearnedSynthesizer with `steps=` (None: the checkpoint's); for `stream=`: a
    StreamSynthesizer with its distillation steps (`steps=` is the learned generators' Euler steps)} on `device=`.
    `self_parts=` (a saved library or the TRAINING dataset to build it from) gives the warp the robot's own parts;
    "auto" is refused: it would build them from the scored episodes' ground truth. `static_memory=N`: the warp's
    static-scene memory (`WarpSynthesizer(static_memory=N)`, `augment warp.static_memory=N`)."""
    from ..errors import DatasetError
    from ..generate import HybridSynthesizer, LearnedSynthesizer, StreamSynthesizer, WarpSynthesizer

    device = resolve_device(cfg.get("device"))
    parts = cfg.get("self_parts")
    if parts == "auto":
        raise DatasetError("self_parts=auto would learn the parts from the held-out ground truth; give a saved "
                           "library (.npz) or the training dataset instead")
    memory = cfg.get("static_memory")
    synths = {"warp": WarpSynthesizer(device=device, self_parts=parts,
                                      static_memory=0 if memory is None else memory)}
    for name in CHECKPOINT_KEYS:
        if not cfg.get(name):
            continue
        if name == "stream":
            synths[name] = StreamSynthesizer(cfg[name], device=device)
        else:
            cls = HybridSynthesizer if name.startswith("hybrid") else LearnedSynthesizer
            synths[name] = cls(cfg[name], steps=cfg.get("steps"), device=device)
    return synths
