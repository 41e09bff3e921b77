"""`python -m embodied_rerender.train data=SHARDS output=DIR [key=value ...]` (torchrun-able; no Hydra needed,
so it runs on machines that only have torch + safetensors + PyYAML). Nested keys: model.dim=256, flow.shift=3."""

from __future__ import annotations

import json
import sys

import yaml

from .trainer import TrainConfig, train


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


def main(argv: list[str] | None = None) -> int:
    summary = train(TrainConfig.from_dict(parse(sys.argv[1:] if argv is None else argv)))
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
