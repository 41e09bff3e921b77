"""Arm and gripper designs of the sample robot, selectable per run (`sample embodiment=NAME`).

An `Embodiment` holds every dimension, colour and camera mount that differs between robot designs;
`robot.robot_xml` builds the MJCF from one, `motion` plans with its fingertip offset and gripper
opening. Every design keeps the same joint, body and camera names, so episodes of any of them are
written in the same AgiBot layout and read by the same readers.

- `agibot_g1`: the default (and the design of every dataset written before embodiments existed): grey
  capsule links, a box palm with two thin box fingers (8.5 cm stroke), the wrist camera behind the palm.
- `wide_jaw`: a robot absent from pre-training: shorter upper arm and longer forearm in dark blue, a round
  palm with wide orange paddle fingers on a 12 cm stroke, the wrist camera further out beside the palm, tilted
  more and with a narrower view, and a lower, further-forward head camera.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Embodiment:
    name: str
    shoulder_y: float  # |y| of each shoulder from the torso centre (m)
    upper_arm: float  # shoulder to elbow (m)
    forearm: float  # elbow to wrist (m)
    wrist_to_flange: float  # wrist joints to the flange (m)
    link_radius: tuple[float, float]  # capsule radii of upper arm and forearm (m)
    link_rgba: tuple[float, float, float, float]
    joint_rgba: tuple[float, float, float, float]  # shoulders, wrist, palm
    torso_rgba: tuple[float, float, float, float]
    palm: str  # "box" | "cylinder": the palm geom
    palm_size: tuple[float, ...]  # box half-extents (x, y) or cylinder radius (m); depth is palm_depth
    palm_depth: float  # flange to the finger roots along flange +z (m)
    finger: str  # "box" | "paddle" (a box blade ending in a rounded capsule pad)
    finger_size: tuple[float, float]  # half-extent across (flange x) and half-thickness (flange y) (m)
    finger_length: float  # finger root to tip (m)
    finger_rgba: tuple[float, float, float, float]
    max_opening: float  # finger gap fully open (m)
    finger_range: float  # travel limit of each finger slide joint (m), at least max_opening / 2
    hand_camera_pos: tuple[float, float, float]  # wrist camera in the flange frame (m)
    hand_tilt_range: tuple[float, float]  # rad the wrist camera is tilted toward the fingers (drawn per episode)
    hand_fovy_deg: float
    head_height: float  # torso top to the head pan joint (m)
    head_camera_pos: tuple[float, float, float]  # head camera in the head-pitch body (m), before jitter

    @property
    def tip_offset(self) -> float:
        """Flange origin to the fingertips along flange +z (m)."""
        return self.palm_depth + self.finger_length


AGIBOT_G1 = Embodiment(
    name="agibot_g1",
    shoulder_y=0.25, upper_arm=0.40, forearm=0.38, wrist_to_flange=0.08, link_radius=(0.04, 0.035),
    link_rgba=(0.75, 0.76, 0.8, 1), joint_rgba=(0.2, 0.2, 0.22, 1), torso_rgba=(0.85, 0.85, 0.88, 1),
    palm="box", palm_size=(0.03, 0.06), palm_depth=0.03,
    finger="box", finger_size=(0.012, 0.006), finger_length=0.10, finger_rgba=(0.35, 0.35, 0.38, 1),
    max_opening=0.085, finger_range=0.05,
    hand_camera_pos=(-0.065, 0.0, 0.015), hand_tilt_range=(0.30, 0.40), hand_fovy_deg=75.0,
    head_height=0.78, head_camera_pos=(0.09, 0.0, 0.02),
)

WIDE_JAW = Embodiment(
    name="wide_jaw",
    shoulder_y=0.22, upper_arm=0.35, forearm=0.44, wrist_to_flange=0.07, link_radius=(0.045, 0.03),
    link_rgba=(0.12, 0.2, 0.45, 1), joint_rgba=(0.85, 0.85, 0.8, 1), torso_rgba=(0.3, 0.32, 0.4, 1),
    palm="cylinder", palm_size=(0.04,), palm_depth=0.035,
    finger="paddle", finger_size=(0.024, 0.005), finger_length=0.085, finger_rgba=(0.95, 0.55, 0.1, 1),
    max_opening=0.12, finger_range=0.07,
    hand_camera_pos=(-0.085, 0.025, 0.005), hand_tilt_range=(0.45, 0.55), hand_fovy_deg=68.0,
    head_height=0.72, head_camera_pos=(0.11, 0.0, 0.035),
)

EMBODIMENTS = {e.name: e for e in (AGIBOT_G1, WIDE_JAW)}
DEFAULT_EMBODIMENT = AGIBOT_G1.name


def get_embodiment(name: str) -> Embodiment:
    try:
        return EMBODIMENTS[name]
    except KeyError:
        raise ValueError(f"unknown embodiment {name!r}; choose one of {', '.join(EMBODIMENTS)}") from None
