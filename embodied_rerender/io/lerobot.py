"""LeRobot v3 datasets, written through lerobot's own API and read back camera by camera.

Writing: one small LeRobot dataset per episode (`LeRobotDataset.create` + `save_episode` + `finalize`),
joined at the end with lerobot's `aggregate_datasets` (each staged episode's `meta/episodes` index read by
`load_episode_index`, not lerobot's loader, which spent ~1.1 s per episode on the stats columns' features).
Videos never go through lerobot's PNG round trip: a sink placed in lerobot's streaming-encoder slot hands
`save_episode` one finished mp4 per camera, either the source file copied byte for byte (AgiBot AV1 streams
stay as recorded) or our own encode of frames that have no fitting file (synthesized cameras). lerobot then does
what it always does with that mp4: places it, concatenates, indexes timestamps, writes parquet, meta, stats.

Feature mapping (flat vectors; the original shapes are kept in `meta/embodied_rerender.json`). Only the
first three use the `observation` / `action` prefixes, so lerobot's policy factory (`dataset_to_policy_features`)
makes exactly the videos visual inputs, `observation.state` the state input and `action` the output:
  observation.images.<cam>                 video (H, W, 3)
  observation.state                        float32 (20,) policy state  (io/policy.py: names, order, units)
  action                                   float32 (22,) policy action
  camera.<cam>.extrinsics                  float64 (16,) camera-to-world 4x4, row-major (every camera with poses)
  camera.<cam>.intrinsics                  float64 (9,)  K, row-major
  proprio.state.<group>.<field>            float64, every raw state array, flattened (AgiBot names)
  proprio.action.<group>.<field>           float64, every raw action array, flattened
  annotation.action_text, annotation.skill string per frame (AgiBot action_config)
  source.timestamp_ns                      int64 source clock, when the source has one
The task of every frame is the episode's task text (AgiBot task_name). The reader also takes datasets written
with the earlier names (`observation.cameras.<cam>.*`, `observation.states.*`, `actions.*`,
`observation.source_timestamp_ns`).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from ..episode import CameraStream, CameraTrajectory, Episode, FrameSource, Segment, VideoFrames
from ..errors import ConsistencyError, DatasetError, FormatError
from .base import EpisodeRef, safe_ref
from ._common import jsonable
from .policy import action_vector, state_vector

SIDECAR = "meta/embodied_rerender.json"
COPYABLE_CODECS = ("av1", "h264", "hevc")

# Feature names (see the module docstring); OLD_* are what earlier versions wrote, still read.
STATE_PREFIX, ACTION_PREFIX = "proprio.state.", "proprio.action."
OLD_STATE_PREFIX, OLD_ACTION_PREFIX = "observation.states.", "actions."
TIMESTAMP, OLD_TIMESTAMP = "source.timestamp_ns", "observation.source_timestamp_ns"


def camera_keys(cam: str) -> tuple[str, str]:
    """The (extrinsics, intrinsics) feature names of camera `cam`."""
    return f"camera.{cam}.extrinsics", f"camera.{cam}.intrinsics"


def _old_camera_keys(cam: str) -> tuple[str, str]:
    return f"observation.cameras.{cam}.extrinsics", f"observation.cameras.{cam}.intrinsics"


def _flat(array: np.ndarray) -> np.ndarray:
    return array.reshape(array.shape[0], -1)


def _names(episode: Episode, key: str, width: int) -> list[str]:
    names = episode.names.get(key)
    return list(names) if names and len(names) == width else [f"{key}_{i}" for i in range(width)]


def build_features(episode: Episode) -> dict:
    """The lerobot `features` dict for `episode` (default columns are added by lerobot)."""
    feats: dict[str, dict] = {}
    for name, cam in episode.cameras.items():
        h, w = cam.height, cam.width
        feats[f"observation.images.{name}"] = {"dtype": "video", "shape": (h, w, 3), "names": ["height", "width", "channels"]}
    for feature, vector in (("observation.state", state_vector(episode)), ("action", action_vector(episode))):
        if vector.width:
            feats[feature] = {"dtype": "float32", "shape": (vector.width,), "names": list(vector.names)}
    for name, cam in episode.cameras.items():
        if cam.trajectory is not None:
            ext, k = camera_keys(name)
            feats[ext] = {"dtype": "float64", "shape": (16,), "names": None}
            feats[k] = {"dtype": "float64", "shape": (9,), "names": None}
    for prefix, arrays in ((STATE_PREFIX, episode.state), (ACTION_PREFIX, episode.action)):
        for key, arr in arrays.items():
            width = _flat(arr).shape[1]
            feats[f"{prefix}{key}"] = {"dtype": "float64", "shape": (width,), "names": _names(episode, key, width)}
    feats["annotation.action_text"] = {"dtype": "string", "shape": (1,), "names": None}
    feats["annotation.skill"] = {"dtype": "string", "shape": (1,), "names": None}
    if episode.timestamps is not None:
        feats[TIMESTAMP] = {"dtype": "int64", "shape": (1,), "names": None}
    return feats


def episode_buffer(episode: Episode, features: dict) -> dict:
    """A lerobot episode buffer (what `add_frame` would have built) for `save_episode(episode_data=...)`."""
    t = episode.num_frames
    buf: dict = {"size": t, "task": [episode.task or "unspecified"] * t, "episode_index": 0, "index": [], "task_index": [],
                 "frame_index": list(range(t)), "timestamp": [i / episode.fps for i in range(t)]}
    for name, cam in episode.cameras.items():
        buf[f"observation.images.{name}"] = [None] * t
        if cam.trajectory is not None:
            ext, k = camera_keys(name)
            buf[ext] = cam.trajectory.extrinsics.reshape(t, 16)
            buf[k] = cam.trajectory.intrinsics_per_frame().reshape(t, 9)
    for feature, vector in (("observation.state", state_vector(episode)), ("action", action_vector(episode))):
        if vector.width:
            buf[feature] = vector.values
    for prefix, arrays in ((STATE_PREFIX, episode.state), (ACTION_PREFIX, episode.action)):
        for key, arr in arrays.items():
            buf[f"{prefix}{key}"] = _flat(arr).astype(np.float64)
    texts = episode.segment_text()
    skills = [""] * t
    for seg in episode.segments:
        for i in range(max(seg.start, 0), min(seg.end, t)):
            skills[i] = seg.skill
    buf["annotation.action_text"], buf["annotation.skill"] = texts, skills
    if episode.timestamps is not None:
        buf[TIMESTAMP] = episode.timestamps.astype(np.int64).reshape(t, 1)
    missing = set(features) - set(buf)
    if missing:
        raise ConsistencyError(f"no data for features {sorted(missing)}", episode=episode.episode_id)
    return buf


# -- videos ------------------------------------------------------------------------------------
def copyable_video(cam: CameraStream, fps: float) -> Path | None:
    """The source mp4 of `cam` when it can go into a LeRobot dataset unchanged, else None.

    It must be a single-stream file in a codec lerobot decodes, with exactly the episode's frames,
    starting at pts 0 with a constant `fps` spacing (LeRobot finds frame t at t / fps seconds).
    """
    frames = cam.frames
    if not isinstance(frames, VideoFrames) or not frames.whole_file or frames.codec not in COPYABLE_CODECS:
        return None
    return frames.path if frames.reader.is_constant_rate_from_zero(fps) else None


def video_stats(frames: FrameSource, length: int) -> dict[str, np.ndarray]:
    """Per-channel image stats on 0..255 from sampled, downscaled frames, as lerobot computes them."""
    from lerobot.datasets.compute_stats import auto_downsample_height_width, get_feature_stats, sample_indices

    images = frames.read(sample_indices(length)).transpose(0, 3, 1, 2)
    images = np.stack([auto_downsample_height_width(im) for im in images])
    return get_feature_stats(images, axis=(0, 2, 3), keepdims=False)


class _FinishedVideoSink:
    """Stands in lerobot's streaming-encoder slot and hands `save_episode` finished mp4s.

    lerobot moves each file into the dataset and then removes the file's parent directory, so every
    mp4 sits in a temporary directory of its own.
    """

    def __init__(self):
        self.ready: dict[str, tuple[Path, dict]] = {}

    def start_episode(self, video_keys, temp_dir) -> None:  # noqa: D401 - lerobot's interface
        pass

    def feed_frame(self, key, frame) -> None:
        raise RuntimeError("frames are not streamed one by one here; videos arrive as finished files")

    def finish_episode(self) -> dict:
        ready, self.ready = self.ready, {}
        return ready

    def cancel_episode(self) -> None:
        for path, _ in self.ready.values():
            shutil.rmtree(path.parent, ignore_errors=True)
        self.ready = {}

    def close(self) -> None:
        self.cancel_episode()


class LeRobotWriter:
    """`writer=lerobot`: LeRobot v3 through lerobot 0.4.x.

    copy_videos: put fitting source mp4s in unchanged (stream copy); others are encoded with
    `vcodec`/`crf`/`gop`/`pix_fmt` (lerobot's own defaults: libsvtav1, crf 30, a keyframe every 2 frames,
    4:2:0; `h264` / `0` / `yuv444p` keeps frames within rounding of the source, for policy-resolution data).
    """

    name = "lerobot"

    def __init__(self, repo_id: str = "embodied-rerender/dataset", robot_type: str | None = None,
                 copy_videos: bool = True, vcodec: str = "av1", crf: int = 30, gop: int = 2,
                 pix_fmt: str = "yuv420p"):
        self.repo_id = repo_id
        self.robot_type = robot_type
        self.copy_videos = copy_videos
        self.vcodec, self.crf, self.gop, self.pix_fmt = vcodec, crf, gop, pix_fmt
        self.features: dict | None = None
        self.stats = {"copied": 0, "encoded": 0}

    def adopt(self, episode_dir: Path) -> None:
        """Take the schema of an already written episode (resume), so later episodes must match it."""
        self.features = _episode_features(episode_dir)

    def write_episode(self, episode: Episode, out: Path) -> dict:
        """Write `episode` as a one-episode LeRobot dataset at `out` (which must not exist)."""
        import datasets
        from lerobot.datasets.lerobot_dataset import LeRobotDataset

        datasets.disable_progress_bars()  # one "Map" bar per episode drowns the run's own progress bar
        features = build_features(episode)
        self._check_schema(episode.episode_id, features)
        robot_type = self.robot_type or episode.metadata.get("robot_type") or (
            "AgiBot_A2D" if episode.metadata.get("format") == "agibot" else None)
        ds = LeRobotDataset.create(repo_id=self.repo_id, fps=int(round(episode.fps)), features=features,
                                   root=out, robot_type=robot_type, use_videos=True)
        ds._streaming_encoder = _FinishedVideoSink()  # see module docstring
        try:
            methods = {}
            for name, cam in episode.cameras.items():
                key = f"observation.images.{name}"
                path, method = self._episode_video(cam, episode.fps, Path(tempfile.mkdtemp(dir=out)))
                ds._streaming_encoder.ready[key] = (path, video_stats(cam.frames, len(cam)))
                methods[name] = method
            ds.save_episode(episode_data=episode_buffer(episode, features))
        finally:
            ds.finalize()
        _write_sidecar(out, [_episode_record(episode, methods)], _provenance(episode))
        return {"frames": episode.num_frames, "cameras": methods}

    def reference(self, episode_dirs: list[Path]) -> None:
        """Take the most common schema among written episodes (ties: the earliest) as the dataset's, so one odd
        episode is the one skipped, wherever it comes."""
        schemas = [_episode_features(d) for d in episode_dirs]
        keys = [json.dumps(_comparable(f), sort_keys=True, default=str) for f in schemas]
        self.features = schemas[keys.index(max(keys, key=keys.count))]

    def conforms(self, episode_dir: Path) -> None:
        """Check a one-episode dataset written by another writer (a Ray worker's) against this dataset's
        schema, the first episode's; raises the ConsistencyError that `write_episode` would have."""
        self._check_schema(Path(episode_dir).name, _episode_features(episode_dir))

    def _check_schema(self, episode_id: str, features: dict) -> None:
        if self.features is None:
            self.features = features
            return
        # Before writing, an episode's video features have no codec info yet: compare what both have.
        video = all("info" in v for f in (features, self.features) for v in f.values() if v.get("dtype") == "video")
        if _comparable(features, video) != _comparable(self.features, video):
            diff = sorted(set(features) ^ set(self.features)) or sorted(
                k for k in features if _comparable({k: features[k]}, video) != _comparable({k: self.features[k]}, video))
            codecs = [f"{k}: {_video_info(features[k])[0]} video, the dataset's is {_video_info(self.features[k])[0]}"
                      for k in diff if k in features and k in self.features and video
                      and _video_info(features[k]) != _video_info(self.features[k])]
            hint = f"; {'; '.join(codecs)} (lerobot.copy_videos=false re-encodes every video alike)" if codecs else ""
            raise ConsistencyError(f"features differ from the dataset's ({', '.join(diff[:6])}){hint}; "
                                   "a LeRobot dataset holds one schema", episode=episode_id)

    def _episode_video(self, cam: CameraStream, fps: float, tmp: Path) -> tuple[Path, str]:
        from ..video import write_video

        source = copyable_video(cam, fps) if self.copy_videos else None
        target = tmp / f"{cam.name}.mp4"
        if source is not None:
            shutil.copyfile(source, target)
            self.stats["copied"] += 1
            return target, "copied"
        n = len(cam)
        batches = (cam[i : min(i + 32, n)] for i in range(0, n, 32))
        write_video(target, (f for batch in batches for f in batch), fps=fps, codec=self.vcodec, crf=self.crf, gop=self.gop,
                    pix_fmt=self.pix_fmt)
        self.stats["encoded"] += 1
        return target, "encoded"

    def merge(self, episode_dirs: list[Path], out: Path) -> None:
        """Join one-episode datasets, in order, with lerobot's aggregate (videos stream-concatenated)."""
        from lerobot.datasets.aggregate import aggregate_datasets

        if not episode_dirs:
            raise DatasetError("no episodes to merge")
        with _fast_episode_index(), _deferred_appends():
            aggregate_datasets(repo_ids=[f"{self.repo_id}_{i}" for i in range(len(episode_dirs))],
                               aggr_repo_id=self.repo_id, roots=[Path(d) for d in episode_dirs], aggr_root=Path(out))
        records, provenance = [], {}
        for i, d in enumerate(episode_dirs):
            side = json.loads((Path(d) / SIDECAR).read_text())
            records += [dict(r, episode_index=i) for r in side["episodes"]]
            provenance.update(side["cameras"])
        _write_sidecar(Path(out), records, provenance)


def load_episode_index(root: Path):
    """`meta/episodes` of the LeRobot v3 dataset at `root` without its `stats/*` columns, as the
    `datasets.Dataset` lerobot's `load_episodes` returns (same columns, same values).

    lerobot reads every column through `Dataset.from_parquet` and then drops the stats; building the
    `datasets` features of the hundreds of stats columns (five per feature, every proprio field here) cost
    a merge about 1.1 s per staged episode on 2 cores (1.60 against 0.50 s, `benchmarks/lerobot_merge.py`).
    Reading only the kept columns with pyarrow skips that."""
    import datasets
    import pyarrow as pa
    import pyarrow.parquet as pq

    paths = sorted((Path(root) / "meta" / "episodes").glob("*/*.parquet"))
    if not paths:
        raise FileNotFoundError(f"{root}: no meta/episodes parquet files")
    names = [n for n in pq.read_schema(paths[0]).names if not n.startswith("stats/")]
    table = pa.concat_tables([pq.read_table(p, columns=names) for p in paths])
    return datasets.Dataset(table.replace_schema_metadata(None))


@contextlib.contextmanager
def _fast_episode_index():
    """While active, lerobot's metadata loads (`LeRobotDatasetMetadata`) use `load_episode_index`."""
    from lerobot.datasets import lerobot_dataset

    saved, lerobot_dataset.load_episodes = lerobot_dataset.load_episodes, load_episode_index
    try:
        yield
    finally:
        lerobot_dataset.load_episodes = saved


@contextlib.contextmanager
def _deferred_appends():
    """While active, lerobot's aggregate joins each destination file once, after a successful aggregate, instead
    of rewriting the whole growing file for every source episode appended to it (quadratic in the episode count;
    `benchmarks/lerobot_merge.py` measures the merge against lerobot's own)."""
    with _one_concatenation_per_video_file(), _one_write_per_parquet_file():
        yield


@contextlib.contextmanager
def _one_concatenation_per_video_file():
    """Videos: aggregate_videos appends with `concatenate_video_files([dst, src], dst)` and decides when to start
    a new file from `get_file_size_in_mb(dst)`; both are replaced in its namespace: the append is recorded, and the
    size of a destination with recorded appends is the sum of its parts, an upper bound of the joined file (one
    set of container headers instead of several), so a file can start sooner than lerobot would start it but
    never exceeds the limit. Offsets and durations are computed from the sources and kept in memory by lerobot,
    so they do not change."""
    from lerobot.datasets import aggregate

    pending: dict[Path, list[Path]] = {}
    pending_mb: dict[Path, float] = {}
    saved = aggregate.concatenate_video_files, aggregate.get_file_size_in_mb

    def record(inputs, output, overwrite: bool = True) -> None:
        output = Path(output)
        first, *rest = (Path(p) for p in inputs)
        if first != output:  # not an append: do it now
            saved[0](inputs, output, overwrite)
            return
        pending.setdefault(output, []).extend(rest)
        pending_mb[output] = pending_mb.get(output, 0.0) + sum(p.stat().st_size for p in rest) / 1024**2

    def size_mb(path) -> float:
        return saved[1](path) + pending_mb.get(Path(path), 0.0)

    aggregate.concatenate_video_files, aggregate.get_file_size_in_mb = record, size_mb
    try:
        yield
    finally:
        aggregate.concatenate_video_files, aggregate.get_file_size_in_mb = saved
    for output, rest in pending.items():  # only after a successful aggregate: a failed one is discarded
        saved[0]([output, *rest], output)


@contextlib.contextmanager
def _one_write_per_parquet_file():
    """Parquet files (`data/`, `meta/episodes/`), which lerobot reads back and rewrites whole for every source
    episode: `append_or_create_parquet_file` is replaced in aggregate's namespace: a file is created as lerobot creates
    it; an append is kept in memory; the size that decides a new file is the file's plus its pending sources'
    (lerobot's own measure, uncompressed parquet size, of each part). Frames tables without images only:
    with image columns lerobot's function runs as is."""
    import pandas as pd
    from lerobot.datasets import aggregate

    pending: dict[Path, list] = {}
    pending_mb: dict[Path, float] = {}
    saved = aggregate.append_or_create_parquet_file

    def append(df, src_path, idx, max_mb, chunk_size, default_path, contains_images=False, aggr_root=None,
               hf_features=None):
        dst_path = aggr_root / default_path.format(chunk_index=idx["chunk"], file_index=idx["file"])
        if contains_images or not dst_path.exists():
            return saved(df, src_path, idx, max_mb, chunk_size, default_path, contains_images, aggr_root, hf_features)
        src_mb = aggregate.get_parquet_file_size_in_mb(src_path)
        if aggregate.get_parquet_file_size_in_mb(dst_path) + pending_mb.get(dst_path, 0.0) + src_mb >= max_mb:
            idx["chunk"], idx["file"] = aggregate.update_chunk_file_indices(idx["chunk"], idx["file"], chunk_size)
            new_path = aggr_root / default_path.format(chunk_index=idx["chunk"], file_index=idx["file"])
            new_path.parent.mkdir(parents=True, exist_ok=True)
            df.to_parquet(new_path)
        else:
            pending.setdefault(dst_path, []).append(df)
            pending_mb[dst_path] = pending_mb.get(dst_path, 0.0) + src_mb
        return idx, (idx["chunk"], idx["file"])

    aggregate.append_or_create_parquet_file = append
    try:
        yield
    finally:
        aggregate.append_or_create_parquet_file = saved
    for path, frames in pending.items():  # only after a successful aggregate, as lerobot's own appends would
        pd.concat([pd.read_parquet(path), *frames], ignore_index=True).to_parquet(path)


_DEFAULT_FEATURES = ("timestamp", "frame_index", "episode_index", "index", "task_index")


def _episode_features(episode_dir: Path) -> dict:
    """The features of a one-episode dataset, lerobot's bookkeeping columns left out."""
    info = json.loads((Path(episode_dir) / "meta" / "info.json").read_text())
    return {k: v for k, v in info["features"].items() if k not in _DEFAULT_FEATURES}


def _comparable(features: dict, video: bool = True) -> dict:
    """Features with shapes as tuples (lerobot's info.json has lists); `video`: with the videos' codec info."""
    return {k: (v["dtype"], tuple(v["shape"]), v.get("names"), _video_info(v) if video else None) for k, v in features.items()
            if k not in _DEFAULT_FEATURES}


def _video_info(feature: dict) -> tuple:
    """What lerobot's aggregate requires to be equal for videos to be joined: codec, pixel format, size, fps."""
    info = feature.get("info") or {}
    return tuple(info.get(k) for k in ("video.codec", "video.pix_fmt", "video.height", "video.width", "video.fps"))


def _episode_record(episode: Episode, videos: dict) -> dict:
    return {
        "episode_index": 0,
        "source_episode": episode.episode_id,
        "task_id": episode.task_id,
        "task": episode.task,
        "scene": episode.scene,
        "segments": [[s.start, s.end, s.text, s.skill] for s in episode.segments],
        "shapes": {f"{STATE_PREFIX}{k}": list(v.shape[1:]) for k, v in episode.state.items()}
        | {f"{ACTION_PREFIX}{k}": list(v.shape[1:]) for k, v in episode.action.items()},
        "videos": videos,
        **({"synthetic": jsonable(episode.metadata["synthetic"])} if episode.metadata.get("synthetic") else {}),
    }


def _provenance(episode: Episode) -> dict:
    return {name: cam.provenance for name, cam in episode.cameras.items() if cam.provenance}


def _write_sidecar(root: Path, episodes: list[dict], cameras: dict) -> None:
    path = Path(root) / SIDECAR
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(json.dumps({"episodes": episodes, "cameras": cameras}, indent=1))
    os.replace(tmp, path)


# -- reading -----------------------------------------------------------------------------------
class LeRobotReader:
    """`reader=lerobot`: any LeRobot v3 dataset as Episodes.

    Each camera of each episode is found through `meta/episodes` (its own chunk, file and
    timestamp range), and decoded with PyAV, so neither torchcodec nor system FFmpeg is needed.
    """

    name = "lerobot"

    def __init__(self, root: str | Path):
        import pyarrow.parquet as pq

        self.root = Path(root)
        info_path = self.root / "meta" / "info.json"
        if not info_path.is_file():
            raise DatasetError(f"{self.root} is not a LeRobot dataset (no meta/info.json)")
        self.info = json.loads(info_path.read_text())
        if not str(self.info.get("codebase_version", "")).startswith("v3"):
            raise DatasetError(f"{self.root}: LeRobot {self.info.get('codebase_version')} is not v3.0; convert it first")
        self.fps = float(self.info["fps"])
        files = sorted((self.root / "meta" / "episodes").glob("chunk-*/file-*.parquet"))
        self.episodes = pq.ParquetDataset(files).read().to_pandas().sort_values("episode_index") if files else None
        tasks_path = self.root / "meta" / "tasks.parquet"
        self.tasks = pq.read_table(tasks_path).to_pandas() if tasks_path.is_file() else None
        side = self.root / SIDECAR
        self.sidecar = json.loads(side.read_text()) if side.is_file() else {"episodes": [], "cameras": {}}
        self.problems = []

    def refs(self) -> list[EpisodeRef]:
        if self.episodes is None:
            return []
        return [EpisodeRef("", str(int(i))) for i in self.episodes["episode_index"]]

    def read(self, ref: EpisodeRef) -> Episode:
        index = int(ref.episode_id)
        row = self.episodes[self.episodes["episode_index"] == index]
        if row.empty:
            raise FormatError("episode not in meta/episodes", episode=ref.label, path=self.root / "meta" / "episodes")
        row = row.iloc[0]
        data = self._frames_table(row, index)
        length = int(row["length"])
        if len(data) != length:
            raise ConsistencyError(f"data has {len(data)} rows, meta/episodes says {length}", episode=ref.label,
                                   path=self.root / self.info["data_path"].format(chunk_index=int(row["data/chunk_index"]), file_index=int(row["data/file_index"])))
        record = next((r for r in self.sidecar["episodes"] if r["episode_index"] == index), {})
        if record:  # ids from the sidecar name output files (previews, staging) later
            safe_ref(record.get("task_id"), record.get("source_episode", ref.episode_id), self.root / SIDECAR)
        shapes = record.get("shapes", {})
        cameras = {}
        for key, ft in self.info["features"].items():
            if ft["dtype"] != "video" or not key.startswith("observation.images."):
                continue
            name = key[len("observation.images."):]
            cameras[name] = self._camera(name, key, ft, row, data, length)
        state, action, names = self._proprio(data, length, shapes)
        task = record.get("task") or self._task_text(int(data["task_index"].iloc[0]) if "task_index" in data else None)
        segments = [Segment(*s) for s in record.get("segments", [])]
        clock = next((k for k in (TIMESTAMP, OLD_TIMESTAMP) if k in data), None)
        timestamps = np.stack(data[clock].to_numpy()).reshape(-1).astype(np.int64) if clock else None
        return Episode(episode_id=record.get("source_episode", ref.episode_id), task_id=record.get("task_id"), fps=self.fps,
                       cameras=cameras, state=state, action=action, names=names, timestamps=timestamps, task=task,
                       scene=record.get("scene", ""), segments=segments,
                       metadata={"format": "lerobot", "episode_index": index, "robot_type": self.info.get("robot_type"),
                                 **({"synthetic": record["synthetic"]} if record.get("synthetic") else {})},
                       source=str(self.root))

    def _proprio(self, data, length: int, shapes: dict) -> tuple[dict, dict, dict]:
        """(state, action, names): the raw groups (ours: `proprio.*`; earlier: `observation.states.*` /
        `actions.*`) in their recorded shapes; a dataset without them gives its policy vectors as
        `state["state"]` / `action["action"]`."""
        state, action, names = {}, {}, {}
        prefixes = ((STATE_PREFIX, state), (ACTION_PREFIX, action), (OLD_STATE_PREFIX, state), (OLD_ACTION_PREFIX, action))
        for key, ft in self.info["features"].items():
            for prefix, target in prefixes:
                if key.startswith(prefix) and key in data:
                    short = key[len(prefix):]
                    shape = shapes.get(key)
                    arr = np.stack(data[key].to_numpy()).astype(np.float64)
                    target[short] = arr.reshape((length, *(shape if shape is not None else arr.shape[1:])))
                    if isinstance(ft.get("names"), list):
                        names[short] = list(ft["names"])
                    break
        for feature, target, short in (("observation.state", state, "state"), ("action", action, "action")):
            if not target and feature in data:
                target[short] = np.stack(data[feature].to_numpy()).astype(np.float64)
                ft_names = self.info["features"][feature].get("names")
                if isinstance(ft_names, list) and len(ft_names) == target[short].shape[1]:
                    names[short] = list(ft_names)
        return state, action, names

    def _frames_table(self, row, index: int):
        import pyarrow.parquet as pq

        path = self.root / self.info["data_path"].format(chunk_index=int(row["data/chunk_index"]), file_index=int(row["data/file_index"]))
        table = pq.read_table(path, filters=[("episode_index", "=", index)])
        return table.to_pandas().sort_values("frame_index").reset_index(drop=True)

    def _camera(self, name, key, ft, row, data, length) -> CameraStream:
        path = self.root / self.info["video_path"].format(video_key=key, chunk_index=int(row[f"videos/{key}/chunk_index"]),
                                                          file_index=int(row[f"videos/{key}/file_index"]))
        first = int(round(float(row[f"videos/{key}/from_timestamp"]) * self.fps))
        frames = VideoFrames(path, first, length)
        trajectory = None
        e_key, k_key = next((keys for keys in (camera_keys(name), _old_camera_keys(name)) if all(k in data for k in keys)),
                            (None, None))
        if e_key is not None:
            ext = np.stack(data[e_key].to_numpy()).reshape(length, 4, 4).astype(np.float64)
            k = np.stack(data[k_key].to_numpy()).reshape(length, 3, 3).astype(np.float64)
            k = k[0] if np.all(k == k[0]) else k
            trajectory = CameraTrajectory(ext, k, int(ft["shape"][0]), int(ft["shape"][1]))
        return CameraStream(name, frames, trajectory, provenance=self.sidecar["cameras"].get(name, {}), source_path=str(path))

    def _task_text(self, task_index: int | None) -> str:
        if self.tasks is None or task_index is None:
            return ""
        match = self.tasks[self.tasks["task_index"] == task_index]
        return str(match.index[0]) if len(match) else ""
