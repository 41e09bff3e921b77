"""`augment` throughput, decoded input to written dataset: output frames per second on a device, against `convert`
(the same read and write, no synthesis) of the same episodes in the same run.

    python benchmarks/augment_throughput.py [--input AGIBOT_ROOT] [--device cuda] [--repeat-episodes 8]
                                            [--writer robomimic] [--compression gzip|lzf|none] [--compression-level 4]
                                            [--targets head_to_gripper] [--workers N] [--small]

Without --input, sample episodes are written first (MuJoCo; not timed). Each side first runs one episode untimed
(`warmup_s`: imports, CUDA start, Triton compiles; the worker processes' forkserver starts there and imports
their modules once, `start_method`). --repeat-episodes N reads every input
episode N times (symlinked as ids `<id> * 100 + j`), so a short input gives a steady figure. The run is what
`embodied-rerender augment` runs (`pipeline.launch.run_job`: warp synthesizer on --device, co-visibility
retrieval k = 4, scoring against the recorded wrists on the same device, no previews), --workers N episodes in
flight in spawned processes (`workers=N`; both sides), written with --writer
(robomimic by default: it needs only h5py, so it runs where lerobot and zarr are not installed).

Each side's output is deleted once timed (640x480 uncompressed HDF5 is about 0.3 GB per episode, written twice:
staged, then merged). Figures (one JSON line each): `augment_throughput.augment` seconds, synthesized frames written per second
(`output_fps`), episode frames per second and `merge_s` (the part of `seconds` spent merging after the last
episode); `augment_throughput.convert` the baseline; `ratio` = augment
episode fps / convert episode fps (< 1: synthesis costs that much on top of the copy).
--small: one 17-frame 64x48 sample episode, repeated twice, on the CPU in 2 processes (a smoke check; figures
mean nothing).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MUJOCO_GL", "osmesa")

sys.path.insert(0, str(Path(__file__).parent))
from inputs import input_or_sample  # noqa: E402


def repeat_dataset(src: Path, dst: Path, n: int) -> Path:
    """`dst`: an AgiBot-layout dataset holding every episode of `src` `n` times, as ids `<id> * 100 + j`
    (symlinked directories, copied task_info), so worker processes can read it like any input."""
    dst.mkdir(parents=True)
    (dst / "task_info").mkdir()
    for info in sorted((src / "task_info").glob("task_*.json")):
        task = info.stem.removeprefix("task_")
        entries = []
        for entry in json.loads(info.read_text()):
            for j in range(n):
                new_id = int(entry["episode_id"]) * 100 + j
                entries.append({**entry, "episode_id": new_id})
                for part in ("observations", "parameters", "proprio_stats"):
                    (dst / part / task).mkdir(parents=True, exist_ok=True)
                    os.symlink((src / part / task / str(entry["episode_id"])).absolute(), dst / part / task / str(new_id))
        (dst / "task_info" / info.name).write_text(json.dumps(entries))
    return dst


def warp_options(overrides: list[str]) -> dict:
    """augment.yaml's `warp:` group (what `embodied-rerender augment` passes the warp synthesizer) with
    ``KEY=VALUE`` overrides (YAML values)."""
    from omegaconf import OmegaConf

    from embodied_rerender.config import CONFIG_DIR

    group = OmegaConf.load(CONFIG_DIR / "augment.yaml").warp
    return OmegaConf.to_container(OmegaConf.merge(group, OmegaConf.from_dotlist(overrides)), resolve=True)


def main() -> None:
    import torch

    from embodied_rerender.pipeline.augment import AugmentConfig
    from embodied_rerender.pipeline.launch import Job, run_job
    from embodied_rerender.pipeline.processes import worker_context

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--input", default=None)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--repeat-episodes", type=int, default=8)
    ap.add_argument("--workers", type=int, default=1, help="episodes in flight (launcher=local workers=N), both sides")
    ap.add_argument("--writer", default="robomimic")
    ap.add_argument("--compression", default="gzip", help="robomimic writer: gzip | lzf | none")
    ap.add_argument("--compression-level", type=int, default=4, help="robomimic writer: the gzip level")
    ap.add_argument("--targets", default="head_to_gripper")
    ap.add_argument("--warp", nargs="*", default=[], metavar="KEY=VALUE",
                    help="overrides of augment.yaml's warp options, which the run uses (its defaults: self_parts=auto, "
                         "static_memory=auto), e.g. --warp static_memory=0 self_parts=null")
    ap.add_argument("--small", action="store_true")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench_augment_throughput_"))
    try:
        src = input_or_sample(args.input, root, args.small)
        if args.small:
            args.device, args.repeat_episodes, args.workers = "cpu", 2, 2  # 2: the process launcher is exercised
        src = Path(src)
        options = {"compression": None if args.compression == "none" else args.compression,
                   "compression_level": args.compression_level} if args.writer == "robomimic" else {}
        once, repeated = repeat_dataset(src, root / "once", 1), repeat_dataset(src, root / "repeated", args.repeat_episodes)
        config = AugmentConfig(targets=args.targets.split(","), preview=False)
        warp = warp_options(args.warp)

        def job(input: Path, synthesize: bool) -> Job:
            return Job(input=str(input), writer=args.writer, writer_options=options, device=args.device,
                       generator="warp" if synthesize else None, augment=config if synthesize else None,
                       generator_options=warp if synthesize else {})

        def timed(name: str, synthesize: bool, input: Path = repeated):
            t0 = time.perf_counter()
            report = run_job(job(input, synthesize), root / name, progress=False, workers=args.workers)
            seconds = time.perf_counter() - t0
            shutil.rmtree(root / name)  # long runs would fill the disk (see the docstring)
            return report, seconds

        # One episode of each side first, untimed: imports, CUDA start, kernel compiles (cached on disk for the
        # worker processes too).
        warm_s = timed("warm_convert", False, once)[1] + timed("warm_augment", True, once)[1]
        base, base_s = timed("convert", False)
        report, ours_s = timed("augment", True)
        episodes = [e for e in report.episodes if e.get("status") == "written"]
        frames = sum(e["frames"] for e in episodes)
        synthesized = sum(e["frames"] * len(e.get("synthesized", {})) for e in episodes)
        device = torch.cuda.get_device_name(args.device) if args.device.startswith("cuda") else f"cpu ({os.cpu_count()} cores)"
        common = {"device": device, "writer": args.writer, "options": options, "episodes": len(episodes),
                  "episode_frames": frames, "input": str(args.input or "sample"), "small": args.small,
                  "workers": args.workers, "warmup_s": round(warm_s, 2),
                  "start_method": worker_context().get_start_method()}
        print(json.dumps({"figure": "augment_throughput.convert", **common, "seconds": round(base_s, 2),
                          "merge_s": round(base.merge_seconds, 2),
                          "episode_fps": round(frames / base_s, 1)}), flush=True)
        print(json.dumps({"figure": "augment_throughput.augment", **common, "targets": args.targets, "warp": warp,
                          "synthesized_frames": synthesized, "seconds": round(ours_s, 2), "merge_s": round(report.merge_seconds, 2),
                          "output_fps": round(synthesized / ours_s, 1), "episode_fps": round(frames / ours_s, 1),
                          "ratio": round(base_s / ours_s, 3)}), flush=True)
        if len(episodes) != len(report.episodes) or base.skipped:
            raise SystemExit(f"skipped episodes: {report.skip_lines() + base.skip_lines()}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
