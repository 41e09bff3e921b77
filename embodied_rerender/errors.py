"""One exception family for bad input.

Every error names the episode, the file and the reason, so a run report can list a skipped episode
in a way a user can act on. Readers raise these; pipelines catch them per episode and go on.
"""

from __future__ import annotations

from pathlib import Path


class EpisodeError(Exception):
    """Bad input in one episode: `episode` (id or None), `path` (file or None) and `reason`."""

    def __init__(self, reason: str, *, episode: str | None = None, path: str | Path | None = None):
        self.reason = reason
        self.episode = None if episode is None else str(episode)
        self.path = None if path is None else str(path)
        super().__init__(self._message())

    def _message(self) -> str:
        where = []
        if self.episode is not None:
            where.append(f"episode {self.episode}")
        if self.path is not None:
            where.append(f"file {self.path}")
        return f"{', '.join(where)}: {self.reason}" if where else self.reason

    def with_episode(self, episode: str) -> "EpisodeError":
        """The same error, naming `episode` if it did not yet."""
        if self.episode is not None:
            return self
        return type(self)(self.reason, episode=episode, path=self.path)

    def as_dict(self) -> dict:
        """The JSON form used in run reports."""
        return {"episode": self.episode, "file": self.path, "reason": self.reason, "kind": type(self).__name__}


class FormatError(EpisodeError):
    """A file is missing, unreadable or not in the expected layout."""


class ConsistencyError(EpisodeError):
    """Files are readable but disagree with each other (frame counts, lengths, rotations)."""


class DatasetError(Exception):
    """The dataset as a whole cannot be read (no root, no episodes at all)."""
