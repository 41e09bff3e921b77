"""Seconds to join N staged one-demo robomimic files into one (`RobomimicWriter.merge_session`: `add` per episode,
then `finish`), against a plain h5py copy of the same demos into one file (the copy floor), in the same run.

    python benchmarks/robomimic_merge.py [--input AGIBOT_ROOT] [--demos 128] [--compression lzf] [--small]

Without --input one sample episode is written first (640x480, 60 frames; MuJoCo, not timed) and staged once by
`RobomimicWriter.write_episode`; that staged file is then merged `--demos` times. In a run with worker processes
the `add` calls overlap the episode work (`pipeline/early_merge.py`) and `finish` is what is left after the last
episode, so `finish_s` is the merge's tail. Figures (one JSON object per line):

  robomimic.merge.copy   h5py `copy` of each demo into one file, nothing else (the floor of any merge)
  robomimic.merge        `add_s` (all adds), `finish_s`, `ratio` = our seconds / the copy's (>= 1)

--small: a 17-frame 64x48 episode merged 4 times (a smoke check for the test suite; its figures mean nothing).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "osmesa")
os.environ.setdefault("PYOPENGL_PLATFORM", "osmesa")

sys.path.insert(0, str(Path(__file__).parent))
from inputs import input_or_sample  # noqa: E402
from timing import timed  # noqa: E402


def copy_floor(staged: Path, demos: int, out: Path, filename: str) -> None:
    """`demos` copies of the staged file's demo_0 in one new file, as `demo_<i>`."""
    import h5py

    with h5py.File(staged / filename, "r") as src, h5py.File(out, "w") as dst:
        data = dst.create_group("data")
        for i in range(demos):
            src.copy(src["data/demo_0"], data, name=f"demo_{i}")


def merged(writer, staged: Path, demos: int, out: Path) -> tuple[float, float]:
    """Seconds of the `demos` adds and of `finish`."""
    session = writer.merge_session(out)
    add_s, _ = timed(lambda: [session.add(staged) for _ in range(demos)])
    finish_s, _ = timed(session.finish)
    return add_s, finish_s


def main() -> None:
    from embodied_rerender.io.agibot import AgiBotReader
    from embodied_rerender.io.robomimic import RobomimicWriter

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--input", default=None)
    ap.add_argument("--demos", type=int, default=128)
    ap.add_argument("--compression", default="lzf", help="gzip | lzf | none")
    ap.add_argument("--small", action="store_true")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench_robomimic_merge_"))
    try:
        src = input_or_sample(args.input, root, args.small)
        demos = 4 if args.small else args.demos
        writer = RobomimicWriter(compression=None if args.compression == "none" else args.compression)
        reader = AgiBotReader(src)
        staged = root / "staged"
        writer.write_episode(reader.read(reader.refs()[0]), staged)
        copy_s, _ = timed(lambda: copy_floor(staged, demos, root / "copy.hdf5", writer.filename))
        add_s, finish_s = merged(writer, staged, demos, root / "merged")
        common = {"demos": demos, "compression": args.compression, "input": str(args.input or "sample"),
                  "small": args.small, "cpu_count": os.cpu_count(),
                  "staged_mb": round((staged / writer.filename).stat().st_size / 1e6, 2)}
        print(json.dumps({"figure": "robomimic.merge.copy", **common, "seconds": round(copy_s, 3)}), flush=True)
        print(json.dumps({"figure": "robomimic.merge", **common, "add_s": round(add_s, 3), "finish_s": round(finish_s, 3),
                          "seconds": round(add_s + finish_s, 3), "ratio": round((add_s + finish_s) / copy_s, 3)}),
              flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
