"""The pair finder: which recorded cameras of an episode make training pairs.

A source is a recorded camera with depth and camera parameters (the warp needs both); a target is every other
recorded camera with camera parameters (AgiBot: head -> hand_left, hand_right; any extra recorded view too).
Cameras without parameters (AgiBot's fisheye set) and synthesized cameras take no part.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import DatasetError


@dataclass(frozen=True)
class Pair:
    source: str
    target: str


def _posed(episode) -> list[str]:
    return [n for n, c in episode.cameras.items() if c.trajectory is not None and not c.synthesized]


def source_cameras(episode) -> list[str]:
    """Recorded cameras with depth and parameters, "head" first when present (it is context slot 0)."""
    names = [n for n in _posed(episode) if episode.cameras[n].depth is not None]
    return sorted(names, key=lambda n: (n != "head", names.index(n)))


def find_pairs(episode) -> list[Pair]:
    """Every (source, target): each source to every other recorded camera with parameters."""
    posed = _posed(episode)
    return [Pair(s, t) for s in source_cameras(episode) for t in posed if t != s]


def episode_pairs(episode, dataset: str) -> list[Pair]:
    """:func:`find_pairs`, or a :class:`DatasetError` naming `dataset`, the episode and what is missing."""
    pairs = find_pairs(episode)
    if pairs:
        return pairs
    cams = episode.cameras
    posed = _posed(episode)
    with_depth = [n for n in posed if cams[n].depth is not None]
    if not with_depth:
        why = (f"no recorded camera has depth and camera parameters (cameras: {', '.join(cams) or 'none'}; with "
               f"parameters: {', '.join(posed) or 'none'}); the warp prior and the training pairs need a source "
               "camera with depth")
    else:
        why = f"{with_depth[0]} has depth but no other recorded camera has camera parameters to be a target"
    raise DatasetError(f"no camera pair in {dataset} (episode {episode.episode_id}): {why}")


def targets_of(pairs: list[Pair]) -> list[str]:
    """Target cameras in first-seen order."""
    return list(dict.fromkeys(p.target for p in pairs))


def sources_for(pairs: list[Pair], target: str) -> list[str]:
    """The sources that warp into `target`."""
    return [p.source for p in pairs if p.target == target]
