"""`launcher=local workers=N`: episodes in N processes of this machine, several in flight at once.

One episode's work is mostly serial: decoding its videos (PyAV), decoding depth PNGs, synthesizing, encoding
and writing. With one episode at a time the GPU idles during decode and write, and the CPU idles during
synthesis; N processes each take whole episodes, so the stages of different episodes overlap. Each process
builds its reader and (for `augment`) its synthesizer once, like a Ray worker (`job.EpisodeWorker`), and
writes into the shared staging directory; only report entries come back.

On CUDA every process gets a device of its own in turn (`cuda:0`, `cuda:1`, ... when several are visible),
so one command spreads an augment over the GPUs of one machine; processes beyond the device count share them.
CPU threads (torch, numba, OpenMP) are split evenly between the processes so N of them do not oversubscribe
the cores. Where the platform has it, processes are forked from a forkserver that has imported what every
worker needs once (`preload`), so none of them imports torch and the kernels again; each gets the driver's
environment of the moment it starts, as a spawned process would. A process that dies (killed, out of memory)
costs only its current episode, which is retried once on a fresh process and otherwise reported as skipped, as
with Ray.
"""

from __future__ import annotations

import dataclasses
import multiprocessing as mp
import os
import queue
import traceback
from collections import Counter, deque
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from ..errors import DatasetError
from ..io.base import EpisodeRef
from ..threads import cpu_share

if TYPE_CHECKING:
    from .job import Job

THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS")
POLL_S = 0.5  # how often the driver looks for a dead process while it waits for results


def worker_devices(device: str, workers: int) -> list[str]:
    """The device of each of `workers` processes: a bare `cuda` goes round the visible GPUs; anything else
    (`cpu`, `cuda:1`) is used by all of them as given."""
    if device != "cuda":
        return [device] * workers
    import torch

    count = torch.cuda.device_count()
    return [f"cuda:{i % count}" for i in range(workers)] if count > 1 else [device] * workers


def threads_per_worker(workers: int) -> int:
    """Each of `workers` processes' share of this process's own (`threads.cpu_share`, which a launcher above may
    have limited already)."""
    return max(1, cpu_share() // workers)


@contextmanager
def _thread_limits(threads: int, variables: tuple[str, ...] = THREAD_VARIABLES):
    """The thread-count variables set to `threads` while processes start (a child reads them at import, or
    `_adopt` does)."""
    saved = {k: os.environ.get(k) for k in variables}
    os.environ.update({k: str(threads) for k in variables})
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def worker_context():
    """The forkserver context with `preload` imported in its server, else (no forkserver here) spawn. Never
    fork: the driver may hold CUDA state and thread pools that do not survive it. The server is started here,
    once per driver process, with one thread per library (numba may use up to every core): each worker sets
    its own share (`_adopt`)."""
    if "forkserver" not in mp.get_all_start_methods():
        return mp.get_context("spawn")
    from multiprocessing import forkserver

    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload([f"{__package__}.preload"])
    with _thread_limits(1), _thread_limits(os.cpu_count() or 1, ("NUMBA_NUM_THREADS",)):
        forkserver.ensure_running()
    return ctx


def _adopt(env: dict[str, str]) -> None:
    """Take the driver's environment (a forked worker has the server's) and its thread share for this worker:
    torch and numba were imported with one thread by the server, so their counts are set here."""
    os.environ.clear()
    os.environ.update(env)
    threads = int(env.get("OMP_NUM_THREADS", "0") or 0)
    if threads > 0:
        import sys

        if "torch" in sys.modules:
            sys.modules["torch"].set_num_threads(threads)
        if "numba" in sys.modules:
            numba = sys.modules["numba"]
            numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))


def _serve(job: Job, wid: int, tasks, results, env: dict[str, str] | None = None) -> None:
    """A worker process: build the worker once, report ready (or why not), then write episodes until None."""
    if env is not None:
        _adopt(env)
    from .job import EpisodeWorker

    try:
        worker = EpisodeWorker(job)
    except BaseException as err:  # noqa: BLE001 - the driver reports it
        results.put((wid, "failed", f"{type(err).__name__}: {err}", traceback.format_exc(limit=3)))
        return
    results.put((wid, "ready", None, None))
    while (task := tasks.get()) is not None:
        ref, stage, keep = task
        results.put((wid, "done", worker.process(ref, stage, keep), None))


