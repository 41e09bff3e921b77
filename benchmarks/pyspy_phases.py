"""Where an `augment` run's CPU went, by phase, from a py-spy profile of the driver and its worker processes.

    py-spy record --subprocesses --idle --format raw --rate 50 -o PROFILE.txt -- python benchmarks/augment_throughput.py ...
    python benchmarks/pyspy_phases.py PROFILE.txt[.gz] [--small]

py-spy's raw format is one line per distinct stack: `frame;frame;...;leaf COUNT`, the first frame naming the
process. A sample of a worker (a process started by multiprocessing, spawned or forked from its forkserver) is put in the
first phase that fits:

  idle        the leaf frame waits (a queue get, a lock, a select, a sleep), or no Python frame runs; and
              multiprocessing's resource tracker
  depth threads  depth PNGs decoded on the worker's thread pool
  import      a module body runs (`exec_module`) outside an episode's work: the worker's start
  transform   the stack holds `Augmenter.__call__` (split: self_parts, warp, score, decode, other)
  writer      the stack holds a frame whose name has "write" (split: h5py setitem, decode, other)
  other       the rest

Samples of the driver (every other process) are `driver` (split: merge, other). Prints one JSON object: the
samples per phase and split, and each phase's share of the workers' non-idle samples (one line).
--small: groups a few made-up stacks (a smoke check for the test suite).
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
from collections import Counter
from pathlib import Path

WAITS = re.compile(r"^(wait|get|poll|select|recv|_recv|recv_bytes|_recv_bytes|acquire|sleep|_worker|join)$")
TRANSFORM_PARTS = (("self_parts", "self_parts"), ("warp", "warp.py"), ("score", "score"), ("decode", "video.py"))
WRITER_PARTS = (("h5py setitem", "Dataset.__setitem__"), ("decode", "video.py"))

SMALL = """process 1:"python bench";main (b.py:1);run_job (launch.py:2);RobomimicMerge.add (robomimic.py:3) 5
process 1:"python bench";process 2:"spawn_main";_serve (processes.py:1);Queue.get (queues.py:2) 7
process 1:"python bench";process 2:"spawn_main";_main (spawn.py:1);_LoaderBasics.exec_module (<frozen>:3);<module> (torch/__init__.py:1) 3
process 1:"python bench";process 2:"spawn_main";write_one (run.py:1);Augmenter.__call__ (augment.py:2);synthesize (generate/warp.py:3) 4
process 1:"python bench";process 2:"spawn_main";write_one (run.py:1);RobomimicWriter._write_camera (robomimic.py:2);Dataset.__setitem__ (h5py/dataset.py:9) 6
"""


def _function(frame: str) -> str:
    """`Class.method (file:line)` -> `method`."""
    return frame.split(" (")[0].rsplit(".", 1)[-1]


def _part(stack: str, parts: tuple[tuple[str, str], ...]) -> str:
    return next((name for name, key in parts if key in stack), "other")


def phase(stack: str) -> tuple[str, str]:
    """(phase, split) of one sample's stack (`process ...;frame;...;leaf`)."""
    frames = stack.split(";")
    processes = [f for f in frames if f.startswith("process ")]  # py-spy names the parent processes first
    if any("resource_tracker" in f for f in processes) or frames[-1].startswith("process "):
        return "idle", ""  # multiprocessing's resource tracker; a stack with no Python frame (native wait)
    if not any("multiprocessing" in f or "spawn_main" in f for f in processes):
        return "driver", "merge" if "merge" in stack.lower() else "other"
    if WAITS.match(_function(frames[-1])):
        return "idle", ""
    if "DepthPngFrames" in stack or "ImageFile" in stack:
        return "depth threads", ""  # depth PNGs decoded on a pool (`episode.DepthPngFrames`)
    if "Augmenter.__call__" in stack:
        return "transform", _part(stack, TRANSFORM_PARTS)
    if "exec_module" in stack and "write_one" not in stack:
        return "import", ""
    if any("write" in f.split(" (")[0].lower() for f in frames if not f.startswith("process ")):
        return "writer", _part(stack, WRITER_PARTS)
    return "other", ""


def group(lines) -> dict:
    phases, splits = Counter(), Counter()
    for line in lines:
        stack, _, count = line.rstrip("\n").rpartition(" ")
        if not stack or not count.isdigit():
            continue
        name, split = phase(stack)
        phases[name] += int(count)
        if split:
            splits[f"{name}:{split}"] += int(count)
    busy = sum(n for name, n in phases.items() if name not in ("driver", "idle"))
    return {"samples": dict(phases.most_common()), "splits": dict(splits.most_common()),
            "share_of_busy_worker_samples": {name: round(n / busy, 3) for name, n in phases.items()
                                             if name not in ("driver", "idle")} if busy else {}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("profile", nargs="?", type=Path)
    ap.add_argument("--small", action="store_true")
    args = ap.parse_args()
    if args.small:
        lines = SMALL.splitlines()
    elif args.profile is None:
        raise SystemExit("give a py-spy raw profile (or --small)")
    else:
        opener = gzip.open if args.profile.suffix == ".gz" else open
        with opener(args.profile, "rt") as f:
            lines = f.readlines()
    print(json.dumps({"figure": "pyspy_phases", **group(lines)}))


if __name__ == "__main__":
    main()
