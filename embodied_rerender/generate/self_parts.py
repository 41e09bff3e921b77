"""Self-parts templates from episodes, and which target gets which (`warp.self_parts=PATH|auto`).

A target whose trajectory is a recorded camera's own (the same camera name, e.g. the head -> hand_left target
of `head_to_gripper`) and for which a template of that camera exists gets the template's parts per frame,
matched by the gripper opening of that camera's arm at that frame (:func:`attach_parts`). The pure template
code is :mod:`..render.self_parts`. Built once per dataset and saved:
``save_library(library_from("TRAIN_DIR"), "parts.npz")``, then ``warp.self_parts=parts.npz``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..episode import Episode
from ..render.self_parts import SelfParts, build_self_parts, load_library
from .base import PartsFrames
from .loop import Target

OPENING_KEY = "effector.position"  # AgiBot / the sample: one column per gripper (see io/policy.py)


def gripper_opening(episode: Episode, camera: str) -> np.ndarray | None:
    """``(T,)`` float64 opening of the gripper that carries `camera` (its side, ``left`` / ``right``, read from the
    camera name), from the episode's effector state: the column named for that side (the mean of them for a
    dexterous hand), or column 0 / 1 of a two-column state without names. None when there is none."""
    state = episode.state.get(OPENING_KEY)
    side = next((s for s in ("left", "right") if s in camera), None)
    if state is None or side is None:
        return None
    state = np.asarray(state, np.float64).reshape(len(state), -1)
    names = episode.names.get(OPENING_KEY) or []
    columns = [i for i, n in enumerate(names) if side in n] if len(names) == state.shape[1] else []
    if not columns and state.shape[1] == 2:
        columns = [("left", "right").index(side)]
    return state[:, columns].mean(1) if columns else None


def episode_samples(episode: Episode, camera: str, stride: int = 1) -> tuple[np.ndarray, np.ndarray] | None:
    """Every `stride`-th recorded frame of `camera` ``(N, H, W, 3)`` and its gripper opening ``(N,)``, or None."""
    cam, opening = episode.cameras.get(camera), gripper_opening(episode, camera)
    if cam is None or cam.synthesized or opening is None:
        return None
    index = np.arange(0, min(len(cam), len(opening)), stride)
    return cam[index], opening[index]


def build_library(episodes: list[Episode], cameras: tuple[str, ...] = ("hand_left", "hand_right"), stride: int = 1,
                  **options) -> dict[str, SelfParts]:
    """The template of each of `cameras` that the episodes record with a gripper opening, from all their frames
    pooled (`options`: :func:`~..render.self_parts.build_self_parts`'s)."""
    library = {}
    for camera in cameras:
        samples = [s for s in (episode_samples(ep, camera, stride) for ep in episodes) if s is not None]
        if samples:
            library[camera] = build_self_parts(camera, np.concatenate([s[0] for s in samples]),
                                               np.concatenate([s[1] for s in samples]), **options)
    return library


def library_from(path: str | Path, **options) -> dict[str, SelfParts]:
    """A saved library (``.npz``), or one built from every episode of the dataset at `path` (any reader)."""
    path = Path(path)
    if path.suffix == ".npz":
        return load_library(path)
    from ..io import detect_format, get_reader

    reader = get_reader(detect_format(str(path)), str(path))
    return build_library([reader.read(ref) for ref in reader.refs()], **options)


def attach_parts(episode: Episode, targets: list[Target], library: dict[str, SelfParts] | str | None) -> None:
    """Set ``target.parts`` of every target that follows a recorded camera of `library` (`library` "auto": built
    from the episode's own recorded frames of those cameras; None: nothing)."""
    if library is None:
        return
    if library == "auto":
        cameras = tuple(t.ground_truth for t in targets if t.ground_truth)
        library = build_library([episode], cameras)
    for target in targets:
        target.parts = target_parts(episode, target, library)


def target_parts(episode: Episode, target: Target, library: dict[str, SelfParts]) -> PartsFrames | None:
    """The parts of `target` when it replaces recorded camera ``target.ground_truth`` (its trajectory is that
    camera's where the episode holds it; a held-out camera, as in the multi-shot table, is taken at its word) and
    the library has a template of that camera at the target's size; None otherwise."""
    name = target.ground_truth
    cam, parts = episode.cameras.get(name) if name else None, library.get(name) if name else None
    traj = target.trajectory
    if parts is None or not len(parts.openings) or parts.size != (traj.height, traj.width):
        return None
    if cam is not None and (cam.trajectory is None or cam.trajectory.extrinsics.shape != traj.extrinsics.shape
                            or not np.allclose(cam.trajectory.extrinsics, traj.extrinsics)):
        return None
    opening = gripper_opening(episode, name)
    if opening is None or len(opening) < len(traj):
        return None
    images, masks = parts.overlay(opening[:len(traj)])
    return PartsFrames(images, masks, parts.near)


def prepare_parts(synthesizer, episode: Episode, targets: list[Target]) -> None:
    """:func:`attach_parts` with the synthesizer's own ``self_parts`` option, for a synthesizer that has one."""
    attach_parts(episode, targets, getattr(synthesizer, "self_parts", None))
