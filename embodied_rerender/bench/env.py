"""The closed-loop task: the sample scene's two-arm pick-and-place, driven by actions step by step.

`PickPlaceEnv.reset(seed, index)` draws the scene of sample episode `index` of `seed` (the same draw as
`embodied-rerender sample seed=S`, so demonstrations and evaluation scenes come from one generator; by
default its "task" variant: the two task objects and a disc in each one's colour on its landing spot, so
what to move where is visible),
`step(action)` applies one 22-d AgiBot action (joint targets (14) rad, gripper commands (2) in [0, 1] with
1 = closed, head yaw/pitch (2), waist pitch/lift (2), base velocity (2, ignored: the base is fixed)).

Motion is kinematic, as in the sample: commanded joint positions are reached in one step. Contact is a
grasp rule: an object whose centre lies within `grasp_tolerance` of the segment between the palm and
the fingertips stops the closing fingers at its width; once they touch it, it rides rigidly with the
flange; when the fingers open past it again it drops onto the table top where it is. Success: every
task's object was lifted and now rests on the table within `place_tolerance` of its target spot.

Observations: "images" camera -> `(H, W, 3) uint8` (head, hand_left, hand_right), "depth" head -> `(H, W)`
float32 m, "state" `(20,) float32` in the AgiBot reader's `observation.state` layout: joint position (14),
effector position (2, 120 x closure), head (2), waist (2).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..io.policy import GRIPPER_ACTION_DIM as ACTION_DIM
from ..io.policy import GRIPPER_STATE_DIM as STATE_DIM
from ..sample import SampleEpisode
from ..sample.cameras import MJ_TO_CV, body_to_camera
from ..sample.robot import ARM_SIDES, CAMERAS, PALM_DEPTH, TIP_OFFSET
from ..sample.scene import MAX_OPENING, TARGET_MARK_RADIUS
from ..sample.write import GRIPPER_STATE_SCALE

__all__ = ["ACTION_DIM", "STATE_DIM", "EnvConfig", "PickPlaceEnv"]


@dataclass
class Holding:
    obj: int
    relative: np.ndarray  # (4, 4) object pose in the flange frame


@dataclass
class EnvConfig:
    width: int = 128
    height: int = 96
    frames: int = 60  # length of the scripted plan (and of a demonstration)
    scene: str = "task"  # the sample scene variant: "task" = task objects + visible landing spots
    cameras: tuple[str, ...] = CAMERAS  # cameras rendered per observation (the policy's inputs; head always)
    grasp_tolerance: float = 0.03  # m, object centre to the palm-fingertip segment
    place_tolerance: float = TARGET_MARK_RADIUS  # m, object centre to its target spot (xy): on the disc
    lift_height: float = 0.03  # m above its start height that counts as lifted
    head_offset: np.ndarray | None = field(default=None, repr=False)  # (4, 4) in the head camera's OpenCV frame
    # the appearance (table, floor, sky, lights) of scene `index` of this seed instead of the scene's own draw:
    # a policy that succeeds on its training layouts only in their own appearance keys on the look, not the layout
    look_seed: int | None = None
    # K shared looks: scene `index` takes the look of scene `index % K` of look_seed (else of its own seed), so
    # with look_seed = the demonstrations' seed, training and evaluation scenes draw from the same K looks
    looks: int | None = None


def _pose(pos, mat) -> np.ndarray:
    out = np.eye(4)
    out[:3, :3], out[:3, 3] = mat, pos
    return out


class PickPlaceEnv:
    """See the module docstring. One MuJoCo model per scene (the scene changes with the seed), kept for the
    next reset of the same scene (`cache` scenes at most): building one runs the sample's IK over the whole
    plan, which costs far more than a rollout, and evaluation resets every scene once per shift and arm."""

    def __init__(self, config: EnvConfig | None = None, cache: int = 64):
        self.config = config or EnvConfig()
        self.episode: SampleEpisode | None = None
        self.cache = cache
        self._episodes: dict[tuple[int, int], tuple[SampleEpisode, np.ndarray, np.ndarray]] = {}

    def _scene(self, seed: int, index: int) -> SampleEpisode:
        """The scene's episode with its head camera back on its mount."""
        cfg, key = self.config, (int(seed), int(index))
        if key not in self._episodes:
            if len(self._episodes) >= self.cache:
                oldest = next(iter(self._episodes))
                self._episodes.pop(oldest)[0].close()
            ep = SampleEpisode(seed, index, cfg.frames, cfg.width, cfg.height, scene=cfg.scene, look_seed=cfg.look_seed,
                               looks=cfg.looks)
            cam = ep.model.cam("head")
            self._episodes[key] = (ep, cam.pos.copy(), cam.quat.copy())
        ep, pos, quat = self._episodes[key]
        ep.model.cam("head").pos[:], ep.model.cam("head").quat[:] = pos, quat
        return ep

    # -- episode ------------------------------------------------------------------------------
    def reset(self, seed: int, index: int = 0, head_offset: np.ndarray | None = None) -> dict:
        """Start sample episode `index` of `seed`; `head_offset` (else the config's) moves the head camera."""
        import mujoco

        cfg = self.config
        self.episode = ep = self._scene(seed, index)
        self.model, self.data, self.spec = ep.model, ep.data, ep.spec
        offset = cfg.head_offset if head_offset is None else head_offset
        if offset is not None:  # a rigid move of the camera on its mount, so it follows the head joints
            moved = body_to_camera(self.model, "head") @ np.asarray(offset, dtype=np.float64)
            quat = np.empty(4)
            mujoco.mju_mat2Quat(quat, (moved[:3, :3] @ MJ_TO_CV).reshape(-1))
            self.model.cam("head").pos[:] = moved[:3, 3]
            self.model.cam("head").quat[:] = quat
        self._lo = self.model.jnt_range[:, 0]
        self._hi = self.model.jnt_range[:, 1]
        self.data.qpos[:] = ep.qpos[0]
        self.cmd = np.zeros(2)
        self.holding: list[Holding | None] = [None, None]
        self.obj_pose = [self._object_pose(i) for i in range(len(self.spec.objects))]
        self.start_z = np.array([p[2, 3] for p in self.obj_pose])
        self.max_z = self.start_z.copy()
        self.steps = 0
        self._update_fingers()
        return self.observe()

    def step(self, action) -> tuple[dict, bool, dict]:
        """Apply one `(22,)` action. Returns (observation, success, info)."""
        a = np.asarray(action, dtype=np.float64)
        if a.shape != (ACTION_DIM,):
            raise ValueError(f"action must have shape ({ACTION_DIM},), got {a.shape}")
        ep, q = self.episode, self.data.qpos
        for arm in range(2):
            adr = ep._arm_qadr[arm]
            q[adr] = np.clip(a[7 * arm:7 * arm + 7], self._joint_range(adr, 0), self._joint_range(adr, 1))
        self.cmd = np.clip(a[14:16], 0.0, 1.0)
        self._set_joint("head_yaw", a[16]), self._set_joint("head_pitch", a[17])
        self._set_joint("waist_pitch", a[18]), self._set_joint("waist_lift", a[19])
        self._update_fingers()
        self.steps += 1
        return self.observe(), self.success(), self.info()

    # -- contact rule -----------------------------------------------------------------------------
    def _flange(self, arm: int) -> np.ndarray:
        body = self.data.body(f"{ARM_SIDES[arm]}_flange")
        return _pose(body.xpos, body.xmat.reshape(3, 3))

    def _between_fingers(self, arm: int, flange: np.ndarray) -> int | None:
        """The nearest object whose centre is within grasp_tolerance of the palm-fingertip segment."""
        a = flange[:3, 3] + flange[:3, 2] * PALM_DEPTH
        b = flange[:3, 3] + flange[:3, 2] * TIP_OFFSET
        best, best_d = None, self.config.grasp_tolerance
        for i, pose in enumerate(self.obj_pose):
            if any(h is not None and h.obj == i for h in self.holding):
                continue
            p = pose[:3, 3]
            s = np.clip(np.dot(p - a, b - a) / np.dot(b - a, b - a), 0.0, 1.0)
            d = float(np.linalg.norm(p - (a + s * (b - a))))
            if d < best_d:
                best, best_d = i, d
        return best

    def _update_fingers(self) -> None:
        """Kinematics, then grasp / carry / release per arm, then finger joints and object poses."""
        import mujoco

        mujoco.mj_kinematics(self.model, self.data)
        self.opening = np.zeros(2)
        for arm in range(2):
            flange = self._flange(arm)
            gap = MAX_OPENING * (1.0 - self.cmd[arm])
            held = self.holding[arm]
            if held is not None and gap > self.spec.objects[held.obj].grasp_width + 0.005:
                self._drop(held.obj)  # fingers opened past the object
                self.holding[arm] = held = None
            if held is None:
                near = self._between_fingers(arm, flange)
                if near is not None and gap <= self.spec.objects[near].grasp_width:
                    self.holding[arm] = held = Holding(near, np.linalg.inv(flange) @ self.obj_pose[near])
                elif near is not None:
                    gap = max(gap, self.spec.objects[near].grasp_width)
            if held is not None:
                gap = max(gap, self.spec.objects[held.obj].grasp_width)
                self.obj_pose[held.obj] = flange @ held.relative
                self.max_z[held.obj] = max(self.max_z[held.obj], self.obj_pose[held.obj][2, 3])
            self.opening[arm] = gap
        q = self.data.qpos
        for arm, side in enumerate(ARM_SIDES):
            q[self.episode._qadr(f"{side}_finger_a")] = q[self.episode._qadr(f"{side}_finger_b")] = self.opening[arm] / 2
        for i, adr in enumerate(self.episode._object_qadr):
            quat = np.empty(4)
            mujoco.mju_mat2Quat(quat, np.ascontiguousarray(self.obj_pose[i][:3, :3]).reshape(-1))
            q[adr:adr + 3], q[adr + 3:adr + 7] = self.obj_pose[i][:3, 3], quat
        mujoco.mj_forward(self.model, self.data)

    def _drop(self, obj: int) -> None:
        """A released object falls straight down onto the table top, keeping its orientation."""
        self.obj_pose[obj][2, 3] = self.spec.table_z + self.spec.objects[obj].half_height

    # -- state ----------------------------------------------------------------------------------
    def _object_pose(self, i: int) -> np.ndarray:
        body = self.data.body(self.spec.objects[i].name)
        import mujoco

        mujoco.mj_kinematics(self.model, self.data)
        return _pose(body.xpos.copy(), body.xmat.reshape(3, 3).copy())

    def _joint_range(self, qadr: np.ndarray, side: int) -> np.ndarray:
        ids = [int(np.where(self.model.jnt_qposadr == a)[0][0]) for a in qadr]
        return self.model.jnt_range[ids, side]

    def _set_joint(self, name: str, value: float) -> None:
        j = self.model.joint(name)
        lo, hi = self.model.jnt_range[j.id]
        self.data.qpos[self.model.jnt_qposadr[j.id]] = float(np.clip(value, lo, hi))

    def state(self) -> np.ndarray:
        """`(20,) float32`: joints (14), effector 120 x closure (2), head yaw/pitch (2), waist pitch/lift (2)."""
        ep, q = self.episode, self.data.qpos
        joints = q[ep._arm_qadr.reshape(-1)]
        effector = GRIPPER_STATE_SCALE * (1.0 - self.opening / MAX_OPENING)
        head = [q[ep._qadr("head_yaw")], q[ep._qadr("head_pitch")]]
        waist = [q[ep._qadr("waist_pitch")], q[ep._qadr("waist_lift")]]
        return np.concatenate([joints, effector, head, waist]).astype(np.float32)

    def object_positions(self) -> np.ndarray:
        """`(n_obj, 3)` object centres (m)."""
        return np.stack([p[:3, 3] for p in self.obj_pose])

    def placed(self) -> list[bool]:
        """Per task: its object was lifted, is not held, and rests within place_tolerance of its spot."""
        out = []
        for task in self.spec.tasks:
            pose = self.obj_pose[task.obj]
            held = any(h is not None and h.obj == task.obj for h in self.holding)
            lifted = self.max_z[task.obj] > self.start_z[task.obj] + self.config.lift_height
            near = np.hypot(*(pose[:2, 3] - np.asarray(task.place_xy))) < self.config.place_tolerance
            resting = abs(pose[2, 3] - (self.spec.table_z + self.spec.objects[task.obj].half_height)) < 1e-6
            out.append(bool(lifted and near and resting and not held))
        return out

    def success(self) -> bool:
        return all(self.placed())

    def info(self) -> dict:
        return {"placed": self.placed(), "holding": [None if h is None else h.obj for h in self.holding],
                "steps": self.steps}

    # -- rendering --------------------------------------------------------------------------------
    def observe(self) -> dict:
        """The recorded cameras at the current state (see the module docstring) and the state vector."""
        images, depth = {}, {}
        for camera in dict.fromkeys(("head", *self.config.cameras)):
            out = self.episode.render_current(camera, ("rgb", "depth") if camera == "head" else ("rgb",))
            images[camera] = out["rgb"]
            if "depth" in out:
                depth[camera] = out["depth"]
        return {"images": images, "depth": depth, "state": self.state()}

    def close(self) -> None:
        for ep, _, _ in self._episodes.values():
            ep.close()
        self._episodes.clear()
        self.episode = None
