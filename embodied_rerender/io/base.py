"""What every reader offers: a list of episode references, the problems found while indexing, and
`read(ref) -> Episode` that raises an `EpisodeError` for a bad episode without stopping the others."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Protocol

from ..episode import Episode
from ..errors import EpisodeError, FormatError

# Ids become directory names: no separators, no "..", nothing a shell or a path join would reinterpret.
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


def is_safe_id(value: object) -> bool:
    """True when `value` can be used as one path component (no separator, no `..`, not empty)."""
    text = str(value)
    return bool(_SAFE_ID.match(text)) and ".." not in text


def confined(root: Path, path: Path) -> Path:
    """`path` when it lies under `root` (both resolved, symlinks followed); DatasetError otherwise. Every path
    built from input data (a manifest's file names, an episode id) and every path written goes through this."""
    from ..errors import DatasetError

    root_r, path_r = Path(root).resolve(), Path(path).resolve()
    if path_r != root_r and root_r not in path_r.parents:
        raise DatasetError(f"refusing {path}: it lies outside {root}")
    return path


def safe_ref(task_id: object, episode_id: object, path=None) -> "EpisodeRef":
    """The ref of an episode whose ids come from the input (attributes, file names, a sidecar): every reader
    builds refs through this, so no id can take a write outside the output. FormatError for an unusable id."""
    task = "" if task_id is None else str(task_id)
    if episode_id is None or not is_safe_id(episode_id) or (task and not is_safe_id(task)):
        raise FormatError(f"unusable episode id {episode_id!r} (task {task_id!r}): ids must be one path component "
                          "of letters, digits, '_', '-', '.'", path=path)
    return EpisodeRef(task, str(episode_id))


@dataclass(frozen=True, order=True)
class EpisodeRef:
    """Where one episode lives: its group (AgiBot task id, or "" when a format has none) and its id."""

    task_id: str
    episode_id: str

    @property
    def label(self) -> str:
        """How errors and reports name the episode, e.g. "327/648642"."""
        return f"{self.task_id}/{self.episode_id}" if self.task_id else self.episode_id


class Reader(Protocol):
    name: str
    problems: list[EpisodeError]

    def refs(self) -> list[EpisodeRef]: ...

    def read(self, ref: EpisodeRef) -> Episode: ...


def iter_episodes(reader: Reader) -> Iterator[tuple[EpisodeRef, Episode | EpisodeError]]:
    """Every indexed episode as (ref, Episode) or (ref, EpisodeError); one bad episode never ends the loop."""
    for ref in reader.refs():
        try:
            yield ref, reader.read(ref)
        except EpisodeError as err:
            yield ref, err.with_episode(ref.label)


class Writer(Protocol):
    """Writes episodes in one format, in two steps that make runs atomic, resumable and shardable.

    `write_episode` puts one episode in a fresh directory of its own (the pipeline stages it under a
    temporary name and renames it when complete, so a finished episode survives a killed run);
    `merge` joins the finished episode directories, in the order given, into one dataset at `out`
    (a temporary directory that the pipeline renames to the output path at the very end).
    Optionally, `merge_session(out)` returns an object with `add(episode_dir)` (in order), `finish()` and
    `abort()`: the same merge one episode at a time, which lets a run merge while other processes still write
    (`pipeline/early_merge.py`; robomimic has one).
    """

    name: str

    def write_episode(self, episode: Episode, out: Path) -> dict: ...

    def merge(self, episode_dirs: list[Path], out: Path) -> None: ...
