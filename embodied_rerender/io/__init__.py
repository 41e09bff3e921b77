"""Readers and writers, one module per format, found by name through a registry.

Modules are imported only when their format is asked for, so a format's heavy dependency (lerobot,
zarr, h5py) is loaded only by the runs that use it.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from ..errors import DatasetError
from .base import EpisodeRef, Reader, iter_episodes

# name -> "module:Class"; formats not built yet are listed so their names are reserved and reported.
READERS = {
    "agibot": "embodied_rerender.io.agibot:AgiBotReader",
    "lerobot": "embodied_rerender.io.lerobot:LeRobotReader",
    "zarr": "embodied_rerender.io.zarr_io:ZarrReader",
    "robomimic": "embodied_rerender.io.robomimic:RobomimicReader",
}
WRITERS = {
    "lerobot": "embodied_rerender.io.lerobot:LeRobotWriter",
    "zarr": "embodied_rerender.io.zarr_io:ZarrWriter",
    "robomimic": "embodied_rerender.io.robomimic:RobomimicWriter",
    "shards": "embodied_rerender.io.shards:ShardWriter",
}
PLANNED_READERS: tuple[str, ...] = ()


def detect_format(path: str | Path) -> str:
    """Guess the reader for `path` from its layout."""
    path = Path(path)
    if not path.exists():
        raise DatasetError(f"input {path} does not exist")
    if (path.is_file() and path.suffix in (".hdf5", ".h5")) or (path / "data.hdf5").is_file():
        return "robomimic"
    if (path / "meta" / "info.json").is_file():
        return "lerobot"
    if path.suffix == ".zarr" or (path / "zarr.json").is_file() or (path / ".zgroup").is_file():
        return "zarr"
    if (path / "task_info").is_dir() or (path / "observations").is_dir():
        return "agibot"
    raise DatasetError(f"cannot tell the format of {path}; pass reader=agibot|lerobot|zarr|robomimic")


def get_reader(name: str | None, path: str | Path, **options) -> Reader:
    """An opened reader of format `name` (detected from `path` when None) over `path`."""
    name = name or detect_format(path)
    if name not in READERS:
        if name in PLANNED_READERS:
            raise DatasetError(f"the {name} reader is not built yet")
        raise DatasetError(f"unknown reader {name!r}; known: {', '.join(sorted(READERS))}")
    return _load(READERS[name])(path, **options)


def get_writer(name: str, **options):
    """A writer of format `name` with its options (see each writer's class docstring)."""
    if name not in WRITERS:
        raise DatasetError(f"unknown writer {name!r}; known: {', '.join(sorted(WRITERS))}")
    return _load(WRITERS[name])(**options)


def _load(spec: str):
    module, cls = spec.split(":")
    return getattr(importlib.import_module(module), cls)


__all__ = ["EpisodeRef", "Reader", "iter_episodes", "detect_format", "get_reader", "get_writer", "READERS", "WRITERS"]
