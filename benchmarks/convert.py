"""Frames/s converting AgiBot episodes to LeRobot (stream copy, re-encode) and to zarr, and reading the
zarr back, each against a plain baseline measured on the same episodes in the same run.

    python benchmarks/convert.py [--input AGIBOT_ROOT] [--episodes 2] [--frames 90] [--width 640] [--height 480]
                                 [--repeat 1] [--read-repeat 3]

Without --input it first writes sample episodes (AgiBot layout, 3 cameras, AV1) to a temporary
directory; that setup is not timed. Figures (one JSON object per line on stdout):

  convert.lerobot.baseline  lerobot's plain per-frame path: LeRobotDataset.create(use_videos=True),
                            add_frame({...}) with every camera's decoded RGB frame, save_episode(),
                            finalize() (lerobot defaults: PNG frames, libsvtav1)
  convert.lerobot.copy      run_episodes(AgiBotReader, LeRobotWriter(copy_videos=True))   vs baseline
  convert.lerobot.reencode  run_episodes(AgiBotReader, LeRobotWriter(copy_videos=False))  vs baseline
  convert.zarr.write        run_episodes(AgiBotReader, ZarrWriter())  (JPEG-XL)           vs baseline
  convert.zarr.read         every camera frame of every episode through ZarrReader,
                            vs decoding the source AV1 mp4s sequentially with plain PyAV

Reads are the median of --read-repeat runs (default 3); conversions the median of --repeat runs
(default 1: each conversion is timed once, to keep the defaults near 2.5 minutes on 2 cores).

`fps` counts episode frames (one per time step), `camera_fps` camera frames (fps x cameras).
`ratio` is ours / baseline in frames/s (>1 means ours is faster).
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
os.environ.setdefault("PYOPENGL_PLATFORM", "osmesa")
os.environ.setdefault("SVT_LOG", "1")  # as embodied_rerender.video sets it; the same for every encode here

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from read_agibot import plain_pyav_sequential  # noqa: E402  the same baseline in both scripts
from timing import timed  # noqa: E402


def dir_mb(path: Path) -> float:
    return round(sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file()) / 1e6, 2)


# -- baselines ---------------------------------------------------------------------------------
def decoded_frames(paths: list[Path]):
    """The RGB frames of several videos in lockstep: one list (a frame per video) per time step."""
    import av

    containers = [av.open(str(p)) for p in paths]
    try:
        streams = [c.streams.video[0] for c in containers]
        for s in streams:
            s.thread_type = "AUTO"
        for frames in zip(*(c.decode(s) for c, s in zip(containers, streams))):
            yield [f.to_ndarray(format="rgb24") for f in frames]
    finally:
        for c in containers:
            c.close()


def lerobot_plain(root: Path, out: Path) -> dict:
    """lerobot's own recording path: one add_frame per time step with all features, save_episode per episode."""
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    from embodied_rerender.io.agibot import AgiBotReader
    from embodied_rerender.io.lerobot import build_features, episode_buffer

    reader = AgiBotReader(root)
    ds, frames, camera_frames = None, 0, 0
    for ref in reader.refs():
        episode = reader.read(ref)
        features = build_features(episode)
        if ds is None:
            ds = LeRobotDataset.create(repo_id="bench/plain", fps=int(round(episode.fps)), features=dict(features),
                                       root=out, robot_type="AgiBot_A2D", use_videos=True)
        buf = episode_buffer(episode, features)
        lowdim = [k for k, ft in features.items() if ft["dtype"] != "video"]
        names = list(episode.cameras)
        n = 0
        for i, images in enumerate(decoded_frames([Path(episode.cameras[c].source_path) for c in names])):
            frame = {k: buf[k][i] for k in lowdim}
            frame.update({f"observation.images.{c}": image for c, image in zip(names, images)})
            frame["task"] = buf["task"][i]
            ds.add_frame(frame)
            n += 1
        if n != episode.num_frames:
            raise RuntimeError(f"{ref.label}: decoded {n} frames, the episode has {episode.num_frames}")
        ds.save_episode()
        frames += n
        camera_frames += n * len(names)
    if ds is None:
        raise RuntimeError(f"no episodes in {root}")
    ds.finalize()
    return {"frames": frames, "camera_frames": camera_frames}


