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
    StreamSynthesizer with its distillation steps (`steps=` is the learned generators' Euler steps)} on `device=`."""
    from ..generate import HybridSynthesizer, LearnedSynthesizer, StreamSynthesizer, WarpSynthesizer

    device = resolve_device(cfg.get("device"))
    synths = {"warp": WarpSynthesizer(device=device)}
    for name in CHECKPOINT_KEYS:
        if not cfg.get(name):
            continue
        if name == "stream":
            synths[name] = StreamSynthesizer(cfg[name], device=device)
        else:
            cls = HybridSynthesizer if name.startswith("hybrid") else LearnedSynthesizer
            synths[name] = cls(cfg[name], steps=cfg.get("steps"), device=device)
    return synths
