"""What a worker of a run builds and does: the `Job` (reader, writer and transform by name, so it travels to other
processes in a few bytes) and the `EpisodeWorker` that holds them and writes the episodes it is sent.

Both launchers that run episodes elsewhere use them: Ray actors (`launch.RayLauncher`) and local worker processes
(`processes.ProcessLauncher`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..io.base import EpisodeRef
from .run import write_one

if TYPE_CHECKING:
    from .augment import AugmentConfig


@dataclass
class Job:
    """What a worker needs to build its own reader, writer and per-episode transform: names, paths and
    options only, so it crosses to Ray workers in a few bytes. `generator` None means `convert`."""

    input: str
    writer: str
    writer_options: dict = field(default_factory=dict)
    reader: str | None = None
    generator: str | None = None
    generator_options: dict = field(default_factory=dict)
    device: str = "cpu"
    augment: AugmentConfig | None = None  # set when generator is
    preview_dir: str | None = None

    def build_reader(self):
        from ..io import get_reader

        return get_reader(self.reader, self.input)

    def build_writer(self):
        from ..io import get_writer

        return get_writer(self.writer, **self.writer_options)

    def build_transform(self):
        """None for convert; for augment an Augmenter with its synthesizer (loads the model, if any)."""
        if self.generator is None:
            return None
        from ..generate import get_synthesizer
        from .augment import Augmenter

        synthesizer = get_synthesizer(self.generator, device=self.device, **self.generator_options)
        return Augmenter(synthesizer, self.augment, Path(self.preview_dir) if self.preview_dir else None)


class EpisodeWorker:
    """A Ray actor: builds the reader and transform (the model) once, then writes the episodes it is sent.

    A fresh writer per episode: a writer that holds one schema (LeRobot) would otherwise judge an episode
    by whichever episode this worker happened to get first; the driver checks them all in order instead.
    """

    def __init__(self, job: Job):
        self.job, self.reader, self.transform = job, job.build_reader(), job.build_transform()

    def ready(self) -> bool:
        return True

    def process(self, ref: EpisodeRef, stage: str, keep: list[str] | None = None) -> dict:
        return write_one(self.reader, self.job.build_writer(), ref, Path(stage), self.transform, keep)
