"""The data model every reader yields and every writer consumes.

Conventions (design §4): OpenCV camera axes (x right, y down, z forward); extrinsics are camera-to-world
4x4 in metres in the episode's robot base frame; intrinsics K are 3x3 pixels for the stored resolution;
images are uint8 RGB `(T, H, W, 3)`; depth is float32 metres with 0 = invalid; quaternions are xyzw.
Frame access is lazy: a `CameraStream` decodes only the frames it is asked for.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, Sequence, runtime_checkable

import numpy as np

from .errors import ConsistencyError


# --------------------------------------------------------------------------------------------
# Lazy frame sources
# --------------------------------------------------------------------------------------------
@runtime_checkable
class FrameSource(Protocol):
    """Anything that yields frames by index: `read(indices)` -> `(len, H, W, C)`; `len()` frames; `keep(frames)`
    takes every frame from a caller that decoded them all already, so later reads do not decode again."""

    def __len__(self) -> int: ...

    def read(self, indices: Sequence[int] | np.ndarray) -> np.ndarray: ...

    def keep(self, frames: np.ndarray) -> None: ...


class KeepsDecoded:
    """`keep` for sources that decode on every read (video, HDF5, zarr): the frames are held and `_kept_read`
    serves later reads from them. The file stays the source's, so a writer can still copy it as it is."""

    _kept: np.ndarray | None = None
    dtype = np.uint8  # of what `read` returns (None: not known without reading)

    def keep(self, frames: np.ndarray) -> None:
        """`(len, H, W, C)` (or `(len, H, W)` depth): every frame of this source, as `read(range(len))` gives them."""
        if frames.shape[0] != len(self) or (self.dtype is not None and frames.dtype != self.dtype):
            raise ValueError(f"keep: {frames.shape} {frames.dtype} is not the {len(self)} frames of {self.label}")
        self._kept = frames

    @property
    def label(self) -> str:
        return str(getattr(self, "path", type(self).__name__))

    def _kept_read(self, indices: np.ndarray) -> np.ndarray | None:
        return None if self._kept is None else self._kept[indices]


class ArrayFrames:
    """Frames already in memory: `(T, H, W, 3) uint8` images or `(T, H, W) float32` depth."""

    def __init__(self, array: np.ndarray):
        self.array = np.asarray(array)

    def __len__(self) -> int:
        return int(self.array.shape[0])

    def read(self, indices) -> np.ndarray:
        return self.array[np.asarray(indices, dtype=np.int64)]

    def keep(self, frames: np.ndarray) -> None:
        """Nothing to do: these frames are in memory already."""


def require_finite(value: np.ndarray, key: str, episode: str | None, path) -> np.ndarray:
    """`value` `(N, ...)` unchanged when every entry is finite; a NaN or inf would go into training and stats."""
    bad = ~np.isfinite(np.asarray(value, np.float64).reshape(len(value), -1)).all(axis=1)
    if bad.any():
        from .errors import ConsistencyError

        raise ConsistencyError(f"{key} has non-finite values (NaN or inf) in {int(bad.sum())} frame(s), first frame "
                               f"{int(np.argmax(bad))}", episode=episode, path=path)
    return value


class VideoFrames(KeepsDecoded):
    """RGB frames of one video file, or of the window `[first, first + length)` of it (an episode inside
    a multi-episode LeRobot mp4), decoded on demand. `read` -> `(len, H, W, 3) uint8`."""

    def __init__(self, path: str | Path, first: int = 0, length: int | None = None):
        from .video import VideoReader

        self.path = Path(path)
        self.reader = VideoReader(path)
        self.first, self._length = first, length

    def __len__(self) -> int:
        return self.reader.num_frames - self.first if self._length is None else self._length

    @property
    def whole_file(self) -> bool:
        """True when the window is the entire file (so the file itself can be copied)."""
        return self.first == 0 and len(self) == self.reader.num_frames

    @property
    def shape(self) -> tuple[int, int]:
        return self.reader.shape

    @property
    def codec(self) -> str:
        return self.reader.codec

    def read(self, indices) -> np.ndarray:
        idx = np.asarray(indices, dtype=np.int64)
        if idx.size and (idx.min() < 0 or idx.max() >= len(self)):
            raise IndexError(f"frame index out of range [0, {len(self)}) in {self.path}")
        kept = self._kept_read(idx)
        return kept if kept is not None else self.reader.read(idx + self.first)

    def close(self) -> None:
        self.reader.close()


