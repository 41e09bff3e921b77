"""Seconds per written sample episode, per scene draw and robot design.

    python benchmarks/sample_timing.py [--frames 48] [--width 160] [--height 120] [--configs randomize,wide_jaw]

Each config writes one episode (all eight cameras, depth PNGs, proprio, ground truth) into a fresh temporary
directory with `write_sample_dataset` and prints one JSON line: config, seconds, seconds per frame. Configs:
`default`, `randomize` (default robot, randomised scene), `wide_jaw` (second robot, randomised scene).
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
    args = parser.parse_args()

    from embodied_rerender.sample import write_sample_dataset

    for name in args.configs.split(","):
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            write_sample_dataset(Path(tmp), episodes=1, frames=args.frames, seed=args.seed, width=args.width,
                                 height=args.height, progress=False, **CONFIGS[name])
            seconds = time.perf_counter() - start
        print(json.dumps({"config": name, **CONFIGS[name], "frames": args.frames, "width": args.width,
                          "height": args.height, "seconds_per_episode": round(seconds, 2),
                          "seconds_per_frame": round(seconds / args.frames, 4)}))


if __name__ == "__main__":
    main()
