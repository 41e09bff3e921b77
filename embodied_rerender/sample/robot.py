"""The sample robot's MJCF: a base, a waist (lift slide, pitch hinge), a pan/tilt head with the `head`
camera, and two 7-joint arms ending in a flange with a parallel gripper and a wrist camera.

Frames: the base sits at the world origin (world = robot base frame). Each arm hangs along its bodies'
-z at zero angles; the `<side>_flange` body's +z points out of the wrist toward the fingers (AgiBot's
flange convention: the gripper tip lies further along flange +z), its y axis is the finger-opening
direction.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

ARM_SIDES = ("left", "right")
ARM_JOINTS = ("shoulder_pitch", "shoulder_roll", "upper_yaw", "elbow", "forearm_yaw", "wrist_pitch", "wrist_roll")
# (axis, lower, upper) per arm joint, same order as ARM_JOINTS
_ARM_JOINT_DEFS = (
    ("0 1 0", -3.0, 1.5),
    ("1 0 0", -2.0, 2.0),
    ("0 0 1", -2.9, 2.9),
    ("0 1 0", -2.8, 0.0),
    ("0 0 1", -2.9, 2.9),
    ("0 1 0", -2.6, 2.6),
    ("0 0 1", -2.9, 2.9),
)
# A comfortable posture: the IK starts here and its null-space pulls toward it (rad).
ARM_REST = (-0.6, 0.0, 0.0, -1.6, 0.0, 2.2, 0.0)

CAMERAS = ("head", "hand_left", "hand_right")
HEAD_FOVY_DEG = 60.0
HAND_FOVY_DEG = 75.0
# The other five colour cameras of the AgiBot World Beta gripper robot. MuJoCo renders pinhole cameras
# only, so these "fisheyes" are wide pinhole views at the real aspect (960x768); they are rendered small
# and carry no parameter files or depth, as is unconfirmed for the real ones (agibot_world_format.md §4.1).
# name -> (mount body, position in it (m), yaw of the view from the body's +x (rad))
FISHEYE_CAMERAS = {
    "head_center_fisheye": ("head_pitch_body", (0.07, 0.0, 0.05), 0.0),
    "head_left_fisheye": ("head_pitch_body", (0.05, 0.09, 0.04), np.deg2rad(60.0)),
    "head_right_fisheye": ("head_pitch_body", (0.05, -0.09, 0.04), np.deg2rad(-60.0)),
    "back_left_fisheye": ("torso", (-0.13, 0.12, 0.35), np.deg2rad(150.0)),
    "back_right_fisheye": ("torso", (-0.13, -0.12, 0.35), np.deg2rad(-150.0)),
}
FISHEYE_FOVY_DEG = 100.0

SHOULDER_Y = 0.25
UPPER_ARM = 0.40
FOREARM = 0.38
WRIST_TO_FLANGE = 0.08
FINGER_LENGTH = 0.10
PALM_DEPTH = 0.03
TIP_OFFSET = PALM_DEPTH + FINGER_LENGTH  # flange origin to fingertips along flange +z (m)
WAIST_HEIGHT = 0.65


def arm_joint_names(side: str) -> list[str]:
    return [f"{side}_{j}" for j in ARM_JOINTS]


def finger_joint_names(side: str) -> list[str]:
    return [f"{side}_finger_a", f"{side}_finger_b"]


def _fmt(values) -> str:
    return " ".join(f"{float(v):.8g}" for v in np.atleast_1d(values))


def _quat_wxyz(rot: Rotation) -> str:
    x, y, z, w = rot.as_quat()
    return _fmt((w, x, y, z))


def head_camera_rotation(jitter_rotvec) -> Rotation:
    """MuJoCo camera frame in the head-pitch body: looking along body +x, image up = body +z, then a
    small seeded rotation (mount jitter)."""
    # columns: camera x (image right) = -y, camera y (image up) = +z, camera z (backward) = -x
    base = Rotation.from_matrix(np.array([[0, 0, -1], [-1, 0, 0], [0, 1, 0]], dtype=float))
    return Rotation.from_rotvec(jitter_rotvec) * base


def _fisheye_xml(body: str) -> str:
    """`<camera>` elements of the fisheye cameras mounted on `body`."""
    base = head_camera_rotation(np.zeros(3))  # looking along body +x, image up = body +z
    return "".join(f'<camera name="{name}" pos="{_fmt(pos)}" quat="{_quat_wxyz(Rotation.from_euler("z", yaw) * base)}" '
                   f'fovy="{FISHEYE_FOVY_DEG}"/>'
                   for name, (mount, pos, yaw) in FISHEYE_CAMERAS.items() if mount == body)


def hand_camera_rotation(tilt: float) -> Rotation:
    """MuJoCo camera frame in the flange body: looking along flange +z tilted by `tilt` toward +x (where
    the fingers are, seen from the camera's offset at -x), image up = away from the fingers."""
    s, c = np.sin(tilt), np.cos(tilt)
    view = np.array([s, 0.0, c])
    up = np.array([-c, 0.0, s])
    right = np.cross(up, -view)  # camera x = y cross z with z = -view
    return Rotation.from_matrix(np.stack([right, up, -view], axis=1))


HAND_CAMERA_POS = (-0.065, 0.0, 0.015)  # in the flange frame (m): beside the palm, behind the fingers


def _arm_xml(side: str, tilt: float) -> str:
    sign = 1.0 if side == "left" else -1.0
    j = [f'<joint name="{side}_{name}" axis="{axis}" range="{lo} {hi}" limited="true"/>'
         for name, (axis, lo, hi) in zip(ARM_JOINTS, _ARM_JOINT_DEFS)]
    link = 'rgba="0.75 0.76 0.8 1"'
    dark = 'rgba="0.2 0.2 0.22 1"'
    flange_quat = _quat_wxyz(Rotation.from_euler("x", np.pi))  # flange +z = body -z (out of the wrist)
    cam_quat = _quat_wxyz(hand_camera_rotation(tilt))
    return f"""
      <body name="{side}_shoulder" pos="-0.04 {_fmt(sign * SHOULDER_Y)} 0.45">
        {j[0]}{j[1]}
        <geom type="sphere" size="0.05" {dark}/>
        <body name="{side}_upper_arm" pos="0 0 0">
          {j[2]}
          <geom type="capsule" fromto="0 0 0 0 0 {-UPPER_ARM}" size="0.04" {link}/>
          <body name="{side}_forearm" pos="0 0 {-UPPER_ARM}">
            {j[3]}{j[4]}
            <geom type="capsule" fromto="0 0 0 0 0 {-FOREARM}" size="0.035" {link}/>
            <body name="{side}_wrist" pos="0 0 {-FOREARM}">
              {j[5]}{j[6]}
              <geom type="cylinder" fromto="0 0 0 0 0 {-WRIST_TO_FLANGE + 0.01}" size="0.032" {dark}/>
              <body name="{side}_flange" pos="0 0 {-WRIST_TO_FLANGE}" quat="{flange_quat}">
                <geom type="box" size="0.03 0.06 {PALM_DEPTH / 2}" pos="0 0 {PALM_DEPTH / 2}" {dark}/>
                <geom type="box" size="0.018 0.015 0.012" pos="{_fmt(HAND_CAMERA_POS[:2])} 0.0" rgba="0.1 0.1 0.1 1"/>
                <camera name="hand_{side}" pos="{_fmt(HAND_CAMERA_POS)}" quat="{cam_quat}" fovy="{HAND_FOVY_DEG}"/>
                <body name="{side}_finger_a_body" pos="0 0 {PALM_DEPTH}">
                  <joint name="{side}_finger_a" type="slide" axis="0 1 0" range="0 0.05" limited="true"/>
                  <geom type="box" size="0.012 0.006 {FINGER_LENGTH / 2}" pos="0 0.006 {FINGER_LENGTH / 2}" rgba="0.35 0.35 0.38 1"/>
                </body>
                <body name="{side}_finger_b_body" pos="0 0 {PALM_DEPTH}">
                  <joint name="{side}_finger_b" type="slide" axis="0 -1 0" range="0 0.05" limited="true"/>
                  <geom type="box" size="0.012 0.006 {FINGER_LENGTH / 2}" pos="0 -0.006 {FINGER_LENGTH / 2}" rgba="0.35 0.35 0.38 1"/>
                </body>
              </body>
            </body>
          </body>
        </body>
      </body>"""


def robot_xml(head_cam_jitter, hand_cam_tilt: float) -> str:
    """The robot as a `<body>` tree rooted at the world origin. `head_cam_jitter` = (dpos (3,), rotvec (3,))."""
    dpos, drot = head_cam_jitter
    head_cam_pos = np.array([0.09, 0.0, 0.02]) + np.asarray(dpos)
    head_cam_quat = _quat_wxyz(head_camera_rotation(drot))
    return f"""
  <body name="base" pos="0 0 0">
    <geom type="cylinder" size="0.22 0.15" pos="0 0 0.15" rgba="0.25 0.25 0.28 1"/>
    <geom type="box" size="0.07 0.1 {WAIST_HEIGHT / 2}" pos="-0.02 0 {WAIST_HEIGHT / 2}" rgba="0.3 0.3 0.33 1"/>
    <body name="waist_lift_body" pos="0 0 {WAIST_HEIGHT}">
      <joint name="waist_lift" type="slide" axis="0 0 1" range="0 0.4" limited="true"/>
      <geom type="cylinder" size="0.06 0.03" rgba="0.2 0.2 0.22 1"/>
      <body name="torso" pos="0 0 0">
        <joint name="waist_pitch" axis="0 1 0" range="-0.2 0.8" limited="true"/>
        <geom type="box" size="0.09 0.16 0.25" pos="-0.03 0 0.25" rgba="0.85 0.85 0.88 1"/>
        {_fisheye_xml("torso")}
        <body name="head_yaw_body" pos="0.02 0 0.78">
          <joint name="head_yaw" axis="0 0 1" range="-1.5 1.5" limited="true"/>
          <geom type="cylinder" size="0.03 0.04" pos="0 0 0.0" rgba="0.2 0.2 0.22 1"/>
          <body name="head_pitch_body" pos="0 0 0.08">
            <joint name="head_pitch" axis="0 1 0" range="-0.5 1.4" limited="true"/>
            <geom type="box" size="0.07 0.11 0.06" pos="0 0 0.0" rgba="0.9 0.9 0.92 1"/>
            <camera name="head" pos="{_fmt(head_cam_pos)}" quat="{head_cam_quat}" fovy="{HEAD_FOVY_DEG}"/>
            {_fisheye_xml("head_pitch_body")}
          </body>
        </body>
        {_arm_xml("left", hand_cam_tilt)}
        {_arm_xml("right", hand_cam_tilt)}
      </body>
    </body>
  </body>"""
