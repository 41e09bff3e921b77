"""Runs test code under Triton's CPU interpreter, so CI without a GPU still checks the Triton kernels' logic."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_interpreted(code: str, timeout: int = 300) -> None:
    """Runs `code` (which prints 'ok' when done) in a fresh interpreter with ``TRITON_INTERPRET=1``: the flag must
    be set before triton compiles anything, so not in this process. `tests` is on its path."""
    env = dict(os.environ, TRITON_INTERPRET="1", PYTHONPATH=str(ROOT))
    res = subprocess.run([sys.executable, "-c", "import sys; sys.path.insert(0, 'tests')\n" + code], cwd=ROOT,
                         env=env, capture_output=True, text=True, timeout=timeout)
    assert res.returncode == 0 and "ok" in res.stdout, res.stderr[-3000:]
