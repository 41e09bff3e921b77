"""One sample episode: the seeded scene, its kinematic rollout, and rendering at any frame.

The episode is kinematic, not simulated: each frame the arms are put where the IK says, the fingers
where the gripper plan says, and a grasped object is carried rigidly with its flange. That makes every
frame reproducible on its own (`set_frame(t)`), which tests use to re-render segmentation.
"""

from __future__ import annotations

from functools import cached_property

import mujoco
import numpy as np

from . import cameras
from .ik import ArmIK
from .motion import MotionPlan, plan_motion
from .robot import ARM_REST, ARM_SIDES, CAMERAS, arm_joint_names, finger_joint_names
from .embodiment import DEFAULT_EMBODIMENT, get_embodiment
from .scene import VIEW_CAMERA, SceneSpec, build_mjcf, episode_rng, make_scene, with_look

FPS = 30.0


def _pose_matrix(pos, quat_wxyz) -> np.ndarray:
    mat = np.empty(9)
    mujoco.mju_quat2Mat(mat, np.asarray(quat_wxyz, dtype=np.float64))
    out = np.eye(4)
    out[:3, :3] = mat.reshape(3, 3)
    out[:3, 3] = pos
    return out


def _matrix_to_pos_quat(pose: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """4x4 -> position `(3,)`, quaternion `(4,)` wxyz (MuJoCo order)."""
    quat = np.empty(4)
    mujoco.mju_mat2Quat(quat, np.ascontiguousarray(pose[:3, :3]).reshape(9))
    return pose[:3, 3].copy(), quat


def wxyz_to_xyzw(q: np.ndarray) -> np.ndarray:
    return np.concatenate([q[..., 1:], q[..., :1]], axis=-1)


class SampleEpisode:
    """Episode `index` of the sample dataset drawn from `seed`, `frames` long, rendered at `width` x `height`,
    with the default or the domain-randomised scene draw (`randomize`) and robot design `embodiment`
    (a name in `embodiment.EMBODIMENTS`); `scene` "task" is the benchmark's variant (`scene.task_scene`: task
    objects and landing spots only). `look_seed`: the table, floor, sky and lights of episode `index` of that
    seed instead of this draw's own (the layout stays this seed's). `looks` K: the look of episode `index % K`
    (of `look_seed`, else of `seed`), so K looks are shared by every layout: the look no longer tells one
    episode from another.

    After construction these hold the whole rollout (T = frames):
    `qpos` `(T, nq)`, `arm_q` `(T, 14)`, `flange_pos` `(T, 2, 3)`, `flange_quat` `(T, 2, 4)` xyzw,
    `object_pos` `(T, n_obj, 3)`, `object_quat` `(T, n_obj, 4)` xyzw, `ik_error` `(T, 2)` metres.
    """

    def __init__(self, seed: int, index: int, frames: int = 60, width: int = 640, height: int = 480,
                 randomize: bool = False, embodiment: str = DEFAULT_EMBODIMENT, scene: str = "full",
                 look_seed: int | None = None, looks: int | None = None):
        self.seed, self.index, self.frames = int(seed), int(index), int(frames)
        self.width, self.height = int(width), int(height)
        self.randomize, self.embodiment = bool(randomize), get_embodiment(embodiment)
        self.spec: SceneSpec = make_scene(episode_rng(seed, index), scene, self.randomize, self.embodiment)
        if looks is not None and int(looks) < 1:
            raise ValueError(f"looks={looks}: give 1 or more shared looks, or none")
        if look_seed is not None or looks:  # another episode's appearance (`scene.with_look`)
            source = (self.seed if look_seed is None else int(look_seed), index % int(looks) if looks else index)
            look = make_scene(episode_rng(*source), scene, self.randomize, self.embodiment)
            self.spec = with_look(self.spec, look)
        self.model = mujoco.MjModel.from_xml_string(build_mjcf(self.spec, self.width, self.height))
        self.data = mujoco.MjData(self.model)
        self.plan: MotionPlan = plan_motion(self.spec, self.frames)
        self._renderer: mujoco.Renderer | None = None
        self._small: dict[tuple[int, int], mujoco.Renderer] = {}
        self._rollout()

    # -- model lookups ---------------------------------------------------------------------------
    def _qadr(self, joint: str) -> int:
        return int(self.model.jnt_qposadr[self.model.joint(joint).id])

    @cached_property
    def _arm_qadr(self) -> np.ndarray:
        return np.array([[self._qadr(j) for j in arm_joint_names(s)] for s in ARM_SIDES])  # (2, 7)

    @cached_property
    def _arm_dofadr(self) -> np.ndarray:
        return np.array([[self.model.jnt_dofadr[self.model.joint(j).id] for j in arm_joint_names(s)]
                         for s in ARM_SIDES]).reshape(-1)  # (14,)

    @cached_property
    def _object_qadr(self) -> list[int]:
        return [self._qadr(f"{o.name}_free") for o in self.spec.objects]

    # -- rollout ---------------------------------------------------------------------------------
    def _set_body_joints(self, t: int) -> None:
        """Head, waist and fingers at frame t (everything but the arms and the objects)."""
        q = self.data.qpos
        q[self._qadr("head_yaw")], q[self._qadr("head_pitch")] = self.plan.head[t]
        q[self._qadr("waist_pitch")], q[self._qadr("waist_lift")] = self.plan.waist[t]
        for arm, side in enumerate(ARM_SIDES):
            for name in finger_joint_names(side):
                q[self._qadr(name)] = self.plan.opening[t, arm] / 2.0

    def _rollout(self) -> None:
        T, plan = self.frames, self.plan
        iks = [ArmIK(self.model, f"{s}_flange", arm_joint_names(s), ARM_REST) for s in ARM_SIDES]
        d = self.data
        mujoco.mj_resetData(self.model, d)
        for arm in range(2):
            d.qpos[self._arm_qadr[arm]] = ARM_REST
        n_obj = len(self.spec.objects)
        obj_pose = [_pose_matrix(d.qpos[a:a + 3], d.qpos[a + 3:a + 7]) for a in self._object_qadr]
        grasp_rel: dict[int, np.ndarray] = {}
        self.qpos = np.zeros((T, self.model.nq))
        self.ik_error = np.zeros((T, 2))
        flange = np.zeros((T, 2, 4, 4))
        for t in range(T):
            self._set_body_joints(t)
            for arm, ik in enumerate(iks):
                iterations = 500 if t == 0 else 60  # the first frame starts far from the target
                self.ik_error[t, arm] = ik.solve(d, plan.flange_pos[t, arm], plan.flange_rot[t, arm], iterations)
                flange[t, arm] = _pose_matrix(d.xpos[ik.body], d.xquat[ik.body])
            for task in plan.tasks:
                # a grasped object rides rigidly with the flange from the closed gripper to the set-down
                if t == task.grasp_frame:
                    grasp_rel[task.obj] = np.linalg.inv(flange[t, task.arm]) @ obj_pose[task.obj]
                if task.grasp_frame <= t <= task.release_frame:
                    obj_pose[task.obj] = flange[t, task.arm] @ grasp_rel[task.obj]
            for i, a in enumerate(self._object_qadr):
                pos, quat = _matrix_to_pos_quat(obj_pose[i])
                d.qpos[a:a + 3], d.qpos[a + 3:a + 7] = pos, quat
            self.qpos[t] = d.qpos
        self.arm_q = self.qpos[:, self._arm_qadr.reshape(-1)]  # (T, 14) left 7 then right 7
        self.flange_pos = flange[:, :, :3, 3].copy()
        quat = np.zeros((T, 2, 4))
        for t in range(T):
            for arm in range(2):
                quat[t, arm] = _matrix_to_pos_quat(flange[t, arm])[1]
        self.flange_quat = wxyz_to_xyzw(quat)
        obj_q = np.stack([self.qpos[:, a:a + 7] for a in self._object_qadr], axis=1)  # (T, n_obj, 7)
        self.object_pos = obj_q[..., :3].copy()
        self.object_quat = wxyz_to_xyzw(obj_q[..., 3:])
        assert self.object_pos.shape == (T, n_obj, 3)

    @cached_property
    def arm_torque(self) -> np.ndarray:
        """`(T, 14)` inverse-dynamics joint torques (N m) of the scripted arm motion: `mj_inverse` with
        finite-difference velocities and accelerations (gravity, inertia, joint damping). A stand-in for
        AgiBot's `state/joint/current_value`, whose real unit (motor current/steps) is unknown."""
        m, d, T = self.model, self.data, self.frames
        dt = 1.0 / FPS
        qvel = np.zeros((T, m.nv))
        for t in range(T):
            a, b = max(t - 1, 0), min(t + 1, T - 1)
            if b > a:
                mujoco.mj_differentiatePos(m, qvel[t], dt * (b - a), self.qpos[a], self.qpos[b])
        qacc = np.gradient(qvel, dt, axis=0) if T > 1 else np.zeros_like(qvel)
        out = np.zeros((T, 14))
        for t in range(T):
            d.qpos[:], d.qvel[:], d.qacc[:] = self.qpos[t], qvel[t], qacc[t]
            mujoco.mj_inverse(m, d)
            out[t] = d.qfrc_inverse[self._arm_dofadr]
        d.qvel[:] = 0.0
        d.qacc[:] = 0.0
        return out

    # -- per-frame state and rendering ----------------------------------------------------------
    def set_frame(self, t: int) -> None:
        """Put the model in its state at frame `t` (positions only; velocities zero)."""
        self.data.qpos[:] = self.qpos[t]
        self.data.qvel[:] = 0.0
        mujoco.mj_forward(self.model, self.data)

    def intrinsics(self, camera: str) -> np.ndarray:
        """`(3, 3)` K of `camera` at this episode's resolution."""
        return cameras.camera_intrinsics(self.model, camera, self.width, self.height)

    def camera_poses(self, camera: str) -> np.ndarray:
        """`(T, 4, 4)` OpenCV camera-to-world poses of `camera` over the episode."""
        out = np.zeros((self.frames, 4, 4))
        for t in range(self.frames):
            self.set_frame(t)
            out[t] = cameras.camera_to_world(self.data, camera)
        return out

    @property
    def renderer(self) -> mujoco.Renderer:
        if self._renderer is None:
            self._renderer = mujoco.Renderer(self.model, height=self.height, width=self.width)
        return self._renderer

    def render_small(self, t: int, camera: str, height: int, width: int) -> np.ndarray:
        """`(height, width, 3) uint8` RGB of frame `t` from `camera` at a size of its own (cheap extra cameras)."""
        r = self._small.get((height, width))
        if r is None:
            r = self._small[(height, width)] = mujoco.Renderer(self.model, height=height, width=width)
        self.set_frame(t)
        r.update_scene(self.data, camera=camera)
        return r.render().copy()

    def render(self, t: int, camera: str, kinds=("rgb", "depth")) -> dict[str, np.ndarray]:
        """Render frame `t` from `camera`. Returns any of: "rgb" `(H, W, 3) uint8` (row 0 = top),
        "depth" `(H, W) float32` metres of z along the optical axis (0 where nothing was hit),
        "segmentation" `(H, W, 2) int32` (object id, mjtObj type; -1 for background)."""
        self.set_frame(t)
        return self.render_current(camera, kinds)

    def render_current(self, camera: str, kinds=("rgb", "depth")) -> dict[str, np.ndarray]:
        """`render` of the simulation state as it is now (no frame is set: closed-loop callers own the state)."""
        r = self.renderer
        r.update_scene(self.data, camera=camera)
        out = {}
        for kind in kinds:
            if kind == "rgb":
                r.disable_depth_rendering()
                r.disable_segmentation_rendering()
                out[kind] = r.render().copy()
            elif kind == "depth":
                r.enable_depth_rendering()
                depth = r.render().copy()
                r.disable_depth_rendering()
                far = self.model.vis.map.zfar * self.model.stat.extent
                out[kind] = np.where(depth < 0.999 * far, depth, 0.0).astype(np.float32)
            elif kind == "segmentation":
                r.enable_segmentation_rendering()
                out[kind] = r.render().copy()
                r.disable_segmentation_rendering()
            else:
                raise ValueError(f"unknown render kind {kind!r}")
        return out

    def render_pose(self, t: int, c2w: np.ndarray, K: np.ndarray, kinds=("rgb",)) -> dict[str, np.ndarray]:
        """Render frame `t` from any OpenCV camera-to-world pose `(4, 4)` with intrinsics `K` `(3, 3)`: the
        ground truth of a trajectory no recorded camera took. MuJoCo renders a centred, square-pixel frustum,
        so K must have fx = fy and its principal point at the image centre (as every sample camera has)."""
        expected = cameras.intrinsics_from_fovy(90.0, self.width, self.height)
        if not (np.isclose(K[0, 0], K[1, 1]) and np.allclose(K[:2, 2], expected[:2, 2])):
            raise ValueError(f"render_pose needs fx = fy and a centred principal point at {self.width}x{self.height}, got K={K.tolist()}")
        cam = self.model.cam(VIEW_CAMERA)
        quat = np.empty(4)
        mujoco.mju_mat2Quat(quat, (np.asarray(c2w)[:3, :3] @ cameras.MJ_TO_CV).reshape(-1))
        cam.pos[:] = np.asarray(c2w)[:3, 3]
        cam.quat[:] = quat
        cam.fovy[0] = np.rad2deg(2 * np.arctan((self.height / 2.0) / K[1, 1]))
        return self.render(t, VIEW_CAMERA, kinds)

    def close(self) -> None:
        for r in self._small.values():
            r.close()
        self._small.clear()
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None

    def __enter__(self) -> "SampleEpisode":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


__all__ = ["SampleEpisode", "CAMERAS", "FPS", "wxyz_to_xyzw"]
