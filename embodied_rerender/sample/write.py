"""Write sample episodes in the AgiBot World raw layout, with ground truth kept beside it.

```
<output>/task_info/task_<task>.json                                    one entry per finished episode
<output>/observations/<task>/<ep>/videos/{head,hand_left,hand_right}_color.mp4      at width x height
<output>/observations/<task>/<ep>/videos/{head_center,head_left,head_right,back_left,back_right}_fisheye_color.mp4
                                                                       small (fisheye_size), no parameters, no depth
<output>/observations/<task>/<ep>/depth/head_depth_<NNNNNN>.png        uint16 mm
<output>/parameters/<task>/<ep>/parameters/camera/<cam>_{intrinsic_params,extrinsic_params,extrinsic_params_aligned}.json
<output>/proprio_stats/<task>/<ep>/proprio_stats.h5
<output>/ground_truth/<task>/<ep>/depth/<cam>_depth_<NNNNNN>.png       uint16 mm, every camera
<output>/ground_truth/<task>/<ep>/objects.json                         object shapes and per-frame poses
<output>/.sample_manifest.json                                         settings and finished episodes
```

The data carries the quirks of real AgiBot World Beta files that readers must handle: all eight colour
videos of the gripper robot, sparse actions (`action/joint/*` and `action/end/*` hold only the M < N
frames where the joint command changed, at `action/joint/index`; `action/end/index` is empty, so readers
fall back to the joint index), the empty `(0,)` float32 placeholders, and one dropped frame in
`timestamp` (a doubled gap).

Each episode is built in `<output>/.tmp-<task>-<ep>/` and moved into place when complete; its
task_info entry and then the manifest are written last, so a killed run leaves no episode that a
reader indexing task_info would find half-written, and a rerun only builds the missing episodes.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from ..imageio import write_depth_png
from ..io import agibot_layout as layout
from ..video import available_encoder, write_video
from .cameras import body_to_camera
from .episode import FPS, SampleEpisode
from .robot import CAMERAS, FISHEYE_CAMERAS
from .embodiment import DEFAULT_EMBODIMENT, get_embodiment
from .scene import MARKER_RADIUS, describe

DEFAULT_TASK_ID = 1001
EPISODE_ID_BASE = 900000
TASK_NAME = "Pick up objects on the table and place them elsewhere"
TIMESTAMP_EPOCH_NS = 1_740_000_000_000_000_000
FRAME_NS = 33_333_333
GRIPPER_STATE_SCALE = 120.0  # state/effector/position = 120 * closure, AgiBot's "mm" (spec Q3)
MANIFEST = ".sample_manifest.json"


def episode_id(index: int) -> int:
    return EPISODE_ID_BASE + int(index)


def ground_truth_dir(root: Path, task_id: int, ep_id: int) -> Path:
    return Path(root) / "ground_truth" / str(task_id) / str(ep_id)


def gt_depth_path(root: Path, task_id: int, ep_id: int, camera: str, frame: int) -> Path:
    return ground_truth_dir(root, task_id, ep_id) / "depth" / f"{camera}_depth_{frame:06d}.png"


def _episode_dirs(task_id: int, ep_id: int) -> list[Path]:
    """Every directory that holds one episode's files, relative to the dataset root."""
    t, e = str(task_id), str(ep_id)
    return [Path("observations", t, e), Path("parameters", t, e), Path("proprio_stats", t, e), Path("ground_truth", t, e)]


# -- one episode ---------------------------------------------------------------------------------
def _camera_frames(ep: SampleEpisode, root: Path, task_id: int, ep_id: int, camera: str, tick):
    """Yield `(H, W, 3) uint8` RGB frames of `camera`, writing its ground-truth depth PNGs on the way
    (and the head's AgiBot depth PNGs, byte copies of the ground-truth ones)."""
    for t in range(ep.frames):
        out = ep.render(t, camera)
        gt = gt_depth_path(root, task_id, ep_id, camera, t)
        write_depth_png(gt, out["depth"])
        if camera == "head":
            shutil.copyfile(gt, layout.depth_path(root, task_id, ep_id, t, "head"))
        tick()
        yield out["rgb"]


