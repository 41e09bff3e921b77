"""Synthesizers (warp, learned, hybrid, stream: one protocol, `base.Synthesizer`) and the autoregressive memory loop."""

from .base import Synthesis, Synthesizer
from .loop import Step, Target, run_autoregressive, seed_bank
from .learned import HybridSynthesizer, LearnedSynthesizer
from .stream import StreamSynthesizer
from .warp import WarpSynthesizer

SYNTHESIZERS = {"warp": WarpSynthesizer, "learned": LearnedSynthesizer, "hybrid": HybridSynthesizer,
                "stream": StreamSynthesizer}


def get_synthesizer(name: str, **options) -> Synthesizer:
    if name not in SYNTHESIZERS:
        raise ValueError(f"generator {name!r} is not built yet; available: {', '.join(SYNTHESIZERS)}")
    return SYNTHESIZERS[name](**options)


__all__ = ["Synthesis", "Synthesizer", "Target", "Step", "run_autoregressive", "seed_bank", "WarpSynthesizer", "LearnedSynthesizer", "HybridSynthesizer",
           "StreamSynthesizer", "get_synthesizer", "SYNTHESIZERS"]
