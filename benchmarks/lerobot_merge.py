"""Seconds to join N staged one-episode LeRobot datasets into one (`LeRobotWriter.merge`), against the same
lerobot `aggregate_datasets` call with lerobot's own metadata loading, in the same run on the same episodes.

    python benchmarks/lerobot_merge.py [--input AGIBOT_ROOT] [--episodes N] [--frames 60] [--width 96]
                                       [--height 72] [--small]

Without --input it first writes sample episodes (AgiBot layout, 3 cameras + head depth, the benchmark-policy
task scene) to a temporary directory; each episode is then staged once by `LeRobotWriter.write_episode` (the
pipeline's per-episode step, not timed). Figures (one JSON object per line on stdout):

  lerobot.merge.baseline  `aggregate_datasets` as lerobot ships it: one `LeRobotDatasetMetadata` per staged
                          episode, each reading `meta/episodes` through `datasets.Dataset.from_parquet`
  lerobot.merge           `LeRobotWriter.merge`: the same call, `meta/episodes` read with `load_episode_index`
                          (pyarrow, the stats columns left out); `ratio` = baseline seconds / ours (>1: faster)

Both outputs are compared (same info.json totals, the same frames table and the same decoded video frames)
before anything is printed.
--small: 3 episodes of 20 frames at 64x48 (a smoke check for the test suite; its figures mean nothing).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MUJOCO_GL", "osmesa")
os.environ.setdefault("PYOPENGL_PLATFORM", "osmesa")

sys.path.insert(0, str(Path(__file__).parent))
from timing import timed  # noqa: E402


def stage(root: Path, tmp: Path, writer, limit: int | None = None) -> list[Path]:
    """The first `limit` (default every) episodes of the AgiBot dataset at `root`, each as a one-episode LeRobot
    dataset under `tmp`."""
    from embodied_rerender.io.agibot import AgiBotReader

    reader = AgiBotReader(root)
    dirs = []
    for i, ref in enumerate(reader.refs()[:limit]):
        dirs.append(tmp / f"staged_{i}")
        writer.write_episode(reader.read(ref), dirs[-1])
    return dirs


def baseline_merge(writer, dirs: list[Path], out: Path) -> None:
    from lerobot.datasets.aggregate import aggregate_datasets

    aggregate_datasets(repo_ids=[f"{writer.repo_id}_{i}" for i in range(len(dirs))], aggr_repo_id=writer.repo_id,
                       roots=dirs, aggr_root=out)


def same_dataset(a: Path, b: Path) -> None:
    import pandas as pd

    ia, ib = (json.loads((p / "meta" / "info.json").read_text()) for p in (a, b))
    for key in ("total_episodes", "total_frames", "features"):
        if ia[key] != ib[key]:
            raise RuntimeError(f"merged datasets differ in {key}")
    ta, tb = (pd.concat([pd.read_parquet(f) for f in sorted((p / "data").rglob("*.parquet"))]) for p in (a, b))
    if not ta.reset_index(drop=True).equals(tb.reset_index(drop=True)):
        raise RuntimeError("merged datasets differ in their frames table")
    for camera in sorted(d.name for d in (a / "videos").iterdir()):
        fa, fb = (decoded_frames(p / "videos" / camera) for p in (a, b))
        if fa.shape != fb.shape or not (fa == fb).all():
            raise RuntimeError(f"merged datasets differ in the decoded frames of {camera}")


def decoded_frames(camera_dir: Path):
    """Every frame of a camera's video files, in file order: `(N, H, W, 3) uint8` (where lerobot starts a new
    file may differ between the two merges; the frame sequence may not)."""
    import numpy as np

    from embodied_rerender.video import VideoReader

    readers = [VideoReader(p) for p in sorted(camera_dir.rglob("*.mp4"))]
    return np.concatenate([r.read(list(range(r.num_frames))) for r in readers])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--input", type=Path)
    ap.add_argument("--episodes", type=int, help="episodes rendered (default 20) or taken from --input (default all)")
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--width", type=int, default=96)
    ap.add_argument("--height", type=int, default=72)
    ap.add_argument("--small", action="store_true")
    args = ap.parse_args()
    if args.small:
        args.episodes, args.frames, args.width, args.height = 3, 20, 64, 48

    from embodied_rerender.io.lerobot import LeRobotWriter
    from embodied_rerender.sample import write_sample_dataset

    tmp = Path(tempfile.mkdtemp(prefix="bench_merge_"))
    try:
        root = args.input
        if root is None:
            root = tmp / "agibot"
            write_sample_dataset(root, episodes=args.episodes or 20, frames=args.frames, width=args.width,
                                 height=args.height, progress=False, scene="one_arm")
        writer = LeRobotWriter(repo_id="bench/merge")
        dirs = stage(root, tmp, writer, args.episodes)
        base_s, _ = timed(lambda: baseline_merge(writer, dirs, tmp / "baseline"))
        ours_s, _ = timed(lambda: writer.merge(dirs, tmp / "ours"))
        same_dataset(tmp / "baseline", tmp / "ours")
        common = {"episodes": len(dirs), "frames": args.frames, "size": f"{args.height}x{args.width}"}
        print(json.dumps({"figure": "lerobot.merge.baseline", "seconds": round(base_s, 2), **common}))
        print(json.dumps({"figure": "lerobot.merge", "seconds": round(ours_s, 2),
                          "s_per_episode": round(ours_s / len(dirs), 3), "ratio": round(base_s / ours_s, 2), **common}))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