def fisheye_size(width: int, height: int) -> tuple[int, int]:
    """(height, width) of the fisheye videos: the real 768x960 aspect at 0.4 x the main height (even, >= 32),
    small because they are extra cameras no part of the pipeline needs at full size."""
    h = 2 * max(16, round(height * 0.2))
    return h, 2 * round(h * 1.25 / 2)


@dataclass(frozen=True)
class VideoSettings:
    """How the colour videos are encoded. The default is what AgiBot World ships (AV1, 4:2:0, lossy);
    `NEAR_LOSSLESS` keeps policy-resolution frames within rounding of the render (H.264 CRF 0, 4:4:4:
    0.5 / 255 mean, 2 / 255 max at 96x72), so a policy trained on the decoded video sees what a live
    camera would give it (AV1 CRF 30 at 96x72: 3.4 / 255 mean, 204 max at object edges)."""

    codec: str = "av1"
    crf: int = 30
    pix_fmt: str = "yuv420p"

    def settings(self) -> dict:
        """The manifest's record of these settings: empty for the default (older manifests stay valid)."""
        return {} if self == VideoSettings() else {"video": asdict(self)}


NEAR_LOSSLESS = VideoSettings("h264", 0, "yuv444p")


def _write_videos(ep: SampleEpisode, root: Path, task_id: int, ep_id: int, tick,
                  video: VideoSettings = VideoSettings()) -> str:
    """Render and encode every camera (the five fisheyes small, RGB only); returns the encoder used."""
    codec = video.codec if available_encoder(video.codec) else "h264"
    options = {"fps": FPS, "codec": codec, "crf": video.crf, "pix_fmt": video.pix_fmt}
    (ground_truth_dir(root, task_id, ep_id) / "depth").mkdir(parents=True, exist_ok=True)
    layout.depth_dir(root, task_id, ep_id).mkdir(parents=True, exist_ok=True)
    encoder = ""
    for camera in CAMERAS:
        path = layout.video_path(root, task_id, ep_id, camera)
        path.parent.mkdir(parents=True, exist_ok=True)
        encoder = write_video(path, _camera_frames(ep, root, task_id, ep_id, camera, tick), **options)
    h, w = fisheye_size(ep.width, ep.height)
    for camera in FISHEYE_CAMERAS:
        path = layout.video_path(root, task_id, ep_id, camera)
        write_video(path, (ep.render_small(t, camera, h, w) for t in range(ep.frames)), **options)
    return encoder


def _write_camera_params(ep: SampleEpisode, root: Path, task_id: int, ep_id: int) -> None:
    """Intrinsics and per-frame camera-to-world poses (the rendered ones). The static file holds the
    first-frame pose for the head and, as in real data, the hand-eye pose in the flange frame for the
    wrist cameras."""
    param_dir = layout.camera_param_dirs(root, task_id, ep_id)[0]
    for camera in CAMERAS:
        c2w = ep.camera_poses(camera)
        static = c2w[0] if camera == "head" else body_to_camera(ep.model, camera)
        layout.write_camera_params(param_dir, camera, ep.intrinsics(camera), c2w, static)


def _shift(a: np.ndarray) -> np.ndarray:
    """a[t + 1], the last row repeated: the command that leads to the next frame's state."""
    return np.concatenate([a[1:], a[-1:]], axis=0)


def command_frames(commands: np.ndarray) -> np.ndarray:
    """`(M,)` int64 frames at which `commands` `(T, ...)` change (frame 0 always): when the control source
    sends a command; in between the robot holds its state."""
    flat = commands.reshape(len(commands), -1)
    changed = np.concatenate([[True], np.any(flat[1:] != flat[:-1], axis=1)])
    return np.flatnonzero(changed).astype(np.int64)


