"""How many CPU threads this process may use, so that several worker processes do not oversubscribe the cores.

A launcher that runs N workers on one machine sets `OMP_NUM_THREADS` to each worker's share before it starts them
(`pipeline.processes`; Ray sets it from `num_cpus` too). Libraries that pick their own thread count from the core
count (FFmpeg's decoders, per open video) would otherwise start N x cores threads and
spend the machine on context switches.
"""

from __future__ import annotations

import os


def cpu_share() -> int:
    """Threads this process should use: `OMP_NUM_THREADS` where a launcher set it, else the cores it may run on."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        limit = int(os.environ.get("OMP_NUM_THREADS", "0"))
    except ValueError:
        limit = 0
    return max(1, min(cores, limit) if limit > 0 else cores)
