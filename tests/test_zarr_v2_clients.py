"""Zarr v2 output read by diffusion_policy's / UMI's pinned stack (zarr 2, numcodecs, imagecodecs 2022.x) in a
separate venv, the way their ReplayBuffer loads it (tests/clients/zarr2_replay_buffer.py)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from side_venv import side_venv
from writer_fixtures import two_episodes

zarr = pytest.importorskip("zarr")
pytest.importorskip("imagecodecs")

from embodied_rerender.io.zarr_io import ZarrWriter  # noqa: E402

# diffusion_policy pins zarr 2.12.0, numcodecs 0.10.2, imagecodecs 2022.9.26 (Python 3.9). The oldest of each
# with a Python 3.11 wheel: numcodecs 0.11.0 and imagecodecs 2022.12.24, whose numcodecs classes take exactly
# the keyword arguments of diffusion_policy's vendored codecs (no `bitspersample` for JPEG-XL, no `planar`
# or `mct` for JPEG 2000).
DP_PINS = ["zarr==2.12.0", "numcodecs==0.11.0", "imagecodecs==2022.12.24", "numpy<2"]
CLIENT = Path(__file__).parent / "clients" / "zarr2_replay_buffer.py"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def dp_python(request):
    return side_venv(Path(request.config.cache.mkdir("zarr2-dp-venv")), DP_PINS)


@pytest.fixture(scope="module")
def episodes(tmp_path_factory):
    return two_episodes(tmp_path_factory.mktemp("agibot"))


def write_v2(episodes, root: Path, **options) -> Path:
    writer = ZarrWriter(zarr_format=2, **options)
    dirs = [root / f"ep{i}" for i in range(len(episodes))]
    for ep, d in zip(episodes, dirs):
        writer.write_episode(ep, d)
    writer.merge(dirs, root / "out.zarr")
    return root / "out.zarr"


def run_client(python: Path, store: Path, out: Path, *flags: str) -> tuple[dict, dict]:
    proc = subprocess.run([str(python), str(CLIENT), str(store), str(out), *flags], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    with np.load(out) as f:
        return json.loads(proc.stdout.strip().splitlines()[-1]), dict(f)


@pytest.mark.parametrize("codec,lossless", [("jpegxl", False), ("jpegxl", True), ("jpeg2k", False),
                                            ("jpeg2k", True), ("zstd", True)])
def test_diffusion_policy_stack_reads_v2(dp_python, episodes, tmp_path, codec, lossless):
    store = write_v2(episodes, tmp_path, image_codec=codec, lossless=lossless)
    summary, arrays = run_client(dp_python, store, tmp_path / "dump.npz")
    assert summary["zarr"] == "2.12.0"
    ours = zarr.open_group(str(store), mode="r")
    assert sorted(ours["data"].array_keys()) == summary["keys"]
    np.testing.assert_array_equal(arrays["meta/episode_ends"], ours["meta"]["episode_ends"][:])
    for key in summary["keys"]:
        mine, theirs = np.asarray(ours["data"][key][:]), arrays[f"data/{key}"]
        assert theirs.dtype == mine.dtype and theirs.shape == mine.shape, key
        if theirs.dtype == np.uint8 and not lossless:  # a lossy code stream may decode +-1 apart across libraries
            assert np.abs(theirs.astype(int) - mine.astype(int)).max() <= 2, key
        else:
            np.testing.assert_array_equal(theirs, mine, err_msg=key)
    attrs = ours.attrs["embodied_rerender"]["image_codec"]
    assert attrs["lossless"] is lossless
    if codec != "zstd":
        assert summary["arrays"]["head"]["codec"] == f"imagecodecs_{codec}"


def zip_store(store: Path, path: Path) -> Path:
    """`store` as UMI's `dataset.zarr.zip`: the store's files at the archive root, uncompressed (ZipStore)."""
    import zipfile

    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        for f in sorted(p for p in store.rglob("*") if p.is_file()):
            zf.write(f, f.relative_to(store).as_posix())
    return path


def test_umi_loading_path_reads_the_umi_layout(dp_python, episodes, tmp_path):
    """zarr.layout=umi with UMI's own codec (JPEG-XL level 99) and out_res (224 x 224), zipped as UMI ships it,
    loaded through a ZipStore copied into a MemoryStore (UmiDataset's path) under the pinned zarr 2 stack."""
    from embodied_rerender.io.umi import KEYS

    store = write_v2(episodes, tmp_path, layout="umi")
    summary, arrays = run_client(dp_python, zip_store(store, tmp_path / "dataset.zarr.zip"), tmp_path / "dump.npz", "--umi")
    assert summary["keys"] == sorted(KEYS)
    assert summary["umi"]["camera0_rgb"] == [sum(len(e) for e in episodes), 224, 224, 3]
    assert summary["arrays"]["camera0_rgb"]["codec"] == "imagecodecs_jpegxl"
    np.testing.assert_array_equal(arrays["meta/episode_ends"], np.cumsum([len(e) for e in episodes]))
    ours = zarr.open_group(str(store), mode="r")
    for key in KEYS:
        mine, theirs = np.asarray(ours["data"][key][:]), arrays[f"data/{key}"]
        assert theirs.dtype == mine.dtype and theirs.shape == mine.shape, key
        tol = 2 if key == "camera0_rgb" else 0  # a lossy code stream may decode +-1 apart across libraries
        assert np.abs(theirs.astype(np.float64) - mine.astype(np.float64)).max() <= tol, key
