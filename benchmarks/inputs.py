"""The input a benchmark runs on: the dataset given with --input, else one sample episode written for it."""

from __future__ import annotations

from pathlib import Path

SMALL_SIZE = dict(frames=17, width=64, height=48)  # --small: a smoke check, its figures mean nothing
FULL_SIZE = dict(frames=60, width=640, height=480)  # an AgiBot head camera's size


def input_or_sample(given: str | None, root: Path, small: bool) -> Path:
    """`given`, else `root/src`: one sample episode (AgiBot layout; MuJoCo, not timed) at the small or full size."""
    if given is not None:
        return Path(given)
    from embodied_rerender.sample import write_sample_dataset

    src = Path(root) / "src"
    write_sample_dataset(src, episodes=1, progress=False, **(SMALL_SIZE if small else FULL_SIZE))
    return src