@dataclasses.dataclass
class _Process:
    process: mp.process.BaseProcess
    tasks: object
    ref: EpisodeRef | None = None  # the episode it is writing, None when idle
    ready: bool = False


class ProcessLauncher:
    """Episodes spread over `workers` processes (`worker_context`); entries are yielded as episodes finish (the
    driver restores the input order)."""

    name = "processes"
    writes_elsewhere = True  # episodes are written in other processes (the driver may merge meanwhile)

    def __init__(self, job: Job, workers: int, retries: int = 1):
        if workers < 1:
            raise DatasetError(f"workers={workers}: use 1 or more")
        self.job, self.workers, self.retries = job, workers, retries
        self.devices = worker_devices(job.device, workers)

    def map(self, refs: list[EpisodeRef], stage: Path, keep: list[str] | None = None) -> Iterator[dict]:
        if not refs:
            return
        ctx = worker_context()
        self._ctx, self._results, self._procs, self._started = ctx, ctx.Queue(), {}, 0
        try:
            for _ in range(min(self.workers, len(refs))):
                self._spawn()
            yield from self._dispatch(refs, str(Path(stage).absolute()), keep)
        finally:
            for p in self._procs.values():
                if p.process.is_alive():
                    p.tasks.put(None)
            for p in self._procs.values():
                p.process.join(timeout=10)
                if p.process.is_alive():
                    p.process.kill()

    def _spawn(self) -> None:
        wid = self._started
        self._started += 1
        job = dataclasses.replace(self.job, device=self.devices[wid % self.workers])
        tasks = self._ctx.Queue()
        with _thread_limits(threads_per_worker(self.workers)):
            process = self._ctx.Process(target=_serve, args=(job, wid, tasks, self._results, dict(os.environ)),
                                        daemon=True, name=f"embodied-rerender-worker-{wid}")
            process.start()
        self._procs[wid] = _Process(process, tasks)

    def _dispatch(self, refs: list[EpisodeRef], stage: str, keep) -> Iterator[dict]:
        pending, attempts, failures = deque(refs), Counter(), []
        while pending or any(p.ref is not None for p in self._procs.values()):
            self._assign(pending, stage, keep)
            try:
                wid, kind, payload, detail = self._results.get(timeout=POLL_S)
            except queue.Empty:
                yield from self._reap(pending, attempts)
                if pending and not self._procs:
                    raise DatasetError("no worker process could start" + (f": {failures[0]}" if failures else
                                       " (every one exited before it was ready)"))
                continue
            p = self._procs.get(wid)
            if p is None:  # a late result of a process already reaped: its episode was queued again
                continue
            if kind == "ready":
                p.ready = True
            elif kind == "failed":  # cannot build its reader or model: every episode would fail the same way
                failures.append(payload)
                p.process.join(timeout=10)
                del self._procs[wid]
                if not self._procs:
                    raise DatasetError(f"no worker process could start: {payload}")
            else:
                p.ref = None
                self._assign(pending, stage, keep)  # before the caller records this one (an fsync can stall it)
                yield payload

    def _assign(self, pending: deque, stage: str, keep) -> None:
        """The next pending episode to every ready, idle process."""
        for p in self._procs.values():
            if p.ready and p.ref is None and pending:
                p.ref = pending.popleft()
                p.tasks.put((p.ref, stage, keep))

    def _reap(self, pending: deque, attempts: Counter) -> Iterator[dict]:
        """Dead processes: the episode each held is retried (or skipped after `retries`), and a fresh process
        replaces it while episodes remain."""
        for wid, p in list(self._procs.items()):
            if p.process.is_alive():
                continue
            del self._procs[wid]
            if p.ref is None:
                continue
            ref = p.ref
            attempts[ref] += 1
            if attempts[ref] <= self.retries:
                pending.appendleft(ref)
            else:
                code = p.process.exitcode
                yield {"episode": ref.label, "status": "skipped", "file": None,
                       "reason": f"worker process died {attempts[ref]} times on this episode (exit code {code})"}
            if pending:
                self._spawn()