class DepthPngFrames(KeepsDecoded):
    """Depth from one uint16 PNG per frame in millimetres. `read` -> `(len, H, W) float32` metres, 0 = invalid."""

    dtype = np.float32

    def __init__(self, paths: Sequence[str | Path], scale: float = 1e-3):
        self.paths = [Path(p) for p in paths]
        self.scale = scale

    def __len__(self) -> int:
        return len(self.paths)

    @property
    def shape(self) -> tuple[int, int]:
        """`(H, W)` of the first PNG, from its header."""
        from .imageio import depth_png_size

        return depth_png_size(self.paths[0])

    def read(self, indices) -> np.ndarray:
        """Decoded on a thread pool: PIL's PNG decoder releases the GIL (2x on 2 cores, `benchmarks/depth_decode.py`)."""
        from .errors import ConsistencyError
        from .imageio import read_depth_png

        wanted = np.asarray(indices, dtype=np.int64).reshape(-1)
        if (kept := self._kept_read(wanted)) is not None:
            return kept
        idx = wanted.tolist()
        if not idx:
            return np.zeros((0, 0, 0), np.float32)
        first = read_depth_png(self.paths[idx[0]], self.scale)
        out = np.empty((len(idx), *first.shape), np.float32)
        out[0] = first

        def decode(j: int) -> None:
            frame = read_depth_png(self.paths[idx[j]], self.scale)
            if frame.shape != first.shape:
                raise ConsistencyError(f"depth PNG is {frame.shape[1]}x{frame.shape[0]}, frame {idx[0]} is "
                                       f"{first.shape[1]}x{first.shape[0]}", path=self.paths[idx[j]])
            out[j] = frame

        for _ in _decode_pool().map(decode, range(1, len(idx))):  # re-raises the first error, in frame order
            pass
        return out


_POOL = None


def _decode_pool():
    """One thread pool per process for still-image decodes (created on first use)."""
    global _POOL
    if _POOL is None:
        from concurrent.futures import ThreadPoolExecutor

        from .threads import cpu_share

        _POOL = ThreadPoolExecutor(min(8, cpu_share()), thread_name_prefix="depth-png")
    return _POOL


def _forget_pool() -> None:  # a forked child has none of the parent's threads
    global _POOL
    _POOL = None


os.register_at_fork(after_in_child=_forget_pool)


# --------------------------------------------------------------------------------------------
# Cameras
# --------------------------------------------------------------------------------------------
@dataclass
class CameraTrajectory:
    """Per-frame camera poses and intrinsics.

    extrinsics: `(T, 4, 4)` float64 camera-to-world, OpenCV axes, metres.
    intrinsics: `(3, 3)` (static) or `(T, 3, 3)` float64, pixels at (`height`, `width`).
    """

    extrinsics: np.ndarray
    intrinsics: np.ndarray
    height: int
    width: int

    def __post_init__(self):
        self.extrinsics = np.asarray(self.extrinsics, dtype=np.float64)
        self.intrinsics = np.asarray(self.intrinsics, dtype=np.float64)
        if self.extrinsics.ndim != 3 or self.extrinsics.shape[1:] != (4, 4):
            raise ValueError(f"extrinsics must be (T, 4, 4), got {self.extrinsics.shape}")
        if self.intrinsics.shape not in ((3, 3), (len(self.extrinsics), 3, 3)):
            raise ValueError(f"intrinsics must be (3, 3) or (T, 3, 3), got {self.intrinsics.shape}")

    def __len__(self) -> int:
        return int(self.extrinsics.shape[0])

    @property
    def static_intrinsics(self) -> bool:
        return self.intrinsics.ndim == 2

    def intrinsics_per_frame(self) -> np.ndarray:
        """`(T, 3, 3)` K for every frame."""
        if self.static_intrinsics:
            return np.broadcast_to(self.intrinsics, (len(self), 3, 3)).copy()
        return self.intrinsics

    def world_to_camera(self) -> np.ndarray:
        """`(T, 4, 4)` inverse of the extrinsics, computed from R^T and -R^T t (exact for rigid poses)."""
        rot = self.extrinsics[:, :3, :3]
        t = self.extrinsics[:, :3, 3:]
        out = np.zeros_like(self.extrinsics)
        out[:, :3, :3] = np.swapaxes(rot, 1, 2)
        out[:, :3, 3:] = -np.swapaxes(rot, 1, 2) @ t
        out[:, 3, 3] = 1.0
        return out

    @property
    def centers(self) -> np.ndarray:
        """`(T, 3)` camera centres in the world frame."""
        return self.extrinsics[:, :3, 3]

    def subset(self, indices) -> "CameraTrajectory":
        idx = np.asarray(indices, dtype=np.int64)
        k = self.intrinsics if self.static_intrinsics else self.intrinsics[idx]
        return CameraTrajectory(self.extrinsics[idx], k, self.height, self.width)


