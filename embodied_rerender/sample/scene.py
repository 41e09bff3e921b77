"""The seeded tabletop scene: what is on the table, how it looks, and which objects get moved where.

`draw_scene(rng)` makes every random choice of an episode (objects, textures, lights, camera jitter,
waist pose, the two pick-and-place tasks) from one `numpy.random.Generator`; `build_mjcf(spec, ...)`
turns the drawn `SceneSpec` into an MJCF string with no further randomness. `draw_scene(rng,
randomize=True)` is domain randomisation: wider draws of table/floor textures (five procedural kinds,
any colour), lights (1-4, direction, colour, intensity), table size and height, object shapes (box,
cylinder, sphere, capsule), sizes and counts (2-6), head and wrist camera fields of view and mounts
(head height and pitch, wrist camera offset and tilt). The default draw is unchanged, draw for draw. World frame = robot base
frame: origin on the floor under the robot, x forward, y left, z up.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from .embodiment import AGIBOT_G1, Embodiment
from .robot import ARM_SIDES, HEAD_FOVY_DEG, robot_xml

# Named colours, so task texts can say "the red box". RGB in [0, 1].
PALETTE = {
    "red": (0.85, 0.15, 0.12),
    "green": (0.15, 0.70, 0.22),
    "blue": (0.15, 0.30, 0.85),
    "yellow": (0.95, 0.85, 0.15),
    "orange": (0.95, 0.50, 0.10),
    "purple": (0.55, 0.25, 0.75),
    "cyan": (0.10, 0.75, 0.80),
    "pink": (0.95, 0.45, 0.65),
}
KINDS = ("box", "cylinder", "sphere")
RANDOM_KINDS = KINDS + ("capsule",)
# procedural 2D textures of the randomised draw: MuJoCo builtins, the last two with marks on top
TEXTURE_KINDS = ("checker", "gradient", "flat", "checker_edge", "speckle")

TABLE_CENTER_XY = (0.58, 0.0)
TABLE_HALF_XY = (0.32, 0.55)
TABLE_THICKNESS = 0.03
# Where objects start and land: x range, and |y| range per arm side (left = +y).
WORK_X = (0.40, 0.62)
WORK_ABS_Y = (0.06, 0.30)
MARKER_RADIUS = 0.009  # the small sphere on top of every object, for exact-projection tests
MAX_OPENING = AGIBOT_G1.max_opening  # the default gripper's finger gap when fully open (m)


@dataclass
class ObjectSpec:
    """One free object on the table; `pos` is its centre at rest, `yaw` its rotation about z (rad)."""

    name: str  # MJCF body name, e.g. "obj0"
    kind: str  # "box" | "cylinder" | "sphere" | "capsule"
    size: tuple[float, ...]  # MJCF geom size: box half-extents (3), cylinder and capsule (radius, half-height of
    #                          the straight part), sphere (radius,); cylinders and capsules stand upright
    colour_name: str
    rgb: tuple[float, float, float]
    texture: str  # "checker" | "gradient"
    pos: tuple[float, float, float]
    yaw: float

    @property
    def label(self) -> str:
        return f"{self.colour_name} {self.kind}"

    @property
    def half_height(self) -> float:
        if self.kind == "capsule":
            return float(self.size[0] + self.size[1])
        return float(self.size[2] if self.kind == "box" else self.size[1] if self.kind == "cylinder" else self.size[0])

    @property
    def footprint(self) -> float:
        """Radius of a circle on the table that covers the object (m)."""
        if self.kind == "box":
            return float(np.hypot(self.size[0], self.size[1]))
        return float(self.size[0])

    @property
    def grasp_width(self) -> float:
        """Finger gap when closed on the object; boxes are grasped across their local y extent (m)."""
        return float(2 * self.size[1] if self.kind == "box" else 2 * self.size[0])

    @property
    def marker_offset(self) -> tuple[float, float, float]:
        """Centre of the marker sphere in the object's frame: on top, half sunk in."""
        return (0.0, 0.0, self.half_height + 0.4 * MARKER_RADIUS)


