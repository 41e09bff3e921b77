"""Zarr replay buffers in the diffusion-policy layout (or UMI's keys, `layout="umi"`), written as Zarr format 3
(default) or 2.

Layout (every `data/*` array is time-major: all episodes concatenated along axis 0):

```
/data/<camera>               (N, H, W, 3) uint8, chunks (1, H, W, 3), image codec (JPEG-XL by default)
/data/<camera>.extrinsics    (N, 4, 4) float64 camera-to-world, OpenCV axes, metres   (cameras with a trajectory)
/data/<camera>.intrinsics    (N, 3, 3) float64 K in pixels                             (cameras with a trajectory)
/data/<camera>.depth         (N, H, W) float32 metres, 0 = invalid                    (write_depth=True only)
/data/state.<key>            (N, ...) float64, the episode's state arrays in their own shapes
/data/action.<key>           (N, ...) float64
/data/state, /data/action    (N, 20), (N, 22) float32 policy vectors (io/policy.py), what a diffusion-policy
                             user trains on; attrs "columns" (names), "keys" (the state./action. arrays they join)
/data/timestamp              (N,) int64 source timestamps in ns (when the episodes have them)
/meta/episode_ends           (E,) int64 cumulative exclusive ends
root attrs["embodied_rerender"]  JSON: format version, image codec, state/action keys, cameras (with the
                                 provenance of synthesized ones), and per episode its ids, task, scene,
                                 segments, names and metadata
```

Camera parameters sit beside the images under the camera's name plus a suffix (`.extrinsics`,
`.intrinsics`), so a camera's arrays sort together and `data/<camera>` stays a plain image array
that diffusion-policy code picks up as an RGB key.

Image codecs. Zarr 2 takes imagecodecs' numcodecs classes as the compressor (what DP/UMI do); readers
must register them (`register_image_codecs()`, or `imagecodecs.numcodecs.register_codecs()`). Zarr 3
puts image codecs in the array->bytes `serializer` slot, and imagecodecs' numcodecs classes are not
array->bytes codecs there, so this module registers its own small zarr-3 codecs under the names the
`imagecodecs-zarr` package uses ("imagecodecs_jpegxl", "imagecodecs_jpeg2k") with compatible
configuration keys. `image_codec="zstd"` needs no image codec at all (lossless, bigger).

`layout="umi"` writes UMI's keys instead (`camera0_rgb`, `robot0_eef_pos`, ..., `action`; io/umi.py says
how an episode maps onto them), with the same codecs, merge and root attributes (plus "layout": "umi").

Merging copies the encoded chunk files of images as they are (no decode/re-encode, so lossy frames
lose nothing more); low-dimensional arrays are small and are rewritten whole.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..episode import CameraStream, CameraTrajectory, Episode, KeepsDecoded
from ..errors import ConsistencyError, DatasetError, FormatError
from ._common import (
    check_episode,
    depth_batches,
    episode_fields,
    episode_info,
    episode_label,
    frame_batches,
    prepare_dir,
)
from .base import EpisodeRef, safe_ref
from .policy import action_vector, state_vector

ATTRS_KEY = "embodied_rerender"
FORMAT_VERSION = 1
IMAGE_CODECS = ("jpegxl", "jpeg2k", "zstd")


# ================================================================================================
# Codecs
# ================================================================================================
def _zarr3_image_codec_classes() -> dict[str, type]:
    """Zarr-3 array->bytes codecs for one RGB frame per chunk, built lazily so zarr loads only when used."""
    import asyncio

    import imagecodecs
    from zarr.abc.codec import ArrayBytesCodec
    from zarr.core.common import parse_named_configuration

    @dataclass(frozen=True)
    class _ImageCodec(ArrayBytesCodec):
        """Encodes a `(1, H, W, C)` uint8 chunk as one image; `params` are the codec's keyword options."""

        is_fixed_size = False
        params: tuple = ()
        codec_name = ""

        def __init__(self, **params: Any) -> None:
            known = {k: v for k, v in params.items() if k in self.option_names and v is not None}
            object.__setattr__(self, "params", tuple(sorted(known.items())))

        @classmethod
        def from_dict(cls, data: dict) -> "_ImageCodec":
            _, config = parse_named_configuration(data, cls.codec_name, require_configuration=False)
            return cls(**(config or {}))

        def to_dict(self) -> dict:
            return {"name": self.codec_name, "configuration": dict(self.params)} if self.params else {"name": self.codec_name}

        def _encode_sync(self, chunk_array, chunk_spec):
            frame = np.asarray(chunk_array.as_numpy_array())
            frame = frame.reshape(frame.shape[-3:]) if frame.ndim > 3 else frame
            return chunk_spec.prototype.buffer.from_bytes(self.encode_image(np.ascontiguousarray(frame)))

        def _decode_sync(self, chunk_bytes, chunk_spec):
            image = self.decode_image(chunk_bytes.as_numpy_array())
            return chunk_spec.prototype.nd_buffer.from_numpy_array(np.asarray(image).reshape(chunk_spec.shape))

        async def _encode_single(self, chunk_array, chunk_spec):
            return await asyncio.to_thread(self._encode_sync, chunk_array, chunk_spec)

        async def _decode_single(self, chunk_bytes, chunk_spec):
            return await asyncio.to_thread(self._decode_sync, chunk_bytes, chunk_spec)

        def compute_encoded_size(self, input_byte_length, chunk_spec):
            raise NotImplementedError  # variable-size output

    class JpegXl(_ImageCodec):
        codec_name = "imagecodecs_jpegxl"
        option_names = ("level", "effort", "distance", "lossless")

        def encode_image(self, frame):
            return imagecodecs.jpegxl_encode(frame, **dict(self.params))

        def decode_image(self, data):
            return imagecodecs.jpegxl_decode(data)

    class Jpeg2k(_ImageCodec):
        codec_name = "imagecodecs_jpeg2k"
        option_names = ("level", "reversible")

        def encode_image(self, frame):
            return imagecodecs.jpeg2k_encode(frame, **dict(self.params))

        def decode_image(self, data):
            return imagecodecs.jpeg2k_decode(data)

    return {"jpegxl": JpegXl, "jpeg2k": Jpeg2k}


