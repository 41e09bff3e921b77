"""DepthPngFrames decodes on a thread pool: same arrays as one by one, errors name the frame's file."""

from __future__ import annotations

import numpy as np
import pytest

from embodied_rerender.episode import DepthPngFrames
from embodied_rerender.errors import ConsistencyError, FormatError
from embodied_rerender.imageio import read_depth_png, write_depth_png


def _pngs(tmp_path, n=12, shape=(6, 8)):
    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        paths.append(tmp_path / f"head_depth_{i:06d}.png")
        write_depth_png(paths[-1], rng.uniform(0.1, 3.0, shape).astype(np.float32))
    return paths


def test_pooled_read_equals_serial_in_any_order(tmp_path):
    paths = _pngs(tmp_path)
    order = [5, 0, 11, 5, 3]
    expected = np.stack([read_depth_png(paths[i]) for i in order])
    got = DepthPngFrames(paths).read(order)
    assert got.dtype == np.float32 and np.array_equal(got, expected)
    assert DepthPngFrames(paths).read([]).shape == (0, 0, 0)


def test_a_frame_of_another_size_names_its_file(tmp_path):
    paths = _pngs(tmp_path)
    write_depth_png(paths[7], np.ones((4, 4), np.float32))
    with pytest.raises(ConsistencyError) as err:
        DepthPngFrames(paths).read(range(12))
    assert err.value.path == str(paths[7]) and "4x4" in str(err.value)


def test_a_broken_frame_names_its_file(tmp_path):
    paths = _pngs(tmp_path)
    paths[9].write_bytes(b"not a png")
    with pytest.raises(FormatError) as err:
        DepthPngFrames(paths).read(range(12))
    assert err.value.path == str(paths[9])
