"""`embodied-rerender bench-policy`: demonstrations -> novel head views -> one BC policy per arm -> closed-loop
success under head-camera shifts. Writes under `output`:

```
demos/agibot, demos/lerobot      the expert's episodes (AgiBot layout, then `convert`ed to LeRobot v3)
views/<generator>                `augment output_mode=episodes targets=[head_shift]` of demos/agibot (LeRobot):
                                 each demo as recorded + <id>__head_shift_<j>, its head camera synthesized
arms/<arm>/policy.safetensors    the trained policy of each arm (+ .json config)
arms/<arm>/videos/*.mp4          rollout videos (head | left wrist | right wrist)
results.json, success_vs_shift.png
```
Arms: a original; b + random crop / colour; c = b + warp head views; d = b + hybrid head views.
Stages already on disk (demos, views, a trained policy) are reused, so a rerun continues.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch

ARMS = {"a": {"crop_colour": False, "generator": None, "label": "original"},
        "b": {"crop_colour": True, "generator": None, "label": "+ crop/colour"},
        "c": {"crop_colour": True, "generator": "warp", "label": "+ crop/colour + warp views"},
        "d": {"crop_colour": True, "generator": "hybrid", "label": "+ crop/colour + hybrid views"}}
# small=true: a few demos, tiny images, a few steps (keys set explicitly on the command line win)
SMALL = {"demos": 3, "rollouts": 2, "steps": 5, "batch": 8, "frames": 20, "width": 64, "height": 48, "views": 1,
         "shifts_cm": [0, 10], "videos": 1, "extra_steps": 2}


def small_settings(options: dict, defaults: dict) -> dict:
    """`options` with the SMALL values for every key still at its default."""
    return {**options, **{k: v for k, v in SMALL.items() if options.get(k) == defaults.get(k)}}


def trained(arm_dir: Path) -> bool:
    """An arm whose policy and training summary are on disk."""
    return (arm_dir / "train.json").is_file() and (arm_dir / "policy.safetensors").is_file()


def make_policy_config(o: dict):
    """The policy every arm trains (options: configs/bench-policy.yaml)."""
    from .policy import PolicyConfig

    return PolicyConfig(cameras=list(o["policy_cameras"]), width=o["policy_width"], hidden=o["hidden"],
                        chunk=o["chunk"], horizon=o["frames"], state_dims=list(o["state_dims"]),
                        gripper_binary=bool(o["gripper_binary"]), delta_joints=bool(o["delta_joints"]))


def make_train_config(o: dict, arm: str):
    """Arm `arm`'s training settings: the same budget and seed in every arm, its own augmentation."""
    from .train import TrainConfig

    return TrainConfig(steps=o["steps"], batch=o["batch"], lr=o["lr"], seed=o["seed"],
                       crop_colour=ARMS[arm]["crop_colour"], view_rate=o["view_rate"],
                       state_noise=float(o["state_noise"]), device=o["train_device"])


