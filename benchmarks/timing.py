"""Timers every benchmark shares: one call, and the median of repeats with a warm-up (CUDA-synchronized)."""

from __future__ import annotations

import statistics
import time

import torch


def timed(fn) -> tuple[float, object]:
    """Seconds one call of `fn` takes, and its result."""
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def timed_median(fn, device: torch.device, repeat: int, warmup: int) -> tuple[float, list[float], object]:
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    out = None
    for _ in range(warmup):
        out = fn()
    sync()
    runs = []
    for _ in range(max(repeat, 1)):
        sync()
        start = time.perf_counter()
        out = fn()
        sync()
        runs.append(time.perf_counter() - start)
    return statistics.median(runs), runs, out
