"""Choose among trained policy variants on validation scenes, never on the evaluation scenes: each variant's
closed-loop success at no shift on sample episodes 0..N-1 of a validation seed (default 2000; the demonstrations
use `seed` 0 and the benchmark's evaluation `eval_seed` 1000).

    MUJOCO_GL=osmesa python -m embodied_rerender.bench.select OUT/a_10k OUT/a_20k ... --rollouts 20 \
        --width 96 --height 72 --frames 60 --scene one_arm --workers 2 [--json SELECT.json]

Each argument is a directory holding `policy.safetensors` (+ .json), as `bench.train_packs` writes them.
`--seed 0 --look-seed 1000` runs the training layouts in the looks of other scenes: a policy that succeeds on its
training scenes but not there keys on the scene's appearance instead of its layout (docs/results.md, issue 15).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def main(argv: list[str] | None = None) -> None:
    from .env import EnvConfig, PickPlaceEnv
    from .policy import BCPolicy
    from .rollout import evaluate_policy

    p = argparse.ArgumentParser()
    p.add_argument("policies", nargs="+", type=Path)
    p.add_argument("--seed", type=int, default=2000)
    p.add_argument("--rollouts", type=int, default=20)
    p.add_argument("--width", type=int, default=96)
    p.add_argument("--height", type=int, default=72)
    p.add_argument("--frames", type=int, default=60)
    p.add_argument("--scene", default="one_arm")
    p.add_argument("--extra-steps", type=int, default=10)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--look-seed", type=int, default=None,
                   help="render each scene with the table, floor, sky and lights of that seed's scene of the same "
                        "index (with --seed 0: the training layouts in other looks, the appearance-shortcut test)")
    p.add_argument("--looks", type=int, default=None,
                   help="K shared looks (bench-policy's `looks`): scene i in the look of scene i %% K of --look-seed")
    p.add_argument("--json", type=Path)
    a = p.parse_args(argv)
    results = {}
    for path in a.policies:
        policy = BCPolicy.load(path / "policy.safetensors")
        env = PickPlaceEnv(EnvConfig(width=a.width, height=a.height, frames=a.frames, scene=a.scene,
                                     cameras=tuple(policy.config.cameras), look_seed=a.look_seed, looks=a.looks))
        cell = evaluate_policy(env, policy, a.seed, a.rollouts, [0.0], a.frames - 1 + a.extra_steps, 0,
                               workers=a.workers)["0"]
        env.close()
        name = path.name if [q.name for q in a.policies].count(path.name) == 1 else str(path)  # RUN/arms/a, RUN2/arms/a
        results[name] = cell
        print(f"{name}: {cell['successes']}/{cell['n']} ({cell['placed_rate']:.0%} of tasks placed) "
              f"ci95 {cell['ci95']}", flush=True)
    if a.json:
        summary = {"seed": a.seed, "look_seed": a.look_seed, "looks": a.looks, "results": results}
        a.json.write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
