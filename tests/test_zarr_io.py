"""ZarrWriter / ZarrReader: diffusion-policy replay buffers in Zarr format 3 and 2."""

from __future__ import annotations

import json

import numpy as np
import pytest

from writer_fixtures import LENGTHS, assert_same_annotations, assert_same_cameras, assert_same_lowdim, two_episodes

zarr = pytest.importorskip("zarr")
pytest.importorskip("imagecodecs")

from embodied_rerender.episode import ArrayFrames, CameraStream, CameraTrajectory  # noqa: E402
from embodied_rerender.errors import ConsistencyError, FormatError  # noqa: E402
from embodied_rerender.io import get_reader, get_writer  # noqa: E402
from embodied_rerender.io.zarr_io import ZarrReader, ZarrWriter  # noqa: E402
from embodied_rerender.io.policy import action_vector, state_vector  # noqa: E402

T = sum(LENGTHS)


@pytest.fixture(scope="module")
def episodes(tmp_path_factory):
    return two_episodes(tmp_path_factory.mktemp("agibot"))


def write_merged(episodes, root, **options):
    writer = ZarrWriter(**options)
    dirs = []
    for i, ep in enumerate(episodes):
        info = writer.write_episode(ep, root / f"ep{i}")
        assert info["frames"] == len(ep)
        dirs.append(root / f"ep{i}")
    writer.merge(dirs, root / "out")
    return root / "out"


@pytest.mark.parametrize("zarr_format", [3, 2])
@pytest.mark.parametrize("lossless", [True, False])
def test_round_trip(episodes, tmp_path, zarr_format, lossless):
    out = write_merged(episodes, tmp_path, zarr_format=zarr_format, lossless=lossless)
    reader = ZarrReader(out)
    assert [r.label for r in reader.refs()] == ["327/100", "327/101"]
    for ref, src in zip(reader.refs(), episodes):
        got = reader.read(ref)
        assert len(got) == len(src)
        assert_same_annotations(src, got)
        assert_same_lowdim(src, got)
        assert_same_cameras(src, got, lossless)


@pytest.mark.parametrize("zarr_format", [3, 2])
def test_plain_zarr_layout(episodes, tmp_path, zarr_format):
    out = write_merged(episodes, tmp_path, zarr_format=zarr_format)
    root = zarr.open(str(out), mode="r")
    assert root.metadata.zarr_format == zarr_format
    assert (out / ("zarr.json" if zarr_format == 3 else ".zgroup")).is_file()
    ends = root["meta/episode_ends"]
    assert ends.dtype == np.int64 and ends[:].tolist() == [10, 22]
    for cam in ("head", "hand_left", "hand_right"):
        images = root[f"data/{cam}"]
        assert images.shape == (T, 24, 32, 3) and images.dtype == np.uint8 and images.chunks == (1, 24, 32, 3)
        assert root[f"data/{cam}.extrinsics"].shape == (T, 4, 4) and root[f"data/{cam}.extrinsics"].dtype == np.float64
        assert root[f"data/{cam}.intrinsics"].shape == (T, 3, 3)
    np.testing.assert_array_equal(root["data/head.extrinsics"][10:], episodes[1].cameras["head"].trajectory.extrinsics)
    np.testing.assert_array_equal(root["data/state.end.orientation"][:10], episodes[0].state["end.orientation"])
    assert root["data/state.end.orientation"].shape == (T, 2, 4)
    for group, vector in (("state", state_vector), ("action", action_vector)):  # the policy vectors, as LeRobot's
        flat = root[f"data/{group}"]
        assert flat.shape == (T, {"state": 20, "action": 22}[group]) and flat.dtype == np.float32
        assert flat.attrs["columns"] == list(vector(episodes[0]).names)
        np.testing.assert_array_equal(flat[:10], vector(episodes[0]).values)
        np.testing.assert_array_equal(flat[10:], vector(episodes[1]).values)
    attrs = root.attrs["embodied_rerender"]
    assert [e["episode_id"] for e in attrs["episodes"]] == ["100", "101"]
    assert attrs["episodes"][1]["segments"][1]["text"] == "Place the cup"
    codec = json.dumps(root["data/head"].metadata.to_dict(), default=str)
    assert "imagecodecs_jpegxl" in codec