def check_rigid(extrinsics: np.ndarray, tol: float = 1e-3) -> str | None:
    """Why `(T, 4, 4)` poses are not rigid transforms (NaN, non-orthonormal, reflection), or None."""
    ext = np.asarray(extrinsics, dtype=np.float64)
    if not np.all(np.isfinite(ext)):
        bad = int(np.argwhere(~np.isfinite(ext).all(axis=(1, 2)))[0, 0])
        return f"non-finite value in the pose of frame {bad}"
    rot = ext[:, :3, :3]
    err = np.abs(rot @ np.swapaxes(rot, 1, 2) - np.eye(3)).max(axis=(1, 2))
    if np.any(err > tol):
        bad = int(np.argmax(err))
        return f"rotation of frame {bad} is not orthonormal (|R R^T - I| = {err[bad]:.3g})"
    det = np.linalg.det(rot)
    if np.any(det < 0):
        return f"rotation of frame {int(np.argmin(det))} is a reflection (det < 0)"
    return None


@dataclass
class CameraStream:
    """One camera of an episode: lazy RGB frames, optional depth, optional trajectory, provenance.

    `stream[i]` -> `(H, W, 3) uint8`; `stream[a:b]` or `stream[[i, j]]` -> `(n, H, W, 3) uint8`.
    `provenance` is empty for a recorded camera; for a synthesized one it holds the generator, its
    configuration, the seed and the source cameras.
    """

    name: str
    frames: FrameSource
    trajectory: CameraTrajectory | None = None
    depth: FrameSource | None = None
    provenance: dict[str, Any] = field(default_factory=dict)
    source_path: str | None = None

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def synthesized(self) -> bool:
        return bool(self.provenance)

    def _indices(self, key) -> tuple[np.ndarray, bool]:
        n = len(self)
        if isinstance(key, (int, np.integer)):
            i = int(key) + (n if key < 0 else 0)
            if not 0 <= i < n:
                raise IndexError(f"frame {key} out of range for camera {self.name} with {n} frames")
            return np.array([i]), True
        if isinstance(key, slice):
            return np.arange(n)[key], False
        idx = np.asarray(key, dtype=np.int64)
        return np.where(idx < 0, idx + n, idx), False

    def __getitem__(self, key) -> np.ndarray:
        idx, single = self._indices(key)
        out = self.frames.read(idx)
        return out[0] if single else out

    def read_depth(self, key) -> np.ndarray:
        """Depth `(H, W)` or `(n, H, W)` float32 metres for the frames in `key`."""
        if self.depth is None:
            raise ValueError(f"camera {self.name} has no depth")
        idx, single = self._indices(key)
        out = self.depth.read(idx)
        return out[0] if single else out

    @property
    def height(self) -> int | None:
        if self.trajectory is not None:
            return self.trajectory.height
        shape = getattr(self.frames, "shape", None)
        return shape[0] if shape else None

    @property
    def width(self) -> int | None:
        if self.trajectory is not None:
            return self.trajectory.width
        shape = getattr(self.frames, "shape", None)
        return shape[1] if shape else None


# --------------------------------------------------------------------------------------------
# Episodes
# --------------------------------------------------------------------------------------------
@dataclass
class Segment:
    """An annotated span of frames `[start, end)` (AgiBot `action_config`)."""

    start: int
    end: int
    text: str
    skill: str = ""


@dataclass
class Episode:
    """A multi-camera robot demonstration at a fixed fps; the frame index is the clock.

    state / action: name -> `(T, ...)` float64 arrays (e.g. `joint.position` `(T, 14)`,
    `end.orientation` `(T, 2, 4)` xyzw). `names` maps a key to its per-column names where known.
    timestamps: `(T,)` int64 source timestamps in ns, kept as metadata.
    """

    episode_id: str
    fps: float
    cameras: dict[str, CameraStream]
    state: dict[str, np.ndarray] = field(default_factory=dict)
    action: dict[str, np.ndarray] = field(default_factory=dict)
    names: dict[str, list[str]] = field(default_factory=dict)
    timestamps: np.ndarray | None = None
    task: str = ""
    task_id: str | None = None
    scene: str = ""
    segments: list[Segment] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    source: str | None = None

    @property
    def num_frames(self) -> int:
        """T: the state length if there is state, else the first camera's frame count."""
        for arr in self.state.values():
            return int(arr.shape[0])
        for cam in self.cameras.values():
            return len(cam)
        return 0

    def __len__(self) -> int:
        return self.num_frames

    def add_camera(self, stream: CameraStream) -> None:
        """Attach a (synthesized) camera; it must have T frames."""
        if len(stream) != self.num_frames:
            raise ConsistencyError(
                f"camera {stream.name} has {len(stream)} frames, episode has {self.num_frames}",
                episode=self.episode_id,
            )
        self.cameras[stream.name] = stream

    def segment_text(self) -> list[str]:
        """`(T,)` annotation text per frame ("" outside every segment)."""
        out = [""] * self.num_frames
        for seg in self.segments:
            for t in range(max(seg.start, 0), min(seg.end, self.num_frames)):
                out[t] = seg.text
        return out
