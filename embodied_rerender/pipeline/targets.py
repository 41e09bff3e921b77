"""Target camera trajectories for `augment targets=...`, built from an episode's recorded cameras."""

from __future__ import annotations

import numpy as np
import torch

from ..episode import CameraTrajectory, Episode
from ..generate import Target

WRIST_CAMERAS = ("hand_left", "hand_right")


def head_to_gripper(episode: Episode, **_) -> list[Target]:
    """`<hand>_synth` along every recorded wrist camera's trajectory (scored against the real one)."""
    return [Target(f"{name}_synth", episode.cameras[name].trajectory, ground_truth=name)
            for name in WRIST_CAMERAS if name in episode.cameras and episode.cameras[name].trajectory is not None]


def virtual_wrist(episode: Episode, offsets=((0.0, -0.04, -0.06, -15.0, 0.0, 0.0),), **_) -> list[Target]:
    """`virtual_wrist_<i>`: cameras rigidly attached to each recorded wrist camera at `offsets`
    (x, y, z metres and roll, pitch, yaw degrees, in the wrist camera's own OpenCV frame)."""
    from ..geometry.trajectory import offset_from_translation_rpy, relative_offset

    targets = []
    for name in WRIST_CAMERAS:
        cam = episode.cameras.get(name)
        if cam is None or cam.trajectory is None:
            continue
        for off in offsets:
            offset = offset_from_translation_rpy(torch.tensor(off[:3], dtype=torch.float64), torch.tensor(off[3:], dtype=torch.float64))
            c2w = relative_offset(torch.as_tensor(cam.trajectory.extrinsics), offset).numpy()
            traj = CameraTrajectory(c2w, cam.trajectory.intrinsics, cam.trajectory.height, cam.trajectory.width)
            targets.append(Target(f"virtual_wrist_{len(targets)}", traj, info={"attached_to": name, "offset": list(off)}))
    return targets


def orbit(episode: Episode, source: str = "head", arc_deg: float = 40.0, radius_scale: float = 1.0, **_) -> list[Target]:
    """`orbit_0`: a camera swinging `arc_deg` around the point the `source` camera looks at (from its
    depth at frame 0), at the source's distance and height, with the source's intrinsics."""
    from ..geometry.trajectory import orbit as orbit_path

    cam = episode.cameras[source]
    if cam.trajectory is None or cam.depth is None:
        return []
    c2w0 = cam.trajectory.extrinsics[0]
    depth = cam.read_depth(0)
    centre_depth = float(np.median(depth[depth > 0])) if np.any(depth > 0) else 1.0
    centre = c2w0[:3, 3] + c2w0[:3, 2] * centre_depth  # along the optical axis
    offset = c2w0[:3, 3] - centre
    radius = float(np.linalg.norm(offset[:2])) * radius_scale
    start = float(np.degrees(np.arctan2(offset[1], offset[0])))
    t = len(cam)
    c2w = orbit_path(torch.tensor(centre), radius, float(offset[2]), t, start - arc_deg / 2, arc_deg).numpy()
    traj = CameraTrajectory(c2w, cam.trajectory.intrinsics, cam.trajectory.height, cam.trajectory.width)
    return [Target("orbit_0", traj, info={"centre": centre.tolist(), "arc_deg": arc_deg})]


def loop(episode: Episode, kind: str = "head_gripper_head", source: str = "head", wrist: str = "hand_left",
         dwell: float = 0.1, laps: int = 1, radius: float = 0.05, **_) -> list[Target]:
    """`loop_<kind>`: a camera path over the episode's clock that returns to poses it held (LoopAug).

    kind: `head_gripper_head` (the `source` view blends into the `wrist` view and back, both cameras as they
    were at time min(t, T-1-t), with `dwell` and smoothstep timing); `out_and_back` (the `source` camera's own
    first half, then retraced); `orbit` (`laps` circles of `radius` metres around the source camera's frame-0
    centre, normal to its optical axis, looking at the point it looks at). The revisit pairs go in `info`."""
    from ..geometry import loops

    cam = episode.cameras.get(source)
    if cam is None or cam.trajectory is None:
        return []
    src = torch.as_tensor(cam.trajectory.extrinsics)
    T, like = len(src), cam.trajectory
    if kind == "head_gripper_head":
        arm = episode.cameras.get(wrist)
        if arm is None or arm.trajectory is None:
            return []
        path = loops.head_gripper_head(src, torch.as_tensor(arm.trajectory.extrinsics), T, dwell)
        like = arm.trajectory  # the loop ends at the wrist view: the wrist's intrinsics and size
    elif kind == "out_and_back":
        path = loops.out_and_back(src, T)
    elif kind == "orbit":
        c2w0 = cam.trajectory.extrinsics[0]
        depth = cam.read_depth(0) if cam.depth is not None else None
        reach = float(np.median(depth[depth > 0])) if depth is not None and np.any(depth > 0) else 1.0
        focus = torch.as_tensor(c2w0[:3, 3] + c2w0[:3, 2] * reach)
        path = loops.closed_orbit(torch.as_tensor(c2w0[:3, 3]), radius, T, laps, look_at=focus,
                                  axis=torch.as_tensor(c2w0[:3, 2]))
    else:
        raise ValueError(f"unknown loop kind {kind!r}; choose from head_gripper_head, out_and_back, orbit")
    traj = CameraTrajectory(path.c2w.numpy(), like.intrinsics_per_frame()[0], like.height, like.width)
    info = {"loop": kind, "revisits": path.revisits.tolist()}
    return [Target(f"loop_{kind}", traj, info=info)]


BUILDERS = {"head_to_gripper": head_to_gripper, "virtual_wrist": virtual_wrist, "orbit": orbit, "loop": loop}


def build_targets(episode: Episode, names: list[str], options: dict | None = None) -> list[Target]:
    """Targets of every builder in `names`, in order; `options[name]` are that builder's keywords."""
    options = options or {}
    out = []
    for name in names:
        if name not in BUILDERS:
            raise ValueError(f"unknown target {name!r}; choose from {', '.join(BUILDERS)}")
        out += BUILDERS[name](episode, **(options.get(name) or {}))
    return out
