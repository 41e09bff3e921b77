"""`torchrun --nproc_per_node=N -m embodied_rerender.train input=DATASET output=DIR [key=value ...]`: the torchrun
entry to the `train` verb (`train.run`), with the same keys and defaults (configs/train.yaml) but without Hydra, so
it runs on machines that only have torch + safetensors + PyYAML. Nested keys: model.dim=256, flow.shift=3.
`data=SHARDS` instead of `input=` trains on shards packed already (e.g. carried to a GPU machine)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

from ..errors import DatasetError
from .run import run

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "train.yaml"


def parse(argv: list[str]) -> dict:
    out: dict = {}
    for arg in argv:
        key, _, value = arg.partition("=")
        node = out
        *parents, leaf = key.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = yaml.safe_load(value)
    return out


def merge(base: dict, over: dict) -> dict:
    """`base` with `over`'s keys set (nested dicts merged key by key); unknown keys are refused."""
    out = dict(base)
    for key, value in over.items():
        if key not in base:
            raise SystemExit(f"python -m embodied_rerender.train: unknown key {key}= (see {CONFIG})")
        out[key] = merge(base[key], value) if isinstance(value, dict) and isinstance(base[key], dict) else value
    return out


def main(argv: list[str] | None = None) -> int:
    options = merge(yaml.safe_load(CONFIG.read_text()), parse(sys.argv[1:] if argv is None else argv))
    if options["output"] in (None, "???"):
        raise SystemExit("python -m embodied_rerender.train: missing required output=DIR")
    try:
        print(json.dumps(run(options)))
    except DatasetError as err:
        print(f"python -m embodied_rerender.train: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
