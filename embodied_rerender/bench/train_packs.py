"""Train bench-policy arms from packed data (`bench.pack`) on a machine without lerobot, PyAV or MuJoCo (the GPU
machine); the rollouts then run where MuJoCo is, by `bench-policy` on the same output (it reuses a trained arm).

    python -m embodied_rerender.bench.train_packs PACK OUT RUNS.json

PACK holds `demos/` and `views/<generator>/view_<j>/` packs. RUNS.json maps a run name to (arm, options): every
options dict is a complete bench-policy config (configs/bench-policy.yaml, as composed by the CLI), so a run
trains exactly what `bench-policy` would train for that arm. Writes OUT/<name>/policy.safetensors (+ .json)
and OUT/<name>/train.json.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def train_runs(pack: Path, out: Path, runs: dict) -> dict:
    from .pack import import_frames
    from .run import ARMS, make_policy_config, make_train_config
    from .train import train_policy

    demos, views, summaries = import_frames(pack / "demos"), {}, {}
    for name, run in runs.items():
        arm, o = run["arm"], run["options"]
        gen = ARMS[arm]["generator"]
        if gen and gen not in views:
            paths = sorted((pack / "views" / gen).glob("view_*"), key=lambda p: int(p.name.split("_")[1]))
            views[gen] = [import_frames(p) for p in paths[: o["views"]]]
        summaries[name] = summary = train_policy(demos, views.get(gen, []), make_policy_config(o),
                                                 make_train_config(o, arm), out / name, o["progress"])
        print(name, json.dumps(summary), flush=True)
    return summaries


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 3:
        raise SystemExit("usage: python -m embodied_rerender.bench.train_packs PACK OUT RUNS.json")
    train_runs(Path(args[0]), Path(args[1]), json.loads(Path(args[2]).read_text()))


if __name__ == "__main__":
    main()
