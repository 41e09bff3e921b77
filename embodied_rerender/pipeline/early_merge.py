"""Joining finished episodes into the dataset while worker processes still write the later ones.

A run's merge normally starts after the last episode: for a writer that copies every frame (robomimic's one HDF5
file) that is a serial copy of the whole dataset, a third of an 8-process GPU augment
(`benchmarks/augment_throughput.py`). When the episodes are written elsewhere (worker processes, Ray) and the
writer can merge one episode at a time (`writer.merge_session(out)` with `add`, `finish`, `abort`), a thread of the
driver copies each episode as soon as it and every episode before it are done. The result is used only if the
run ends with exactly those directories, unchanged; otherwise (an episode rewritten to a common camera set, one the
merge refused, one a writer check left out) it is dropped and the usual merge runs, so the output is the same
either way.
"""

from __future__ import annotations

import queue
import shutil
import threading
from pathlib import Path
from typing import Callable

from ..io.base import EpisodeRef

_DONE = object()


class EarlyMerge:
    """`offer(results)` after every finished episode; `finish(dirs)` at the end: True when the early merge holds
    exactly `dirs` and is complete, False when the caller must merge (the partial output is removed)."""

    def __init__(self, writer, refs: list[EpisodeRef], out: Path,
                 output_dirs: Callable[[EpisodeRef, dict], list[tuple[str, Path]]]):
        self.writer, self.refs, self.out, self.output_dirs = writer, refs, Path(out), output_dirs
        self.next, self.queued, self.valid, self.error, self.result = 0, [], True, None, None
        self.tasks: queue.Queue = queue.Queue()
        self.thread = threading.Thread(target=self._copy, name="early-merge", daemon=True)
        self.thread.start()

    def _copy(self) -> None:
        session = None
        try:
            shutil.rmtree(self.out, ignore_errors=True)
            while (path := self.tasks.get()) is not _DONE:
                session = session or self.writer.merge_session(self.out)
                session.add(path)
            if session is not None and self.valid:
                session.finish()
                session = None
        except BaseException as err:  # noqa: BLE001 - reported by finish(); the usual merge takes over
            self.error = err
        finally:
            if session is not None:
                session.abort()

    def offer(self, results: dict[str, dict]) -> None:
        """Queue the directories of every episode, in input order, up to the first one not finished yet."""
        while self.next < len(self.refs) and self.refs[self.next].label in results:
            entry = results[self.refs[self.next].label]
            if entry["status"] == "written":
                for _, path in self.output_dirs(self.refs[self.next], entry):
                    self.queued.append(Path(path))
                    self.tasks.put(Path(path))
            self.next += 1

    def invalidate(self) -> None:
        """An episode already queued is being rewritten: the early copy of it is stale."""
        self.valid = False

    def finish(self, dirs: list[Path]) -> bool:
        if self.result is not None:  # called again (the run failed after its merge): the first answer holds
            return self.result
        self.valid = self.valid and [Path(d) for d in dirs] == self.queued and self.next == len(self.refs)
        self.tasks.put(_DONE)
        self.thread.join()
        self.result = self.valid and self.error is None and bool(self.queued)
        if not self.result:
            shutil.rmtree(self.out, ignore_errors=True)
        return self.result
