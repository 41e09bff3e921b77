"""Damped-least-squares inverse kinematics for one 7-joint arm, on MuJoCo's body Jacobian (mj_jacBody)."""

from __future__ import annotations

import mujoco
import numpy as np
from scipy.spatial.transform import Rotation


class ArmIK:
    """Moves one arm's joints in `data.qpos` so that `body` reaches a target pose.

    6D task (position + orientation) with a null-space pull toward `rest`, so the redundant
    seventh joint keeps a stable, natural elbow instead of drifting.
    """

    def __init__(self, model: mujoco.MjModel, body: str, joints: list[str], rest,
                 damping: float = 0.02, null_gain: float = 0.1, max_step: float = 0.2):
        self.model = model
        self.body = model.body(body).id
        ids = [model.joint(name).id for name in joints]
        self.qadr = np.array([model.jnt_qposadr[i] for i in ids])
        self.dadr = np.array([model.jnt_dofadr[i] for i in ids])
        self.lower = model.jnt_range[ids, 0].copy()
        self.upper = model.jnt_range[ids, 1].copy()
        self.rest = np.asarray(rest, dtype=np.float64)
        self.damping = damping
        self.null_gain = null_gain
        self.max_step = max_step
        self._jacp = np.zeros((3, model.nv))
        self._jacr = np.zeros((3, model.nv))

    def error(self, data: mujoco.MjData, pos: np.ndarray, mat: np.ndarray) -> np.ndarray:
        """`(6,)` [position error (m), rotation error as a world-frame rotation vector (rad)]."""
        cur_pos = data.xpos[self.body]
        cur_mat = data.xmat[self.body].reshape(3, 3)
        rot = Rotation.from_matrix(mat @ cur_mat.T).as_rotvec()
        return np.concatenate([pos - cur_pos, rot])

    def solve(self, data: mujoco.MjData, pos, mat, iterations: int = 60,
              tol_pos: float = 1e-5, tol_rot: float = 1e-4) -> float:
        """Iterate from the current `data.qpos` toward flange position `pos` `(3,)` and rotation `mat`
        `(3, 3)` (world frame). Returns the final position error (m). Leaves kinematics updated."""
        pos = np.asarray(pos, dtype=np.float64)
        mat = np.asarray(mat, dtype=np.float64)
        eye6 = np.eye(6)
        for _ in range(iterations):
            self._forward(data)
            err = self.error(data, pos, mat)
            if np.linalg.norm(err[:3]) < tol_pos and np.linalg.norm(err[3:]) < tol_rot:
                break
            mujoco.mj_jacBody(self.model, data, self._jacp, self._jacr, self.body)
            jac = np.vstack([self._jacp[:, self.dadr], self._jacr[:, self.dadr]])  # (6, 7)
            jjt = jac @ jac.T + (self.damping ** 2) * eye6
            dq = jac.T @ np.linalg.solve(jjt, err)
            # null-space posture term: J^+ ~ J^T (J J^T + l^2 I)^-1
            q = data.qpos[self.qadr]
            pinv = jac.T @ np.linalg.inv(jjt)
            dq += (np.eye(len(q)) - pinv @ jac) @ (self.null_gain * (self.rest - q))
            scale = max(1.0, np.abs(dq).max() / self.max_step)
            data.qpos[self.qadr] = np.clip(q + dq / scale, self.lower, self.upper)
        self._forward(data)
        return float(np.linalg.norm(self.error(data, pos, mat)[:3]))

    def _forward(self, data: mujoco.MjData) -> None:
        # mj_jacBody needs body poses (kinematics) and com-based quantities (comPos)
        mujoco.mj_kinematics(self.model, data)
        mujoco.mj_comPos(self.model, data)
