"""Per-step trace of a trained bench-policy policy against the scripted expert on one scene (the overfit
check of issue 15): joint error of the executed action (rad, max over joints), gripper commands, held objects.

    MUJOCO_GL=osmesa python -m embodied_rerender.bench.trace RUN/arms/a/policy.safetensors --seed 0 --index 0 \
        --frames 60 --width 64 --height 48 [--scene one_arm]

Prints one JSON line per step and a final line with the tasks placed.
"""

from __future__ import annotations

import argparse
import json

import numpy as np


def main() -> None:
    from embodied_rerender.bench.env import EnvConfig, PickPlaceEnv
    from embodied_rerender.bench.expert import expert_actions
    from embodied_rerender.bench.policy import BCPolicy
    from embodied_rerender.bench.rollout import TemporalEnsemble

    p = argparse.ArgumentParser()
    p.add_argument("policy")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--index", type=int, default=0)
    p.add_argument("--frames", type=int, default=60)
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--height", type=int, default=48)
    p.add_argument("--scene", default="one_arm", help="the sample scene variant the policy was trained on "
                   "(bench-policy's `scene`)")
    p.add_argument("--looks", type=int, default=None, help="bench-policy's `looks` (shared looks of --look-seed)")
    p.add_argument("--look-seed", type=int, default=None)
    a = p.parse_args()
    policy = BCPolicy.load(a.policy)
    env = PickPlaceEnv(EnvConfig(width=a.width, height=a.height, frames=a.frames, scene=a.scene,
                                 cameras=tuple(policy.config.cameras), look_seed=a.look_seed, looks=a.looks))
    obs = env.reset(a.seed, a.index)
    expert, ensemble, info = expert_actions(env.episode), TemporalEnsemble(), {}
    for t, target in enumerate(expert):
        action = policy.command(ensemble(t, policy.act(obs["images"], obs["state"], t)))
        obs, success, info = env.step(action)
        print(json.dumps({"step": t, "joint_err_rad": round(float(np.abs(action[:14] - target[:14]).max()), 4),
                          "gripper": np.round(action[14:16], 3).tolist(), "expert_gripper": target[14:16].tolist(),
                          "holding": info["holding"]}))
    print(json.dumps({"placed": info["placed"], "success": bool(env.success())}))
    env.close()


if __name__ == "__main__":
    main()
