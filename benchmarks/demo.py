"""The demo end to end on CPU: `embodied-rerender demo` timed as a subprocess, its stages read from what it
prints, against `embodied-rerender convert` of the same sample episodes in the same run (the cost of
synthesis on top of plain conversion).

    python benchmarks/demo.py [--convert-repeat 3] [--workdir DIR] [demo overrides, e.g. frames=30]

1. `embodied-rerender demo output=<tmp>/demo [overrides]`: writes the MuJoCo sample episodes (AgiBot
   layout), then augments them (head_to_gripper + virtual_wrist targets, warp synthesizer, co-visibility
   retrieval, LeRobot writer, previews). Stages: `sample` and `augment` seconds as the demo prints them;
   `other` is the rest of the wall time (interpreter start, imports, Hydra).
2. Baseline: `embodied-rerender convert input=<tmp>/demo/agibot output=<tmp>/convertN writer=lerobot`
   on the episodes the demo just wrote (median of --convert-repeat runs).

Figures (one JSON object per line on stdout):

  demo.total    the demo's wall time, its stages, peak RSS of the process
  demo.augment  the demo's augment stage against the convert baseline: `fps` counts episode frames,
                `ratio` = convert s / augment s (ours / baseline in frames/s; < 1 means augment is slower),
                `synthesis_overhead_s` = augment s - convert s. Both the printed in-process seconds and
                the subprocess wall times are given.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MUJOCO_GL", "osmesa")
os.environ.setdefault("PYOPENGL_PLATFORM", "osmesa")


def cli() -> list[str]:
    script = Path(sys.executable).parent / "embodied-rerender"
    return [str(script)] if script.exists() else [sys.executable, "-m", "embodied_rerender.cli"]


def run(args: list[str], log: Path) -> dict:
    """Run a command; its wall seconds, stdout, exit code, user/sys CPU seconds and peak RSS (its own rusage)."""
    with open(log, "w") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    text = log.read_text()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)} exited {proc.returncode}:\n{text[-3000:]}")
    return {"wall_s": wall, "stdout": text, "cpu_s": usage.ru_utime + usage.ru_stime,
            "peak_rss_mb": round(usage.ru_maxrss * (1 if sys.platform == "darwin" else 1024) / 1e6)}


def printed_seconds(text: str, verb: str) -> float:
    """The `N.N s` of the `<verb>: ...` summary line."""
    m = re.search(rf"^{verb}: .*?([\d.]+) s(?:,| ->)", text, re.MULTILINE)
    if m is None:
        raise SystemExit(f"no '{verb}: ... s' line in:\n{text[-3000:]}")
    return float(m.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--convert-repeat", type=int, default=3, help="convert runs (the median is reported)")
    parser.add_argument("--workdir", type=Path, help="where outputs go (default: a temporary directory, removed after)")
    parser.add_argument("overrides", nargs="*", help="demo key=value overrides (episodes, frames, seed, width, height)")
    parser.add_argument("--small", action="store_true",
                        help="1 episode, 17 frames at 64x48, one convert (smoke check; overrides come after)")
    args = parser.parse_args()
    if args.small:
        args.convert_repeat = 1
        args.overrides = ["episodes=1", "frames=17", "width=64", "height=48", *args.overrides]
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=args.workdir))
    try:
        common = {"cpus": os.cpu_count(), "loadavg_1m_start": round(os.getloadavg()[0], 2),
                  "overrides": args.overrides}
        demo = run(cli() + ["demo", f"output={work / 'demo'}", *args.overrides], work / "demo.log")
        sample_s, augment_s = printed_seconds(demo["stdout"], "sample"), printed_seconds(demo["stdout"], "augment")
        report = json.loads((work / "demo" / "lerobot" / "report.json").read_text())
        frames = report["summary"]["frames"]
        synth = sum(e["frames"] * len(e.get("synthesized", {})) for e in report["episodes"])
        targets = sorted({t for e in report["episodes"] for t in e.get("synthesized", {})})
        coverage = [round(s["coverage"], 3) for e in report["episodes"] for s in e.get("synthesized", {}).values()]
        first = report["episodes"][0]
        size = None
        info = work / "demo" / "lerobot" / "meta" / "info.json"
        if info.exists():
            feats = json.loads(info.read_text()).get("features", {})
            shapes = {tuple(f["shape"]) for f in feats.values() if f.get("dtype") == "video"}
            size = ",".join(f"{s[1]}x{s[0]}" for s in sorted(shapes)) if shapes else None
        print(json.dumps({"figure": "demo.total", **common, "episodes": report["summary"]["episodes"],
                          "frames": frames, "size": size, "synthesized_targets": targets,
                          "synthesized_camera_frames": synth, "wall_s": round(demo["wall_s"], 1),
                          "stages_s": {"sample": sample_s, "augment": augment_s,
                                       "other": round(demo["wall_s"] - sample_s - augment_s, 1)},
                          "cpu_s": round(demo["cpu_s"], 1), "peak_rss_mb": demo["peak_rss_mb"],
                          "coverage": coverage, "cameras_first_episode": first.get("cameras")}), flush=True)

        runs = []
        for i in range(max(args.convert_repeat, 1)):
            out = work / f"convert{i}"
            res = run(cli() + ["convert", f"input={work / 'demo' / 'agibot'}", f"output={out}", "writer=lerobot",
                               "progress=false"], work / f"convert{i}.log")
            res["printed_s"] = printed_seconds(res["stdout"], "convert")
            runs.append(res)
            shutil.rmtree(out, ignore_errors=True)
        conv_s = statistics.median(r["printed_s"] for r in runs)
        conv_wall = statistics.median(r["wall_s"] for r in runs)
        print(json.dumps({"figure": "demo.augment", **common, "frames": frames, "synthesized_camera_frames": synth,
                          "seconds": augment_s, "fps": round(frames / augment_s, 2),
                          "baseline": "embodied-rerender convert writer=lerobot (same episodes)",
                          "baseline_seconds": conv_s, "baseline_runs_s": [r["printed_s"] for r in runs],
                          "baseline_fps": round(frames / conv_s, 2), "baseline_wall_s": round(conv_wall, 1),
                          "baseline_peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
                          "synthesis_overhead_s": round(augment_s - conv_s, 1),
                          "ratio": round(conv_s / augment_s, 3),
                          "loadavg_1m_end": round(os.getloadavg()[0], 2)}), flush=True)
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
