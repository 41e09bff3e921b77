"""Cost of `augment output_mode=episodes` (each source episode written as recorded plus one episode per
head_shift view) against the default `output_mode=cameras` (the same views added as cameras), on the same
episodes and targets in the same run.

    python benchmarks/augment_episodes.py [--episodes 2] [--frames 30] [--width 160] [--height 120]
                                          [--count 2] [--writers lerobot,zarr]

Run it with this checkout importable (`PYTHONPATH=.` from the repository root, or an editable install).
Sample episodes are written first to a temporary directory (not timed). Figures (one JSON object per line):

  augment_episodes.<writer>.cameras   `augment targets=[head_shift] head_shift.count=N` (baseline)
  augment_episodes.<writer>.episodes  the same with `output_mode=episodes replace_camera=head`

`seconds` is the whole run (synthesis, writing, merge); `written` the episodes in the output; `ratio` is
episodes seconds / cameras seconds (>1: the episodes mode is slower, as it writes every recorded camera
1 + N times). The synthesis is the same in both modes.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MUJOCO_GL", "osmesa")


def run(args: list[str]) -> tuple[float, dict]:
    from embodied_rerender.cli import main

    start = time.perf_counter()
    code = main(args + ["progress=false"])
    seconds = time.perf_counter() - start
    if code != 0:
        raise SystemExit(f"augment exited {code}: {args}")
    out = Path(next(a for a in args if a.startswith("output="))[len("output="):])
    return seconds, json.loads((out / "report.json").read_text())["summary"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=2)
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--width", type=int, default=160)
    parser.add_argument("--height", type=int, default=120)
    parser.add_argument("--count", type=int, default=2)
    parser.add_argument("--writers", default="lerobot,zarr")
    parser.add_argument("--small", action="store_true", help="1 episode, 17 frames at 64x48, zarr only (smoke check)")
    opts = parser.parse_args()
    if opts.small:
        opts.episodes, opts.frames, opts.width, opts.height, opts.count, opts.writers = 1, 17, 64, 48, 1, "zarr"

    from embodied_rerender.cli import main as cli

    root = Path(tempfile.mkdtemp(prefix="bench_augment_episodes_"))
    try:
        src = root / "src"
        assert cli(["sample", f"output={src}", f"episodes={opts.episodes}", f"frames={opts.frames}",
                    f"width={opts.width}", f"height={opts.height}", "progress=false"]) == 0
        for writer in opts.writers.split(","):
            base = ["augment", f"input={src}", f"writer={writer}", "targets=[head_shift]",
                    f"head_shift.count={opts.count}", "preview=false"]
            cams_s, cams = run(base + [f"output={root / (writer + '_cameras')}"])
            eps_s, eps = run(base + [f"output={root / (writer + '_episodes')}", "output_mode=episodes",
                                     "replace_camera=head"])
            common = {"episodes": opts.episodes, "frames": opts.frames, "size": [opts.width, opts.height],
                      "count": opts.count}
            print(json.dumps({"name": f"augment_episodes.{writer}.cameras", **common, "seconds": round(cams_s, 2),
                              "written": cams["written"]}))
            print(json.dumps({"name": f"augment_episodes.{writer}.episodes", **common, "seconds": round(eps_s, 2),
                              "written": eps["written"], "ratio": round(eps_s / cams_s, 3)}))
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
