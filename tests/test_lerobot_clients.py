"""lerobot's own code on our augmented LeRobot output, with its defaults, as a new user runs it: the policy
factory, `LeRobotDataset` with the default video backend (torchcodec), `dataset_tools` split and merge, and
`lerobot-train` (ACT, CPU, two steps, offline). One small augmented dataset (2 sample episodes) serves all."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from writer_fixtures import psnr

pytest.importorskip("lerobot")

from embodied_rerender.cli import main  # noqa: E402
from embodied_rerender.io.lerobot import LeRobotReader  # noqa: E402

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO_ID = "local/aug"
FRAMES = 17  # the sample's shortest episode
MIN_PSNR = 25.0  # dB; lerobot's split re-encodes the videos it cuts (AV1, at 64x48 about 29 dB)
CAMERAS = ("head", "hand_left", "hand_right", "head_center_fisheye", "head_left_fisheye", "head_right_fisheye",
           "back_left_fisheye", "back_right_fisheye", "hand_left_synth", "hand_right_synth")


@pytest.fixture(scope="module")
def augmented(tmp_path_factory) -> Path:
    """`sample` (2 episodes, 64x48) then `augment generator=warp targets=[head_to_gripper]` to LeRobot."""
    root = tmp_path_factory.mktemp("clients")
    src, out = root / "src", root / "aug"
    assert main(["sample", f"output={src}", "episodes=2", f"frames={FRAMES}", "width=64", "height=48", "progress=false"]) == 0
    assert main(["augment", f"input={src}", f"output={out}", "generator=warp", "targets=[head_to_gripper]",
                 "preview=false", "progress=false"]) == 0
    return out


def policy_feature_types(features: dict) -> dict[str, str]:
    from lerobot.datasets.utils import dataset_to_policy_features

    return {k: ft.type.name for k, ft in dataset_to_policy_features(features).items()}


EXPECTED_TYPES = {**{f"observation.images.{c}": "VISUAL" for c in CAMERAS}, "observation.state": "STATE", "action": "ACTION"}


def test_policy_factory_sees_only_images_state_and_action(augmented):
    """`dataset_to_policy_features` (what `make_policy` calls) and ACT built by `make_policy` take the videos, the
    20-d state and the 22-d action, and nothing else (no camera poses, raw proprio groups or timestamps)."""
    from lerobot.datasets.lerobot_dataset import LeRobotDatasetMetadata
    from lerobot.policies.act.configuration_act import ACTConfig
    from lerobot.policies.factory import make_policy

    meta = LeRobotDatasetMetadata(REPO_ID, root=augmented)
    assert policy_feature_types(meta.features) == EXPECTED_TYPES
    assert meta.features["observation.state"]["shape"] == (20,) and meta.features["action"]["shape"] == (22,)
    policy = make_policy(ACTConfig(device="cpu", pretrained_backbone_weights=None), ds_meta=meta)
    assert set(policy.config.input_features) == set(EXPECTED_TYPES) - {"action"}
    assert set(policy.config.output_features) == {"action"}


def test_default_video_backend_decodes_what_pyav_decodes(augmented):
    """`LeRobotDataset` with no video_backend picks torchcodec (FFmpeg libraries installed) and its frames equal PyAV's."""
    import torch
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    default = LeRobotDataset(REPO_ID, root=augmented)
    pyav = LeRobotDataset(REPO_ID, root=augmented, video_backend="pyav")
    assert default.video_backend == "torchcodec" and len(default) == 2 * FRAMES
    for i in (0, FRAMES // 2, FRAMES - 1, FRAMES, len(default) - 1):
        a, b = default[i], pyav[i]
        for cam in CAMERAS:
            key = f"observation.images.{cam}"
            assert a[key].shape[0] == 3 and torch.equal(a[key], b[key]), (i, key)
        assert torch.equal(a["observation.state"], b["observation.state"]) and a["action"].shape == (22,)


def test_dataset_tools_split_and_merge(augmented, tmp_path):
    """lerobot's `split_dataset` then `merge_datasets` give back the episodes, frames and arrays we wrote."""
    from lerobot.datasets.dataset_tools import merge_datasets, split_dataset
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    ds = LeRobotDataset(REPO_ID, root=augmented, video_backend="pyav")
    parts = split_dataset(ds, splits={"a": [0], "b": [1]}, output_dir=tmp_path / "split")
    assert [parts[k].meta.total_episodes for k in ("a", "b")] == [1, 1] and len(parts["b"]) == FRAMES
    merged = merge_datasets([parts["a"], parts["b"]], output_repo_id="local/merged", output_dir=tmp_path / "merged")
    assert merged.meta.total_episodes == 2 and len(merged) == len(ds)
    assert policy_feature_types(merged.meta.features) == EXPECTED_TYPES
    ours, back = LeRobotReader(augmented), LeRobotReader(tmp_path / "merged")  # lerobot drops our sidecar; arrays stay
    for ref_a, ref_b in zip(ours.refs(), back.refs()):
        a, b = ours.read(ref_a), back.read(ref_b)
        assert set(b.cameras) == set(CAMERAS) and len(b) == len(a)
        for group in ("state", "action"):
            for key, value in getattr(a, group).items():
                np.testing.assert_array_equal(getattr(b, group)[key].reshape(len(b), -1), value.reshape(len(a), -1))
        np.testing.assert_array_equal(b.cameras["hand_left_synth"].trajectory.extrinsics,
                                      a.cameras["hand_left_synth"].trajectory.extrinsics)
        x, y = a.cameras["head"][:], b.cameras["head"][:]  # split re-encodes the kept episodes' videos
        assert psnr(y, x) >= MIN_PSNR and psnr(y[1:], x[:-1]) < psnr(y, x) - 5, "frames lost or shifted"


def lerobot_train() -> list[str]:
    """The venv's `lerobot-train` console script (beside this Python), else the module."""
    script = Path(sys.executable).with_name("lerobot-train")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "lerobot.scripts.lerobot_train"]


def test_lerobot_train_act_two_steps(augmented, tmp_path):
    """`lerobot-train` with the README's offline command (default video backend) trains ACT on exactly the
    images and `observation.state` to predict `action`; its saved config says so."""
    out = tmp_path / "train"
    cmd = lerobot_train() + [
        "--policy.type=act", f"--dataset.repo_id={REPO_ID}", f"--dataset.root={augmented}", "--policy.device=cpu",
        "--policy.push_to_hub=false", "--policy.pretrained_backbone_weights=null", "--wandb.enable=false",
        "--steps=2", "--batch_size=2", "--num_workers=0", f"--output_dir={out}", "--save_freq=2"]
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
    assert proc.returncode == 0, proc.stderr[-4000:]
    config = json.loads((out / "checkpoints" / "000002" / "pretrained_model" / "config.json").read_text())
    assert set(config["input_features"]) == set(EXPECTED_TYPES) - {"action"}
    assert config["input_features"]["observation.state"]["shape"] == [20]
    assert set(config["output_features"]) == {"action"} and config["output_features"]["action"]["shape"] == [22]
    train_config = json.loads((out / "checkpoints" / "000002" / "pretrained_model" / "train_config.json").read_text())
    assert train_config["dataset"]["video_backend"] == "torchcodec"