def timestamps_ns(frames: int) -> np.ndarray:
    """`(T,)` int64 Unix ns at 30 fps with one dropped frame (a doubled gap) in the middle, as real files have."""
    steps = np.ones(frames, np.int64)
    steps[0] = 0
    if frames > 2:
        steps[frames // 2] = 2
    return TIMESTAMP_EPOCH_NS + FRAME_NS * np.cumsum(steps)


def proprio_datasets(ep: SampleEpisode) -> dict[str, np.ndarray]:
    """The populated `proprio_stats.h5` datasets of an episode (T = frames).

    state/joint/position `(T, 14)` rad (left 7, right 7); state/joint/current_value `(T, 14)` the
    inverse-dynamics joint torque in N m (a stand-in: the real unit is unknown); state/effector/position
    `(T, 2)` = 120 * gripper closure, increasing when closing as real data does; state/end/position
    `(T, 2, 3)` and orientation `(T, 2, 4)` xyzw of the flange; state/head/position `(T, 2)` yaw, pitch;
    state/waist/position `(T, 2)` pitch, lift; state/robot/* a static base at the origin.
    Actions are the commands leading to the next frame: joints/head/waist = next state, end = next IK
    target, effector = next gripper command in [0, 1] (0 open, 1 closed). Joint and end actions are
    sparse: only the M frames where the joint command changes (`command_frames`), listed in
    `action/joint/index`, with `action/end/index` empty; a reader filling the other frames with the held
    state gets the dense joint commands back exactly. Every other `index` lists all frames.
    """
    T, plan = ep.frames, ep.plan
    closure = 1.0 - plan.opening / ep.spec.embodiment.max_opening
    target_quat = Rotation.from_matrix(plan.flange_rot.reshape(-1, 3, 3)).as_quat().reshape(T, 2, 4)
    index = np.arange(T, dtype=np.int64)
    joint_cmd = _shift(ep.arm_q)
    sent = command_frames(joint_cmd)
    return {
        "timestamp": timestamps_ns(T),
        "state/joint/position": ep.arm_q,
        "state/joint/current_value": ep.arm_torque,
        "state/effector/position": GRIPPER_STATE_SCALE * closure,
        "state/end/position": ep.flange_pos,
        "state/end/orientation": ep.flange_quat,
        "state/head/position": plan.head,
        "state/waist/position": plan.waist,
        "state/robot/position": np.zeros((T, 3)),
        "state/robot/orientation": np.tile([0.0, 0.0, 0.0, 1.0], (T, 1)),
        "action/joint/position": joint_cmd[sent],
        "action/joint/index": sent,
        "action/effector/position": _shift(plan.gripper_cmd),
        "action/effector/index": index,
        "action/end/position": _shift(plan.flange_pos)[sent],
        "action/end/orientation": _shift(target_quat)[sent],
        "action/end/index": np.zeros(0, np.int64),
        "action/head/position": _shift(plan.head),
        "action/head/index": index,
        "action/waist/position": _shift(plan.waist),
        "action/waist/index": index,
        "action/robot/velocity": np.zeros((T, 2)),
        "action/robot/index": index,
    }


def objects_json(ep: SampleEpisode, task_id: int, ep_id: int) -> dict:
    """Ground truth of the scene: object shapes (MJCF geom type and size), colours, the marker sphere
    (centre in the object frame, radius) and per-frame world poses: "position" `(T, 3)` metres and
    "orientation" `(T, 4)` xyzw quaternions, in the robot base frame the camera extrinsics use."""
    picked = {task.obj: task for task in ep.plan.tasks}
    objects = []
    for i, o in enumerate(ep.spec.objects):
        task = picked.get(i)
        objects.append({
            "name": o.name,
            "label": o.label,
            "geom_type": o.kind,
            "size": list(o.size),
            "colour_name": o.colour_name,
            "rgb": list(o.rgb),
            "texture": o.texture,
            "marker": {"offset": list(o.marker_offset), "radius": MARKER_RADIUS},
            "picked_by": None if task is None else ("left", "right")[task.arm],
            "grasp_frame": None if task is None else task.grasp_frame,
            "release_frame": None if task is None else task.release_frame,
            "position": ep.object_pos[:, i].tolist(),
            "orientation": ep.object_quat[:, i].tolist(),
        })
    return {
        "task_id": task_id,
        "episode_id": ep_id,
        "seed": ep.seed,
        "episode_index": ep.index,
        "frames": ep.frames,
        "fps": FPS,
        "width": ep.width,
        "height": ep.height,
        "table_z": ep.spec.table_z,
        "quaternion_order": "xyzw",
        "objects": objects,
        **_scene_extras(ep),
    }


def _scene_extras(ep: SampleEpisode) -> dict:
    """The robot design and table footprint, written only where they differ from the default draw (so
    default datasets keep their bytes)."""
    if not ep.randomize and ep.embodiment.name == DEFAULT_EMBODIMENT:
        return {}
    return {"embodiment": ep.embodiment.name, "randomize": ep.randomize,
            "table_center_xy": list(ep.spec.table_center_xy), "table_half_xy": list(ep.spec.table_half_xy)}


def write_episode(root: Path, ep: SampleEpisode, task_id: int, ep_id: int, tick=lambda: None,
                  video: VideoSettings = VideoSettings()) -> tuple[dict, str]:
    """Write every file of one episode under `root` (AgiBot layout + ground truth), except task_info.
    Returns the task_info entry and the video encoder used."""
    encoder = _write_videos(ep, root, task_id, ep_id, tick, video)
    _write_camera_params(ep, root, task_id, ep_id)
    layout.write_proprio(layout.proprio_path(root, task_id, ep_id), proprio_datasets(ep))
    layout.write_json(ground_truth_dir(root, task_id, ep_id) / "objects.json", objects_json(ep, task_id, ep_id))
    entry = layout.task_info_entry(ep_id, TASK_NAME, describe(ep.spec), ep.plan.segments)
    return entry, encoder


# -- dataset: atomic, resumable -------------------------------------------------------------------
def _read_json(path: Path, default):
    return json.loads(path.read_text()) if path.exists() else default


def _check_manifest(output: Path, config: dict) -> set[tuple[int, int]]:
    """Finished (task, episode) pairs; refuses an output written with other settings."""
    manifest = _read_json(output / MANIFEST, None)
    if manifest is None:
        return set()
    if manifest["config"] != config:
        raise ValueError(f"{output} holds sample episodes written with {manifest['config']}, not {config}; "
                         "use another output directory")
    return {tuple(x) for x in manifest["done"]}


def _commit(output: Path, tmp: Path, task_id: int, ep_id: int, entry: dict, done: set, config: dict) -> None:
    """Move a finished episode from `tmp` into `output`, then list it in task_info, then the manifest."""
    for rel in _episode_dirs(task_id, ep_id):
        dest = output / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp / rel, dest)
    shutil.rmtree(tmp)
    info_path = layout.task_info_path(output, task_id)
    entries = [e for e in _read_json(info_path, []) if e["episode_id"] != ep_id] + [entry]
    layout.write_json(info_path, sorted(entries, key=lambda e: e["episode_id"]))
    done.add((task_id, ep_id))
    layout.write_json(output / MANIFEST, {"config": config, "done": sorted(done)})


