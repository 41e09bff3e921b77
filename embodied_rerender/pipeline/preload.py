"""What every local worker process imports before its first episode, imported once by the forkserver
(`processes.worker_context`) so that each worker is forked with it instead of importing it again: torch,
h5py, PyAV and this package's readers, writers, synthesizers and compiled kernels take 1.5 s per worker on a
2-core machine and about 5 s per worker when 16 start at once on the GPU machine (18 % of the workers' CPU in a
profiled augment, docs/benchmarks.md). Nothing here may start a thread pool or touch a GPU: the server forks.
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
