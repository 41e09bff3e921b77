"""The `embodied-rerender` console script: `embodied-rerender VERB key=value ...` (Hydra overrides).

Each verb has a config in `embodied_rerender/configs/<verb>.yaml`; unknown keys are refused, so a typo
never silently falls back to a default. Exit codes: 0 success, 1 fatal error, 2 some episodes skipped.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Callable, NamedTuple

from omegaconf import DictConfig, OmegaConf

from .config import CONFIG_DIR, load_config
from .errors import DatasetError


def cmd_sample(cfg: DictConfig) -> int:
    from .sample import write_sample_dataset

    workers = int(cfg.get("workers", 1)) or (os.cpu_count() or 1)
    write_sample_dataset(Path(cfg.output), episodes=cfg.episodes, frames=cfg.frames, seed=cfg.seed,
                         width=cfg.width, height=cfg.height, task_id=cfg.task_id, progress=cfg.progress,
                         randomize=cfg.get("randomize", False), embodiment=cfg.get("embodiment", "agibot_g1"),
                         workers=workers, looks=cfg.get("looks"))
    return 0  # write_sample_dataset prints its own summary


def cmd_inspect(cfg: DictConfig) -> int:
    from .io import detect_format, get_reader
    from .pipeline.inspect import format_table, inspect_dataset

    name = cfg.reader or detect_format(cfg.input)
    options = {"require_camera_params": cfg.require_camera_params} if name == "agibot" else {}
    reader = get_reader(name, cfg.input, **options)
    rows = inspect_dataset(reader)
    print(json.dumps(rows, indent=1) if cfg.format == "json" else format_table(rows))
    good = sum(r["status"] == "ok" for r in rows)
    bad = len(rows) - good
    print(f"\n{good} episodes readable, {bad} problems", file=sys.stderr)
    return 2 if bad else 0


def cmd_convert(cfg: DictConfig) -> int:
    from .pipeline.launch import Job, launch_options, run_job

    options = OmegaConf.to_container(cfg.get(cfg.writer) or {}, resolve=True)
    job = Job(input=cfg.input, writer=cfg.writer, writer_options=options, reader=cfg.reader)
    report = run_job(job, cfg.output, **launch_options(cfg))
    print(f"convert: {report.summary_line()}")
    for line in report.skip_lines():
        print(line)
    return 2 if report.skipped else 0


def cmd_augment(cfg: DictConfig) -> int:
    from .pipeline.launch import augment_job, launch_options, run_job

    report = run_job(augment_job(cfg), cfg.output, **launch_options(cfg))
    print(f"augment: {report.summary_line()}")
    for entry in report.written:
        for name, score in entry.get("synthesized", {}).items():
            quality = (f" psnr {score['psnr']} dB (covered {score['psnr_covered']} dB), ssim {score['ssim']}"
                       if "psnr" in score else "")
            print(f"  {entry['episode']} {name}: coverage {score['coverage']:.0%}{quality}")
    for line in report.skip_lines():
        print(line)
    return 2 if report.skipped else 0


def cmd_eval(cfg: DictConfig) -> int:
    from .evaluation.main import run_eval

    return run_eval(OmegaConf.to_container(cfg, resolve=True))


def cmd_train(cfg: DictConfig) -> int:
    from .train.run import run

    summary = run(OmegaConf.to_container(cfg, resolve=True))
    print(f"train: {summary['steps']} steps (resumed at {summary['resumed_at']}) in {summary['elapsed_s']} s, loss "
          f"{summary['first_loss']} -> {summary['final_loss']}; checkpoint {Path(cfg.output)} (model.safetensors)")
    if "pack" in summary:
        p = summary["pack"]
        print(f"  pack cache {p['cache']}: {p['train']} training, {p['val']} held-out episodes, {len(p['skipped'])} skipped")
    if "validation" in summary:
        v = summary["validation"]
        print(f"  validation (held-out): warp psnr {v['warp']['psnr']} ssim {v['warp']['ssim']}; model psnr "
              f"{v['model']['psnr']} ssim {v['model']['ssim']}; {v['path']}")
    return 2 if summary.get("pack", {}).get("skipped") else 0


def cmd_stream(cfg: DictConfig) -> int:
    from .stream.run import run_stream

    try:
        summary = run_stream(OmegaConf.to_container(cfg, resolve=True))
    except (FileNotFoundError, ValueError) as err:
        print(f"embodied-rerender stream: {err}", file=sys.stderr)
        return 1
    print(f"stream: {summary['input']}: {summary['frames']} frames, {summary['fps']} frames/s, first frame "
          f"{summary['first_latency_s']} s, steady {summary['steady_latency_s']} s per frame "
          f"(window {summary['window']}, {summary['steps']} steps, {summary['device']})"
          + (f"; wrote {summary['output']}" if summary.get("output") else ""))
    print(json.dumps(summary))
    return 0


def cmd_demo(cfg: DictConfig) -> int:
    """sample -> augment (head_to_gripper, virtual_wrist) -> LeRobot dataset + previews + report."""
    out = Path(cfg.output).resolve()
    source, dataset = out / "agibot", out / "lerobot"
    cmd_sample(OmegaConf.create({"output": str(source), "episodes": cfg.episodes, "frames": cfg.frames,
                                 "seed": cfg.seed, "width": cfg.width, "height": cfg.height, "task_id": 1001,
                                 "progress": True, "workers": cfg.get("workers", 0)}))
    code = cmd_augment(load_config("augment", [f"input={source}", f"output={dataset}", "overwrite=true",
                                               "targets=[head_to_gripper,virtual_wrist]"]))
    print(f"\ndemo outputs:\n  AgiBot-layout sample episodes: {source}\n  augmented LeRobot dataset:     {dataset}"
          f"\n  previews (source | synthesized | ground truth): {dataset / 'previews'}\n  report: {dataset / 'report.json'}")
    return code


def cmd_bench_policy(cfg: DictConfig) -> int:
    from .bench.run import run_bench, small_settings, summary_lines

    options = OmegaConf.to_container(cfg, resolve=True)
    if options["small"]:
        options = small_settings(options, OmegaConf.to_container(load_config("bench-policy", ["output=_"]), resolve=True))
    results = run_bench(options)
    for line in summary_lines(results):
        print(line)
    out = Path(options["output"])
    print(f"bench-policy: {out / 'results.json'}, plot {out / 'success_vs_shift.png'}")
    return 0


class Verb(NamedTuple):
    """One verb of the console script: the one place its name, handler, help and README row come from."""

    name: str
    run: Callable[[DictConfig], int]
    usage: str  # the keys after the verb, as `--help` and the README show them
    summary: str  # one line in the verb list of `--help`
    details: str  # what it does, the README's "does" column
    config: str | None = None  # configs/<config>.yaml; None: the verb's name
    help_groups: str | None = None  # a glob under configs/ whose files `VERB --help` shows too

    @property
    def config_name(self) -> str:
        return self.config or self.name


VERBS = {verb.name: verb for verb in (
    Verb("sample", cmd_sample,
         "output=DIR episodes=2 frames=60 seed=0 [width=640 height=480] [randomize=false] [looks=K] "
         "[embodiment=agibot_g1|wide_jaw]",
         "write sample episodes in the AgiBot World raw layout",
         "writes MuJoCo tabletop episodes in the AgiBot World raw layout, plus ground truth beside them; "
         "`randomize=true` is domain randomisation, `looks=K` K appearances shared by all episodes, `embodiment` "
         "the robot design (\"Sample data\" below)"),
    Verb("inspect", cmd_inspect, "input=PATH [reader=agibot|lerobot|zarr|robomimic] [format=table|json]",
         "list the episodes a reader finds (cameras, frames, depth, poses, problems)",
         "one block per episode: frames, cameras (size, codec, depth count, camera-centre ranges), problems (every "
         "frame and depth map is decoded, so it reports what convert and augment would skip)"),
    Verb("convert", cmd_convert,
         "input=PATH output=PATH writer=lerobot|zarr|shards|robomimic [reader=...] [workers=N] [launcher=local|ray]",
         "reader to writer, no synthesis",
         "reader to writer, no synthesis; `report.json` at the output root"),
    Verb("augment", cmd_augment,
         "input=PATH output=PATH [generator=warp|hybrid|learned|stream] [targets=[head_to_gripper,virtual_wrist,orbit,loop,"
         "head_shift]] [output_mode=cameras|episodes replace_camera=head] [workers=N] [launcher=local|ray]",
         "read, synthesize target views, write",
         "synthesizes target cameras through the memory loop, writes them with any writer (as extra cameras, or with "
         "`output_mode=episodes` as extra episodes whose `replace_camera` is the synthesized view), previews and "
         "PSNR/SSIM in `report.json`"),
    Verb("eval", cmd_eval, "input=PATH [ground_truth=PATH]",
         "score synthesized views against ground truth (table=dataset|heldout|shots|stream); JSON report",
         "scores a written dataset's synthesized cameras (PSNR/SSIM, view sync, loop closure of cameras that revisit a "
         "pose); `eval.json` and plots", help_groups="table/*.yaml"),
    Verb("train", cmd_train,
         "input=DATASET output=DIR [init=pretrained|none|CKPT] [steps=N | time_limit_s=S] [device=cpu|cuda] "
         "[val_episodes=N]",
         "train or fine-tune the learned generator on any dataset's recorded camera pairs (packs, validates)",
         "trains or fine-tunes the learned generator on any readable dataset: finds the camera pairs (sources with "
         "depth -> every other recorded camera with parameters), packs them into a resumable cache beside the output, "
         "holds out episodes (SHA-1 of the id), trains (progressive context k = 1..4, self-conditioning; a rerun "
         "resumes), writes `model.safetensors` + `.json` and `validation.json` (warp vs model on the held-out "
         "episodes); `data=SHARDS` trains on shards packed already; several GPUs: `torchrun --nproc_per_node=N -m "
         "embodied_rerender.train` with the same keys"),
    Verb("stream", cmd_stream,
         "input=EPISODE_OR_VIDEO [checkpoint=STUDENT] [output=out.mp4] [window=1 steps=4] [poses=NPZ]",
         "real-time streaming synthesis with the causal student; mp4 out, fps and latency",
         "real-time streaming synthesis with the causal student (default: the shipped `weights/stream_ref`): frames "
         "emitted as soon as they are ready, mp4 out (or `show=true`), fps and first / steady latency printed"),
    Verb("bench-policy", cmd_bench_policy,
         "output=DIR [demos=100 rollouts=50 steps=2000 arms=[a,b,c,d] shifts_cm=[0,5,10,15] small=false]",
         "closed-loop benchmark: BC policies on original / augmented demos, success under head-camera shifts",
         "closed-loop benchmark: expert demos -> LeRobot, warp/hybrid head views, one BC policy per arm (a original, "
         "b + crop/colour, c + warp views, d + hybrid views), success under head-camera shifts with 95 % Wilson "
         "intervals; `results.json`, plot, rollout videos"),
    Verb("demo", cmd_demo, "", "the embedded default on the built-in sample scene",
         "sample -> augment -> LeRobot dataset, previews, report (about 1 minute on 2 CPU cores: docs/benchmarks.md)"),
)}


def usage() -> str:
    lines = ["usage: embodied-rerender VERB [key=value ...]", "", "verbs:"]
    lines += [f"  {verb.name:<12} {verb.summary}" for verb in VERBS.values()]
    lines += ["", "Each verb's keys and defaults: embodied-rerender VERB --help"]
    return "\n".join(lines)


def verb_help(verb: Verb) -> str:
    """`embodied-rerender VERB --help`: what the verb does, its usage line and its config files' keys."""
    files = [CONFIG_DIR / f"{verb.config_name}.yaml"]
    files += sorted(CONFIG_DIR.glob(verb.help_groups)) if verb.help_groups else []
    text = "\n".join(path.read_text() for path in files)
    return f"embodied-rerender {verb.name}: {verb.summary}\nusage: embodied-rerender {verb.name} {verb.usage}\n\n{text}"


