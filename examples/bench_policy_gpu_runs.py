"""Write the RUNS.json that `python -m embodied_rerender.bench.train_packs` trains on the GPU machine: one run per
arm, each with the complete bench-policy config the CLI composes from the overrides given here, so the GPU trains
exactly what `bench-policy` with the same overrides would train (docs/results.md, issue 15).

    python examples/bench_policy_gpu_runs.py RUNS.json [--append] [--suffix NAME] output=RUN demos=100 ... 'arms=[a,b,c]'

`--suffix NAME` names the runs `<arm>_NAME` (variants of one arm for selection on validation scenes);
`--append` adds them to an existing RUNS.json.
"""

import argparse
import json
from pathlib import Path

from omegaconf import OmegaConf

from embodied_rerender.config import load_config


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("runs", type=Path)
    p.add_argument("--append", action="store_true")
    p.add_argument("--suffix", default="")
    a, overrides = p.parse_known_args()
    options = OmegaConf.to_container(load_config("bench-policy", overrides), resolve=True)
    runs = json.loads(a.runs.read_text()) if a.append and a.runs.is_file() else {}
    for arm in options["arms"]:
        runs[f"{arm}_{a.suffix}" if a.suffix else arm] = {"arm": arm, "options": options}
    a.runs.write_text(json.dumps(runs, indent=1))
    print(f"{a.runs}: {', '.join(runs)}")


if __name__ == "__main__":
    main()
