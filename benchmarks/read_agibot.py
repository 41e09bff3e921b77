"""Frames/s reading one AgiBot episode's cameras: sequential and random access through the reader,
against a plain PyAV decode of the same files in the same run.

    python benchmarks/read_agibot.py [--input AGIBOT_ROOT] [--frames 150] [--random 60]

Without --input it writes one sample episode (640x480, AV1) to a temporary directory first.
Prints one JSON object per figure; `ratio` is reader / baseline (>1 means the reader is faster).
The sequential baseline keeps its frames (np.stack), as any caller that uses them must.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np


from timing import timed  # noqa: E402  (benchmarks/ is on sys.path when a script runs)


def plain_pyav_sequential(path: Path, keep: bool = False) -> int | np.ndarray:
    """Baseline: decode every frame to RGB with PyAV. keep: stack them into `(T, H, W, 3) uint8`, as a
    caller that uses the frames must; otherwise return the count."""
    import av

    frames, n = [], 0
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for frame in container.decode(stream):
            rgb = frame.to_ndarray(format="rgb24")
            n += 1
            if keep:
                frames.append(rgb)
    return np.stack(frames) if keep else n


def plain_pyav_random(path: Path, indices: list[int], fps: float) -> int:
    """Baseline: the usual per-frame random access, a fresh seek to t = i / fps and decode up to it."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        for i in indices:
            target = int(round(i / fps / stream.time_base))
            container.seek(target, stream=stream, backward=True)
            for frame in container.decode(stream):
                if frame.pts >= target:
                    frame.to_ndarray(format="rgb24")
                    break
    return len(indices)


def median_of(fn, repeat: int) -> float:
    """Median seconds of `repeat` calls of `fn`."""
    return float(np.median([timed(fn)[0] for _ in range(max(repeat, 1))]))


def main() -> None:
    from embodied_rerender.io.agibot import AgiBotReader

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", type=Path)
    parser.add_argument("--frames", type=int, default=150)
    parser.add_argument("--random", type=int, default=60, help="random frames per camera")
    parser.add_argument("--repeat", type=int, default=3, help="runs per side; the median is reported")
    parser.add_argument("--small", action="store_true", help="17 frames (the sample minimum) at 64x48, one run (smoke check)")
    args = parser.parse_args()
    if args.small:
        args.frames, args.random, args.repeat = 17, 2, 1
    root = args.input
    if root is None:
        from embodied_rerender.sample import write_sample_dataset

        root = Path(tempfile.mkdtemp()) / "agibot"
        size = {"width": 64, "height": 48} if args.small else {}
        write_sample_dataset(root, episodes=1, frames=args.frames, seed=0, progress=False, **size)
    reader = AgiBotReader(root)
    ref = reader.refs()[0]
    episode = reader.read(ref)
    rng = np.random.default_rng(0)
    for name in sorted(episode.cameras):
        path = Path(episode.cameras[name].source_path)
        n = len(episode.cameras[name])
        idx = rng.integers(0, n, size=args.random).tolist()
        size = f"{episode.cameras[name].width}x{episode.cameras[name].height}"
        plain_pyav_sequential(path, keep=True)  # warm-up: file cache, decoder libraries, allocator
        new_camera = lambda: AgiBotReader(root).read(ref).cameras[name]  # noqa: E731  (its packet index is timed)
        # Alternate the two sides and take medians: single shots of ~0.1 s swing with page faults and order.
        base_seq = median_of(lambda: plain_pyav_sequential(path, keep=True), args.repeat)
        ours_seq = median_of(lambda: new_camera()[:], args.repeat)
        base_rand = median_of(lambda: plain_pyav_random(path, idx, episode.fps), args.repeat)
        ours_rand = median_of(lambda: (lambda cam: [cam[i] for i in idx])(new_camera()), args.repeat)
        codec = getattr(episode.cameras[name].frames, "codec", "?")
        for mode, ours, base, count in (("sequential", ours_seq, base_seq, n), ("random", ours_rand, base_rand, len(idx))):
            print(json.dumps({"figure": f"read_agibot.{mode}", "camera": name, "size": size, "codec": codec,
                              "frames": count, "reader_fps": round(count / ours, 1),
                              "plain_pyav_fps": round(count / base, 1), "ratio": round(base / ours, 3)}))


if __name__ == "__main__":
    main()