def run_bench(options: dict) -> dict:
    """Everything end to end; returns (and writes) the results dict. `options`: configs/bench-policy.yaml."""
    from .demos import lerobot_codec, write_demos
    from .env import EnvConfig, PickPlaceEnv
    from .expert import run_expert
    from .policy import BCPolicy
    from .rollout import evaluate_policy, wilson
    from .train import load_lerobot, train_policy
    from .views import load_views, write_views

    o = options
    unknown = [a for a in o["arms"] if a not in ARMS]
    if unknown:
        raise ValueError(f"unknown arms {unknown}; choose from {', '.join(ARMS)}")
    out = Path(o["output"]).resolve()
    out.mkdir(parents=True, exist_ok=True)
    say = print if o["progress"] else (lambda *a, **k: None)
    timings, start = {}, time.perf_counter()

    def lap(name: str, t0: float) -> None:
        timings[name] = round(time.perf_counter() - t0, 1)

    t0 = time.perf_counter()
    say(f"bench-policy: {o['demos']} demonstrations ({o['frames']} frames, {o['width']}x{o['height']})", flush=True)
    raw, demos = write_demos(out / "demos", o["demos"], o["frames"], o["seed"], o["width"], o["height"],
                              scene=o["scene"], video=o["demo_video"], workers=o["workers"],
                              looks=o["looks"])
    lap("demos_s", t0)
    cameras = list(o["policy_cameras"])
    if "head" not in cameras:
        raise ValueError(f"policy_cameras must include head (the camera the benchmark moves), got {cameras}")
    if o["threads"]:
        torch.set_num_threads(int(o["threads"]))
    # a trained arm (policy + train.json on disk, e.g. trained on a GPU by `bench.train_packs`) is reused, so only
    # the data of the arms still to train is decoded
    untrained = [a for a in o["arms"] if not trained(out / "arms" / a)]
    frames = load_lerobot(demos, cameras) if untrained else None

    views = {}
    for gen in sorted({ARMS[a]["generator"] for a in o["arms"]} - {None}):
        t0 = time.perf_counter()
        say(f"bench-policy: {o['views']} {gen} head views per demonstration (<= {o['max_translation_m']} m)", flush=True)
        path = write_views(raw, out / "views" / gen, gen, o["views"], o["max_translation_m"], o["seed"], o["device"],
                           o["progress"], lerobot_codec(o["demo_video"]))
        if any(ARMS[a]["generator"] == gen for a in untrained):
            views[gen] = load_views(path, demos, o["views"])
        lap(f"views_{gen}_s", t0)

    env = PickPlaceEnv(EnvConfig(width=o["width"], height=o["height"], frames=o["frames"], scene=o["scene"],
                                 look_seed=o["seed"] if o["looks"] else None, looks=o["looks"],
                                 cameras=tuple(cameras),
                                 grasp_tolerance=o["grasp_tolerance"], place_tolerance=o["place_tolerance"]))
    t0 = time.perf_counter()
    expert = sum(run_expert(env, o["eval_seed"], i)[0] for i in range(o["rollouts"]))
    lap("expert_s", t0)
    lo, hi = wilson(expert, o["rollouts"])
    results = {"config": o, "expert": {"successes": int(expert), "n": o["rollouts"], "rate": expert / o["rollouts"],
                                       "ci95": [round(lo, 4), round(hi, 4)]}, "arms": {}, "timings": timings}
    policy_config = make_policy_config(o)
    steps = o["frames"] - 1 + o["extra_steps"]
    for arm in o["arms"]:
        spec = ARMS[arm]
        arm_dir = out / "arms" / arm
        say(f"bench-policy: arm {arm} ({spec['label']}): training {o['steps']} steps", flush=True)
        t0 = time.perf_counter()
        summary_path = arm_dir / "train.json"
        if trained(arm_dir):
            summary = json.loads(summary_path.read_text())
        else:
            summary = train_policy(frames, views.get(spec["generator"], []), policy_config, make_train_config(o, arm),
                                   arm_dir, o["progress"])
        lap(f"train_{arm}_s", t0)
        policy = BCPolicy.load(arm_dir / "policy.safetensors")
        t0 = time.perf_counter()
        say(f"bench-policy: arm {arm}: {o['rollouts']} rollouts per shift", flush=True)
        shifts = evaluate_policy(env, policy, o["eval_seed"], o["rollouts"], list(o["shifts_cm"]), steps, o["execute"],
                                 o["videos"], arm_dir / "videos", o["progress"], o["workers"])
        lap(f"eval_{arm}_s", t0)
        results["arms"][arm] = {"label": spec["label"], "generator": spec["generator"],
                                "crop_colour": spec["crop_colour"], "train": summary, "shifts": shifts}
        if o["train_scene_rollouts"]:  # the overfit check, closed loop: demonstration scenes, no shift
            say(f"bench-policy: arm {arm}: {o['train_scene_rollouts']} rollouts on demonstration scenes", flush=True)
            results["arms"][arm]["train_scenes"] = evaluate_policy(
                env, policy, o["seed"], min(o["train_scene_rollouts"], o["demos"]), [0.0], steps, o["execute"],
                progress=o["progress"], workers=o["workers"])["0"]
        (out / "results.json").write_text(json.dumps(results, indent=1))  # after every arm: a stopped run keeps its arms
    env.close()
    timings["total_s"] = round(time.perf_counter() - start, 1)
    (out / "results.json").write_text(json.dumps(results, indent=1))
    plot_results(results, out / "success_vs_shift.png")
    return results


def plot_results(results: dict, path: Path) -> None:
    """Success rate against head shift, one line per arm, 95 % Wilson intervals as error bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for arm, entry in results["arms"].items():
        cells = sorted(entry["shifts"].values(), key=lambda c: c["shift_cm"])
        x = [c["shift_cm"] for c in cells]
        y = [c["rate"] for c in cells]
        err = [[c["rate"] - c["ci95"][0] for c in cells], [c["ci95"][1] - c["rate"] for c in cells]]
        ax.errorbar(x, y, yerr=err, marker="o", capsize=3, label=f"({arm}) {entry['label']}")
    ax.set_xlabel("head camera shift (cm, re-aimed)")
    ax.set_ylabel("success rate")
    ax.set_ylim(-0.05, 1.05)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    ax.set_title(f"closed-loop pick-and-place, n = {results['config']['rollouts']} per point", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def summary_lines(results: dict) -> list[str]:
    shifts = list(results["config"]["shifts_cm"])
    lines = [f"expert: {results['expert']['successes']}/{results['expert']['n']}",
             "arm  " + "  ".join(f"{s:>6g} cm" for s in shifts)]
    for arm, entry in results["arms"].items():
        cells = [entry["shifts"][f"{s:g}"] for s in shifts]
        lines.append(f"({arm})  " + "  ".join(f"{c['successes']:>3}/{c['n']:<4}" for c in cells) + f"  {entry['label']}")
    return lines