# -- ours --------------------------------------------------------------------------------------
def run_ours(root: Path, writer, out: Path) -> dict:
    """run_episodes(AgiBotReader -> writer); the seconds of that call and the frames it wrote."""
    from embodied_rerender.io.agibot import AgiBotReader
    from embodied_rerender.pipeline.run import run_episodes

    reader = AgiBotReader(root)
    cameras = {ref.label: len(reader.read(ref).cameras) for ref in reader.refs()}  # counted outside the timing
    seconds, report = timed(lambda: run_episodes(AgiBotReader(root), writer, out, progress=False))
    if report.skipped or len(report.written) != len(cameras):
        raise RuntimeError(f"{writer.name}: not every episode was written: {report.skip_lines()}")
    frames = sum(e["frames"] for e in report.written)
    camera_frames = sum(e["frames"] * cameras[e["episode"]] for e in report.written)
    return {"seconds": seconds, "frames": frames, "camera_frames": camera_frames}


def read_zarr(path: Path) -> dict:
    """Every camera frame of every episode of a zarr store, through ZarrReader."""
    from embodied_rerender.io.zarr_io import ZarrReader

    reader = ZarrReader(path)
    frames = camera_frames = 0
    for ref in reader.refs():
        episode = reader.read(ref)
        for cam in episode.cameras.values():
            images = cam.frames.read(np.arange(len(cam)))
            camera_frames += len(images)
        frames += episode.num_frames
    return {"frames": frames, "camera_frames": camera_frames}


def lerobot_frames(out: Path) -> int:
    return int(json.loads((out / "meta" / "info.json").read_text())["total_frames"])


def repeated(fn, repeat: int) -> tuple[float, dict, list[float]]:
    """fn(i) -> (seconds, counts), called `repeat` times: the median seconds, the last counts, every time."""
    runs = [fn(i) for i in range(max(repeat, 1))]
    return float(np.median([t for t, _ in runs])), runs[-1][1], [round(t, 2) for t, _ in runs]


