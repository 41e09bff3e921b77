"""Still-image IO: 16-bit depth PNGs (uint16 millimetres on disk, float32 metres in memory)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .errors import FormatError


def read_depth_png(path: str | Path, scale: float = 1e-3) -> np.ndarray:
    """Read a single-channel 16-bit PNG. Returns `(H, W) float32` = raw * `scale` (0 stays 0 = invalid)."""
    from PIL import Image

    try:
        with Image.open(path) as img:
            raw = np.asarray(img)
    except Exception as exc:  # noqa: BLE001 - PIL raises many types for a broken file
        raise FormatError(f"cannot read depth PNG ({type(exc).__name__}: {exc})", path=path) from exc
    if raw.ndim != 2:
        raise FormatError(f"depth PNG must be single-channel, got shape {raw.shape}", path=path)
    if raw.dtype != np.uint16:
        raise FormatError(f"depth PNG must be 16-bit, got {raw.dtype}", path=path)
    return raw.astype(np.float32) * np.float32(scale)


def depth_png_size(path: str | Path) -> tuple[int, int]:
    """`(H, W)` of a depth PNG from its header (no decoding); FormatError when it is no 16-bit grey PNG."""
    from PIL import Image

    try:
        with Image.open(path) as img:
            mode, (w, h) = img.mode, img.size
    except Exception as exc:  # noqa: BLE001 - PIL raises many types for a broken file
        raise FormatError(f"cannot read depth PNG ({type(exc).__name__}: {exc})", path=path) from exc
    if mode not in ("I;16", "I;16B", "I;16L", "I"):
        raise FormatError(f"depth PNG must be 16-bit single-channel, got mode {mode}", path=path)
    return h, w


def write_depth_png(path: str | Path, depth_m: np.ndarray, scale: float = 1e-3) -> None:
    """Write `(H, W)` metres as uint16 PNG of depth/`scale` (mm by default); out of range or invalid -> 0."""
    from PIL import Image

    raw = np.rint(np.nan_to_num(np.asarray(depth_m, np.float64) / scale, nan=0.0, posinf=0.0))
    raw = np.where((raw > 0) & (raw <= 65535), raw, 0).astype(np.uint16)
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    Image.fromarray(raw).save(tmp, format="PNG")
    os.replace(tmp, path)