def test_merge_copies_encoded_chunks(episodes, tmp_path):
    """Lossy frames are copied as encoded, not decoded and re-encoded."""
    out = write_merged(episodes, tmp_path, zarr_format=3)
    src = (tmp_path / "ep1" / "data" / "head" / "c" / "3" / "0" / "0" / "0").read_bytes()
    assert (out / "data" / "head" / "c" / "13" / "0" / "0" / "0").read_bytes() == src


def test_jpeg2k_and_zstd_codecs(episodes, tmp_path):
    for codec in ("jpeg2k", "zstd"):
        out = write_merged(episodes, tmp_path / codec, image_codec=codec, lossless=True)
        got = ZarrReader(out).read(ZarrReader(out).refs()[1])
        np.testing.assert_array_equal(got.cameras["hand_left"][:], episodes[1].cameras["hand_left"][:])


def test_depth_and_synthesized_camera(episodes, tmp_path):
    ep = episodes[0]
    n = len(ep)
    traj = CameraTrajectory(ep.cameras["head"].trajectory.extrinsics, np.tile(np.eye(3), (n, 1, 1)) * 20, 24, 32)
    frames = np.random.default_rng(0).integers(0, 255, (n, 24, 32, 3), dtype=np.uint8)
    synth = CameraStream("virtual_wrist_0", ArrayFrames(frames), traj, provenance={"generator": "warp", "seed": 3})
    ep.cameras["virtual_wrist_0"] = synth
    try:
        writer = ZarrWriter(lossless=True, write_depth=True)
        writer.write_episode(ep, tmp_path / "ep")
    finally:
        del ep.cameras["virtual_wrist_0"]
    reader = ZarrReader(tmp_path / "ep")
    got = reader.read(reader.refs()[0])
    cam = got.cameras["virtual_wrist_0"]
    assert cam.provenance == {"generator": "warp", "seed": 3} and cam.synthesized
    np.testing.assert_array_equal(cam[:], frames)
    np.testing.assert_array_equal(cam.trajectory.intrinsics, traj.intrinsics)  # per-frame K kept per frame
    np.testing.assert_array_equal(got.cameras["head"].read_depth([0, 4]), ep.cameras["head"].read_depth([0, 4]))
    assert not got.cameras["head"].synthesized


def test_merge_refuses_mismatched_episodes(episodes, tmp_path):
    writer = ZarrWriter()
    writer.write_episode(episodes[0], tmp_path / "a")
    ep = episodes[1]
    saved = ep.cameras.pop("hand_right")
    try:
        writer.write_episode(ep, tmp_path / "b")
    finally:
        ep.cameras["hand_right"] = saved
    with pytest.raises(ConsistencyError, match="data keys"):
        writer.merge([tmp_path / "a", tmp_path / "b"], tmp_path / "out")


def test_refuses_non_empty_output(episodes, tmp_path):
    (tmp_path / "ep").mkdir()
    (tmp_path / "ep" / "x").write_text("keep me")
    with pytest.raises(FormatError, match="327/100"):
        ZarrWriter().write_episode(episodes[0], tmp_path / "ep")


def test_reads_plain_diffusion_policy_buffer(tmp_path):
    """A buffer written by other tools (zarr 2 API layout, no attrs): uint8 images are cameras."""
    root = zarr.open_group(str(tmp_path / "dp.zarr"), mode="w", zarr_format=2)
    images = np.random.default_rng(1).integers(0, 255, (7, 8, 8, 3), dtype=np.uint8)
    root.create_array("data/camera0_rgb", data=images, chunks=(1, 8, 8, 3))
    root.create_array("data/robot0_eef_pos", data=np.arange(21, dtype=np.float32).reshape(7, 3))
    root.create_array("data/action", data=np.ones((7, 2), np.float32))
    root.create_array("meta/episode_ends", data=np.array([3, 7], np.int64))
    reader = get_reader("zarr", tmp_path / "dp.zarr")
    assert [r.label for r in reader.refs()] == ["000000", "000001"]
    ep = reader.read(reader.refs()[1])
    assert len(ep) == 4 and list(ep.cameras) == ["camera0_rgb"] and ep.cameras["camera0_rgb"].trajectory is None
    np.testing.assert_array_equal(ep.cameras["camera0_rgb"][:], images[3:])
    np.testing.assert_array_equal(ep.state["robot0_eef_pos"], np.arange(9, 21).reshape(4, 3))
    assert ep.action["action"].shape == (4, 2)


def test_registry_names(tmp_path):
    assert isinstance(get_writer("zarr", zarr_format=2), ZarrWriter)
