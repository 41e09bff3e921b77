"""Every script in benchmarks/ runs in its small mode, so none of them breaks unnoticed (no timing asserts)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"

# script -> small-mode arguments (CPU); every script in benchmarks/ except the shared modules must be here.
SMALL = {
    "augment_episodes.py": ["--small"],
    "splat.py": ["--small"],
    "warp.py": ["--small"],
    "train_throughput.py": ["--small", "--device", "cpu"],
    "ddp_scaling.py": ["--small"],
    "ray_scaling.py": ["--small"],
    "read_agibot.py": ["--small"],
    "convert.py": ["--small"],
    "lerobot_merge.py": ["--small"],
    "demo.py": ["--small"],
    "retrieval.py": ["--small"],
    "sample_timing.py": ["--small", "--configs", "wide_jaw"],
    "stream.py": ["--small", "--device", "cpu"],
    "score.py": ["--small"],
    "augment_throughput.py": ["--small"],
    "depth_decode.py": ["--small"],
    "self_parts.py": ["--small"],
    "robomimic_merge.py": ["--small"],
    "pyspy_phases.py": ["--small"],
    "worker_start.py": ["--small"],
}


def test_every_benchmark_script_has_a_small_mode():
    scripts = {p.name for p in BENCH.glob("*.py")} - {"timing.py", "inputs.py"}
    assert scripts == set(SMALL), f"add a small mode for {sorted(scripts - set(SMALL))} here"


@pytest.mark.parametrize("script", sorted(SMALL))
def test_benchmark_small_mode_runs(script):
    env = dict(os.environ, PYTHONPATH=str(ROOT), MUJOCO_GL="osmesa", PYOPENGL_PLATFORM="osmesa",
               HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1")  # default TMPDIR: Ray's socket paths must stay short
    proc = subprocess.run([sys.executable, str(BENCH / script), *SMALL[script]], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"{script} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    figures = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert figures, f"{script} printed no JSON figure:\n{proc.stdout[-2000:]}"


def test_timing_helpers():
    sys.path.insert(0, str(BENCH))
    try:
        import torch
        from timing import timed, timed_median
    finally:
        sys.path.remove(str(BENCH))
    s, out = timed(lambda: 3)
    assert out == 3 and s >= 0
    med, runs, out = timed_median(lambda: 4, torch.device("cpu"), repeat=3, warmup=1)
    assert out == 4 and len(runs) == 3 and med >= 0
