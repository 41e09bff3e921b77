"""The evaluation package: one loop (`evaluation.runner.run_setting`) behind every table, scoring as before.

A warp synthesizer scored through the loop gives the same numbers as the code path the tables used before the
package existed (seed the bank, run the autoregressive loop, `score_views` per shot), and every entry point
(the `eval` verb's tables and the train verb's validation) goes through `run_setting`."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

pytest.importorskip("mujoco")

from embodied_rerender.cli import main  # noqa: E402
from embodied_rerender.evaluation import BankOptions, Setting, heldout, runner, shots, stream, validation  # noqa: E402
from embodied_rerender.generate import StreamSynthesizer, WarpSynthesizer, run_autoregressive, seed_bank  # noqa: E402
from embodied_rerender.io import get_reader  # noqa: E402
from embodied_rerender.memory import MemoryBank, View  # noqa: E402
from embodied_rerender.metrics import score_views  # noqa: E402
from embodied_rerender.models.causal import CausalConfig, CausalDiT  # noqa: E402
from embodied_rerender.pipeline.targets import head_to_gripper  # noqa: E402
from embodied_rerender.sample import write_sample_dataset  # noqa: E402

FRAMES, SAMPLES = 17, 64


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    root = tmp_path_factory.mktemp("evaluation") / "agibot"
    write_sample_dataset(root, episodes=1, frames=FRAMES, seed=3, width=64, height=48, progress=False)
    return root


def episode(root):
    reader = get_reader("agibot", str(root))
    return reader.read(next(iter(reader.refs())))


def tiny_student() -> CausalDiT:
    torch.manual_seed(0)
    model = CausalDiT(CausalConfig(height=12, width=16, patch=4, dim=32, depth=2, heads=2, cam_dim=8, sink=1, window=3,
                                   rope_period=16))
    for p in model.parameters():  # zero-initialised gates would make every output the same
        if p.abs().sum() == 0:
            torch.nn.init.normal_(p, std=0.05)
    return model.eval()


def test_heldout_warp_scores_equal_the_pre_package_loop(sample):
    ep = episode(sample)
    bank = MemoryBank(0.05, 2.5, SAMPLES)  # the pre-package path, as train/evaluate.py wrote it
    seed_bank(ep, ["head"], bank)
    steps = run_autoregressive(bank, head_to_gripper(ep), WarpSynthesizer(), 4, "covisibility", 0)
    before = [score_views(s.synthesis.frames, ep.cameras[s.target.ground_truth][:], s.synthesis.covered) for s in steps]

    rows = heldout.evaluate([episode(sample)], {"warp": WarpSynthesizer()}, [Setting("warp k=4", "warp", 4)],
                            bank=BankOptions(samples=SAMPLES), sync_stride=0)
    assert [r["target"] for r in rows] == ["hand_left_synth", "hand_right_synth"]
    for row, old in zip(rows, before):
        assert {k: row[k] for k in old} == old
        assert np.isfinite(row["psnr"]) and 0 < row["coverage"] <= 1


def test_stream_table_scores_equal_the_pre_package_path(sample, tmp_path):
    from embodied_rerender.models import FlowConfig, save_model
    from embodied_rerender.stream import StreamEngine
    from embodied_rerender.stream.sources import episode_items

    ep, student, n = episode(sample), tiny_student(), 6
    head = ep.cameras["head"]
    view = View("head", head[:n], head.read_depth(slice(0, n)), head.trajectory.subset(range(n)))
    checkpoint = save_model(tmp_path / "student", student, FlowConfig())  # no "stream" entry: shift 1.0
    rows = stream.evaluate_stream([episode(sample)], {"student": StreamSynthesizer(checkpoint, steps=2),
                                                      "warp": WarpSynthesizer()}, frames=n, sync_stride=3)
    assert [r["target"] for r in rows] == ["hand_left_synth", "hand_right_synth"]
    for target, row in zip(head_to_gripper(ep), rows):  # the pre-package stream/evaluate.py path
        traj, truth = target.trajectory.subset(range(n)), ep.cameras[target.ground_truth][:n]
        warp = WarpSynthesizer().synthesize([view], traj, 0)
        engine = StreamEngine(student, steps=2, size=(traj.height, traj.width))
        out = np.stack([f.frame for it in episode_items(ep, traj, "head", n) for f in engine.push(it)]
                       + [f.frame for f in engine.flush()])
        for method, frames in (("warp", warp.frames), ("student", out)):
            old = score_views(frames, truth, warp.covered)
            assert {k: row[method][k] for k in old} == old, method
        assert row["student"]["fps"] is not None and "sync_source" in row["ground_truth"]


@pytest.fixture
def spy(monkeypatch):
    """Counts the calls of `run_setting` made from each table module."""
    calls = []

    def counted(*args, **kwargs):
        calls.append(kwargs.get("truth") is not None)
        return runner.run_setting(*args, **kwargs)

    for module in (heldout, shots, stream, validation):
        monkeypatch.setattr(module, "run_setting", counted)
    return calls


def test_eval_verb_heldout_table_goes_through_the_loop(sample, tmp_path, spy):
    out = tmp_path / "heldout"
    assert main(["eval", "table=heldout", f"input={sample}", f"output={out}", "device=cpu", f"samples={SAMPLES}",
                 "sync_stride=4"]) == 0
    report = json.loads((out / "eval.json").read_text())
    labels = {s["setting"] for s in report["summary"]}
    assert labels == {"warp k=4", "warp k=1 covis"} and len(spy) == 2  # no checkpoints given: warp rows only
    assert all(r["view_sync"] is not None for r in report["rows"])


def test_eval_verb_heldout_table_scores_the_stream_generator_through_the_loop(sample, tmp_path, spy):
    from embodied_rerender.models import FlowConfig, save_model

    student = save_model(tmp_path / "student", tiny_student(), FlowConfig(), {"stream": {"steps": 2, "shift": 1.0}})
    out = tmp_path / "heldout"
    assert main(["eval", "table=heldout", f"input={sample}", f"output={out}", "device=cpu", f"samples={SAMPLES}",
                 "sync_stride=4", "frames=5", f"stream={student}"]) == 0
    report = json.loads((out / "eval.json").read_text())
    assert {s["setting"] for s in report["summary"]} == {"warp k=4", "warp k=1 covis", "stream k=1 covis"}
    assert len(spy) == 3
    rows = [r for r in report["rows"] if r["generator"] == "stream"]
    assert len(rows) == 2 and all(np.isfinite(r["psnr"]) and 0 < r["coverage"] <= 1 for r in rows)


def test_eval_verb_shots_table_goes_through_the_loop(sample, tmp_path, spy):
    shards = shots.pack_shots(sample, tmp_path / "shots", progress=False)
    assert main(["eval", "table=shots", f"input={tmp_path / 'shots'}", f"output={tmp_path / 'out'}", "device=cpu",
                 f"samples={SAMPLES}", "sync_stride=4"]) == 0
    report = json.loads((tmp_path / "out" / "eval.json").read_text())
    assert len(shards) == 1 and spy == [True]  # one warp setting, scored against the rendered ground truth
    assert [s["shots"] for s in report["summary"]] == list(shots.SHOT_COUNTS)


def test_eval_verb_stream_table_goes_through_the_loop(sample, tmp_path, spy):
    from embodied_rerender.models.checkpoint import save_model
    from embodied_rerender.models.flow import FlowConfig

    save_model(tmp_path / "student", tiny_student(), FlowConfig(steps=2))
    out = tmp_path / "stream"
    assert main(["eval", "table=stream", f"input={sample}", f"student={tmp_path / 'student.safetensors'}",
                 f"output={out}", "device=cpu", "frames=5", "steps=2"]) == 0
    summary = json.loads((out / "eval.json").read_text())["summary"]
    assert summary["n"] == 2 and summary["student"]["psnr"] is not None and summary["warp"]["psnr"] is not None
    assert len(spy) == 2  # student and warp (no teacher given), each over both wrists


def test_train_validation_goes_through_the_loop(sample, tmp_path, spy):
    from embodied_rerender.train.data import pack_eval

    from embodied_rerender.models.checkpoint import save_model
    from embodied_rerender.models.dit import DiTConfig, VideoDiT
    from embodied_rerender.models.flow import FlowConfig

    torch.manual_seed(0)  # a tiny hybrid model: the loop, not the model's quality, is under test
    save_model(tmp_path / "hybrid", VideoDiT(DiTConfig(height=12, width=16, frames=4, patch=4, patch_t=2, dim=32,
                                                       depth=2, heads=2, cam_dim=8)), FlowConfig(steps=2))
    shards = pack_eval(sample, tmp_path / "eval", progress=False)
    report = validation.validate(shards, tmp_path / "hybrid.safetensors", "hybrid", k=1)
    cams = {r["camera"] for r in report["rows"]}
    assert cams == {"hand_left", "hand_right"} and len(spy) == 2 * len(cams)
    assert report["summary"]["warp"]["psnr"] is not None and report["summary"]["model_minus_warp_psnr"] is not None


def test_eval_refuses_a_missing_input_and_an_unknown_table(tmp_path, capsys):
    assert main(["eval", "table=heldout", f"input={tmp_path / 'nope'}"]) == 1
    assert "does not exist" in capsys.readouterr().err
    assert main(["eval", "table=bogus", f"input={tmp_path}"]) == 1