@dataclass
class PickPlace:
    """One arm's task: move `obj` (index into SceneSpec.objects) to `place_xy`, turning it by `turn` rad."""

    arm: str  # "left" | "right"
    obj: int
    place_xy: tuple[float, float]
    turn: float


@dataclass
class SceneSpec:
    table_z: float  # height of the table top (m)
    table_texture: dict
    floor_texture: dict
    sky_rgb: tuple[tuple[float, float, float], tuple[float, float, float]]
    lights: list[dict]
    objects: list[ObjectSpec]
    tasks: list[PickPlace]  # executed in order, left arm first
    waist: tuple[float, float]  # (pitch rad, lift m), constant over the episode
    head_rest: tuple[float, float]  # (yaw, pitch) rad the head returns to
    head_cam_jitter: tuple[tuple[float, float, float], tuple[float, float, float]]  # (dpos m, rotvec rad)
    hand_cam_tilt: float  # rad the wrist cameras are tilted toward the fingers
    # fields below keep their defaults in the default draw (and so in every dataset written before them)
    embodiment: Embodiment = AGIBOT_G1
    table_center_xy: tuple[float, float] = TABLE_CENTER_XY
    table_half_xy: tuple[float, float] = TABLE_HALF_XY
    head_fovy: float = HEAD_FOVY_DEG  # deg
    hand_fovy: float | None = None  # deg; None = the embodiment's
    hand_cam_pos: tuple[float, float, float] | None = None  # in the flange frame (m); None = the embodiment's
    target_marks: bool = False  # a flat disc in each task object's colour on its landing spot (the "task" scene)


def episode_rng(seed: int, episode_index: int) -> np.random.Generator:
    """The one generator an episode's every draw comes from."""
    return np.random.default_rng([int(seed), int(episode_index)])


# -- drawing -----------------------------------------------------------------------------------
def _jitter_rgb(rng: np.random.Generator, rgb, amount: float = 0.06) -> tuple[float, float, float]:
    return tuple(float(np.clip(c + rng.uniform(-amount, amount), 0.0, 1.0)) for c in rgb)


def _draw_texture(rng: np.random.Generator, base_rgb, contrast: float) -> dict:
    """A procedural 2D texture: builtin checker or gradient in two seeded colours near `base_rgb`."""
    rgb1 = _jitter_rgb(rng, base_rgb, 0.08)
    rgb2 = tuple(float(np.clip(c * (1 - contrast) + rng.uniform(0, 0.1), 0, 1)) for c in rgb1)
    return {
        "builtin": str(rng.choice(["checker", "gradient"])),
        "rgb1": rgb1,
        "rgb2": rgb2,
        "repeat": float(rng.uniform(3, 8)),
    }


def _draw_object(rng: np.random.Generator, index: int, colour_name: str) -> ObjectSpec:
    kind = str(rng.choice(KINDS))
    if kind == "box":
        size = (float(rng.uniform(0.02, 0.04)), float(rng.uniform(0.018, 0.032)), float(rng.uniform(0.025, 0.045)))
    elif kind == "cylinder":
        size = (float(rng.uniform(0.018, 0.03)), float(rng.uniform(0.03, 0.05)))
    else:
        size = (float(rng.uniform(0.025, 0.034)),)
    return ObjectSpec(
        name=f"obj{index}",
        kind=kind,
        size=size,
        colour_name=colour_name,
        rgb=_jitter_rgb(rng, PALETTE[colour_name]),
        texture=str(rng.choice(["checker", "gradient"])),
        pos=(0.0, 0.0, 0.0),  # placed later
        yaw=float(rng.uniform(-0.5, 0.5)) if kind == "box" else float(rng.uniform(-np.pi, np.pi)),
    )