# Keyword arguments the numcodecs image classes of diffusion_policy's vendored codecs (and of imagecodecs
# 2022.x) accept in __init__; newer imagecodecs classes accept them too. A zarr-2 codec config holding any
# other key (newer imagecodecs write `bitspersample`, `squeeze`, `planar`, `mct`) is refused by those readers.
PORTABLE_KWARGS = {
    "imagecodecs_jpegxl": ("level", "effort", "distance", "lossless", "decodingspeed", "numthreads"),
    "imagecodecs_jpeg2k": ("level", "reversible", "numthreads"),
}


def _portable_numcodecs() -> dict[str, type]:
    """imagecodecs' numcodecs Jpegxl / Jpeg2k whose `get_config` keeps only `PORTABLE_KWARGS` (None dropped)."""
    import imagecodecs.numcodecs as icn

    def get_config(self) -> dict:
        keys = PORTABLE_KWARGS[self.codec_id]
        return {"id": self.codec_id, **{k: getattr(self, k) for k in keys if getattr(self, k, None) is not None}}

    return {"jpegxl": type("Jpegxl", (icn.Jpegxl,), {"get_config": get_config}),
            "jpeg2k": type("Jpeg2k", (icn.Jpeg2k,), {"get_config": get_config})}


_REGISTERED: dict[str, dict[str, type]] | None = None


def register_image_codecs() -> dict[str, dict[str, type]]:
    """Make JPEG-XL / JPEG 2000 chunks readable and writable in zarr 2 (numcodecs) and zarr 3 (codec registry).

    Idempotent. The numcodecs ids "imagecodecs_jpegxl" / "imagecodecs_jpeg2k" are bound to our portable
    classes, so a store re-saved from a read one (merge) keeps configs old readers accept. A zarr-3 name
    that is already resolvable (e.g. from the imagecodecs-zarr package) is left alone. Returns
    `{"zarr2": {short name: numcodecs class}, "zarr3": {short name: zarr-3 codec class}}`.
    """
    global _REGISTERED
    if _REGISTERED is not None:
        return _REGISTERED
    try:
        import imagecodecs.numcodecs  # noqa: F401
    except ImportError as exc:  # pragma: no cover - imagecodecs is a dependency of the zarr writer
        raise DatasetError("zarr image codecs need the imagecodecs package (pip install imagecodecs)") from exc
    import numcodecs
    from zarr.registry import get_codec_class, register_codec

    portable = _portable_numcodecs()
    for cls in portable.values():
        numcodecs.register_codec(cls)
    classes = _zarr3_image_codec_classes()
    for cls in classes.values():
        try:
            get_codec_class(cls.codec_name)
        except KeyError:
            register_codec(cls.codec_name, cls)
    _REGISTERED = {"zarr2": portable, "zarr3": classes}
    return _REGISTERED


