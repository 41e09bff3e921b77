"""Seconds per written sample episode, per scene draw and robot design.

    python benchmarks/sample_timing.py [--frames 48] [--width 160] [--height 120] [--configs randomize,wide_jaw] [--small]

Each config writes one episode (all eight cameras, depth PNGs, proprio, ground truth) into a fresh temporary
directory with `write_sample_dataset` and prints one JSON line: config, seconds, seconds per frame. Configs:
`default`, `randomize` (default robot, randomised scene), `wide_jaw` (second robot, randomised scene).
The baseline is `default`, timed in the same run; `ratio` = seconds of the config / seconds of the default.
--small: 17 frames at 64x48 (the sample's minimum; a smoke check, its figures mean nothing).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

CONFIGS = {
    "default": {"randomize": False, "embodiment": "agibot_g1"},
    "randomize": {"randomize": True, "embodiment": "agibot_g1"},
    "wide_jaw": {"randomize": True, "embodiment": "wide_jaw"},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--width", type=int, default=160)
    parser.add_argument("--height", type=int, default=120)
    parser.add_argument("--seed", type=int, default=100)
    parser.add_argument("--configs", default="randomize,wide_jaw", help=f"comma list of {', '.join(CONFIGS)}")
    parser.add_argument("--small", action="store_true")
    args = parser.parse_args()
    if args.small:
        args.frames, args.width, args.height = 17, 64, 48

    from embodied_rerender.sample import write_sample_dataset

    baseline = None
    for name in ["default"] + [c for c in args.configs.split(",") if c != "default"]:
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            write_sample_dataset(Path(tmp), episodes=1, frames=args.frames, seed=args.seed, width=args.width,
                                 height=args.height, progress=False, **CONFIGS[name])
            seconds = time.perf_counter() - start
        baseline = baseline or seconds
        print(json.dumps({"config": name, **CONFIGS[name], "frames": args.frames, "width": args.width,
                          "height": args.height, "seconds_per_episode": round(seconds, 2),
                          "seconds_per_frame": round(seconds / args.frames, 4), "ratio": round(seconds / baseline, 3)}))


if __name__ == "__main__":
    main()