def sample_settings(seed: int, frames: int, width: int, height: int, randomize: bool = False,
                    embodiment: str = DEFAULT_EMBODIMENT, scene: str = "full",
                    video: VideoSettings = VideoSettings(), look_seed: int | None = None,
                    looks: int | None = None) -> dict:
    """The manifest's `config`: what determines every episode. `randomize`, `embodiment`, `scene`, `video`,
    `look_seed` and `looks` appear only when not the default, so datasets written before they existed still
    match their settings."""
    config = {"seed": int(seed), "frames": int(frames), "width": int(width), "height": int(height)}
    if scene != "full":
        config["scene"] = scene
    if look_seed is not None:
        config["look_seed"] = int(look_seed)
    if looks:
        config["looks"] = int(looks)
    if randomize:
        config["randomize"] = True
    if embodiment != DEFAULT_EMBODIMENT:
        config["embodiment"] = str(embodiment)
    return {**config, **video.settings()}


def _build_episode(tmp: Path, episode: tuple, task_id: int, ep_id: int, video: VideoSettings, tick=lambda: None):
    """Render and write one episode into `tmp` (removed again on failure). `episode` holds the
    `SampleEpisode` arguments. Returns the task_info entry and the encoder used."""
    shutil.rmtree(tmp, ignore_errors=True)  # left by a killed run
    try:
        with SampleEpisode(*episode) as ep:
            return write_episode(tmp, ep, task_id, ep_id, tick=tick, video=video)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_sample_dataset(
    output: Path,
    episodes: int = 2,
    frames: int = 60,
    seed: int = 0,
    width: int = 640,
    height: int = 480,
    task_id: int = DEFAULT_TASK_ID,
    progress: bool = True,
    randomize: bool = False,
    embodiment: str = DEFAULT_EMBODIMENT,
    scene: str = "full",
    video: VideoSettings = VideoSettings(),
    workers: int = 1,
    look_seed: int | None = None,
    looks: int | None = None,
) -> list[tuple[int, int]]:
    """Render `episodes` sample episodes of `frames` frames into `output` in the AgiBot World raw layout.

    `randomize` widens every scene draw (domain randomisation, `scene.draw_scene`); `embodiment` picks the
    robot design (`embodiment.EMBODIMENTS`); `video` the colour videos' encoding. All are part of the
    settings a rerun must match.

    Episode i has id 900000 + i and is drawn from `seed` and i alone, so the same arguments give the
    same files (videos included where the encoder is deterministic), whatever `workers` is: with
    `workers` > 1, episodes are rendered in that many spawned processes and committed here one by one.
    `scene` "task": the benchmark's variant of each scene; `look_seed` and `looks`: the appearance of other
    scenes, e.g. K looks shared by all (see `SampleEpisode`). Episodes already
    finished in `output` are kept. Returns the `(task_id, episode_id)` pairs of all requested episodes.
    """
    from tqdm import tqdm

    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    get_embodiment(embodiment)  # an unknown name fails before anything is written
    config = sample_settings(seed, frames, width, height, randomize, embodiment, scene, video, look_seed, looks)
    done = _check_manifest(output, config)
    wanted = [(int(task_id), episode_id(i)) for i in range(episodes)]
    todo = [i for i, key in enumerate(wanted) if key not in done]
    start, encoder = time.monotonic(), ""

    def job(i: int) -> tuple:
        ep_id = episode_id(i)
        for rel in _episode_dirs(task_id, ep_id):  # moved in part before a kill
            shutil.rmtree(output / rel, ignore_errors=True)
        return (output / f".tmp-{task_id}-{ep_id}", (seed, i, frames, width, height, randomize, embodiment, scene,
                                                          look_seed, looks),
                task_id, ep_id, video)

    with tqdm(total=len(todo) * frames * len(CAMERAS), unit="frame", desc="sample", disable=not progress) as bar:
        if workers <= 1 or len(todo) <= 1:
            for i in todo:
                args = job(i)
                entry, encoder = _build_episode(*args, tick=lambda: bar.update(1))
                _commit(output, args[0], task_id, args[3], entry, done, config)
        else:
            with ProcessPoolExecutor(min(workers, len(todo)), mp_context=get_context("spawn")) as pool:
                running = {pool.submit(_build_episode, *args): args for args in map(job, todo)}
                for future in as_completed(running):
                    entry, encoder = future.result()
                    args = running[future]
                    _commit(output, args[0], task_id, args[3], entry, done, config)
                    bar.update(frames * len(CAMERAS))
    if progress:
        tqdm.write(f"sample: {len(todo)} episodes written, {len(wanted) - len(todo)} already present, "
                   f"{frames} frames each at {width}x{height}, encoder {encoder or '-'}, "
                   f"{time.monotonic() - start:.1f} s, 0 skipped -> {output}")
    return wanted
