"""Video decoding with frame-exact random access, and encoding, both through PyAV.

PyAV ships its own FFmpeg (with dav1d for AV1), so this runs where system FFmpeg or torchcodec do not.
Random access works on presentation order: the packet index (demuxed once, no decoding) maps a frame
index to its pts and to the keyframe to seek from.
"""

from __future__ import annotations

import bisect
import os
from fractions import Fraction
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np

from .errors import FormatError
from .threads import cpu_share

# SVT-AV1 prints its whole configuration to stderr on every encode unless told to report errors only.
os.environ.setdefault("SVT_LOG", "1")

# Encoders tried in order for each codec family; the first one this PyAV build has wins.
_ENCODERS = {
    "av1": ("libsvtav1", "libaom-av1", "librav1e"),
    "h264": ("libx264", "h264", "libopenh264"),
    "hevc": ("libx265", "hevc"),
    "mpeg4": ("mpeg4",),
}


def available_encoder(codec: str) -> str | None:
    """The name of an encoder for `codec` ("av1", "h264", "hevc", "mpeg4") in this PyAV build, or None."""
    import av

    for name in _ENCODERS.get(codec, (codec,)):
        try:
            av.codec.Codec(name, "w")
            return name
        except Exception:  # noqa: BLE001 - PyAV raises several types for an unknown codec
            continue
    return None


def _open_error(path: Path, exc: Exception) -> FormatError:
    return FormatError(f"cannot read video ({type(exc).__name__}: {exc})", path=path)


