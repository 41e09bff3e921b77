"""Reader for AgiBot World (Alpha/Beta) raw data, per shared/specs/agibot_world_format.md.

Episodes are indexed from task_info ∩ proprio_stats ∩ observations; every disagreement is reported
as a problem naming the episode and the file. Reading an episode validates it fully (frame counts of
every video, the depth set and every per-frame extrinsics list against N; rotations; action lengths)
without decoding a frame: frames stay lazy.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from ..episode import CameraStream, CameraTrajectory, DepthPngFrames, Episode, Segment, VideoFrames, check_rigid, require_finite
from ..errors import ConsistencyError, DatasetError, EpisodeError, FormatError
from ..imageio import depth_png_size
from . import agibot_layout as layout
from .base import EpisodeRef, is_safe_id

# Cameras whose parameter files AgiBot documents; a missing file for one of these is an error.
PARAMETER_CAMERAS = ("head", "hand_left", "hand_right")

_TASK_FILE = re.compile(r"^task_(.+)\.json$")


def _column_names(key: str, shape: tuple[int, ...]) -> list[str] | None:
    """Per-column names for a flattened state/action array with trailing `shape`."""
    width = int(np.prod(shape)) if shape else 1
    sides = ("left", "right")
    if key in ("joint.position", "joint.current_value") and width == 14:
        return [f"{s}_arm_{i}" for s in sides for i in range(7)]
    if key == "effector.position":
        if width == 2:
            return ["left_gripper", "right_gripper"]
        return [f"{s}_hand_{i}" for s in sides for i in range(width // 2)]
    if key == "end.position" and shape == (2, 3):
        return [f"{s}_{a}" for s in sides for a in "xyz"]
    if key == "end.orientation" and shape == (2, 4):
        return [f"{s}_q{a}" for s in sides for a in "xyzw"]
    if key == "end.wrench" and width == 12:
        return [f"{s}_{a}" for s in sides for a in ("fx", "fy", "fz", "tx", "ty", "tz")]
    fixed = {
        "head.position": ["yaw", "pitch"],
        "waist.position": ["pitch", "lift"],
        "robot.position": ["x", "y", "z"],
        "robot.orientation": ["qx", "qy", "qz", "qw"],
        "robot.velocity": ["linear_x", "yaw_rate"],
    }
    names = fixed.get(key)
    return names if names is not None and len(names) == width else None


class AgiBotReader:
    """Reads an extracted AgiBot World tree at `root`.

    require_camera_params: when True (default) a head/hand camera without intrinsics or aligned
    extrinsics fails its episode; when False the camera is kept without a trajectory and the gap is
    listed in `episode.metadata["problems"]`.
    """

    name = "agibot"

    def __init__(self, root: str | Path, tasks: list[str] | None = None, require_camera_params: bool = True):
        self.root = Path(root)
        if not (self.root / "observations").is_dir() and not (self.root / "task_info").is_dir():
            raise DatasetError(f"{self.root} is not an AgiBot World tree (no observations/ or task_info/)")
        self.tasks = None if tasks is None else {str(t) for t in tasks}
        self.require_camera_params = require_camera_params
        self.problems: list[EpisodeError] = []
        self._task_info: dict[EpisodeRef, dict] = {}
        self._duplicates: set[EpisodeRef] = set()
        self._refs: list[EpisodeRef] | None = None

    # -- indexing ----------------------------------------------------------------------------
    def refs(self) -> list[EpisodeRef]:
        """Episodes present in task_info, proprio_stats and observations alike, sorted."""
        if self._refs is None:
            self._refs = self._build_index()
        return self._refs

    def _build_index(self) -> list[EpisodeRef]:
        listed = self._index_task_info()
        observed = self._index_dirs(self.root / "observations", lambda t, e: (layout.observation_dir(self.root, t, e) / "videos").is_dir())
        proprio = self._index_dirs(self.root / "proprio_stats", lambda t, e: layout.proprio_path(self.root, t, e).is_file())
        good = []
        for ref in sorted(set(listed) | set(observed) | set(proprio)):
            missing = []
            if ref not in listed:
                missing.append(("task_info entry", layout.task_info_path(self.root, ref.task_id)))
            if ref not in observed:
                missing.append(("videos directory", layout.observation_dir(self.root, ref.task_id, ref.episode_id) / "videos"))
            if ref not in proprio:
                missing.append(("proprio_stats.h5", layout.proprio_path(self.root, ref.task_id, ref.episode_id)))
            if missing:
                what = ", ".join(m[0] for m in missing)
                self.problems.append(FormatError(f"episode has no {what}; skipped", episode=ref.label, path=missing[0][1]))
            else:
                good.append(ref)
        return good

    def _wanted(self, task_id: str) -> bool:
        return self.tasks is None or task_id in self.tasks

    def _index_task_info(self) -> set[EpisodeRef]:
        found: set[EpisodeRef] = set()
        info_dir = self.root / "task_info"
        for path in sorted(info_dir.glob("task_*.json")) if info_dir.is_dir() else []:
            match = _TASK_FILE.match(path.name)
            task_id = match.group(1)
            if not is_safe_id(task_id) or not self._wanted(task_id):
                continue
            try:
                entries = json.loads(path.read_text())
            except (OSError, ValueError) as exc:
                self.problems.append(FormatError(f"task_info is not valid JSON ({exc})", path=path))
                continue
            if not isinstance(entries, list):
                self.problems.append(FormatError("task_info must be a JSON list of episodes", path=path))
                continue
            for n, entry in enumerate(entries):
                episode_id = entry.get("episode_id") if isinstance(entry, dict) else None
                if episode_id is None or not is_safe_id(episode_id):
                    self.problems.append(
                        FormatError(f"entry {n} has an unusable episode_id {episode_id!r} (must be one path component)", path=path)
                    )
                    continue
                ref = EpisodeRef(task_id, str(episode_id))
                if ref in found:  # which of the two is right cannot be told: neither is used
                    self.problems.append(FormatError(f"entry {n} repeats episode_id {episode_id!r}; the episode is listed "
                                                     "twice and is skipped", episode=ref.label, path=path))
                    self._duplicates.add(ref)
                    continue
                found.add(ref)
                self._task_info[ref] = entry
        for ref in self._duplicates:
            found.discard(ref)
            self._task_info.pop(ref, None)
        return found

    def _index_dirs(self, base: Path, present) -> set[EpisodeRef]:
        found = set()
        for task_dir in sorted(base.iterdir()) if base.is_dir() else []:
            if not task_dir.is_dir() or not is_safe_id(task_dir.name) or not self._wanted(task_dir.name):
                continue
            for ep_dir in sorted(task_dir.iterdir()):
                if ep_dir.is_dir() and is_safe_id(ep_dir.name) and present(task_dir.name, ep_dir.name):
                    found.add(EpisodeRef(task_dir.name, ep_dir.name))
        return found

    # -- reading -----------------------------------------------------------------------------
    def read(self, ref: EpisodeRef) -> Episode:
        """The validated episode `ref`; raises EpisodeError naming the episode, the file and the reason."""
        try:
            return self._read(ref)
        except EpisodeError as err:
            raise err.with_episode(ref.label) from err

    def _read(self, ref: EpisodeRef) -> Episode:
        if ref not in self._task_info:
            self.refs()
        entry = self._task_info.get(ref)
        if entry is None:
            raise FormatError("episode is not listed in task_info", episode=ref.label, path=layout.task_info_path(self.root, ref.task_id))
        proprio = read_proprio(layout.proprio_path(self.root, ref.task_id, ref.episode_id), ref.label)
        n = proprio["n"]
        problems: list[str] = []
        cameras = self._read_cameras(ref, n, problems)
        segments, seg_problems = _segments(entry, n)
        problems += seg_problems
        effector = proprio["state"].get("effector.position")
        embodiment = "dexhand" if "hand_left_fisheye" in cameras or (effector is not None and effector.shape[1] == 12) else "gripper"
        if any(name.startswith("tactile_") for name in cameras):
            embodiment = "tactile"
        return Episode(
            episode_id=ref.episode_id,
            task_id=ref.task_id,
            fps=layout.FPS,
            cameras=cameras,
            state=proprio["state"],
            action=proprio["action"],
            names=proprio["names"],
            timestamps=proprio["timestamps"],
            task=str(entry.get("task_name", "")),
            scene=str(entry.get("init_scene_text", "")),
            segments=segments,
            metadata={
                "format": "agibot",
                "embodiment": embodiment,
                "action_index": proprio["action_index"],
                "empty_keys": proprio["empty"],
                "problems": problems,
            },
            source=str(layout.observation_dir(self.root, ref.task_id, ref.episode_id)),
        )

    def _read_cameras(self, ref: EpisodeRef, n: int, problems: list[str]) -> dict[str, CameraStream]:
        obs = layout.observation_dir(self.root, ref.task_id, ref.episode_id)
        videos = {p.name[: -len("_color.mp4")]: p for p in sorted((obs / "videos").glob("*_color.mp4"))}
        videos.update({f"tactile_{p.stem}": p for p in sorted((obs / "tactile").glob("*.mp4"))})
        if not videos:
            raise FormatError("no camera videos (*_color.mp4)", path=obs / "videos")
        param_dir = next((d for d in layout.camera_param_dirs(self.root, ref.task_id, ref.episode_id) if d.is_dir()), None)
        cameras = {}
        for name, path in videos.items():
            frames = VideoFrames(path)
            if len(frames) != n:
                raise ConsistencyError(f"video has {len(frames)} frames, proprio_stats has N={n}", path=path)
            h, w = frames.shape
            trajectory = self._trajectory(ref, name, param_dir, n, h, w, problems)
            depth = read_depth_set(layout.depth_dir(self.root, ref.task_id, ref.episode_id), name, n)
            if depth is not None and depth.shape != (h, w):
                raise ConsistencyError(f"depth PNGs are {depth.shape[1]}x{depth.shape[0]}, the {name} video is {w}x{h}",
                                       path=depth.paths[0])
            cameras[name] = CameraStream(name, frames, trajectory, depth, source_path=str(path))
        return cameras

    def _trajectory(self, ref, camera, param_dir, n, height, width, problems) -> CameraTrajectory | None:
        required = camera in PARAMETER_CAMERAS and self.require_camera_params
        base = param_dir if param_dir is not None else layout.camera_param_dirs(self.root, ref.task_id, ref.episode_id)[0]
        k_path = base / f"{camera}_intrinsic_params.json"
        e_path = base / f"{camera}_extrinsic_params_aligned.json"
        for path in (k_path, e_path):
            if not path.is_file():
                if required:
                    raise FormatError("camera parameter file is missing", path=path)
                if camera in PARAMETER_CAMERAS:
                    problems.append(f"{camera}: no {path.name}; camera has no trajectory")
                return None
        return CameraTrajectory(read_extrinsics_aligned(e_path, n), read_intrinsics(k_path), height, width)


# -- file readers (pure functions, one file each) ------------------------------------------------
def _load_json(path: Path):
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise FormatError(f"not valid JSON ({exc})", path=path) from exc


def read_intrinsics(path: Path) -> np.ndarray:
    """`(3, 3)` K from `{"intrinsic": {fx, fy, ppx, ppy}}`."""
    data = _load_json(path)
    try:
        p = data["intrinsic"]
        fx, fy, cx, cy = (float(p[k]) for k in ("fx", "fy", "ppx", "ppy"))
    except (KeyError, TypeError, ValueError) as exc:
        raise FormatError(f"intrinsics need intrinsic.fx/fy/ppx/ppy ({exc!r})", path=path) from exc
    if not all(np.isfinite([fx, fy, cx, cy])) or fx <= 0 or fy <= 0:
        raise ConsistencyError(f"invalid intrinsics fx={fx} fy={fy} ppx={cx} ppy={cy}", path=path)
    return np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])


def read_extrinsics_aligned(path: Path, n: int | None = None) -> np.ndarray:
    """`(T, 4, 4)` camera-to-world poses from an `*_extrinsic_params_aligned.json` list; T must be `n`."""
    data = _load_json(path)
    if not isinstance(data, list):
        raise FormatError("aligned extrinsics must be a JSON list with one entry per frame", path=path)
    if n is not None and len(data) != n:
        raise ConsistencyError(f"aligned extrinsics list has {len(data)} entries, proprio_stats has N={n}", path=path)
    poses = np.tile(np.eye(4), (len(data), 1, 1))
    try:
        for i, entry in enumerate(data):
            ext = entry["extrinsic"]
            poses[i, :3, :3] = np.asarray(ext["rotation_matrix"], dtype=np.float64).reshape(3, 3)
            poses[i, :3, 3] = np.asarray(ext["translation_vector"], dtype=np.float64).reshape(3)
    except (KeyError, TypeError, ValueError) as exc:
        raise FormatError(f"entry {i} needs extrinsic.rotation_matrix (3x3) and translation_vector (3) ({exc!r})", path=path) from exc
    why = check_rigid(poses)
    if why is not None:
        raise ConsistencyError(why, path=path)
    return poses


def read_depth_set(depth_dir: Path, camera: str, n: int) -> DepthPngFrames | None:
    """The `<camera>_depth_NNNNNN.png` set as lazy float32 metres, or None when there is none; count must be `n`."""
    paths = sorted(depth_dir.glob(f"{camera}_depth_*.png")) if depth_dir.is_dir() else []
    if not paths:
        return None
    if len(paths) != n:
        raise ConsistencyError(f"{len(paths)} {camera} depth PNGs, proprio_stats has N={n}", path=depth_dir)
    # The file index is the frame index: a gap with an extra file at the end has the right count.
    expected = [depth_dir / f"{camera}_depth_{i:06d}.png" for i in range(n)]
    for want, got in zip(expected, paths):
        if want != got:
            raise ConsistencyError(f"depth PNG for frame {expected.index(want)} is missing ({want.name}; found {got.name})",
                                   path=want)
    frames = DepthPngFrames(paths)
    size = frames.shape
    for path in paths[1:]:  # headers only: a broken, 8-bit or resized PNG is found before any decoding
        if depth_png_size(path) != size:
            raise ConsistencyError(f"depth PNG is {depth_png_size(path)[1]}x{depth_png_size(path)[0]}, frame 0 is "
                                   f"{size[1]}x{size[0]}", path=path)
    return frames


def _segments(entry: dict, n: int) -> tuple[list[Segment], list[str]]:
    out, problems = [], []
    config = (entry.get("label_info") or {}).get("action_config") or []
    for seg in config:
        try:
            s = Segment(int(seg["start_frame"]), int(seg["end_frame"]), str(seg.get("action_text", "")), str(seg.get("skill", "")))
        except (KeyError, TypeError, ValueError):
            problems.append(f"action_config entry without integer start_frame/end_frame: {seg!r}")
            continue
        if not 0 <= s.start <= s.end <= n:
            problems.append(f"action_config segment [{s.start}, {s.end}) outside [0, {n}]")
        out.append(s)
    return out, problems


def read_proprio(path: Path, label: str | None = None) -> dict:
    """Read `proprio_stats.h5` into dense `(N, ...)` float64 state/action arrays keyed "group.field".

    Handles the quirks of real files: empty `(0,)` placeholders are dropped (listed in "empty");
    a sparse action of M < N rows is scattered by its `action/<group>/index` (falling back to
    `action/joint/index` when the end index is empty) over a copy of the matching state; an action
    longer than N is an error. Returns n, state, action, names, timestamps, action_index, empty.
    """
    import h5py

    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise FormatError(f"cannot open HDF5 ({exc})", episode=label, path=path) from exc
    with f:
        flat: dict[str, np.ndarray] = {}
        f.visititems(lambda key, obj: flat.__setitem__(key, obj[()]) if isinstance(obj, h5py.Dataset) else None)
    if "state/joint/position" not in flat or flat["state/joint/position"].ndim < 2 or len(flat["state/joint/position"]) == 0:
        raise FormatError("state/joint/position is missing or empty; cannot tell N", episode=label, path=path)
    n = len(flat["state/joint/position"])
    empty = sorted(k for k, v in flat.items() if v.size == 0)
    state, action, names, action_index = {}, {}, {}, {}
    for key, value in flat.items():
        group, _, rest = key.partition("/")
        if value.size == 0 or group not in ("state", "action") or key.endswith("/index"):
            continue
        name = rest.replace("/", ".")
        if group == "state":
            if len(value) != n:
                raise ConsistencyError(f"{key} has {len(value)} rows, N={n}", episode=label, path=path)
            state[name] = require_finite(value.astype(np.float64), key, label, path)
        names.setdefault(name, _column_names(name, value.shape[1:]))
    for key, value in flat.items():
        if not key.startswith("action/") or key.endswith("/index") or value.size == 0:
            continue
        name = key[len("action/"):].replace("/", ".")
        group = name.split(".")[0]
        index = _action_index(flat, group)
        if index is not None:
            action_index[group] = index
        action[name] = require_finite(_dense_action(key, value, n, index, state.get(name), label, path), key, label, path)
    names = {k: v for k, v in names.items() if v is not None}
    timestamps = flat.get("timestamp")
    if timestamps is not None and timestamps.size:
        if len(timestamps) != n:
            raise ConsistencyError(f"timestamp has {len(timestamps)} rows, N={n}", episode=label, path=path)
        timestamps = timestamps.astype(np.int64)
    else:
        timestamps = None
    return {"n": n, "state": state, "action": action, "names": names, "timestamps": timestamps,
            "action_index": action_index, "empty": empty}


def _action_index(flat: dict, group: str) -> np.ndarray | None:
    index = flat.get(f"action/{group}/index")
    if (index is None or index.size == 0) and group == "end":
        index = flat.get("action/joint/index")  # real files leave action/end/index empty at times
    return None if index is None or index.size == 0 else index.astype(np.int64)


def _dense_action(key, value, n, index, state_value, label, path) -> np.ndarray:
    """`(N, ...)` action: as stored when it has N rows, else its M rows scattered at `index`."""
    rows = len(value)
    if rows == n:
        return value.astype(np.float64)
    if rows > n:
        raise ConsistencyError(f"{key} has {rows} rows, more than the N={n} state rows (action longer than state)", episode=label, path=path)
    if index is None or len(index) != rows:
        have = "no index" if index is None else f"an index of {len(index)}"
        raise ConsistencyError(f"{key} has {rows} rows, neither N={n} nor matching its index ({have})", episode=label, path=path)
    if index.min() < 0 or index.max() >= n:
        raise ConsistencyError(f"index of {key} points outside [0, {n})", episode=label, path=path)
    # Between commands the robot holds its state, so the state is the best fill for unsent frames.
    if state_value is not None and state_value.shape[1:] == value.shape[1:]:
        dense = state_value.astype(np.float64).copy()
    else:
        dense = np.zeros((n,) + value.shape[1:], np.float64)
    dense[index] = value
    return dense
