"""robomimic's own loaders on our robomimic output: `SequenceDataset` with its constructor defaults
(next_obs loaded, no cache, SWMR) and as robomimic's `dataset_factory` builds it from the BC and IQL configs'
defaults (hdf5_cache_mode "all"; IQL loads next_obs), its shape metadata, and `scripts/get_dataset_info.py`
(which fails unless actions lie in [-1, 1])."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from writer_fixtures import LENGTHS, two_episodes

pytest.importorskip("h5py")
pytest.importorskip("robomimic")

from embodied_rerender.io.policy import action_vector  # noqa: E402
from embodied_rerender.io.robomimic import RobomimicWriter  # noqa: E402


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("robomimic")
    episodes = two_episodes(root / "agibot")
    writer = RobomimicWriter(valid_fraction=0.5)
    dirs = [root / f"ep{i}" for i in range(len(episodes))]
    for ep, d in zip(episodes, dirs):
        writer.write_episode(ep, d)
    writer.merge(dirs, root / "out")
    return episodes, root / "out" / "data.hdf5"


OBS_KEYS = ["effector.position", "hand_left_image", "head_image", "joint.position"]


def init_obs_utils():
    import robomimic.utils.obs_utils as ObsUtils

    ObsUtils.initialize_obs_utils_with_obs_specs({"obs": {"low_dim": ["joint.position", "effector.position"],
                                                          "rgb": ["head_image", "hand_left_image"]}})


def test_sequence_dataset_constructor_defaults(dataset):
    from robomimic.utils.dataset import SequenceDataset

    episodes, path = dataset
    init_obs_utils()
    ds = SequenceDataset(str(path), obs_keys=OBS_KEYS, dataset_keys=("actions", "rewards", "dones"))
    assert ds.load_next_obs and len(ds) == sum(LENGTHS)
    for i in range(len(ds)):
        item = ds[i]
        assert set(item["next_obs"]) == set(OBS_KEYS) and np.all(np.abs(item["actions"]) <= 1.0)
    last = ds[LENGTHS[0] - 1]  # the last step of demo_0: next_obs repeats it
    np.testing.assert_array_equal(last["next_obs"]["head_image"], last["obs"]["head_image"])
    np.testing.assert_array_equal(ds[0]["next_obs"]["head_image"][0], episodes[0].cameras["head"][1])


@pytest.mark.parametrize("algo", ["bc", "iql"])
def test_dataset_factory_with_config_defaults(dataset, algo):
    import robomimic.utils.file_utils as FileUtils
    import robomimic.utils.obs_utils as ObsUtils
    import robomimic.utils.train_utils as TrainUtils
    from robomimic.config import config_factory

    episodes, path = dataset
    config = config_factory(algo)
    with config.values_unlocked():
        config.train.data = str(path)
        config.observation.modalities.obs.low_dim = ["joint.position", "effector.position"]
        config.observation.modalities.obs.rgb = ["head_image", "hand_left_image"]
    ObsUtils.initialize_obs_utils_with_config(config)
    obs_keys = config.all_obs_keys
    shape_meta = FileUtils.get_shape_metadata_from_dataset(str(path), all_obs_keys=obs_keys)
    assert shape_meta["ac_dim"] == action_vector(episodes[0]).width == 22
    assert shape_meta["all_shapes"]["head_image"] == [3, 24, 32]  # robomimic's CHW view of our HWC uint8
    env_meta = FileUtils.get_env_metadata_from_dataset(str(path))
    assert env_meta["type"] == 2 and env_meta["env_name"]

    for split in ("train", "valid"):
        ds = TrainUtils.dataset_factory(config, obs_keys, filter_by_attribute=split)
        assert len(ds) == sum(LENGTHS[int(d[5:])] for d in ds.demos)
        for i in range(len(ds)):
            item = ds[i]
            assert set(item["obs"]) == set(obs_keys)
            assert ("next_obs" in item) == config.train.hdf5_load_next_obs
            assert item["actions"].shape == (1, shape_meta["ac_dim"])
            assert np.all(np.abs(item["actions"]) <= 1.0)
    ds = TrainUtils.dataset_factory(config, obs_keys, filter_by_attribute="train")
    demo = ds.demos[0]
    src = episodes[int(demo[5:])]
    first = ds[0]
    np.testing.assert_array_equal(first["obs"]["head_image"][0], src.cameras["head"][0])
    if config.train.hdf5_load_next_obs:
        np.testing.assert_array_equal(first["next_obs"]["head_image"][0], src.cameras["head"][1])
    np.testing.assert_array_equal(first["obs"]["joint.position"][0], src.state["joint.position"][0])


def test_get_dataset_info_accepts_it(dataset):
    _, path = dataset
    proc = subprocess.run([sys.executable, "-m", "robomimic.scripts.get_dataset_info", "--dataset", str(path)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert f"total transitions: {sum(LENGTHS)}" in proc.stdout
    meta = proc.stdout.split("==== Env Meta ====")[1].split("==== Dataset Structure ====")[0]
    assert json.loads(meta)["type"] == 2


def test_sequence_dataset_reads_lzf_output(tmp_path):
    """`robomimic.compression=lzf` (h5py's built-in fast filter, the fast choice for large GPU augments,
    docs/benchmarks.md): robomimic's loader reads the same frames."""
    from robomimic.utils.dataset import SequenceDataset

    episodes = two_episodes(tmp_path / "agibot")
    writer = RobomimicWriter(compression="lzf", valid_fraction=0.5)
    dirs = [tmp_path / f"ep{i}" for i in range(len(episodes))]
    for ep, d in zip(episodes, dirs):
        writer.write_episode(ep, d)
    writer.merge(dirs, tmp_path / "out")
    init_obs_utils()
    ds = SequenceDataset(str(tmp_path / "out" / "data.hdf5"), obs_keys=OBS_KEYS, dataset_keys=("actions",))
    assert len(ds) == sum(LENGTHS)
    np.testing.assert_array_equal(ds[LENGTHS[0]]["obs"]["head_image"][0], episodes[1].cameras["head"][0])