def _free_spot(rng, radius, side, taken, tries: int = 200) -> tuple[float, float]:
    """A table position for a footprint of `radius` on `side` (+1 left, -1 right, 0 any), clear of `taken`
    ((x, y, r) triples) by 2 cm."""
    for _ in range(tries):
        x = rng.uniform(*WORK_X)
        ay = rng.uniform(*WORK_ABS_Y)
        s = side if side else rng.choice([-1.0, 1.0])
        y = s * ay
        if all(np.hypot(x - tx, y - ty) > radius + tr + 0.02 for tx, ty, tr in taken):
            return float(x), float(y)
    raise RuntimeError("could not find a free spot on the table")  # not reached for the sizes drawn


def draw_scene(rng: np.random.Generator, randomize: bool = False, embodiment: Embodiment = AGIBOT_G1) -> SceneSpec:
    """Every random choice of one episode, in a fixed order (the order is part of the seed contract).
    `randomize` switches to the wider domain-randomised draws (`_draw_randomized`)."""
    if randomize:
        return _draw_randomized(rng, embodiment)
    table_z = float(rng.uniform(0.72, 0.78))
    table_texture = _draw_texture(rng, rng.uniform(0.35, 0.75, 3), contrast=0.35)
    floor_texture = _draw_texture(rng, rng.uniform(0.2, 0.5, 3), contrast=0.5)
    sky = (tuple(map(float, rng.uniform(0.5, 0.9, 3))), tuple(map(float, rng.uniform(0.05, 0.3, 3))))
    key_dir = np.array([rng.uniform(-0.4, 0.4), rng.uniform(-0.4, 0.4), -1.0])
    lights = [
        {"dir": tuple(map(float, key_dir / np.linalg.norm(key_dir))), "diffuse": float(rng.uniform(0.5, 0.8)),
         "pos": (0.6, float(rng.uniform(-1, 1)), 3.0), "castshadow": True},
        {"dir": (0.0, 0.0, -1.0), "diffuse": float(rng.uniform(0.15, 0.35)), "pos": (-0.5, 0.0, 3.0), "castshadow": False},
    ]

    n_objects = int(rng.integers(3, 6))
    colours = [str(c) for c in rng.choice(list(PALETTE), size=n_objects, replace=False)]
    objects = [_draw_object(rng, i, colours[i]) for i in range(n_objects)]
    taken: list[tuple[float, float, float]] = []
    for i, obj in enumerate(objects):
        # obj0 on the left, obj1 on the right: each arm has something to pick
        side = 1.0 if i == 0 else -1.0 if i == 1 else 0.0
        x, y = _free_spot(rng, obj.footprint, side, taken)
        obj.pos = (x, y, table_z + obj.half_height)
        taken.append((x, y, obj.footprint))

    tasks = _draw_tasks(rng, objects, taken)
    waist = (float(rng.uniform(0.0, 0.12)), float(rng.uniform(0.03, 0.12)))
    head_rest = (float(rng.uniform(-0.05, 0.05)), float(rng.uniform(0.92, 1.0)))
    jitter = (tuple(map(float, rng.normal(0, 0.003, 3))), tuple(map(float, rng.normal(0, 0.006, 3))))
    tilt = float(rng.uniform(*embodiment.hand_tilt_range))
    return SceneSpec(table_z, table_texture, floor_texture, sky, lights, objects, tasks, waist, head_rest, jitter, tilt,
                     embodiment=embodiment)


def _draw_tasks(rng: np.random.Generator, objects: list[ObjectSpec], taken: list) -> list[PickPlace]:
    """One pick-and-place per arm (left first), each of an object on its side, to a free spot on that side."""
    tasks = []
    for arm, sign in zip(ARM_SIDES, (1.0, -1.0)):
        candidates = [i for i, o in enumerate(objects) if np.sign(o.pos[1]) == sign]
        obj = int(rng.choice(candidates))
        # the picked object's own footprint no longer blocks its landing spot
        others = [t for j, t in enumerate(taken) if j != obj]
        place = _free_spot(rng, objects[obj].footprint, sign, others)
        taken[obj] = (place[0], place[1], objects[obj].footprint)
        tasks.append(PickPlace(arm=arm, obj=obj, place_xy=place, turn=float(rng.uniform(-0.4, 0.4))))
    return tasks


