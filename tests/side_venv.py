"""A small separate virtual environment with pinned packages, built once and cached, for running another
project's pinned client (e.g. diffusion_policy's zarr 2 stack) on what we write."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def side_venv(cache_dir: Path, requirements: list[str]) -> Path:
    """Python executable of a venv under `cache_dir` holding exactly `requirements` (created on first use).

    A venv whose recorded requirements differ is rebuilt. Raises CalledProcessError when pip fails.
    """
    cache_dir = Path(cache_dir)
    python = cache_dir / "bin" / "python"
    stamp = cache_dir / "requirements.txt"
    wanted = "\n".join(requirements) + "\n"
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return python
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(cache_dir)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *requirements],
                   check=True, capture_output=True, text=True)
    stamp.write_text(wanted)
    return python