def _image_options(codec: str, lossless: bool, level: int | None) -> dict:
    """Encoder options, every one explicit so the stored config says what was done (no library defaults)."""
    if codec == "jpegxl":
        return {"lossless": True} if lossless else {"level": 99 if level is None else level, "lossless": False}
    return {"level": 0, "reversible": True} if lossless else {"level": 50 if level is None else level, "reversible": False}


def _image_codec_args(codec: str, lossless: bool, level: int | None, zarr_format: int) -> dict:
    """create_array keyword arguments (serializer/compressors) for image arrays."""
    if codec not in IMAGE_CODECS:
        raise ValueError(f"image_codec must be one of {IMAGE_CODECS}, got {codec!r}")
    if codec == "zstd":
        return _lowdim_codec_args(zarr_format)
    options = _image_options(codec, lossless, level)
    classes = register_image_codecs()
    if zarr_format == 2:
        return {"compressors": classes["zarr2"][codec](**options)}
    return {"serializer": classes["zarr3"][codec](**options), "compressors": None}


def _lowdim_codec_args(zarr_format: int) -> dict:
    """Blosc zstd with bit shuffle (diffusion-policy's "disk" compressor), in the format's own codec form."""
    if zarr_format == 2:
        import numcodecs

        return {"compressors": numcodecs.Blosc(cname="zstd", clevel=5, shuffle=numcodecs.Blosc.BITSHUFFLE)}
    from zarr.codecs import BloscCodec

    return {"compressors": BloscCodec(cname="zstd", clevel=5, shuffle="bitshuffle")}


