"""`augment` end to end on sample episodes: head -> gripper synthesis, virtual wrists, LeRobot output."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch

from embodied_rerender.cli import main
from embodied_rerender.io.agibot import AgiBotReader
from embodied_rerender.io.lerobot import LeRobotReader
from embodied_rerender.metrics import psnr

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="module")
def augmented(tmp_path_factory):
    root = tmp_path_factory.mktemp("aug")
    src, out = root / "agibot", root / "lerobot"
    assert main(["sample", f"output={src}", "episodes=1", "frames=20", "width=160", "height=120", "progress=false"]) == 0
    code = main(["augment", f"input={src}", f"output={out}", "targets=[head_to_gripper,virtual_wrist]",
                 "progress=false", "samples=64"])
    assert code == 0
    return src, out


def _gt_depth(src, camera: str, frames: int) -> np.ndarray:
    """The sample's ground-truth depth `(T, H, W)` for `camera` (kept beside the AgiBot tree)."""
    from embodied_rerender.imageio import read_depth_png

    (ep_dir,) = [d for d in (src / "ground_truth").glob("*/*") if d.is_dir()]
    return np.stack([read_depth_png(ep_dir / "depth" / f"{camera}_depth_{t:06d}.png") for t in range(frames)])


def test_head_to_gripper_beats_a_constant_image_where_the_head_sees(augmented):
    """Scored where the head camera truly sees the wrist camera's surfaces (from ground-truth depth):
    the gripper's own fingers and what they hold are invisible to the head, so no warp can show them."""
    from embodied_rerender.metrics import covisible_mask

    src, out = augmented
    report = json.loads((out / "report.json").read_text())
    (entry,) = report["episodes"]
    scores = entry["synthesized"]
    assert set(scores) == {"hand_left_synth", "hand_right_synth", "virtual_wrist_0", "virtual_wrist_1"}
    episode = AgiBotReader(src).read(AgiBotReader(src).refs()[0])
    back = LeRobotReader(out).read(LeRobotReader(out).refs()[0])
    head = episode.cameras["head"]
    head_mean = torch.from_numpy(head[:]).float().mean(dim=(0, 1, 2)) / 255
    for hand in ("hand_left", "hand_right"):
        score = scores[f"{hand}_synth"]
        assert "head" in score["context"] and 0.05 < score["coverage"] <= 1
        assert {"psnr", "ssim", "psnr_covered", "ssim_covered"} <= set(score)
        cam = episode.cameras[hand]
        visible = covisible_mask(_gt_depth(src, hand, 20), cam.trajectory.intrinsics, cam.trajectory.extrinsics,
                                 _gt_depth(src, "head", 20), head.trajectory.intrinsics, head.trajectory.extrinsics)
        assert visible.float().mean() > 0.2
        truth = torch.from_numpy(cam[:]).permute(0, 3, 1, 2).float() / 255
        synth = torch.from_numpy(back.cameras[f"{hand}_synth"][:]).permute(0, 3, 1, 2).float() / 255
        constant = head_mean.view(1, 3, 1, 1).expand_as(truth)  # the baseline: the head camera's mean colour
        ours, base = psnr(synth, truth, visible).mean().item(), psnr(constant, truth, visible).mean().item()
        assert ours > base + 4, (hand, ours, base)


def test_lerobot_output_has_synthesized_cameras_with_provenance(augmented):
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    _, out = augmented
    ds = LeRobotDataset("embodied-rerender/lerobot", root=out, video_backend="pyav")
    for cam in ("hand_left_synth", "hand_right_synth", "virtual_wrist_0", "virtual_wrist_1"):
        assert ds[5][f"observation.images.{cam}"].shape == (3, 120, 160)
        assert ds[5][f"camera.{cam}.extrinsics"].shape == (16,)
    side = json.loads((out / "meta" / "embodied_rerender.json").read_text())
    prov = side["cameras"]["hand_left_synth"]
    assert prov["generator"] == "warp" and prov["replaces"] == "hand_left" and "head" in prov["sources"]
    assert side["cameras"]["virtual_wrist_0"]["attached_to"] == "hand_left"
    assert (out / "previews").is_dir() and len(list((out / "previews").glob("*.mp4"))) == 1


