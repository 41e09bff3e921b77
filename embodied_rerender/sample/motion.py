"""Scripted pick-and-place: per-frame flange targets, gripper commands, head motion and labelled phases.

The tasks run one after the other, in equal shares of the episode (the sample's two: the left arm in
the first half, the right arm in the second); an arm without a task waits at home. Each
task runs eight phases (approach, descend, close, lift, carry, place, release, retreat) between
waypoints, with minimum-jerk timing inside a phase. Nothing here is random: every choice was drawn
into the `SceneSpec` already.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from .robot import ARM_SIDES
from .scene import SceneSpec

PHASES = ("approach", "descend", "close", "lift", "carry", "place", "release", "retreat")
_PHASE_WEIGHTS = np.array([3.0, 2.0, 1.2, 1.5, 3.0, 2.0, 1.2, 1.5])
HOVER = 0.10  # flange height above the grasp pose while approaching and carrying (m)
MIN_FRAMES = 2 * len(PHASES) + 1  # the right arm's span ends on the last frame


@dataclass
class TaskTiming:
    """Frame indices of one arm's task: `bounds[p]` is where phase p starts, `bounds[p + 1]` where it ends."""

    arm: int  # 0 left, 1 right
    obj: int
    bounds: list[int]  # len(PHASES) + 1 frame indices

    @property
    def grasp_frame(self) -> int:  # gripper fully closed: the object follows the flange from here
        return self.bounds[PHASES.index("close") + 1]

    @property
    def release_frame(self) -> int:  # object set down: it stays where it is from here
        return self.bounds[PHASES.index("release")]


@dataclass
class MotionPlan:
    """Per-frame commands. T = frames."""

    flange_pos: np.ndarray  # (T, 2, 3) target flange positions, world frame (m); [:, 0] left, [:, 1] right
    flange_rot: np.ndarray  # (T, 2, 3, 3) target flange rotations
    gripper_cmd: np.ndarray  # (T, 2) in [0, 1]: 0 open, 1 closed (AgiBot action semantics)
    opening: np.ndarray  # (T, 2) actual finger gap (m): stops at the object's width while holding it
    head: np.ndarray  # (T, 2) yaw, pitch (rad)
    waist: np.ndarray  # (T, 2) pitch (rad), lift (m)
    tasks: list[TaskTiming]
    segments: list[tuple[int, int, str, str]]  # (start, end exclusive, action_text, skill)


def min_jerk(s: np.ndarray) -> np.ndarray:
    """Minimum-jerk time scaling of s in [0, 1]."""
    s = np.clip(s, 0.0, 1.0)
    return s ** 3 * (10 - 15 * s + 6 * s ** 2)


def phase_bounds(start: int, end: int, weights=_PHASE_WEIGHTS) -> list[int]:
    """Split frames [start, end] into len(weights) phases of at least one frame, roughly by weight."""
    n = end - start
    if n < len(weights):
        raise ValueError(f"{n} frames cannot hold {len(weights)} phases")
    extra = (n - len(weights)) * np.asarray(weights) / np.sum(weights)
    counts = 1 + np.floor(extra).astype(int)
    # largest remainder, ties to the earlier phase, so the split is exact and deterministic
    for i in np.argsort(-(extra - np.floor(extra)), kind="stable")[: n - counts.sum()]:
        counts[i] += 1
    return [start + int(c) for c in np.concatenate([[0], np.cumsum(counts)])]


def top_down(yaw: float) -> np.ndarray:
    """`(3, 3)` flange rotation pointing the gripper straight down, fingers opening along Rz(yaw) y."""
    return (Rotation.from_euler("z", yaw) * Rotation.from_euler("x", np.pi)).as_matrix()


def home_pose(spec: SceneSpec, arm: int) -> tuple[np.ndarray, float]:
    """Flange position `(3,)` and yaw where an arm waits."""
    sign = 1.0 if arm == 0 else -1.0
    return np.array([0.40, sign * 0.30, spec.table_z + 0.22]), 0.0


def grasp_height(spec: SceneSpec, obj: int) -> float:
    """Flange z that puts the fingertips a little below the object's centre, above the table."""
    o = spec.objects[obj]
    sink = min(0.015, o.half_height - 0.008)
    return o.pos[2] - sink + spec.embodiment.tip_offset


def _waypoints(spec: SceneSpec, task, arm: int) -> tuple[list[np.ndarray], list[float]]:
    """Flange positions and yaws of `arm` doing `task` at the end of each phase (index 0 = the start, at home)."""
    o = spec.objects[task.obj]
    home, home_yaw = home_pose(spec, arm)
    z = grasp_height(spec, task.obj)
    yaw = o.yaw if o.kind == "box" else 0.0
    # boxes: keep the grasp yaw within +-pi/2 of the home yaw so the wrist does not spin around
    yaw = (yaw + np.pi / 2) % np.pi - np.pi / 2
    pick = np.array([o.pos[0], o.pos[1], z])
    place = np.array([task.place_xy[0], task.place_xy[1], z])
    up = np.array([0.0, 0.0, HOVER])
    turned = yaw + task.turn
    pos = [home, pick + up, pick, pick, pick + up, place + up, place, place, place + up]
    yaws = [home_yaw, yaw, yaw, yaw, yaw, turned, turned, turned, turned]
    return pos, yaws