# ================================================================================================
# Writer
# ================================================================================================
class ZarrWriter:
    """Writes episodes as a diffusion-policy ReplayBuffer (see the module docstring for the layout).

    zarr_format: 3 (default) or 2 (what diffusion_policy / UMI code, pinned to zarr 2, can open).
    image_codec: "jpegxl" (default; UMI's choice), "jpeg2k" (diffusion-policy's choice) or "zstd"
        (generic lossless, no image codec needed by readers).
    lossless: encode images losslessly (JPEG-XL lossless / reversible JPEG 2000); else `level` (quality,
        jpegxl 0-100, default 99; jpeg2k PSNR target, default 50).
    write_depth: also store depth of cameras that have it as `data/<camera>.depth`.
    flat_lowdim: also store the policy vectors `data/state` / `data/action` (io/policy.py).
    layout: "ours" (the layout above) or "umi" (UMI's keys, io/umi.py); `umi_*` configure the UMI mapping
        (camera, arm, image_size [H, W] or None to keep the camera's, max_gripper_width_m, tcp_offset_m).
    """

    name = "zarr"

    def __init__(self, zarr_format: int = 3, image_codec: str = "jpegxl", lossless: bool = False,
                 level: int | None = None, write_depth: bool = False, flat_lowdim: bool = True, batch: int = 64,
                 layout: str = "ours", umi_camera: str = "hand_left", umi_arm: str | None = None,
                 umi_image_size=(224, 224), umi_max_gripper_width_m: float = 0.12, umi_tcp_offset_m: float = 0.0):
        if zarr_format not in (2, 3):
            raise ValueError(f"zarr_format must be 2 or 3, got {zarr_format!r}")
        if layout not in ("ours", "umi"):
            raise ValueError(f"zarr layout must be ours or umi, got {layout!r}")
        self.umi = None
        if layout == "umi":
            from .umi import UmiMapping

            self.umi = UmiMapping(umi_camera, umi_arm, None if umi_image_size is None else tuple(umi_image_size),
                                  float(umi_max_gripper_width_m), float(umi_tcp_offset_m))
        self.zarr_format = zarr_format
        self.image_args = _image_codec_args(image_codec, lossless, level, zarr_format)
        self.image_codec = {"name": image_codec, "lossless": bool(lossless or image_codec == "zstd"), "level": level}
        self.write_depth = write_depth
        self.flat_lowdim = flat_lowdim
        self.batch = batch

    def write_episode(self, episode: Episode, out: Path) -> dict:
        """Write `episode` as a one-episode store at `out` (an empty or missing directory). Returns a summary."""
        import zarr

        label = episode_label(episode)
        n = check_episode(episode)
        out = prepare_dir(out, label)
        root = zarr.open_group(str(out), mode="w", zarr_format=self.zarr_format)
        data = root.create_group("data")
        if self.umi is not None:
            self._write_umi(data, episode, n)
        else:
            for name, cam in episode.cameras.items():
                self._write_camera(data, name, cam, n)
            self._write_lowdim(data, episode, n)
        meta = root.create_group("meta")
        ends = meta.create_array("episode_ends", shape=(1,), dtype="int64", chunks=(1,), **_lowdim_codec_args(self.zarr_format))
        ends[:] = np.array([n], np.int64)
        root.attrs[ATTRS_KEY] = self._attrs(episode, n) if self.umi is None else self._umi_attrs(episode, n)
        return {"episode": label, "frames": n, "cameras": sorted(episode.cameras)}

    def _write_umi(self, data, episode: Episode, n: int) -> None:
        """UMI's arrays (io/umi.py): the wrist camera as `camera0_rgb`, the arm's pose, gripper and action."""
        lowdim = self.umi.lowdim(episode)
        images = None
        for start, frames in self.umi.frames(episode, n, self.batch):
            if images is None:
                h, w = frames.shape[1:3]
                images = data.create_array("camera0_rgb", shape=(n, h, w, 3), dtype="uint8", chunks=(1, h, w, 3),
                                           fill_value=0, **self.image_args)
            images[start:start + len(frames)] = frames
        for key, value in lowdim.items():
            self._array(data, key, value, chunk_rows=n)

    def _umi_attrs(self, episode: Episode, n: int) -> dict:
        """Root attributes of a UMI-layout store: no camera or state-key lists (the reader then takes the
        arrays as a plain UMI buffer: `camera0_rgb` a camera, `action` the action, the rest state)."""
        from ._common import camera_info

        info = episode_info(episode, n)
        info["cameras"] = {"camera0_rgb": {**camera_info(episode.cameras[self.umi.camera]), "source_camera": self.umi.camera}}
        return {"format_version": FORMAT_VERSION, "layout": "umi", "umi": self.umi.attrs(),
                "image_codec": self.image_codec, "episodes": [info]}

    def _write_camera(self, data, name: str, cam: CameraStream, n: int) -> None:
        if "/" in name or name in ("state", "action", "timestamp") or name.startswith(("state.", "action.")):
            raise FormatError(f"camera name {name!r} collides with the zarr layout", path=cam.source_path)
        images = None
        for start, frames in frame_batches(cam, n, self.batch):
            if images is None:
                h, w = frames.shape[1:3]
                images = data.create_array(name, shape=(n, h, w, 3), dtype="uint8", chunks=(1, h, w, 3),
                                           fill_value=0, **self.image_args)
            images[start:start + len(frames)] = frames
        if cam.trajectory is not None:
            self._array(data, f"{name}.extrinsics", cam.trajectory.extrinsics, chunk_rows=n)
            self._array(data, f"{name}.intrinsics", cam.trajectory.intrinsics_per_frame(), chunk_rows=n)
        if self.write_depth and cam.depth is not None:
            depth = None
            for start, block in depth_batches(cam, n, self.batch):
                if depth is None:
                    depth = data.create_array(f"{name}.depth", shape=(n,) + block.shape[1:], dtype="float32",
                                              chunks=(1,) + block.shape[1:], fill_value=0, **_lowdim_codec_args(self.zarr_format))
                depth[start:start + len(block)] = block

    def _write_lowdim(self, data, episode: Episode, n: int) -> None:
        for group, arrays in (("state", episode.state), ("action", episode.action)):
            for key, value in arrays.items():
                self._array(data, f"{group}.{key}", np.asarray(value, np.float64), chunk_rows=n)
        if self.flat_lowdim:  # the policy vectors, as every writer stores them (io/policy.py)
            for group, vector in (("state", state_vector(episode)), ("action", action_vector(episode))):
                if vector.width:
                    arr = self._array(data, group, vector.values, chunk_rows=n)
                    arr.attrs.update({"columns": list(vector.names), "keys": list(vector.keys)})
        if episode.timestamps is not None:
            self._array(data, "timestamp", np.asarray(episode.timestamps, np.int64), chunk_rows=n)

    def _array(self, group, name: str, value: np.ndarray, chunk_rows: int):
        value = np.ascontiguousarray(value)
        arr = group.create_array(name, shape=value.shape, dtype=value.dtype, chunks=(max(chunk_rows, 1),) + value.shape[1:],
                                 fill_value=0, **_lowdim_codec_args(self.zarr_format))
        arr[...] = value
        return arr

    def _attrs(self, episode: Episode, n: int) -> dict:
        info = episode_info(episode, n)
        return {
            "format_version": FORMAT_VERSION,
            "image_codec": self.image_codec,
            "state_keys": list(episode.state),
            "action_keys": list(episode.action),
            "cameras": info["cameras"],
            "episodes": [info],
        }

    # -- merge -----------------------------------------------------------------------------------
    def merge(self, episode_dirs: list[Path], out: Path) -> None:
        """Concatenate one-episode stores, in order, into one store at `out` (an empty or missing directory)."""
        merge_stores([Path(d) for d in episode_dirs], Path(out))


