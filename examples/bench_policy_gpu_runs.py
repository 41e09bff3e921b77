"""Write the RUNS.json that `python -m embodied_rerender.bench.train_packs` trains on the GPU machine: one run per
arm, each with the complete bench-policy config the CLI composes from the overrides given here, so the GPU trains
exactly what `bench-policy` with the same overrides would train (docs/results.md, issue 15, third session).

    python examples/bench_policy_gpu_runs.py RUNS.json output=RUN demos=100 ... 'arms=[a,b,c]'
"""

import json
import sys

from omegaconf import OmegaConf

from embodied_rerender.config import load_config


def main() -> None:
    path, overrides = sys.argv[1], sys.argv[2:]
    options = OmegaConf.to_container(load_config("bench-policy", overrides), resolve=True)
    runs = {arm: {"arm": arm, "options": options} for arm in options["arms"]}
    with open(path, "w") as f:
        json.dump(runs, f, indent=1)
    print(f"{path}: {', '.join(runs)}")


if __name__ == "__main__":
    main()
