"""Deterministic fault injection: `kill -9` of the run at named points, for the fault-tolerance tests.

`EMBODIED_RERENDER_KILL_AT="<point>:<n>[+<seconds>][,...]"` makes the process SIGKILL itself at the n-th
time it passes `<point>` (counted per process), or `<seconds>` after that moment (to land in the middle
of the work that follows, e.g. a write or a merge). Points, in the order a run passes them:

    read      an episode was read and transformed (synthesized); nothing of it written yet
    write     an episode's writer starts on its temporary directory (use +seconds for mid-write)
    rename    the temporary directory is complete, not yet renamed to its final name
    manifest  the episode directory is in place, its manifest line not yet appended (driver)
    appended  the manifest line was appended (driver)
    merge     the merge into `merged/` starts (use +seconds for mid-merge) (driver)
    publish   report.json is written, the rename to the output path not yet done (driver)
    swap      a previous output was moved aside, the new one not yet renamed into place (driver)

`EMBODIED_RERENDER_KILL_ONCE=<file>`: kill only if `<file>` does not exist, creating it first, so that
a retried episode (or a restarted Ray worker, whose counters start again) is not killed a second time.
Unset (the normal case), `kill_point` is a dictionary lookup and nothing else.
"""

from __future__ import annotations

import os
import signal
import threading

ENV = "EMBODIED_RERENDER_KILL_AT"
ONCE_ENV = "EMBODIED_RERENDER_KILL_ONCE"
_counts: dict[str, int] = {}


def _plan() -> dict[str, tuple[int, float]]:
    plan = {}
    for item in filter(None, os.environ.get(ENV, "").split(",")):
        point, _, rest = item.partition(":")
        n, _, delay = rest.partition("+")
        plan[point.strip()] = (int(n or 1), float(delay or 0))
    return plan


def kill_point(point: str) -> None:
    """SIGKILL this process if `EMBODIED_RERENDER_KILL_AT` names `point` and this is its n-th pass."""
    if ENV not in os.environ:
        return
    plan = _plan()
    if point not in plan:
        return
    _counts[point] = _counts.get(point, 0) + 1
    n, delay = plan[point]
    if _counts[point] != n or not _claim_once():
        return
    if delay > 0:
        timer = threading.Timer(delay, _die)
        timer.daemon = True
        timer.start()
    else:
        _die()


def _claim_once() -> bool:
    marker = os.environ.get(ONCE_ENV)
    if not marker:
        return True
    try:
        os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    return True


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def forwarded_env() -> dict[str, str]:
    """The fault-injection variables set here, for handing on to Ray workers."""
    return {k: os.environ[k] for k in (ENV, ONCE_ENV) if k in os.environ}
