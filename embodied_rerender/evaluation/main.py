"""`embodied-rerender eval`: run one table (configs/table/<name>.yaml) and write `<output>/eval.json`."""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import DatasetError


def _dataset(cfg: dict) -> tuple[dict, str, int]:
    from ..io import get_reader
    from .dataset import evaluate, find_ground_truth

    dataset = Path(cfg["input"])
    truth = Path(cfg["ground_truth"]) if cfg["ground_truth"] else find_ground_truth(dataset)
    report = evaluate(get_reader(cfg["reader"], dataset), truth, cfg["sync_stride"])
    lines = [f"eval: {len(report['episodes'])} episodes, ground truth: {truth or 'none'}"]
    lines += [f"  {key}: {value}" for key, value in report["summary"].items()]
    return report, "\n".join(lines), 2 if report["skipped"] else 0


def _heldout(cfg: dict) -> tuple[dict, str, int]:
    from .heldout import run_table

    return (*run_table(cfg), 0)


def _shots(cfg: dict) -> tuple[dict, str, int]:
    from .shots import run_table

    return (*run_table(cfg), 0)


def _stream(cfg: dict) -> tuple[dict, str, int]:
    from .stream import run_table

    return (*run_table(cfg), 0)


TABLES = {"dataset": _dataset, "heldout": _heldout, "shots": _shots, "stream": _stream}


def run_eval(cfg: dict) -> int:
    """Run `cfg["table"]` on `cfg["input"]`; writes eval.json (and, for the dataset table, plots/) under
    `cfg["output"]` (default `<input>_eval`). Returns the exit code (2: some episodes skipped)."""
    if cfg["table"] not in TABLES:
        raise DatasetError(f"table={cfg['table']}: use one of {', '.join(TABLES)}")
    source = Path(cfg["input"])
    if not source.exists():
        raise DatasetError(f"eval table={cfg['table']}: input {source} does not exist")
    out = Path(cfg["output"]) if cfg["output"] else source.with_name(source.name + "_eval")
    report, text, code = TABLES[cfg["table"]](cfg)
    out.mkdir(parents=True, exist_ok=True)
    (out / "eval.json").write_text(json.dumps(report, indent=1))
    print(text)
    if cfg["table"] == "dataset":
        from .dataset import write_plots

        plots = write_plots(report, out / "plots")
        print(f"report: {out / 'eval.json'}; {len(plots)} plots in {out / 'plots'}")
    else:
        print(f"report: {out / 'eval.json'}")
    return code
