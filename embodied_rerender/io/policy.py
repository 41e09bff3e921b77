"""The policy vectors: the one definition of what a policy reads (`state`) and predicts (`action`).

Every writer stores these two matrices (LeRobot `observation.state` / `action`, zarr `data/state` /
`data/action`, shards `lowdim.npz` state / action, robomimic `obs/state` / `actions`), beside the raw
proprio groups they are cut from, so a policy trained on one format sees the same numbers in another.

AgiBot World gripper layout, in the order of the OpenDriveLab LeRobot converter (spec section 7.1):

  state  (T, 20) float32                               action (T, 22) float32
  joint.position     14  arm joints, rad               joint.position     14  commanded arm joints, rad
                         (left_arm_0..6, right_arm_0..6)
  effector.position   2  gripper opening, mm           effector.position   2  gripper command, 0 open .. 1 closed
  head.position       2  yaw, pitch, rad               head.position       2  yaw, pitch, rad
  waist.position      2  pitch (rad), lift (m)         waist.position      2  pitch (rad), lift (m)
                                                       robot.velocity      2  linear_x (m/s), yaw_rate (rad/s)

A dexhand episode (effector 12 columns) gives 30 and 32 columns in the same order. An episode that has
none of these groups (a dataset from elsewhere) uses all of its groups, sorted by key. Column names
are `<group>.<field>.<column>` ("head.position.pitch", "waist.position.pitch"), so no name repeats.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..episode import Episode

STATE_KEYS = ("joint.position", "effector.position", "head.position", "waist.position")
ACTION_KEYS = ("joint.position", "effector.position", "head.position", "waist.position", "robot.velocity")
GRIPPER_STATE_DIM, GRIPPER_ACTION_DIM = 20, 22  # the gripper layout's widths (table above)


@dataclass(frozen=True)
class PolicyVector:
    """A policy matrix and where its columns come from.

    values: (T, D) float32. names: D column names, unique. keys: the episode's state or action keys
    concatenated, in order.
    """

    values: np.ndarray
    names: tuple[str, ...]
    keys: tuple[str, ...]

    @property
    def width(self) -> int:
        return int(self.values.shape[1])


def state_vector(episode: Episode) -> PolicyVector:
    """The policy state of `episode`: `(T, 20)` float32 for the AgiBot gripper layout (see module docstring)."""
    return _vector(episode, episode.state, STATE_KEYS)


def action_vector(episode: Episode) -> PolicyVector:
    """The policy action of `episode`: `(T, 22)` float32 for the AgiBot gripper layout (see module docstring)."""
    return _vector(episode, episode.action, ACTION_KEYS)


def policy_keys(arrays: dict, order: tuple[str, ...]) -> list[str]:
    """The keys of `arrays` a policy vector concatenates: those in `order`, or all of them sorted when none is."""
    return [k for k in order if k in arrays] or sorted(arrays)


def column_names(key: str, width: int, names: list[str] | None) -> list[str]:
    """`<key>.<name>` for each of `width` columns, from `names` when it fits and repeats nothing, else `<key>.<i>`."""
    if names and len(names) == width and len(set(names)) == width:
        return [f"{key}.{n}" for n in names]
    return [f"{key}.{i}" for i in range(width)]


def _vector(episode: Episode, arrays: dict, order: tuple[str, ...]) -> PolicyVector:
    t = episode.num_frames
    keys = policy_keys(arrays, order)
    parts = [np.asarray(arrays[k]).reshape(len(arrays[k]), -1) for k in keys]
    names = [n for k, p in zip(keys, parts) for n in column_names(k, p.shape[1], episode.names.get(k))]
    values = np.concatenate(parts, axis=1).astype(np.float32) if parts else np.zeros((t, 0), np.float32)
    return PolicyVector(values, tuple(names), tuple(keys))
