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


def head_shift(episode: Episode, count: int = 4, max_translation_m: float = 0.10, max_rotation_deg: float = 10.0,
               source: str = "head", seed: int = 0, aim_m: float | None = None, **_) -> list[Target]:
    """`head_shift_<i>`, i < `count`: the `source` camera's trajectory under one rigid offset each (in the
    camera's own OpenCV frame), the viewpoint augmentation a policy is trained with: a translation of
    uniformly random direction and length in [0, `max_translation_m`] and a rotation about a random axis by
    an angle in [0, `max_rotation_deg`]. With `aim_m` (metres) the move is in the image plane instead (random
    direction) and the rotation re-aims the optical axis at the point `aim_m` ahead (`geometry.offsets`, as the
    policy benchmark's camera shifts; `max_rotation_deg` unused). Drawn from `seed` and the episode's ids, so a
    rerun (or a resumed run) makes the same shifts, and different episodes get different ones. Same intrinsics
    and size."""
    from ..geometry.offsets import rotation_deg, sampled_offset

    cam = episode.cameras.get(source)
    if cam is None or cam.trajectory is None:
        return []
    if count < 0 or max_translation_m < 0 or max_rotation_deg < 0:
        raise ValueError(f"head_shift: count, max_translation_m and max_rotation_deg must be >= 0, got "
                         f"{count}, {max_translation_m}, {max_rotation_deg}")
    if aim_m is not None and aim_m <= 0:
        raise ValueError(f"head_shift: aim_m must be > 0 (metres ahead) or null, got {aim_m}")
    rng = np.random.default_rng(episode_seed(seed, episode, "head_shift"))
    targets = []
    for i in range(count):
        offset = (random_rigid_offset(rng, max_translation_m, max_rotation_deg) if aim_m is None
                  else sampled_offset(max_translation_m, rng, aim_m))
        c2w = cam.trajectory.extrinsics @ offset
        traj = CameraTrajectory(c2w, cam.trajectory.intrinsics, cam.trajectory.height, cam.trajectory.width)
        info = {"shifted": source, "offset": offset.tolist(),
                "translation_m": round(float(np.linalg.norm(offset[:3, 3])), 6),
                "rotation_deg": round(rotation_deg(offset), 6), **({"aim_m": aim_m} if aim_m is not None else {})}
        targets.append(Target(f"head_shift_{i}", traj, info=info))
    return targets


def episode_seed(seed: int, episode: Episode, salt: str) -> int:
    """A 64-bit seed from the run's seed and the episode's task and episode ids (stable across processes,
    unlike Python's salted `hash`)."""
    import hashlib

    text = f"{salt}/{int(seed)}/{episode.task_id or ''}/{episode.episode_id}"
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")


def random_rigid_offset(rng: np.random.Generator, max_translation: float, max_rotation_deg: float) -> np.ndarray:
    """`(4, 4)` float64 rigid transform: translation of random direction and length U(0, max_translation),
    rotation about a random unit axis by U(0, max_rotation_deg) degrees (Rodrigues)."""
    def unit() -> np.ndarray:
        v = rng.normal(size=3)
        return v / max(np.linalg.norm(v), 1e-12)

    t = unit() * rng.uniform(0.0, max_translation)
    axis, angle = unit(), np.radians(rng.uniform(0.0, max_rotation_deg))
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    out = np.eye(4)
    out[:3, :3] = np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * k @ k
    out[:3, 3] = t
    return out


BUILDERS = {"head_to_gripper": head_to_gripper, "virtual_wrist": virtual_wrist, "orbit": orbit, "loop": loop,
            "head_shift": head_shift}


def build_targets(episode: Episode, names: list[str], options: dict | None = None, seed: int = 0) -> list[Target]:
    """Targets of every builder in `names`, in order; `options[name]` are that builder's keywords, and every
    builder gets the run's `seed` (those that draw at random use it)."""
    options = options or {}
    out = []
    for name in names:
        if name not in BUILDERS:
            raise ValueError(f"unknown target {name!r}; choose from {', '.join(BUILDERS)}")
        out += BUILDERS[name](episode, **{"seed": seed, **(options.get(name) or {})})
    return out