def _array_signature(arr) -> tuple:
    """What must match for arrays to be concatenated along time: per-frame shape, dtype, chunks, codecs."""
    meta = arr.metadata.to_dict()
    for key in ("shape", "chunks", "chunk_grid", "attributes"):
        meta.pop(key, None)  # chunk rows of low-dim arrays follow each episode's length
    return tuple(arr.shape[1:]), tuple(arr.chunks[1:]), json.dumps(meta, sort_keys=True, default=str)


def merge_stores(episode_dirs: list[Path], out: Path) -> None:
    """Concatenate stores written by `ZarrWriter` (same format, keys, shapes and codecs) into `out`."""
    import zarr

    register_image_codecs()
    if not episode_dirs:
        raise DatasetError("nothing to merge: no episode directories")
    sources = [_open_store(d) for d in episode_dirs]
    first_dir, first = episode_dirs[0], sources[0]
    fmt = first.metadata.zarr_format
    keys = sorted(first["data"].array_keys())
    signatures = {k: _array_signature(first["data"][k]) for k in keys}
    lengths = []
    for path, src in zip(episode_dirs, sources):
        label = _first_label(src) or path.name
        if src.metadata.zarr_format != fmt:
            raise ConsistencyError(f"zarr format {src.metadata.zarr_format}, first episode has {fmt}", episode=label, path=path)
        if sorted(src["data"].array_keys()) != keys:
            raise ConsistencyError(f"data keys {sorted(src['data'].array_keys())} differ from the first episode's {keys}",
                                   episode=label, path=path)
        for k in keys:
            if _array_signature(src["data"][k]) != signatures[k]:
                raise ConsistencyError(f"data/{k} has a different frame shape, dtype or codec than in {first_dir}",
                                       episode=label, path=path)
        lengths.append(int(np.asarray(src["meta"]["episode_ends"][:])[-1]))
    ends = np.cumsum(lengths).astype(np.int64)
    out = prepare_dir(out)
    root = zarr.open_group(str(out), mode="w", zarr_format=fmt)
    data = root.create_group("data")
    for k in keys:
        _merge_array(data, k, [s["data"][k] for s in sources], lengths, out, fmt)
    meta = root.create_group("meta")
    arr = meta.create_array("episode_ends", shape=ends.shape, dtype="int64", chunks=ends.shape, **_lowdim_codec_args(fmt))
    arr[:] = ends
    root.attrs[ATTRS_KEY] = _merged_attrs([s.attrs.get(ATTRS_KEY, {}) for s in sources])


