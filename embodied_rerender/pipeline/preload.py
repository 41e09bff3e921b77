"""What every local worker process imports before its first episode, imported once by the forkserver
(`processes.worker_context`) so that each worker is forked with it instead of importing it again: two spawned
augment workers took 2.51 s to be ready on a 2-core machine, forked ones 0.08 s (`benchmarks/worker_start.py`),
and imports were 15 % of the workers' busy samples in a 16-process H200 augment (`benchmarks/pyspy_phases.py` on
docs/runs/augment_pyspy_h200_2026-12-04c.txt.gz). Nothing here may start a thread pool or touch a GPU: the server
forks.
"""

from __future__ import annotations

import contextlib

import numpy  # noqa: F401
import torch  # noqa: F401

from ..io import agibot, robomimic  # noqa: F401
from ..render import numba_kernels  # noqa: F401
from . import augment, job  # noqa: F401

with contextlib.suppress(ImportError):  # optional dependencies: the worker that needs one reports it
    import av  # noqa: F401
    import h5py  # noqa: F401
