"""`zarr.layout=umi`: UMI's replay-buffer keys, shapes and dtypes, and the values mapped from an AgiBot-style
episode (io/umi.py). The pinned zarr 2 client reading it is in tests/test_zarr_v2_clients.py (slow)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from scipy.spatial.transform import Rotation
from writer_fixtures import LENGTHS, two_episodes

zarr = pytest.importorskip("zarr")

from embodied_rerender.cli import main  # noqa: E402
from embodied_rerender.errors import FormatError  # noqa: E402
from embodied_rerender.io.umi import KEYS, UmiMapping, fit_frames, quaternion_to_rotvec  # noqa: E402
from embodied_rerender.io.zarr_io import ZarrReader, ZarrWriter, register_image_codecs  # noqa: E402

T = sum(LENGTHS)


@pytest.fixture(scope="module")
def episodes(tmp_path_factory):
    return two_episodes(tmp_path_factory.mktemp("agibot"))


def write_umi(episodes, root, **options):
    writer = ZarrWriter(layout="umi", **options)
    dirs = [root / f"ep{i}" for i in range(len(episodes))]
    for ep, d in zip(episodes, dirs):
        writer.write_episode(ep, d)
    writer.merge(dirs, root / "out")
    return root / "out"


def test_quaternion_to_rotvec_matches_scipy():
    rots = Rotation.random(200, random_state=3)
    quats = rots.as_quat()  # xyzw
    quats[::2] *= -1  # the same rotations, other sign
    ours = quaternion_to_rotvec(quats)
    np.testing.assert_allclose(Rotation.from_rotvec(ours).as_matrix(), rots.as_matrix(), atol=1e-10)
    assert np.linalg.norm(ours, axis=1).max() <= np.pi + 1e-12
    tiny = Rotation.from_rotvec([[1e-9, 0, 0], [0, 0, 0]]).as_quat()
    np.testing.assert_allclose(quaternion_to_rotvec(tiny), [[1e-9, 0, 0], [0, 0, 0]], atol=1e-15)


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_umi_keys_shapes_dtypes_and_values(episodes, tmp_path, zarr_format):
    out = write_umi(episodes, tmp_path, zarr_format=zarr_format, image_codec="zstd", umi_image_size=None)
    register_image_codecs()
    root = zarr.open_group(str(out), mode="r")
    data = root["data"]
    assert sorted(data.array_keys()) == sorted(KEYS)
    np.testing.assert_array_equal(root["meta"]["episode_ends"][:], np.cumsum(LENGTHS))
    shapes = {"robot0_eef_pos": (T, 3), "robot0_eef_rot_axis_angle": (T, 3), "robot0_gripper_width": (T, 1),
              "robot0_demo_start_pose": (T, 6), "robot0_demo_end_pose": (T, 6), "action": (T, 7)}
    for key, shape in shapes.items():
        assert data[key].shape == shape, key
    for key in ("robot0_eef_pos", "robot0_eef_rot_axis_angle", "robot0_gripper_width", "action"):
        assert data[key].dtype == np.float32, key
    cam = data["camera0_rgb"]
    assert cam.dtype == np.uint8 and cam.chunks == (1,) + cam.shape[1:]

    start = 0
    for ep in episodes:  # the left arm and its wrist camera (hand_left's side)
        rows = slice(start, start + len(ep))
        np.testing.assert_array_equal(cam[rows], ep.cameras["hand_left"][:])  # zstd: lossless, size kept
        pos = ep.state["end.position"].reshape(-1, 2, 3)[:, 0]
        np.testing.assert_allclose(data["robot0_eef_pos"][rows], pos, rtol=1e-6, atol=1e-6)
        rot = Rotation.from_quat(ep.state["end.orientation"].reshape(-1, 2, 4)[:, 0])
        got = Rotation.from_rotvec(data["robot0_eef_rot_axis_angle"][rows].astype(np.float64))
        assert (got.inv() * rot).magnitude().max() < 1e-5
        width = 0.12 * (1 - np.clip(ep.state["effector.position"][:, 0] / 120, 0, 1))
        np.testing.assert_allclose(data["robot0_gripper_width"][rows][:, 0], width, rtol=1e-6)
        first = np.concatenate([pos[0], data["robot0_eef_rot_axis_angle"][rows][0]])
        np.testing.assert_allclose(data["robot0_demo_start_pose"][rows], np.tile(first, (len(ep), 1)), atol=1e-6)
        last = np.concatenate([pos[-1], data["robot0_eef_rot_axis_angle"][rows][-1]])
        np.testing.assert_allclose(data["robot0_demo_end_pose"][rows], np.tile(last, (len(ep), 1)), atol=1e-6)
        action = data["action"][rows]
        commanded = ep.action["end.position"].reshape(-1, 2, 3)[:, 0] if "end.position" in ep.action else pos
        np.testing.assert_allclose(action[:, :3], commanded, rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(action[:, 6], 0.12 * (1 - ep.action["effector.position"][:, 0]), rtol=1e-5, atol=1e-6)
        start += len(ep)

    attrs = root.attrs["embodied_rerender"]
    assert attrs["layout"] == "umi" and attrs["umi"]["camera0"] == "hand_left" and attrs["umi"]["robot0"] == "left arm"
    # our reader takes it as a plain UMI buffer, with the episode ids kept
    reader = ZarrReader(out)
    assert [r.label for r in reader.refs()] == ["327/100", "327/101"]
    back = reader.read(reader.refs()[1])
    assert list(back.cameras) == ["camera0_rgb"] and back.action["action"].shape == (LENGTHS[1], 7)
    assert set(back.state) == set(KEYS) - {"camera0_rgb", "action"}


def test_right_arm_and_default_image_size(episodes, tmp_path):
    out = write_umi(episodes, tmp_path, zarr_format=2, image_codec="zstd", umi_camera="hand_right")
    register_image_codecs()
    data = zarr.open_group(str(out), mode="r")["data"]
    assert data["camera0_rgb"].shape == (T, 224, 224, 3)  # UMI's default out_res
    pos = episodes[0].state["end.position"].reshape(-1, 2, 3)[:, 1]
    np.testing.assert_allclose(data["robot0_eef_pos"][:LENGTHS[0]], pos, rtol=1e-6, atol=1e-6)


def test_fit_frames_crops_to_the_aspect_then_resizes():
    frames = np.zeros((2, 60, 80, 3), np.uint8)
    frames[:, :, :10] = 255  # a bright band at the left edge, cut away by the centre crop to a square
    out = fit_frames(frames, (30, 30))
    assert out.shape == (2, 30, 30, 3) and out.dtype == np.uint8 and out.max() == 0
    assert fit_frames(frames, (60, 80)) is frames


def test_bad_umi_options_and_episodes(episodes, tmp_path):
    with pytest.raises(ValueError, match="umi_arm"):
        UmiMapping(camera="head")
    writer = ZarrWriter(layout="umi", umi_camera="head", umi_arm="left", image_codec="zstd")
    ep = dataclasses.replace(episodes[0], state={k: v for k, v in episodes[0].state.items() if k != "end.orientation"})
    with pytest.raises(FormatError, match="end.orientation"):
        writer.write_episode(ep, tmp_path / "bad")
    with pytest.raises(ValueError, match="layout"):
        ZarrWriter(layout="lerobot")


def test_cli_convert_with_umi_layout(tmp_path):
    """`convert ... writer=zarr zarr.layout=umi zarr.zarr_format=2` on sample episodes."""
    src, out = tmp_path / "src", tmp_path / "umi"
    assert main(["sample", f"output={src}", "episodes=1", "frames=17", "width=64", "height=48", "progress=false"]) == 0
    assert main(["convert", f"input={src}", f"output={out}", "writer=zarr", "zarr.layout=umi", "zarr.zarr_format=2",
                 "zarr.umi_image_size=[96,96]", "progress=false"]) == 0
    register_image_codecs()
    root = zarr.open_group(str(out), mode="r")
    assert sorted(root["data"].array_keys()) == sorted(KEYS)
    assert root["data"]["camera0_rgb"].shape == (17, 96, 96, 3)
    assert json.loads((out / "report.json").read_text())["summary"]["written"] == 1