def figure(name: str, seconds: float, counts: dict, runs: list[float], **extra) -> dict:
    out = {"figure": name, "frames": counts["frames"], "camera_frames": counts["camera_frames"],
           "seconds": round(seconds, 2), "fps": round(counts["frames"] / seconds, 1),
           "camera_fps": round(counts["camera_frames"] / seconds, 1)}
    if len(runs) > 1:
        out["runs_s"] = runs
    return out | extra


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", type=Path, help="an AgiBot World tree (default: write sample episodes)")
    parser.add_argument("--episodes", type=int, default=2, help="sample episodes (without --input)")
    parser.add_argument("--frames", type=int, default=90, help="frames per sample episode (without --input)")
    parser.add_argument("--width", type=int, default=640, help="sample frame width (without --input)")
    parser.add_argument("--height", type=int, default=480, help="sample frame height (without --input)")
    parser.add_argument("--seed", type=int, default=0, help="sample seed (without --input)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="times each conversion is run (the median is reported; ~1 min per repeat at the defaults)")
    parser.add_argument("--read-repeat", type=int, default=3,
                        help="times each read measurement (a few seconds) is run; the median is reported")
    parser.add_argument("--workdir", type=Path, help="where outputs go (default: a temporary directory, removed after)")
    parser.add_argument("--small", action="store_true", help="1 episode, 17 frames (the sample minimum), 64x48, one read (smoke check)")
    args = parser.parse_args()
    if args.small:
        args.episodes, args.frames, args.width, args.height, args.repeat, args.read_repeat = 1, 17, 64, 48, 1, 1

    import datasets
    import lerobot.datasets.lerobot_dataset  # noqa: F401 - imports are not part of any timing
    import zarr  # noqa: F401

    from embodied_rerender.io.agibot import AgiBotReader
    from embodied_rerender.io.lerobot import LeRobotWriter
    from embodied_rerender.io.zarr_io import ZarrWriter, register_image_codecs

    datasets.disable_progress_bars()  # LeRobotWriter does this too; the same for the baseline
    register_image_codecs()
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=args.workdir))
    try:
        root = args.input
        if root is None:
            from embodied_rerender.sample import write_sample_dataset

            root = work / "agibot"
            seconds, _ = timed(lambda: write_sample_dataset(root, episodes=args.episodes, frames=args.frames, seed=args.seed,
                                                            width=args.width, height=args.height, progress=False))
            print(f"# sample data: {args.episodes} episodes x {args.frames} frames written in {seconds:.1f} s (not timed)",
                  file=sys.stderr)
        reader = AgiBotReader(root)
        episodes = [reader.read(ref) for ref in reader.refs()]
        if not episodes:
            raise SystemExit(f"no readable episodes in {root}: {[str(p) for p in reader.problems]}")
        cams = sorted({f"{c.width}x{c.height}" for e in episodes for c in e.cameras.values()})
        codecs = sorted({getattr(c.frames, "codec", "?") for e in episodes for c in e.cameras.values()})
        common = {"episodes": len(episodes), "cameras": max(len(e.cameras) for e in episodes), "size": ",".join(cams),
                  "source_codec": ",".join(codecs), "cpus": os.cpu_count()}
        videos = [Path(c.source_path) for e in episodes for c in e.cameras.values()]
        expected = {"frames": sum(e.num_frames for e in episodes),
                    "camera_frames": sum(e.num_frames * len(e.cameras) for e in episodes)}

        def fresh(name: str, i: int) -> Path:
            """A new output path per repeat; the previous repeat's output is removed (the last one is measured)."""
            if i:
                shutil.rmtree(work / f"{name}{i - 1}", ignore_errors=True)
            return work / f"{name}{i}"

        def check(name: str, counts: dict, written: int) -> None:
            if counts != expected or written != expected["frames"]:
                raise RuntimeError(f"{name}: {counts} / {written} frames in the output, the sources have {expected}")

        # 1. plain PyAV decode of every source video (the first pass also warms the page cache for all that follows)
        def decode(_):
            seconds, n = timed(lambda: sum(plain_pyav_sequential(p) for p in videos))
            return seconds, {"frames": expected["frames"], "camera_frames": n}

        dec_s, dec, dec_runs = repeated(decode, args.read_repeat)
        check("plain PyAV decode", dec, expected["frames"])

        # 2. lerobot's per-frame path
        def baseline(i):
            out = fresh("plain", i)
            seconds, counts = timed(lambda: lerobot_plain(root, out))
            check("baseline", counts, lerobot_frames(out))
            return seconds, counts

        base_s, base, runs = repeated(baseline, args.repeat)
        base_fig = figure("convert.lerobot.baseline", base_s, base, runs, **common, method="add_frame + save_episode",
                          vcodec="libsvtav1 (lerobot default: preset 12, crf 30, g 2)",
                          output_mb=dir_mb(work / f"plain{max(args.repeat, 1) - 1}"))
        print(json.dumps(base_fig), flush=True)

        # 3. ours: stream copy, re-encode
        for mode, copy in (("copy", True), ("reencode", False)):
            stats = {}

            def ours(i, mode=mode, copy=copy, stats=stats):
                out = fresh(mode, i)
                writer = LeRobotWriter(repo_id=f"bench/{mode}", copy_videos=copy)
                res = run_ours(root, writer, out)
                counts = {"frames": res["frames"], "camera_frames": res["camera_frames"]}
                check(mode, counts, lerobot_frames(out))
                stats.update(writer.stats)
                return res["seconds"], counts

            seconds, counts, runs = repeated(ours, args.repeat)
            print(json.dumps(figure(f"convert.lerobot.{mode}", seconds, counts, runs, **common, videos=stats,
                                    vcodec="source stream copied" if copy else "libsvtav1 (LeRobotWriter: preset 10, crf 30, g 2)",
                                    output_mb=dir_mb(work / f"{mode}{max(args.repeat, 1) - 1}"),
                                    baseline="convert.lerobot.baseline", baseline_fps=base_fig["fps"],
                                    ratio=round(base_s / seconds, 3))), flush=True)

        # 4. zarr write (JPEG-XL), then read back
        def zarr_write(i):
            out = fresh("zarr", i)
            res = run_ours(root, ZarrWriter(), out)
            return res["seconds"], {"frames": res["frames"], "camera_frames": res["camera_frames"]}

        seconds, counts, runs = repeated(zarr_write, args.repeat)
        store = work / f"zarr{max(args.repeat, 1) - 1}"
        print(json.dumps(figure("convert.zarr.write", seconds, counts, runs, **common, image_codec="jpegxl (ZarrWriter default)",
                                output_mb=dir_mb(store), baseline="convert.lerobot.baseline",
                                baseline_fps=base_fig["fps"], ratio=round(base_s / seconds, 3))), flush=True)

        def zarr_read(_):
            seconds, counts = timed(lambda: read_zarr(store))
            check("zarr read", counts, counts["frames"])
            return seconds, counts

        read_s, read, runs = repeated(zarr_read, args.read_repeat)
        print(json.dumps(figure("convert.zarr.read", read_s, read, runs, **common, image_codec="jpegxl (ZarrWriter default)",
                                baseline="plain PyAV decode of the source mp4s, sequential",
                                baseline_fps=round(dec["frames"] / dec_s, 1), baseline_camera_fps=round(dec["camera_frames"] / dec_s, 1),
                                baseline_runs_s=dec_runs, ratio=round(dec_s / read_s, 3))), flush=True)
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