def readme_table() -> str:
    """The README's verb table, markdown (tests/test_cli.py checks the README holds it)."""
    def cell(text: str) -> str:
        return text.replace("|", "\\|")  # a bare | would end the cell

    rows = ["| verb | does |", "|---|---|"]
    rows += [f"| `{cell(f'{verb.name} {verb.usage}'.strip())}` | {cell(verb.details)} |" for verb in VERBS.values()]
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    from .errors import DatasetError, EpisodeError

    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    verb, overrides = argv[0], argv[1:]
    if verb not in VERBS:
        print(f"unknown verb {verb!r}\n\n{usage()}", file=sys.stderr)
        return 1
    if any(a in ("-h", "--help") for a in overrides):
        print(verb_help(VERBS[verb]))
        return 0
    try:
        cfg = load_config(VERBS[verb].config_name, overrides)
        return VERBS[verb].run(cfg)
    except (DatasetError, EpisodeError) as err:
        print(f"embodied-rerender {verb}: {err}", file=sys.stderr)
        return 1
    except OSError as err:  # a path we cannot write or read (read-only, a file where a directory must be)
        where = f": {err.filename}" if err.filename else ""
        print(f"embodied-rerender {verb}: {err.strerror or err}{where}", file=sys.stderr)
        return 1
    except Exception as err:  # Hydra's override errors name the bad key; show them without a traceback
        if type(err).__module__.startswith(("hydra", "omegaconf")):
            print(f"embodied-rerender {verb}: {err}", file=sys.stderr)
            return 1
        raise


if __name__ == "__main__":
    sys.exit(main())