def _readable_keys(path: Path, data) -> set[str]:
    """The array names of `data/`; DatasetError naming the first array zarr cannot open."""
    try:
        keys = set(data.array_keys())
    except Exception:  # noqa: BLE001 - listing parses every array's metadata: find the one that fails
        keys = {p.name for p in (Path(path) / "data").iterdir() if p.is_dir()} if (Path(path) / "data").is_dir() else set()
    for key in sorted(keys):
        _check_readable(path, data, key)
    return keys


def _check_readable(path: Path, data, key: str) -> None:
    """DatasetError naming the array and its codec when zarr cannot open `data/<key>` (an object dtype, the
    pickle codec: zarr 3 refuses to unpickle, and so do we)."""
    try:
        arr = data[key]
        arr.dtype, arr.shape
    except Exception as exc:  # noqa: BLE001 - zarr raises ValueError, TypeError, KeyError for these
        raise DatasetError(f"{path}: array data/{key} cannot be read: dtype {_raw_meta(path, key, 'dtype')!r}, "
                           f"codecs {_raw_meta(path, key, 'codecs')} ({type(exc).__name__}: {str(exc)[:120]})") from exc


def _raw_meta(path: Path, key: str, what: str):
    """The dtype or codec ids of `data/<key>` as its metadata file states them (v2 .zarray or v3 zarr.json)."""
    for name in (".zarray", "zarr.json"):
        try:
            meta = json.loads((Path(path) / "data" / key / name).read_text())
        except (OSError, ValueError):
            continue
        if what == "dtype":
            return meta.get("dtype") or meta.get("data_type")
        codecs = [meta.get("compressor")] + list(meta.get("filters") or []) + list(meta.get("codecs") or [])
        return [c.get("id") or c.get("name") for c in codecs if isinstance(c, dict)]
    return None


def _open_store(path: Path):
    import zarr

    try:
        group = zarr.open_group(str(path), mode="r")
        group["data"], group["meta"]["episode_ends"]
    except Exception as exc:  # noqa: BLE001 - zarr raises several types for a missing or broken store
        raise FormatError(f"not a zarr replay buffer ({type(exc).__name__}: {exc})", path=path) from exc
    return group


def _first_label(group) -> str | None:
    episodes = group.attrs.get(ATTRS_KEY, {}).get("episodes") or []
    if not episodes:
        return None
    e = episodes[0]
    return f"{e['task_id']}/{e['episode_id']}" if e.get("task_id") else e["episode_id"]


def _merge_array(data, key: str, arrays: list, lengths: list[int], out: Path, fmt: int) -> None:
    """Create `data/<key>` of the total length and fill it from the episode arrays in order."""
    first = arrays[0]
    total = int(sum(lengths))
    if all(_is_frame_array(a) for a in arrays):
        dst = data.create_array(key, shape=(total,) + first.shape[1:], dtype=first.dtype, chunks=first.chunks,
                                fill_value=first.fill_value, **_codec_args_of(first, fmt))
        dst.attrs.update(first.attrs.asdict())
        _copy_chunks(arrays, dst, out)
        return
    value = np.concatenate([np.asarray(a[...]) for a in arrays], axis=0)
    dst = data.create_array(key, shape=value.shape, dtype=value.dtype, chunks=(max(total, 1),) + value.shape[1:],
                            fill_value=first.fill_value, **_codec_args_of(first, fmt))
    dst[...] = value
    dst.attrs.update(first.attrs.asdict())


def _is_frame_array(arr) -> bool:
    """Images and depth: one frame per chunk, so their encoded chunks can be copied as they are."""
    return arr.ndim >= 3 and arr.chunks == (1,) + tuple(arr.shape[1:]) and not arr.path.endswith((".extrinsics", ".intrinsics"))


def _codec_args_of(arr, fmt: int) -> dict:
    """The create_array codec arguments that reproduce `arr`'s encoding."""
    if fmt == 2:
        return {"compressors": arr.metadata.compressor, "filters": arr.metadata.filters}
    return {"serializer": arr.serializer, "compressors": arr.compressors, "filters": arr.filters}