# -- domain-randomised drawing ----------------------------------------------------------------------
def _draw_wide_texture(rng: np.random.Generator) -> dict:
    """Any of TEXTURE_KINDS in any two colours, at any scale."""
    kind = str(rng.choice(TEXTURE_KINDS))
    rgb1 = tuple(map(float, rng.uniform(0.05, 0.95, 3)))
    contrast = float(rng.uniform(0.1, 0.7))
    rgb2 = tuple(float(np.clip(c * (1 - contrast) + rng.uniform(0, 0.25), 0, 1)) for c in rgb1)
    tex = {"builtin": {"checker_edge": "checker", "speckle": "flat"}.get(kind, kind), "rgb1": rgb1, "rgb2": rgb2,
           "repeat": float(rng.uniform(1.0, 12.0))}
    if kind == "checker_edge":
        tex.update(mark="edge", markrgb=tuple(map(float, rng.uniform(0, 1, 3))))
    elif kind == "speckle":
        tex.update(mark="random", markrgb=rgb2, random=float(rng.uniform(0.02, 0.3)))
    return tex


def _draw_wide_lights(rng: np.random.Generator) -> list[dict]:
    """1-4 directional lights from anywhere above, each with its own colour and intensity; the first casts
    shadows."""
    lights = []
    for i in range(int(rng.integers(1, 5))):
        azimuth, elevation = rng.uniform(-np.pi, np.pi), rng.uniform(np.deg2rad(25), np.deg2rad(90))
        d = -np.array([np.cos(elevation) * np.cos(azimuth), np.cos(elevation) * np.sin(azimuth), np.sin(elevation)])
        tint = np.clip(1.0 + rng.uniform(-0.3, 0.3, 3), 0.0, 1.3)
        diffuse = tuple(map(float, np.clip(tint * rng.uniform(0.2, 0.85), 0.0, 1.0)))
        lights.append({"dir": tuple(map(float, d)), "diffuse": diffuse, "pos": tuple(map(float, -3.0 * d)),
                       "castshadow": bool(i == 0 or rng.random() < 0.3)})
    return lights


def _draw_wide_object(rng: np.random.Generator, index: int, colour_name: str, max_grasp: float) -> ObjectSpec:
    """Any of RANDOM_KINDS in a wide size range; every grasp width stays under `max_grasp` (m)."""
    kind = str(rng.choice(RANDOM_KINDS))
    half_grip = max_grasp / 2
    if kind == "box":
        size = (float(rng.uniform(0.015, 0.04)), float(rng.uniform(0.012, min(0.035, half_grip))),
                float(rng.uniform(0.018, 0.06)))
    elif kind == "cylinder":
        size = (float(rng.uniform(0.012, min(0.035, half_grip))), float(rng.uniform(0.02, 0.06)))
    elif kind == "capsule":
        size = (float(rng.uniform(0.012, min(0.03, half_grip))), float(rng.uniform(0.012, 0.04)))
    else:
        size = (float(rng.uniform(0.018, min(0.038, half_grip))),)
    return ObjectSpec(
        name=f"obj{index}", kind=kind, size=size, colour_name=colour_name,
        rgb=_jitter_rgb(rng, PALETTE[colour_name], 0.15),
        texture=str(rng.choice(["checker", "gradient", "flat"])),
        pos=(0.0, 0.0, 0.0),
        yaw=float(rng.uniform(-0.6, 0.6)) if kind == "box" else float(rng.uniform(-np.pi, np.pi)),
    )


