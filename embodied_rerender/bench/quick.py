"""Quick arm-(a) try of the bench-policy BC policy (issue 15): train on an existing LeRobot demonstration
dataset (a bench-policy run's `demos/lerobot`), then roll out on demonstration scenes (the closed-loop overfit
check) and on held-out scenes, unshifted. One try takes minutes on the CPU, so policy / tolerance changes
can be measured before a full `bench-policy` run.

    MUJOCO_GL=osmesa python -m embodied_rerender.bench.quick RUN/demos/lerobot OUT --steps 800 --state-noise 0.02 \
        --grasp-tolerance 0.05 --train-rollouts 5 --held-out 10

Writes OUT/policy.safetensors, OUT/train.json and OUT/eval_g<grasp>_p<place>.json (an existing policy is reused,
so other tolerances can be evaluated on the same policy).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch


def main() -> None:
    from embodied_rerender.bench.env import EnvConfig, PickPlaceEnv
    from embodied_rerender.bench.policy import BCPolicy, PolicyConfig
    from embodied_rerender.bench.rollout import evaluate_policy
    from embodied_rerender.bench.train import TrainConfig, load_lerobot, train_policy

    p = argparse.ArgumentParser()
    p.add_argument("demos", type=Path)
    p.add_argument("out", type=Path)
    p.add_argument("--steps", type=int, default=800)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--width", type=int, default=16, help="policy_width")
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--state-noise", type=float, default=0.02)
    p.add_argument("--regress-gripper", action="store_true")
    p.add_argument("--delta-joints", action="store_true")
    p.add_argument("--grasp-tolerance", type=float, default=0.03)
    p.add_argument("--place-tolerance", type=float, default=0.04)
    p.add_argument("--train-rollouts", type=int, default=5)
    p.add_argument("--held-out", type=int, default=10)
    p.add_argument("--scene", default="one_arm", help="the env's scene variant: the demonstrations' one")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--eval-seed", type=int, default=1000)
    p.add_argument("--looks", type=int, default=None,
                   help="the demonstrations' shared looks (bench-policy `looks`): every scene in one of them")
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    frames = load_lerobot(a.demos, ["head"])
    info = json.loads((a.demos / "meta" / "info.json").read_text())
    horizon = int(frames.frame.max()) + 1
    h, w = info["features"]["observation.images.head"]["shape"][:2]
    start = time.perf_counter()
    if not (a.out / "policy.safetensors").is_file():
        config = PolicyConfig(width=a.width, hidden=a.hidden, horizon=horizon, gripper_binary=not a.regress_gripper,
                              delta_joints=a.delta_joints)
        summary = train_policy(frames, [], config, TrainConfig(steps=a.steps, batch=a.batch, seed=a.seed,
                                                               state_noise=a.state_noise), a.out, progress=True)
        print(summary, flush=True)
    policy = BCPolicy.load(a.out / "policy.safetensors")
    env = PickPlaceEnv(EnvConfig(width=w, height=h, frames=horizon, scene=a.scene, cameras=("head",),
                                 grasp_tolerance=a.grasp_tolerance, place_tolerance=a.place_tolerance,
                                 look_seed=a.seed if a.looks else None, looks=a.looks))
    steps = horizon - 1 + 10
    res = {"train_scenes": evaluate_policy(env, policy, a.seed, a.train_rollouts, [0.0], steps, 0, progress=True)["0"]}
    res["held_out"] = evaluate_policy(env, policy, a.eval_seed, a.held_out, [0.0], steps, 0, 1, a.out / "videos",
                                      progress=True)["0"]
    res["elapsed_s"] = round(time.perf_counter() - start, 1)
    print(json.dumps(res), flush=True)
    (a.out / f"eval_g{a.grasp_tolerance}_p{a.place_tolerance}.json").write_text(json.dumps(res, indent=1))
    env.close()


if __name__ == "__main__":
    main()
