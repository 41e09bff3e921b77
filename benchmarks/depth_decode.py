"""Depth PNG decoding: `DepthPngFrames.read` (a thread pool) against the same files decoded one after another.

    python benchmarks/depth_decode.py [--input AGIBOT_ROOT] [--repeat 3] [--small]

Without --input, one 60-frame 640x480 sample episode is written first (MuJoCo; not timed); every head depth
PNG of the input is read. Figures (one JSON line): median seconds of each side, frames/s, `ratio` = serial s /
pooled s, and whether the arrays are identical. --small: 17 frames at 64x48 (a smoke check).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "osmesa")

sys.path.insert(0, str(Path(__file__).parent))
from inputs import input_or_sample  # noqa: E402


def main() -> None:
    import numpy as np

    from embodied_rerender.episode import DepthPngFrames
    from embodied_rerender.imageio import read_depth_png

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--input", default=None)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--small", action="store_true")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench_depth_decode_"))
    try:
        src = input_or_sample(args.input, root, args.small)
        paths = sorted(Path(src).glob("observations/*/*/depth/*.png"))
        frames = DepthPngFrames(paths)
        frames.read([0])  # the pool starts outside the timing
        serial, pooled = [], []
        for _ in range(max(1, args.repeat)):
            t0 = time.perf_counter()
            a = np.stack([read_depth_png(p) for p in paths])
            serial.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            b = frames.read(range(len(paths)))
            pooled.append(time.perf_counter() - t0)
        s, p = statistics.median(serial), statistics.median(pooled)
        h, w = a.shape[1:]
        print(json.dumps({"figure": "depth_decode", "frames": len(paths), "size": f"{w}x{h}",
                          "cpus": len(os.sched_getaffinity(0)), "serial_s": round(s, 4), "pooled_s": round(p, 4),
                          "serial_fps": round(len(paths) / s, 1), "pooled_fps": round(len(paths) / p, 1),
                          "ratio": round(s / p, 2), "identical": bool(np.array_equal(a, b))}), flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