def _draw_randomized(rng: np.random.Generator, emb: Embodiment) -> SceneSpec:
    """The domain-randomised draw: same structure as the default, every range wider."""
    table_z = float(rng.uniform(0.66, 0.84))
    # the work area (WORK_X, WORK_ABS_Y) stays on every table drawn
    table_center = (float(rng.uniform(0.55, 0.62)), float(rng.uniform(-0.04, 0.04)))
    table_half = (float(rng.uniform(0.27, 0.40)), float(rng.uniform(0.42, 0.70)))
    table_texture = _draw_wide_texture(rng)
    floor_texture = _draw_wide_texture(rng)
    sky = (tuple(map(float, rng.uniform(0.2, 1.0, 3))), tuple(map(float, rng.uniform(0.0, 0.4, 3))))
    lights = _draw_wide_lights(rng)

    n_objects = int(rng.integers(2, 7))
    colours = [str(c) for c in rng.choice(list(PALETTE), size=n_objects, replace=False)]
    max_grasp = emb.max_opening - 0.015
    objects = [_draw_wide_object(rng, i, colours[i], max_grasp) for i in range(n_objects)]
    taken: list[tuple[float, float, float]] = []
    placed = []
    for i, obj in enumerate(objects):
        side = 1.0 if i == 0 else -1.0 if i == 1 else 0.0
        try:
            x, y = _free_spot(rng, obj.footprint, side, taken)
        except RuntimeError:
            if i < 2:
                raise
            continue  # a crowded table: this extra object is left out
        obj.pos = (x, y, table_z + obj.half_height)
        taken.append((x, y, obj.footprint))
        placed.append(obj)
    for i, obj in enumerate(placed):
        obj.name = f"obj{i}"
    objects = placed
    tasks = _draw_tasks(rng, objects, taken)

    waist = (float(rng.uniform(0.0, 0.2)), float(rng.uniform(0.0, 0.15)))
    head_rest = (float(rng.uniform(-0.1, 0.1)), float(rng.uniform(0.85, 1.05)))
    # head camera mount: height (z) and pitch (about the head's y axis) vary most
    dpos = (float(rng.normal(0, 0.01)), float(rng.normal(0, 0.01)), float(rng.uniform(-0.04, 0.06)))
    drot = (float(rng.normal(0, 0.02)), float(rng.uniform(-0.12, 0.12)), float(rng.normal(0, 0.02)))
    lo, hi = emb.hand_tilt_range
    tilt = float(rng.uniform(lo - 0.08, hi + 0.08))
    hand_cam_pos = tuple(float(c + rng.uniform(-0.01, 0.01)) for c in emb.hand_camera_pos)
    head_fovy = float(rng.uniform(50.0, 72.0))
    hand_fovy = float(rng.uniform(emb.hand_fovy_deg - 12.0, emb.hand_fovy_deg + 15.0))
    return SceneSpec(table_z, table_texture, floor_texture, sky, lights, objects, tasks, waist, head_rest,
                     (dpos, drot), tilt, embodiment=emb, table_center_xy=table_center, table_half_xy=table_half,
                     head_fovy=head_fovy, hand_fovy=hand_fovy, hand_cam_pos=hand_cam_pos)


SCENES = ("full", "task", "one_arm")
TARGET_MARK_RADIUS = 0.04  # m, the landing-spot disc of the "task" scene


def task_scene(spec: SceneSpec, arms: tuple[str, ...] = ARM_SIDES) -> SceneSpec:
    """The closed-loop benchmark's variant of a drawn scene: only the task objects of `arms` (no distractors) and
    a visible landing spot for each, so a policy that sees the head camera can know what to move where; no shadows
    (a software renderer draws a 2048 px shadow map per frame, which would dominate closed-loop rollouts). The
    draw itself is unchanged (same seed contract); object names keep their indices of the full scene.
    `arms=("left",)` is the "one_arm" scene: the left arm's pick-and-place over the whole episode, the right
    arm resting."""
    kept_tasks = [t for t in spec.tasks if t.arm in arms]
    keep = sorted({t.obj for t in kept_tasks})
    index = {old: new for new, old in enumerate(keep)}
    tasks = [PickPlace(t.arm, index[t.obj], t.place_xy, t.turn) for t in kept_tasks]
    lights = [{**light, "castshadow": False} for light in spec.lights]
    return dataclasses.replace(spec, objects=[spec.objects[i] for i in keep], tasks=tasks, lights=lights,
                               target_marks=True)


