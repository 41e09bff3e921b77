"""`augment` throughput, decoded input to written dataset: output frames per second on a device, against `convert`
(the same read and write, no synthesis) of the same episodes in the same run.

    python benchmarks/augment_throughput.py [--input AGIBOT_ROOT] [--device cuda] [--repeat-episodes 8]
                                            [--writer robomimic] [--compression gzip] [--targets head_to_gripper]
                                            [--small]

Without --input, sample episodes are written first (MuJoCo; not timed). Each side first runs one episode untimed
(`warmup_s`: imports, CUDA start, Triton compiles). --repeat-episodes N reads every input
episode N times under ids `<id>r<j>`, so a short input gives a steady figure. The run is the Python API that
`embodied-rerender augment` calls (`pipeline.augment.augment`: warp synthesizer on --device, co-visibility
retrieval k = 4, scoring against the recorded wrists on the same device, no previews), written with --writer
(robomimic by default: it needs only h5py, so it runs where lerobot and zarr are not installed).

Figures (one JSON line each): `augment_throughput.augment` seconds, synthesized frames written per second
(`output_fps`) and episode frames per second; `augment_throughput.convert` the baseline; `ratio` = augment
episode fps / convert episode fps (< 1: synthesis costs that much on top of the copy).
--small: one 17-frame 64x48 sample episode, repeated twice, on the CPU (a smoke check; figures mean nothing).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MUJOCO_GL", "osmesa")


class Repeated:
    """A reader that yields each episode of `reader` `n` times, as `<id>r<j>`."""

    def __init__(self, reader, n: int):
        self.reader, self.n, self.name = reader, n, reader.name
        self.problems = reader.problems

    def refs(self):
        from embodied_rerender.io.base import EpisodeRef

        return [EpisodeRef(r.task_id, f"{r.episode_id}r{j}") for r in self.reader.refs() for j in range(self.n)]

    def read(self, ref):
        from embodied_rerender.io.base import EpisodeRef

        episode = self.reader.read(EpisodeRef(ref.task_id, ref.episode_id.rsplit("r", 1)[0]))
        return dataclasses.replace(episode, episode_id=ref.episode_id)


def main() -> None:
    import torch

    from embodied_rerender.generate.warp import WarpSynthesizer
    from embodied_rerender.io import get_reader, get_writer
    from embodied_rerender.pipeline.augment import AugmentConfig, augment
    from embodied_rerender.pipeline.run import run_episodes

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--input", default=None)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--repeat-episodes", type=int, default=8)
    ap.add_argument("--writer", default="robomimic")
    ap.add_argument("--compression", default="gzip", help="robomimic writer: gzip | lzf | none")
    ap.add_argument("--targets", default="head_to_gripper")
    ap.add_argument("--small", action="store_true")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench_augment_throughput_"))
    try:
        src = args.input
        if src is None:
            from embodied_rerender.sample import write_sample_dataset

            src = root / "src"
            size = dict(frames=17, width=64, height=48) if args.small else dict(frames=60, width=640, height=480)
            write_sample_dataset(src, episodes=1, progress=False, **size)
        if args.small:
            args.device, args.repeat_episodes = "cpu", 2
        options = {"compression": None if args.compression == "none" else args.compression} \
            if args.writer == "robomimic" else {}

        def reader(n=args.repeat_episodes):
            return Repeated(get_reader(None, src), n)

        config = AugmentConfig(targets=args.targets.split(","), preview=False)
        synthesizer = WarpSynthesizer(device=args.device)
        t0 = time.perf_counter()  # one episode of each side first, untimed: imports, CUDA start, kernel compiles
        run_episodes(reader(1), get_writer(args.writer, **options), root / "warm_convert", progress=False)
        augment(reader(1), get_writer(args.writer, **options), root / "warm_augment", synthesizer, config,
                progress=False)
        warm_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        base = run_episodes(reader(), get_writer(args.writer, **options), root / "convert", progress=False)
        base_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        report = augment(reader(), get_writer(args.writer, **options), root / "augment", synthesizer, config,
                         progress=False)
        ours_s = time.perf_counter() - t0
        episodes = [e for e in report.episodes if e.get("status") == "written"]
        frames = sum(e["frames"] for e in episodes)
        synthesized = sum(e["frames"] * len(e.get("synthesized", {})) for e in episodes)
        device = torch.cuda.get_device_name(args.device) if args.device.startswith("cuda") else f"cpu ({os.cpu_count()} cores)"
        common = {"device": device, "writer": args.writer, "options": options, "episodes": len(episodes),
                  "episode_frames": frames, "input": str(args.input or "sample"), "small": args.small,
                  "warmup_s": round(warm_s, 2)}
        print(json.dumps({"figure": "augment_throughput.convert", **common, "seconds": round(base_s, 2),
                          "episode_fps": round(frames / base_s, 1)}), flush=True)
        print(json.dumps({"figure": "augment_throughput.augment", **common, "targets": args.targets,
                          "synthesized_frames": synthesized, "seconds": round(ours_s, 2),
                          "output_fps": round(synthesized / ours_s, 1), "episode_fps": round(frames / ours_s, 1),
                          "ratio": round(base_s / ours_s, 3)}), flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