def _gripper_cmd(t: np.ndarray, bounds: list[int]) -> np.ndarray:
    """Command in [0, 1] over frames `t`: ramps closed during "close", open during "release"."""
    c0, c1 = bounds[PHASES.index("close")], bounds[PHASES.index("close") + 1]
    r0, r1 = bounds[PHASES.index("release")], bounds[PHASES.index("release") + 1]
    closing = min_jerk((t - c0) / max(c1 - c0, 1))
    opening = min_jerk((t - r0) / max(r1 - r0, 1))
    return np.where(t < r0, closing, 1.0 - opening)


def _head_track(spec: SceneSpec, flange_pos: np.ndarray, active: np.ndarray) -> np.ndarray:
    """`(T, 2)` head yaw/pitch: the head turns part-way toward the working gripper, smoothed."""
    frames = len(active)
    target = flange_pos[np.arange(frames), active]
    raw_yaw = spec.head_rest[0] + 0.3 * np.arctan2(target[:, 1], target[:, 0] - 0.1)
    yaw = np.empty(frames)
    yaw[0] = raw_yaw[0]
    for t in range(1, frames):  # first-order lag, like a real neck servo
        yaw[t] = yaw[t - 1] + 0.3 * (raw_yaw[t] - yaw[t - 1])
    pitch = spec.head_rest[1] + 0.04 * np.sin(2 * np.pi * np.arange(frames) / frames)
    return np.stack([yaw, pitch], axis=1)


def task_spans(frames: int, count: int) -> list[tuple[int, int]]:
    """`count` consecutive (start, end) frame spans covering frames 0 .. frames - 1 (the last ends on the last frame)."""
    starts = [i * frames // count for i in range(count)]
    return list(zip(starts, starts[1:] + [frames - 1]))


def plan_motion(spec: SceneSpec, frames: int) -> MotionPlan:
    """All per-frame commands of an episode of `frames` frames (at least MIN_FRAMES)."""
    if frames < MIN_FRAMES:
        raise ValueError(f"frames must be at least {MIN_FRAMES}, got {frames}")
    t = np.arange(frames, dtype=np.float64)
    spans = task_spans(frames, len(spec.tasks))
    flange_pos = np.zeros((frames, 2, 3))
    flange_yaw = np.zeros((frames, 2))
    cmd = np.zeros((frames, 2))
    max_opening = spec.embodiment.max_opening
    opening = np.full((frames, 2), max_opening)
    active = np.zeros(frames, dtype=int)  # the arm the head follows
    for arm in range(2):  # arms wait at home unless a task moves them
        flange_pos[:, arm], flange_yaw[:, arm] = home_pose(spec, arm)
    tasks, segments = [], []
    for n, ((start, end), task) in enumerate(zip(spans, spec.tasks)):
        arm = ARM_SIDES.index(task.arm)
        bounds = phase_bounds(start, end)
        pos, yaws = _waypoints(spec, task, arm)
        # before its task an arm waits at home, after it at its retreat pose
        flange_pos[:, arm] = np.where(t[:, None] <= start, pos[0], pos[-1])
        flange_yaw[:, arm] = np.where(t <= start, yaws[0], yaws[-1])
        for p in range(len(PHASES)):
            f = np.arange(bounds[p], bounds[p + 1] + 1)
            s = min_jerk((f - bounds[p]) / (bounds[p + 1] - bounds[p]))
            flange_pos[f, arm] = pos[p] + s[:, None] * (pos[p + 1] - pos[p])
            flange_yaw[f, arm] = yaws[p] + s * (yaws[p + 1] - yaws[p])
        cmd[:, arm] = np.where(t < start, 0.0, _gripper_cmd(t, bounds))
        obj = task.obj
        holding = (t >= bounds[PHASES.index("close")]) & (t < bounds[PHASES.index("release") + 1])
        free_gap = max_opening * (1.0 - cmd[:, arm])
        opening[:, arm] = np.where(holding, np.maximum(free_gap, spec.objects[obj].grasp_width), free_gap)
        active[t >= start] = arm
        tasks.append(TaskTiming(arm=arm, obj=obj, bounds=bounds))
        label = spec.objects[obj].label
        last = n == len(spec.tasks) - 1
        seg_end = frames if last else bounds[-1]
        lift_end = bounds[PHASES.index("lift") + 1]
        segments.append((bounds[0], lift_end, f"Pick up the {label} with the {task.arm} arm", "Pick"))
        segments.append((lift_end, seg_end, f"Place the {label} on the table", "Place"))
    flange_rot = np.stack([np.stack([top_down(y) for y in row]) for row in flange_yaw])
    head = _head_track(spec, flange_pos, active)
    waist = np.tile(np.asarray(spec.waist, dtype=np.float64), (frames, 1))
    return MotionPlan(flange_pos, flange_rot, cmd, opening, head, waist, tasks, segments)