class VideoReader:
    """Frame-exact, lazy access to one video file's first video stream.

    Nothing is decoded until frames are asked for. `read([i, j, ...])` returns `(len, H, W, 3) uint8` RGB
    in the order asked. Consecutive requests continue the open decoder instead of seeking again.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._pts: list[int] | None = None  # presentation order
        self._key_pts: list[int] = []
        self._pts_to_index: dict[int, int] = {}
        self._container = None
        self._frames: Iterator | None = None
        self._next_index = -1
        self._shape: tuple[int, int] | None = None
        self._fps: float | None = None
        self._codec: str | None = None
        self._time_base: Fraction | None = None

    # -- index -------------------------------------------------------------------------------
    def _build_index(self) -> None:
        import av

        try:
            with av.open(str(self.path)) as container:
                if not container.streams.video:
                    raise FormatError("file has no video stream", path=self.path)
                stream = container.streams.video[0]
                self._shape = (stream.codec_context.height, stream.codec_context.width)
                rate = stream.average_rate or stream.guessed_rate
                self._fps = float(rate) if rate else None
                codec = stream.codec_context.codec
                self._codec = getattr(codec, "canonical_name", None) or codec.name  # "av1", not the decoder "libdav1d"
                self._time_base = stream.time_base
                pts, keys = [], []
                for packet in container.demux(stream):
                    stamp = packet.pts if packet.pts is not None else packet.dts
                    if stamp is None or packet.size == 0:
                        continue  # flush packets carry no frame
                    pts.append(stamp)
                    if packet.is_keyframe:
                        keys.append(stamp)
        except FormatError:
            raise
        except Exception as exc:  # noqa: BLE001 - av.error.* and OSError alike mean "unreadable"
            raise _open_error(self.path, exc) from exc
        if not pts:
            raise FormatError("video has no frames", path=self.path)
        self._pts = sorted(pts)
        self._key_pts = sorted(keys) or [self._pts[0]]
        self._pts_to_index = {p: i for i, p in enumerate(self._pts)}

    @property
    def num_frames(self) -> int:
        """Frame count from the packet index (exact; the container header's count is not trusted)."""
        if self._pts is None:
            self._build_index()
        return len(self._pts)

    def __len__(self) -> int:
        return self.num_frames

    @property
    def shape(self) -> tuple[int, int]:
        """(H, W) of the decoded frames."""
        if self._shape is None:
            self._build_index()
        return self._shape

    @property
    def fps(self) -> float | None:
        if self._pts is None:
            self._build_index()
        return self._fps

    @property
    def codec(self) -> str:
        if self._codec is None:
            self._build_index()
        return self._codec

    def timestamps(self) -> np.ndarray:
        """`(T,)` float64 presentation times in seconds, in frame order."""
        if self._pts is None:
            self._build_index()
        return np.asarray(self._pts, dtype=np.float64) * float(self._time_base)

    def is_constant_rate_from_zero(self, fps: float, tol_s: float = 1e-4) -> bool:
        """True when frame i is shown at i / fps seconds (within `tol_s`), as LeRobot assumes."""
        stamps = self.timestamps()
        return bool(np.all(np.abs(stamps - np.arange(len(stamps)) / fps) <= tol_s))

    # -- decoding ----------------------------------------------------------------------------
    def _open(self):
        import av

        if self._container is None:
            try:
                self._container = av.open(str(self.path))
            except Exception as exc:  # noqa: BLE001
                raise _open_error(self.path, exc) from exc
            stream = self._container.streams.video[0]
            stream.thread_type = "AUTO"
            stream.thread_count = cpu_share()  # FFmpeg's default (0) sizes every open video's pool by the machine's cores
        return self._container

    def _seek_to(self, index: int) -> None:
        """Position the decoder so that it next yields frames at or before `index`."""
        fresh = self._container is None
        container = self._open()
        stream = container.streams.video[0]
        target = self._pts[index]
        key = self._key_pts[max(bisect.bisect_right(self._key_pts, target) - 1, 0)]
        if not (fresh and key == self._key_pts[0]):  # a just-opened file already starts at its first keyframe
            container.seek(key, stream=stream, backward=True, any_frame=False)
        self._frames = container.decode(stream)
        self._next_index = self._pts_to_index.get(key, 0)

    def _decode_until(self, index: int) -> np.ndarray:
        for frame in self._frames:
            i = self._pts_to_index.get(frame.pts)
            if i is None:
                continue
            self._next_index = i + 1
            if i == index:
                return frame.to_ndarray(format="rgb24")
            if i > index:
                break
        raise FormatError(f"frame {index} could not be decoded", path=self.path)

    def read(self, indices: Sequence[int] | np.ndarray) -> np.ndarray:
        """Decode the frames at `indices` (any order, repeats allowed). Returns `(len, H, W, 3) uint8`."""
        n = self.num_frames
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            raise IndexError(f"frame index out of range [0, {n}) in {self.path}")
        h, w = self.shape
        out = np.empty((idx.size, h, w, 3), dtype=np.uint8)
        wanted = np.unique(idx)
        decoded: dict[int, np.ndarray] = {}
        try:
            for i in wanted.tolist():
                if self._frames is None or not (self._next_index <= i and self._same_gop(self._next_index, i)):
                    self._seek_to(i)
                decoded[i] = self._decode_until(i)
        except FormatError:
            self.close()
            raise
        except Exception as exc:  # noqa: BLE001
            self.close()
            raise FormatError(f"decoding failed ({type(exc).__name__}: {exc})", path=self.path) from exc
        for j, i in enumerate(idx.tolist()):
            out[j] = decoded[i]
        return out

    def _same_gop(self, current: int, target: int) -> bool:
        """True when decoding forward from `current` reaches `target` no later than a seek would."""
        key = bisect.bisect_right(self._key_pts, self._pts[target]) - 1
        return key < 0 or self._key_pts[key] <= self._pts[current]

    def iter_frames(self) -> Iterator[np.ndarray]:
        """Every frame in order, `(H, W, 3) uint8`, one decode pass."""
        self._seek_to(0)
        for i in range(self.num_frames):
            yield self._decode_until(i)

    def close(self) -> None:
        if self._container is not None:
            self._container.close()
        self._container = None
        self._frames = None
        self._next_index = -1

    def __getstate__(self):  # a reader travels to worker processes without its open container
        state = self.__dict__.copy()
        state.update(_container=None, _frames=None, _next_index=-1)
        return state

    def __del__(self):
        try:
            self.close()
        except Exception:  # noqa: BLE001
            pass


def write_video(
    path: str | Path,
    frames: Iterable[np.ndarray],
    fps: float,
    codec: str = "av1",
    crf: int = 30,
    preset: int | str | None = None,
    pix_fmt: str = "yuv420p",
    gop: int | None = None,
) -> str:
    """Encode `(H, W, 3) uint8` RGB frames into `path`. Returns the encoder used.

    The file is written beside `path` under a temporary name and renamed when complete, so a reader
    never sees half a video. Falls back from AV1 to H.264 when this PyAV build has no AV1 encoder.
    """
    import av

    path = Path(path)
    encoder = available_encoder(codec) or available_encoder("h264") or available_encoder("mpeg4")
    if encoder is None:
        raise RuntimeError("this PyAV build has no usable video encoder")
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    frames = iter(frames)
    first = next(frames, None)
    if first is None:
        raise ValueError("no frames to write")
    h, w = first.shape[:2]
    options = _encoder_options(encoder, crf, preset)
    try:
        with av.open(str(tmp), mode="w", format="mp4") as container:
            stream = container.add_stream(encoder, rate=Fraction(fps).limit_denominator(1001))
            stream.width, stream.height, stream.pix_fmt = w, h, pix_fmt
            if gop is not None:
                stream.codec_context.gop_size = gop
            stream.thread_count = cpu_share()  # as the decoders: N writer processes must not each size a pool by the machine
            stream.options = options
            for frame in _chain(first, frames):
                image = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
                container.mux(stream.encode(image))
            container.mux(stream.encode(None))
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return encoder


def _chain(first, rest):
    yield first
    yield from rest


def _encoder_options(encoder: str, crf: int, preset) -> dict[str, str]:
    if encoder == "libsvtav1":
        return {"crf": str(crf), "preset": str(10 if preset is None else preset)}
    if encoder == "libaom-av1":
        return {"crf": str(crf), "cpu-used": str(8 if preset is None else preset), "row-mt": "1"}
    if encoder in ("libx264", "libx265"):
        return {"crf": str(crf), "preset": str(preset or "veryfast")}
    return {}
