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

from .embodiment import AGIBOT_G1, Embodiment

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
HAND_FOVY_DEG = AGIBOT_G1.hand_fovy_deg
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

# The default design's dimensions (embodiment.AGIBOT_G1), kept as names for callers that assume it.
SHOULDER_Y = AGIBOT_G1.shoulder_y
UPPER_ARM = AGIBOT_G1.upper_arm
FOREARM = AGIBOT_G1.forearm
WRIST_TO_FLANGE = AGIBOT_G1.wrist_to_flange
FINGER_LENGTH = AGIBOT_G1.finger_length
PALM_DEPTH = AGIBOT_G1.palm_depth
TIP_OFFSET = AGIBOT_G1.tip_offset  # flange origin to fingertips along flange +z (m)
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


HAND_CAMERA_POS = AGIBOT_G1.hand_camera_pos  # in the flange frame (m): beside the palm, behind the fingers


def _rgba(values) -> str:
    return f'rgba="{_fmt(values)}"'


def _palm_xml(emb: Embodiment, dark: str) -> str:
    depth = emb.palm_depth
    if emb.palm == "box":
        return f'<geom type="box" size="{emb.palm_size[0]} {emb.palm_size[1]} {depth / 2}" pos="0 0 {depth / 2}" {dark}/>'
    return f'<geom type="cylinder" size="{emb.palm_size[0]} {depth / 2}" pos="0 0 {depth / 2}" {dark}/>'


def _finger_geoms(emb: Embodiment, sign: float) -> str:
    """Geoms of one finger in its slide body; `sign` +1 for finger a (+y), -1 for b. The inner face sits on
    the body's y = 0, so the gap between the fingers is twice the slide position."""
    across, half_t = emb.finger_size
    half_len = emb.finger_length / 2
    colour = _rgba(emb.finger_rgba)
    blade = (f'<geom type="box" size="{across} {half_t} {half_len}" pos="0 {sign * half_t} {half_len}" '
             f'{colour}/>')
    if emb.finger == "box":
        return blade
    # paddle: the blade ends in a rounded pad across its width, thicker than the blade
    pad = 2.0 * half_t
    return blade + (f'<geom type="capsule" fromto="{_fmt((-across, sign * pad, emb.finger_length - pad))} '
                    f'{_fmt((across, sign * pad, emb.finger_length - pad))}" size="{_fmt(pad)}" {colour}/>')


def _arm_xml(side: str, tilt: float, emb: Embodiment = AGIBOT_G1, hand_fovy: float | None = None,
             hand_cam_pos=None) -> str:
    sign = 1.0 if side == "left" else -1.0
    j = [f'<joint name="{side}_{name}" axis="{axis}" range="{lo} {hi}" limited="true"/>'
         for name, (axis, lo, hi) in zip(ARM_JOINTS, _ARM_JOINT_DEFS)]
    link = _rgba(emb.link_rgba)
    dark = _rgba(emb.joint_rgba)
    flange_quat = _quat_wxyz(Rotation.from_euler("x", np.pi))  # flange +z = body -z (out of the wrist)
    cam_quat = _quat_wxyz(hand_camera_rotation(tilt))
    cam_pos = emb.hand_camera_pos if hand_cam_pos is None else tuple(hand_cam_pos)
    fovy = emb.hand_fovy_deg if hand_fovy is None else hand_fovy
    finger_range = f'range="0 {emb.finger_range}" limited="true"'
    return f"""
      <body name="{side}_shoulder" pos="-0.04 {_fmt(sign * emb.shoulder_y)} 0.45">
        {j[0]}{j[1]}
        <geom type="sphere" size="0.05" {dark}/>
        <body name="{side}_upper_arm" pos="0 0 0">
          {j[2]}
          <geom type="capsule" fromto="0 0 0 0 0 {-emb.upper_arm}" size="{emb.link_radius[0]}" {link}/>
          <body name="{side}_forearm" pos="0 0 {-emb.upper_arm}">
            {j[3]}{j[4]}
            <geom type="capsule" fromto="0 0 0 0 0 {-emb.forearm}" size="{emb.link_radius[1]}" {link}/>
            <body name="{side}_wrist" pos="0 0 {-emb.forearm}">
              {j[5]}{j[6]}
              <geom type="cylinder" fromto="0 0 0 0 0 {-emb.wrist_to_flange + 0.01}" size="0.032" {dark}/>
              <body name="{side}_flange" pos="0 0 {-emb.wrist_to_flange}" quat="{flange_quat}">
                {_palm_xml(emb, dark)}
                <geom type="box" size="0.018 0.015 0.012" pos="{_fmt(cam_pos[:2])} {cam_pos[2] - 0.015}" rgba="0.1 0.1 0.1 1"/>
                <camera name="hand_{side}" pos="{_fmt(cam_pos)}" quat="{cam_quat}" fovy="{fovy}"/>
                <body name="{side}_finger_a_body" pos="0 0 {emb.palm_depth}">
                  <joint name="{side}_finger_a" type="slide" axis="0 1 0" {finger_range}/>
                  {_finger_geoms(emb, 1.0)}
                </body>
                <body name="{side}_finger_b_body" pos="0 0 {emb.palm_depth}">
                  <joint name="{side}_finger_b" type="slide" axis="0 -1 0" {finger_range}/>
                  {_finger_geoms(emb, -1.0)}
                </body>
              </body>
            </body>
          </body>
        </body>
      </body>"""