def make_scene(rng: np.random.Generator, scene: str = "full", randomize: bool = False,
               embodiment: Embodiment = AGIBOT_G1) -> SceneSpec:
    """`draw_scene`, then the `scene` variant: "full" (the sample), "task" or "one_arm" (`task_scene`)."""
    if scene not in SCENES:
        raise ValueError(f"unknown scene {scene!r}; choose from {', '.join(SCENES)}")
    spec = draw_scene(rng, randomize, embodiment)
    if scene == "task":
        return task_scene(spec)
    return task_scene(spec, arms=("left",)) if scene == "one_arm" else spec


def with_look(spec: SceneSpec, look: SceneSpec) -> SceneSpec:
    """`spec`'s layout (table, objects, tasks, robot, cameras) with `look`'s appearance: table and floor
    textures, sky and lights. Scenes that share a look differ only where a policy must look: the layout."""
    return dataclasses.replace(spec, table_texture=look.table_texture, floor_texture=look.floor_texture,
                               sky_rgb=look.sky_rgb, lights=look.lights)


def describe(spec: SceneSpec) -> str:
    """`init_scene_text`: a sentence naming what is on the table."""
    names = [("an " if o.label[0] in "aeiou" else "a ") + o.label for o in spec.objects]
    listing = ", ".join(names[:-1]) + f" and {names[-1]}" if len(names) > 1 else names[0]
    return f"A robot stands at a table with {listing} on it."


# -- MJCF ----------------------------------------------------------------------------------------
def _fmt(values) -> str:
    return " ".join(f"{float(v):.6g}" for v in np.atleast_1d(values))


def _texture_xml(name: str, tex: dict, kind: str = "2d") -> str:
    marks = ""
    if "mark" in tex:
        marks = f' mark="{tex["mark"]}" markrgb="{_fmt(tex["markrgb"])}"'
        if "random" in tex:
            marks += f' random="{_fmt(tex["random"])}"'
    return (f'<texture name="{name}" type="{kind}" builtin="{tex["builtin"]}" rgb1="{_fmt(tex["rgb1"])}" '
            f'rgb2="{_fmt(tex["rgb2"])}"{marks} width="256" height="256"/>')


def _light_rgb(diffuse) -> list[float]:
    """A light's diffuse colour: one intensity (grey light) or an RGB triple."""
    return [diffuse] * 3 if np.isscalar(diffuse) else list(diffuse)


def _object_xml(obj: ObjectSpec) -> str:
    quat = Rotation.from_euler("z", obj.yaw).as_quat()  # xyzw
    quat_wxyz = (quat[3], quat[0], quat[1], quat[2])
    return (
        f'<body name="{obj.name}" pos="{_fmt(obj.pos)}" quat="{_fmt(quat_wxyz)}">'
        f'<freejoint name="{obj.name}_free"/>'
        f'<geom name="{obj.name}_geom" type="{obj.kind}" size="{_fmt(obj.size)}" material="{obj.name}_mat" mass="0.1"/>'
        f'<geom name="{obj.name}_marker" type="sphere" size="{MARKER_RADIUS}" pos="{_fmt(obj.marker_offset)}" '
        f'rgba="1 0 1 1" mass="0.001"/>'
        f"</body>"
    )


# A world camera posed at render time (`SampleEpisode.render_pose`): ground truth for any trajectory.
VIEW_CAMERA = "view"