def _copy_chunks(arrays: list, dst, out: Path) -> None:
    """Copy each frame's encoded chunk file into place at its new time index (no decode, no re-encode).

    A chunk that was never written (all fill value) is absent on disk and stays absent.
    """
    offset = 0
    for src in arrays:
        src_root = Path(src.store.root) / src.path
        dst_root = Path(out) / dst.path
        for t in range(src.shape[0]):
            rest = (0,) * (src.ndim - 1)
            src_file = src_root / src.metadata.encode_chunk_key((t,) + rest)
            if src_file.is_file():
                dst_file = dst_root / dst.metadata.encode_chunk_key((offset + t,) + rest)
                dst_file.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src_file, dst_file)
        offset += src.shape[0]


def _merged_attrs(all_attrs: list[dict]) -> dict:
    merged = dict(all_attrs[0])
    merged["episodes"] = [e for attrs in all_attrs for e in attrs.get("episodes", [])]
    if "cameras" not in merged:  # a UMI-layout store lists none (see ZarrWriter._umi_attrs)
        return merged
    cameras: dict = {}
    for attrs in all_attrs:
        for name, info in attrs.get("cameras", {}).items():
            cameras.setdefault(name, info)
    merged["cameras"] = cameras
    return merged


# ================================================================================================
# Reader
# ================================================================================================
class ZarrFrames(KeepsDecoded):
    """Frames `[start, stop)` of a time-major zarr array, read lazily: only the chunks asked for are decoded.

    `read(indices)` -> `(len, H, W, 3) uint8` (or `(len, H, W) float32` for depth).
    """

    def __init__(self, array, start: int, stop: int):
        self.array = array
        self.start = int(start)
        self.stop = int(stop)

    def __len__(self) -> int:
        return self.stop - self.start

    @property
    def dtype(self):
        return self.array.dtype

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.array.shape[1:3])

    def read(self, indices) -> np.ndarray:
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        if idx.size == 0:
            return np.zeros((0,) + tuple(self.array.shape[1:]), self.array.dtype)
        if idx.min() < 0 or idx.max() >= len(self):
            raise IndexError(f"frame indices {idx.min()}..{idx.max()} out of range [0, {len(self)})")
        if (kept := self._kept_read(idx)) is not None:
            return kept
        if np.all(np.diff(idx) == 1):  # a contiguous run: one slice read
            return np.asarray(self.array[self.start + int(idx[0]): self.start + int(idx[-1]) + 1])
        return np.asarray(self.array.oindex[idx + self.start])


