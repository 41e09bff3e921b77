"""`convert` between every pair of formats that has a reader and a writer, on small data: frames, camera
poses and low-dim arrays survive every hop. Then WebDataset's own loader reads every sample of our shards."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from writer_fixtures import LENGTHS, psnr, two_episodes

from embodied_rerender.cli import main
from embodied_rerender.io import get_reader

os.environ.setdefault("HF_HUB_OFFLINE", "1")
pytest.importorskip("lerobot")
pytest.importorskip("zarr")

READERS = ("agibot", "lerobot", "zarr", "robomimic")
WRITERS = ("lerobot", "zarr", "shards", "robomimic")
MIN_PSNR = 30.0  # lerobot re-encodes frames that are not stream copies (AV1, crf 30) and zarr's JPEG-XL is lossy
ACTION_ATOL = 1e-12  # robomimic stores actions normalized to [-1, 1]


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    root = tmp_path_factory.mktemp("matrix")
    episodes = two_episodes(root / "agibot")
    return root, episodes


def convert(src, out, writer: str, reader: str | None = None) -> dict:
    args = ["convert", f"input={src}", f"output={out}", f"writer={writer}"] + ([f"reader={reader}"] if reader else [])
    assert main(args) == 0, args
    report = json.loads((out / "report.json").read_text())
    assert [e["status"] for e in report["episodes"]] == ["written"] * len(LENGTHS), report
    return report


@pytest.fixture(scope="module")
def first_hop(source):
    """agibot -> every writer."""
    root, _ = source
    outs = {}
    for writer in WRITERS:
        outs[writer] = root / f"agibot_to_{writer}"
        convert(root / "agibot", outs[writer], writer, reader="agibot")
    return outs


def assert_survives(src_episodes, episodes, label: str) -> None:
    assert [(e.task_id, e.episode_id) for e in episodes] == [(s.task_id, s.episode_id) for s in src_episodes], label
    for src, got in zip(src_episodes, episodes):
        assert len(got) == len(src), label
        assert set(got.cameras) == set(src.cameras), label
        for name, cam in src.cameras.items():
            frames = got.cameras[name][:]
            assert frames.shape == cam[:].shape and frames.dtype == np.uint8, (label, name)
            assert psnr(frames, cam[:]) >= MIN_PSNR, (label, name, psnr(frames, cam[:]))
            np.testing.assert_allclose(got.cameras[name].trajectory.extrinsics, cam.trajectory.extrinsics,
                                       rtol=0, atol=1e-12, err_msg=f"{label} {name}")
            np.testing.assert_allclose(got.cameras[name].trajectory.intrinsics_per_frame(),
                                       cam.trajectory.intrinsics_per_frame(), rtol=0, atol=1e-9, err_msg=f"{label} {name}")
        for group in ("state", "action"):
            a, b = getattr(src, group), getattr(got, group)
            assert list(b) == list(a), (label, group)
            for key in a:
                atol = ACTION_ATOL if group == "action" else 0.0
                np.testing.assert_allclose(b[key], a[key], rtol=0, atol=atol, err_msg=f"{label} {group} {key}")


def read_all(path, reader: str):
    r = get_reader(reader, path)
    return [r.read(ref) for ref in r.refs()]


def shard_samples(path) -> list[dict]:
    """Every sample of the shards at `path` as WebDataset's default pipeline with `.decode("rgb")` gives it."""
    webdataset = pytest.importorskip("webdataset")
    manifest = json.loads((path / "manifest.json").read_text())
    urls = [str(path / s["name"]) for s in manifest["shards"]]
    return list(webdataset.WebDataset(urls, shardshuffle=False).decode("rgb"))


def assert_shards_match(src_episodes, path, label: str) -> None:
    samples = shard_samples(path)
    assert len(samples) == sum(LENGTHS), label
    manifest = json.loads((path / "manifest.json").read_text())
    i = 0
    for src in src_episodes:
        for t in range(len(src)):
            sample = samples[i]
            i += 1
            assert sample["json"]["frame"] == t and sample["__key__"].endswith(f"_{t:06d}"), label
            last = manifest["obs_horizon"] - 1
            for name, cam in src.cameras.items():
                image = sample[f"{name}.{last}.jpg"]  # decode("rgb"): float32 HWC in [0, 1]
                frame = np.round(np.asarray(image) * 255).astype(np.uint8)
                assert psnr(frame, cam[t]) >= MIN_PSNR, (label, name, t)
            lowdim = sample["lowdim.npz"]
            assert lowdim["state"].shape[0] == manifest["obs_horizon"] and lowdim["action"].shape[0] == manifest["action_horizon"]


def test_webdataset_reads_every_sample(source, first_hop):
    _, src_episodes = source
    assert_shards_match(src_episodes, first_hop["shards"], "agibot->shards")


@pytest.mark.slow
def test_convert_between_every_pair(source, first_hop):
    root, src_episodes = source
    for writer, out in first_hop.items():
        if writer != "shards":
            assert_survives(src_episodes, read_all(out, writer), f"agibot->{writer}")
    for reader in READERS[1:]:
        for writer in WRITERS:
            label = f"agibot->{reader}->{writer}"
            out = root / f"{reader}_to_{writer}"
            convert(first_hop[reader], out, writer)  # the reader is detected from the input
            if writer == "shards":
                assert_shards_match(src_episodes, out, label)
            else:
                assert_survives(src_episodes, read_all(out, writer), label)