def robot_xml(head_cam_jitter, hand_cam_tilt: float, embodiment: Embodiment = AGIBOT_G1,
              head_fovy: float | None = None, hand_fovy: float | None = None, hand_cam_pos=None) -> str:
    """The robot as a `<body>` tree rooted at the world origin. `head_cam_jitter` = (dpos (3,), rotvec (3,));
    `head_fovy`/`hand_fovy` (deg) and `hand_cam_pos` (flange frame, m) override the design's (randomised
    intrinsics and wrist camera mount)."""
    emb = embodiment
    dpos, drot = head_cam_jitter
    head_cam_pos = np.array(emb.head_camera_pos) + np.asarray(dpos)
    head_cam_quat = _quat_wxyz(head_camera_rotation(drot))
    head_fovy = HEAD_FOVY_DEG if head_fovy is None else head_fovy
    arms = "\n        ".join(_arm_xml(side, hand_cam_tilt, emb, hand_fovy, hand_cam_pos) for side in ARM_SIDES)
    return f"""
  <body name="base" pos="0 0 0">
    <geom type="cylinder" size="0.22 0.15" pos="0 0 0.15" rgba="0.25 0.25 0.28 1"/>
    <geom type="box" size="0.07 0.1 {WAIST_HEIGHT / 2}" pos="-0.02 0 {WAIST_HEIGHT / 2}" rgba="0.3 0.3 0.33 1"/>
    <body name="waist_lift_body" pos="0 0 {WAIST_HEIGHT}">
      <joint name="waist_lift" type="slide" axis="0 0 1" range="0 0.4" limited="true"/>
      <geom type="cylinder" size="0.06 0.03" rgba="0.2 0.2 0.22 1"/>
      <body name="torso" pos="0 0 0">
        <joint name="waist_pitch" axis="0 1 0" range="-0.2 0.8" limited="true"/>
        <geom type="box" size="0.09 0.16 0.25" pos="-0.03 0 0.25" {_rgba(emb.torso_rgba)}/>
        {_fisheye_xml("torso")}
        <body name="head_yaw_body" pos="0.02 0 {emb.head_height}">
          <joint name="head_yaw" axis="0 0 1" range="-1.5 1.5" limited="true"/>
          <geom type="cylinder" size="0.03 0.04" pos="0 0 0.0" rgba="0.2 0.2 0.22 1"/>
          <body name="head_pitch_body" pos="0 0 0.08">
            <joint name="head_pitch" axis="0 1 0" range="-0.5 1.4" limited="true"/>
            <geom type="box" size="0.07 0.11 0.06" pos="0 0 0.0" rgba="0.9 0.9 0.92 1"/>
            <camera name="head" pos="{_fmt(head_cam_pos)}" quat="{head_cam_quat}" fovy="{head_fovy}"/>
            {_fisheye_xml("head_pitch_body")}
          </body>
        </body>
        {arms}
      </body>
    </body>
  </body>"""