class ZarrReader:
    """Reads a zarr replay buffer at `path` (Zarr format 2 or 3, directory or `.zip`), one Episode per
    `meta/episode_ends` entry.

    Stores written by ZarrWriter come back with their ids, cameras, trajectories, state/action dicts,
    task and segments. Plain diffusion-policy/UMI buffers work too: uint8 `(N, H, W, 3)` arrays become
    cameras, `action` the action, every other array a state key; episodes are named "000000", ...
    """

    name = "zarr"

    def __init__(self, path: str | Path):
        import zarr

        self.path = Path(path)
        register_image_codecs()
        store: Any = str(self.path)
        if self.path.is_file() and self.path.suffix == ".zip":
            store = zarr.storage.ZipStore(str(self.path), mode="r")
        try:
            self.root = zarr.open_group(store, mode="r")
            self.ends = np.asarray(self.root["meta"]["episode_ends"][:], dtype=np.int64)
            self.data = self.root["data"]
        except Exception as exc:  # noqa: BLE001
            raise DatasetError(f"{self.path} is not a zarr replay buffer (need data/ and meta/episode_ends): {exc}") from exc
        self.attrs = dict(self.root.attrs.get(ATTRS_KEY) or {})
        self.problems = []
        self._keys = _readable_keys(self.path, self.data)
        self._infos = self._episode_infos()
        self._index = {}
        for n, info in enumerate(self._infos):
            try:
                self._index[safe_ref(info.get("task_id"), info.get("episode_id"), self.path)] = n
            except FormatError as err:
                self.problems.append(err)

    def _episode_infos(self) -> list[dict]:
        infos = self.attrs.get("episodes")
        if infos and len(infos) == len(self.ends):
            return infos
        if infos:
            self.problems.append(ConsistencyError(f"attrs list {len(infos)} episodes, meta/episode_ends has {len(self.ends)}; "
                                                  "episode annotations ignored", path=self.path))
        return [{"episode_id": f"{i:06d}", "task_id": None} for i in range(len(self.ends))]

    def refs(self) -> list[EpisodeRef]:
        return list(self._index)

    def read(self, ref: EpisodeRef) -> Episode:
        """Episode `ref` with lazy frames; raises FormatError for an unknown ref."""
        if ref not in self._index:
            raise FormatError("no such episode in the store", episode=ref.label, path=self.path)
        i = self._index[ref]
        start = int(self.ends[i - 1]) if i else 0
        stop = int(self.ends[i])
        if stop < start or stop > self._length():
            raise ConsistencyError(f"episode_ends gives [{start}, {stop}), data has {self._length()} rows",
                                   episode=ref.label, path=self.path)
        info = self._infos[i]
        fields = episode_fields(info) if "fps" in info else {"episode_id": info["episode_id"], "task_id": None, "fps": 10.0}
        state, action = self._lowdim(start, stop)
        fields.setdefault("metadata", {})
        fields["metadata"] = {**fields.get("metadata", {}), "zarr_path": str(self.path)}
        ts = self._slice("timestamp", start, stop)
        return Episode(cameras=self._cameras(info, start, stop), state=state, action=action,
                       timestamps=None if ts is None else ts.astype(np.int64), **fields)

    def _length(self) -> int:
        return min((int(self.data[k].shape[0]) for k in self._keys), default=0)

    def _slice(self, key: str, start: int, stop: int) -> np.ndarray | None:
        return np.asarray(self.data[key][start:stop]) if key in self._keys else None

    def _camera_names(self) -> list[str]:
        if "cameras" in self.attrs:
            return [c for c in self.attrs["cameras"] if c in self._keys]
        return sorted(k for k in self._keys
                      if self.data[k].ndim == 4 and self.data[k].dtype == np.uint8 and self.data[k].shape[-1] == 3)

    def _cameras(self, info: dict, start: int, stop: int) -> dict[str, CameraStream]:
        cameras = {}
        per_episode = info.get("cameras") or self.attrs.get("cameras") or {}
        for name in self._camera_names():
            arr = self.data[name]
            cinfo = per_episode.get(name, {})
            cameras[name] = CameraStream(
                name=name,
                frames=ZarrFrames(arr, start, stop),
                trajectory=self._trajectory(name, cinfo, start, stop, arr.shape[1], arr.shape[2]),
                depth=ZarrFrames(self.data[f"{name}.depth"], start, stop) if f"{name}.depth" in self._keys else None,
                provenance=dict(cinfo.get("provenance") or {}),
                source_path=f"{self.path}/data/{name}",
            )
        return cameras

    def _trajectory(self, name: str, cinfo: dict, start: int, stop: int, h: int, w: int) -> CameraTrajectory | None:
        ext = self._slice(f"{name}.extrinsics", start, stop)
        k = self._slice(f"{name}.intrinsics", start, stop)
        if ext is None or k is None:
            return None
        if cinfo.get("static_intrinsics") and len(k) and np.all(k == k[0]):
            k = k[0]
        return CameraTrajectory(ext.astype(np.float64), k.astype(np.float64), int(h), int(w))

    def _lowdim(self, start: int, stop: int) -> tuple[dict, dict]:
        if "state_keys" in self.attrs:
            state = {k: self._slice(f"state.{k}", start, stop).astype(np.float64) for k in self.attrs["state_keys"]}
            action = {k: self._slice(f"action.{k}", start, stop).astype(np.float64) for k in self.attrs["action_keys"]}
            return state, action
        cams = set(self._camera_names())
        state, action = {}, {}
        for key in sorted(self._keys - cams):
            if key.endswith((".extrinsics", ".intrinsics", ".depth")) or key == "timestamp":
                continue
            value = self._slice(key, start, stop).astype(np.float64)
            (action if key == "action" else state)[key] = value
        return state, action
