"""Where a run may write: the output is checked before anything is written, and every path written under it
is confined to it, so no input (an episode id, a manifest entry) can steer a write elsewhere.

Rules (README, "Runs"): the output must not be, contain or lie inside the input; it must not be the current
directory or hold it; an existing output is replaced (`overwrite=true`) only when it is recognisably our own
earlier output (its `report.json`) or an empty directory; its parent must be a writable directory.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..errors import DatasetError
from ..io.base import confined  # noqa: F401 - re-exported: one confinement rule

REPORT = "report.json"


def is_our_output(path: Path) -> bool:
    """True for a directory that a run of ours published: it holds our report.json."""
    try:
        report = json.loads((Path(path) / REPORT).read_text())
    except (OSError, ValueError):
        return False
    return isinstance(report, dict) and {"writer", "summary", "episodes"} <= set(report)


def _inside(inner: Path, outer: Path) -> bool:
    return inner == outer or outer in inner.parents


def check_output(output: str | Path, overwrite: bool, input: str | Path | None = None) -> Path:
    """The output path, absolute, once it is safe to write there; DatasetError (one line) otherwise."""
    raw = Path(output)
    if str(output).strip() == "":
        raise DatasetError("output is empty; name a new directory")
    out = Path(os.path.abspath(raw))
    resolved = out.resolve()
    cwd = Path.cwd().resolve()
    if _inside(cwd, resolved):
        raise DatasetError(f"output {output} is the current directory or holds it; name a new directory")
    if input:
        inp = Path(input).resolve()
        if _inside(resolved, inp) or _inside(inp, resolved):
            raise DatasetError(f"output {output} is, contains or lies inside the input {input}; choose another output")
    parent = out.parent
    for ancestor in [parent, *parent.parents]:
        if ancestor.exists():
            if not ancestor.is_dir():
                raise DatasetError(f"cannot write output {output}: {ancestor} is a file, not a directory")
            if not os.access(ancestor, os.W_OK | os.X_OK) and not parent.exists():
                raise DatasetError(f"cannot write output {output}: {ancestor} is not writable")
            break
    if parent.exists() and not os.access(parent, os.W_OK | os.X_OK):
        raise DatasetError(f"cannot write output {output}: its parent {parent} is not writable")
    if out.exists() or out.is_symlink():
        if not overwrite:
            raise DatasetError(f"output {output} already exists; pass overwrite=true to replace it")
        if out.is_symlink() or not out.is_dir():
            raise DatasetError(f"output {output} exists and is not a directory; refusing to replace it")
        if not is_our_output(out) and any(out.iterdir()):
            raise DatasetError(f"output {output} exists and is not an output of embodied-rerender (no {REPORT}); "
                               "refusing to replace it, remove it yourself")
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatasetError(f"cannot create the output's parent {parent}: {exc.strerror}") from exc
    return out