def build_mjcf(spec: SceneSpec, width: int = 640, height: int = 480) -> str:
    """The whole model as an MJCF string. Collisions are off everywhere: the episode is kinematic."""
    tx, ty = spec.table_center_xy
    hx, hy = spec.table_half_xy
    top = spec.table_z
    legs = "".join(
        f'<geom type="box" size="0.025 0.025 {_fmt((top - TABLE_THICKNESS) / 2)}" '
        f'pos="{_fmt((tx + sx * (hx - 0.05), ty + sy * (hy - 0.05), (top - TABLE_THICKNESS) / 2))}" rgba="0.3 0.25 0.2 1"/>'
        for sx in (-1, 1) for sy in (-1, 1)
    )
    assets = [
        _texture_xml("table_tex", spec.table_texture),
        f'<material name="table_mat" texture="table_tex" texrepeat="{_fmt([spec.table_texture["repeat"]] * 2)}" texuniform="true"/>',
        _texture_xml("floor_tex", spec.floor_texture),
        f'<material name="floor_mat" texture="floor_tex" texrepeat="{_fmt([spec.floor_texture["repeat"]] * 2)}" texuniform="true"/>',
        f'<texture type="skybox" builtin="gradient" rgb1="{_fmt(spec.sky_rgb[0])}" rgb2="{_fmt(spec.sky_rgb[1])}" width="64" height="64"/>',
    ]
    for obj in spec.objects:
        dark = tuple(0.45 * c for c in obj.rgb)
        assets.append(f'<texture name="{obj.name}_tex" type="cube" builtin="{obj.texture}" rgb1="{_fmt(obj.rgb)}" '
                      f'rgb2="{_fmt(dark)}" width="64" height="64"/>')
        assets.append(f'<material name="{obj.name}_mat" texture="{obj.name}_tex" specular="0.2"/>')
    marks = "".join(
        f'<geom name="target{i}" type="cylinder" size="{TARGET_MARK_RADIUS} 0.001" '
        f'pos="{_fmt((*t.place_xy, top + 0.001))}" rgba="{_fmt(spec.objects[t.obj].rgb)} 1"/>'
        for i, t in enumerate(spec.tasks)) if spec.target_marks else ""
    lights = "".join(
        f'<light pos="{_fmt(light["pos"])}" dir="{_fmt(light["dir"])}" directional="true" '
        f'diffuse="{_fmt(_light_rgb(light["diffuse"]))}" castshadow="{str(light["castshadow"]).lower()}"/>'
        for light in spec.lights
    )
    return f"""<mujoco model="embodied_rerender_sample">
  <compiler angle="radian"/>
  <option timestep="{1 / 30:.10f}"/>
  <statistic extent="2" center="0.4 0 0.8"/>
  <visual>
    <global offwidth="{max(width, 640)}" offheight="{max(height, 480)}"/>
    <quality shadowsize="2048"/>
    <map znear="0.005" zfar="10"/>
    <headlight ambient="0.25 0.25 0.25" diffuse="0.2 0.2 0.2" specular="0 0 0"/>
  </visual>
  <default>
    <geom contype="0" conaffinity="0"/>
    <joint damping="1"/>
  </default>
  <asset>
    {"".join(assets)}
  </asset>
  <worldbody>
    {lights}
    <geom name="floor" type="plane" size="4 4 0.1" material="floor_mat"/>
    <body name="table" pos="0 0 0">
      <geom name="table_top" type="box" size="{_fmt((hx, hy, TABLE_THICKNESS / 2))}" pos="{_fmt((tx, ty, top - TABLE_THICKNESS / 2))}" material="table_mat"/>
      {legs}
      {marks}
    </body>
    {"".join(_object_xml(o) for o in spec.objects)}
    {robot_xml(spec.head_cam_jitter, spec.hand_cam_tilt, spec.embodiment, spec.head_fovy, spec.hand_fovy,
               spec.hand_cam_pos)}
    <camera name="{VIEW_CAMERA}" pos="0 0 1" mode="fixed"/>
  </worldbody>
</mujoco>
"""
