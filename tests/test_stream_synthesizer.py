"""`generator=stream` (issue 13, one synthesis interface): the streaming engine behind the Synthesizer protocol.

`augment generator=stream` writes exactly the frames `StreamEngine` emits for the same source and target; the
synthesizer's output has the protocol's shapes and dtypes, its depth and coverage are the engine's warp prior;
its config goes into the written camera's provenance; by default it loads the shipped student, as the `stream`
verb does. Tiny sizes and a tiny student, CPU (the shipped one takes a second a frame here)."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from embodied_rerender.cli import main
from embodied_rerender.generate import SYNTHESIZERS, StreamSynthesizer, get_synthesizer
from embodied_rerender.io import get_reader
from embodied_rerender.memory import View
from embodied_rerender.models import FlowConfig, save_model
from embodied_rerender.models.causal import CausalConfig, CausalDiT, load_student
from embodied_rerender.pipeline.targets import head_to_gripper
from embodied_rerender.stream import StreamEngine
from embodied_rerender.stream.run import default_checkpoint
from embodied_rerender.stream.sources import episode_items

os.environ.setdefault("HF_HUB_OFFLINE", "1")
FRAMES, H, W = 17, 48, 64  # the sample's shortest episode


pytestmark = pytest.mark.usefixtures("one_thread")  # conftest.py


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    root = tmp_path_factory.mktemp("stream_synth") / "agibot"
    assert main(["sample", f"output={root}", "episodes=1", f"frames={FRAMES}", f"width={W}", f"height={H}",
                 "progress=false"]) == 0
    return root


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A tiny hybrid student (`.safetensors` + `.json`, as distillation writes it), 2 noise levels per frame."""
    torch.manual_seed(0)
    student = CausalDiT(CausalConfig(height=12, width=16, patch=4, dim=32, depth=2, heads=2, cam_dim=8, sink=1,
                                     window=3, rope_period=16))
    for p in student.parameters():  # zero-initialised gates would make every output the same
        if p.abs().sum() == 0:
            torch.nn.init.normal_(p, std=0.05)
    return save_model(tmp_path_factory.mktemp("student") / "student", student, FlowConfig(steps=2),
                      {"stream": {"steps": 2, "shift": 3.0}})


def episode(root):
    reader = get_reader("agibot", str(root))
    return reader.read(next(iter(reader.refs())))


def head_view(ep) -> View:
    head = ep.cameras["head"]
    return View("head", head[:], head.read_depth(slice(None)), head.trajectory, 0, {"recorded": True})


def engine_frames(ep, target, checkpoint) -> np.ndarray:
    """`(T, H, W, 3)` uint8: the head camera through a `StreamEngine` along `target`, as the `stream` verb runs it."""
    student, config = load_student(checkpoint)
    trained = config.get("stream", {})
    traj = target.trajectory
    engine = StreamEngine(student, steps=trained.get("steps", 4), shift=trained.get("shift", 1.0),
                          size=(traj.height, traj.width))
    out = [f for item in episode_items(ep, traj, "head") for f in engine.push(item)] + engine.flush()
    return np.stack([f.frame for f in out])


def test_augment_generator_stream_writes_the_engines_frames(sample, checkpoint, tmp_path):
    out = tmp_path / "zarr"
    assert main(["augment", f"input={sample}", f"output={out}", "generator=stream", f"checkpoint={checkpoint}",
                 "writer=zarr",
                 "zarr.image_codec=zstd", "targets=[head_to_gripper]", "samples=64", "preview=false",
                 "progress=false"]) == 0
    got = get_reader("zarr", str(out))
    written = got.read(got.refs()[0])
    ep = episode(sample)
    first = head_to_gripper(ep)[0]  # the first target's only context is the recorded head (later ones may retrieve it)
    cam = written.cameras[first.name]
    np.testing.assert_array_equal(cam[:], engine_frames(ep, first, checkpoint))  # zstd: lossless
    prov = cam.provenance
    assert prov["generator"] == "stream" and prov["sources"][0] == "head"
    assert prov["config"]["checkpoint"] == str(checkpoint) and prov["config"]["seed"] == 0
    assert prov["config"]["steps"] == 2 and prov["config"]["shift"] == 3.0
    assert prov["config"]["model"]["backbone"] == "causal"
    assert {"hand_left_synth", "hand_right_synth"} <= set(written.cameras)


def test_the_default_is_the_shipped_student_of_the_stream_verb():
    synth = get_synthesizer("stream", device="cpu")
    assert SYNTHESIZERS["stream"] is StreamSynthesizer and synth.name == "stream"
    assert synth.checkpoint == default_checkpoint() and synth.student.cfg.hybrid
    assert synth.steps == 4 and synth.shift == 3.0  # the schedule it was distilled with (its .json)


def test_stream_synthesizer_output_is_the_protocols_and_its_prior_the_engines(sample, checkpoint):
    from embodied_rerender.stream.sources import view_items

    ep = episode(sample)
    target = head_to_gripper(ep)[0].trajectory
    synth = get_synthesizer("stream", checkpoint=checkpoint, device="cpu")
    view = head_view(ep)
    out = synth.synthesize([view, view], target, 0, torch.Generator().manual_seed(5))  # k = 2: the first is used
    n = len(target)
    assert out.frames.shape == (n, target.height, target.width, 3) and out.frames.dtype == np.uint8
    assert out.depth.shape == (n, target.height, target.width) and out.depth.dtype == np.float32
    assert out.covered.shape == (n, target.height, target.width) and out.covered.dtype == bool
    assert 0 < out.covered.mean() < 1 and (out.depth > 0).all()  # holes filled, as the warp's depth
    engine = StreamEngine(synth.student, steps=synth.steps, shift=synth.shift, size=(target.height, target.width))
    frames = [f for item in view_items(view, target) for f in engine.push(item)] + engine.flush()
    np.testing.assert_array_equal(out.frames, np.stack([f.frame for f in frames]))
    np.testing.assert_array_equal(out.covered, np.stack([f.covered.numpy() for f in frames]))
    np.testing.assert_array_equal(out.depth, np.stack([f.depth.numpy() for f in frames]))
    assert len(synth.stats) == 1 and synth.stats[0]["frames"] == n


def test_stream_synthesizer_clamps_a_short_view_and_takes_options(sample, tmp_path):
    """A context view shorter than the target repeats its last frame (as the warp does); a non-hybrid student has
    no prior: depth 0 and nothing covered, as for generator=learned; config() carries what reproduces the view."""
    torch.manual_seed(0)
    student = CausalDiT(CausalConfig(height=12, width=16, patch=4, dim=32, depth=2, heads=2, cam_dim=8, sink=1,
                                     window=3, rope_period=16, prior_channels=0))
    path = save_model(tmp_path / "student", student, FlowConfig(steps=2), {"stream": {"steps": 2, "shift": 1.0}})
    synth = StreamSynthesizer(checkpoint=path, window=2, seed=3)
    assert synth.config()["steps"] == 2 and synth.config()["window"] == 2 and synth.config()["seed"] == 3
    ep = episode(sample)
    view = head_view(ep)
    short = View("head", view.frames[:3], view.depth[:3], view.trajectory.subset(range(3)), 0)
    target = head_to_gripper(ep)[0].trajectory
    out = synth.synthesize([short], target, 0)
    assert out.frames.shape[0] == len(target) and not out.covered.any() and not out.depth.any()
    with pytest.raises(ValueError, match="divide"):
        StreamSynthesizer(checkpoint=path, window=3)
