"""One dataset from episodes that differ: what a run does when its episodes do not share one schema.

Real datasets mix camera sets: the run writes the cameras every written episode has, and rewrites an episode
that had more without the others (its report entry lists `dropped_cameras`). An episode that still does not
fit the dataset (another frame size, a codec the writer cannot join) is skipped with the writer's reason
instead of ending the merge. Non-finite state or action values are refused before anything is written.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Callable

from ..episode import Episode, require_finite
from ..errors import ConsistencyError
from ..io.base import EpisodeRef


def check_finite(episode: Episode) -> None:
    """ConsistencyError naming the array when a state or action array holds NaN or inf."""
    for kind, arrays in (("state", episode.state), ("action", episode.action)):
        for key, value in arrays.items():
            require_finite(value, f"{kind} {key}", None, episode.source)


def restrict_cameras(episode: Episode, keep: list[str] | None) -> tuple[Episode, list[str]]:
    """The episode with only the cameras in `keep` (None: all), and the names dropped."""
    if keep is None:
        return episode, []
    dropped = sorted(set(episode.cameras) - set(keep))
    for name in dropped:
        del episode.cameras[name]
    return episode, dropped


def conform_cameras(refs: list[EpisodeRef], results: dict[str, dict],
                    rewrite: Callable[[list[EpisodeRef], list[str]], None]) -> None:
    """Rewrite, through `rewrite(refs, keep)`, every written episode holding a camera that another written
    episode lacks, keeping only the cameras all of them have. Entries without a camera set are left alone."""
    written = [r for r in refs if results[r.label]["status"] == "written" and "camera_set" in results[r.label]]
    if len(written) < 2:
        return
    common = set.intersection(*(set(results[r.label]["camera_set"]) for r in written))
    extra = [r for r in written if set(results[r.label]["camera_set"]) != common]
    if common and extra:
        rewrite(extra, sorted(common))


def merge_skipping(writer, dirs: list[Path], out: Path) -> list[tuple[Path, ConsistencyError]]:
    """`writer.merge(dirs, out)`, leaving out every episode directory the merge refuses as inconsistent with
    the others; returns those with the writer's reason. An error naming no directory is raised as it is."""
    dirs, skipped = list(dirs), []
    while True:
        try:
            writer.merge(dirs, out)
            return skipped
        except ConsistencyError as err:
            bad = next((d for d in dirs if err.path is not None and Path(err.path) == Path(d)), None)
            if bad is None or len(dirs) < 2:
                raise
            dirs.remove(bad)
            skipped.append((bad, err))
            shutil.rmtree(out, ignore_errors=True)