def test_virtual_wrist_follows_the_wrist_at_its_offset(augmented):
    _, out = augmented
    back = LeRobotReader(out).read(LeRobotReader(out).refs()[0])
    wrist = back.cameras["hand_left"].trajectory.extrinsics
    virtual = back.cameras["virtual_wrist_0"].trajectory.extrinsics
    relative = np.linalg.inv(wrist) @ virtual  # constant: rigidly attached
    np.testing.assert_allclose(relative, np.repeat(relative[:1], len(relative), 0), atol=1e-6)
    np.testing.assert_allclose(relative[0, :3, 3], [0.0, -0.04, -0.06], atol=1e-6)


def test_eval_scores_the_written_dataset(augmented, tmp_path):
    _, out = augmented
    assert main(["eval", f"input={out}", f"output={tmp_path / 'eval'}", "sync_stride=10"]) == 0
    report = json.loads((tmp_path / "eval" / "eval.json").read_text())
    assert report["ground_truth"] and report["ground_truth"].endswith("ground_truth")  # found via report.json
    cams = report["episodes"][0]["cameras"]
    left = cams["hand_left_synth"]
    assert left["replaces"] == "hand_left" and len(left["psnr_per_frame"]) == 20
    assert left["psnr_visible"] > left["psnr"] and left["colour_consistency"] > 0.8
    assert cams["virtual_wrist_0"]["replaces"] is None and "psnr" not in cams["virtual_wrist_0"]
    assert "synthesized" in report["episodes"][0]["view_sync"] and "recorded" in report["episodes"][0]["view_sync"]
    assert len(list((tmp_path / "eval" / "plots").glob("*.png"))) == 1


def test_every_recorded_camera_is_decoded_once(augmented, tmp_path, monkeypatch):
    """The augmenter decodes the head (its source) and the wrists (their ground truth) for itself; the writer
    reads those from the same arrays instead of decoding the files again."""
    from collections import Counter

    from embodied_rerender.video import VideoReader

    src, _ = augmented
    decoded = Counter()
    read = VideoReader.read

    def counting(self, indices):
        decoded[self.path.name] += len(indices)
        return read(self, indices)

    monkeypatch.setattr(VideoReader, "read", counting)
    assert main(["augment", f"input={src}", f"output={tmp_path / 'out'}", "writer=robomimic", "samples=32",
                 "targets=[head_to_gripper]", "preview=false", "progress=false"]) == 0
    assert decoded and all(n == 20 for n in decoded.values()), decoded  # 20 frames per camera, once


def test_kept_frames_must_be_the_whole_window(augmented):
    from embodied_rerender.episode import VideoFrames

    src, _ = augmented
    (video,) = src.glob("observations/*/*/videos/head_color.mp4")
    frames = VideoFrames(video)
    with pytest.raises(ValueError, match="20 frames"):
        frames.keep(np.zeros((3, 120, 160, 3), np.uint8))
    kept = np.full((20, 120, 160, 3), 7, np.uint8)
    frames.keep(kept)
    assert (frames.read([0, 19]) == 7).all()


def test_every_lazy_source_serves_the_frames_it_was_given(tmp_path):
    """HDF5 and zarr sources (robomimic, zarr inputs) keep decoded frames like video does: once kept, reads do
    not touch the file; frames already in memory need nothing."""
    import h5py
    import zarr

    from embodied_rerender.episode import ArrayFrames
    from embodied_rerender.io.robomimic import H5Frames
    from embodied_rerender.io.zarr_io import ZarrFrames

    with h5py.File(tmp_path / "a.hdf5", "w") as f:
        f["img"] = np.zeros((5, 4, 6, 3), np.uint8)
    h5 = H5Frames(tmp_path / "a.hdf5", "img", 5, (4, 6, 3))
    h5.keep(np.full((5, 4, 6, 3), 9, np.uint8))
    (tmp_path / "a.hdf5").unlink()
    assert (h5.read([4, 0]) == 9).all()
    array = zarr.open(str(tmp_path / "z.zarr"), mode="w", shape=(6, 4, 6, 3), dtype=np.uint8)
    frames = ZarrFrames(array, 1, 4)
    with pytest.raises(ValueError, match="3 frames"):
        frames.keep(np.zeros((6, 4, 6, 3), np.uint8))
    frames.keep(np.full((3, 4, 6, 3), 5, np.uint8))
    array[:] = 1
    assert (frames.read([2, 0]) == 5).all()
    memory = ArrayFrames(np.ones((2, 4, 6, 3), np.uint8))
    memory.keep(np.zeros((2, 4, 6, 3), np.uint8))
    assert (memory.read([0, 1]) == 1).all()
