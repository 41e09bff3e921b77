"""Multi-shot held-out scoring (evaluation.shots): 12 targets per sample episode with MuJoCo-rendered ground truth,
synthesized in order through one memory bank, summarized at 3/6/9/12 shots with view synchronization."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("mujoco")

from embodied_rerender.generate import WarpSynthesizer  # noqa: E402
from embodied_rerender.sample import write_sample_dataset  # noqa: E402
from embodied_rerender.evaluation import BankOptions  # noqa: E402
from embodied_rerender.evaluation.shots import SHOT_COUNTS, evaluate, load_shots, pack_shots, summarize  # noqa: E402


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    root = tmp_path_factory.mktemp("shots")
    write_sample_dataset(root / "agibot", episodes=1, frames=17, seed=5, width=64, height=48, progress=False)
    return pack_shots(root / "agibot", root / "shots", progress=False)


def test_pack_shots_holds_twelve_targets_with_ground_truth(shards):
    episode, targets, truth = load_shots(shards[0])
    assert [t.name for t in targets][:2] == ["hand_left", "hand_right"]
    assert len(targets) == 12 and len({t.name for t in targets}) == 12
    assert set(episode.cameras) == {"head"} and episode.cameras["head"].depth is not None
    assert episode.state["effector.position"].shape[0] == 17  # the gripper opening, for self parts
    for t in targets:
        assert truth[t.name].shape == (17, 48, 64, 3) and truth[t.name].dtype == np.uint8
        assert truth[t.name].std() > 5, t.name  # a real render, not a blank
    assert not np.array_equal(truth["orbit_0"], truth["orbit_1"])


def test_evaluate_scores_every_shot_and_sync_at_each_count(shards):
    rows, sync = evaluate(shards, {"warp": WarpSynthesizer()}, sync_stride=8, bank=BankOptions(samples=64))
    assert [r["shot"] for r in rows if r["setting"] == "warp"] == list(range(1, 13))
    assert all(np.isfinite(r["psnr"]) for r in rows)
    summary = summarize(rows, sync)
    assert [s["shots"] for s in summary] == list(SHOT_COUNTS)
    assert all(s["sync_truth"] is not None and s["sync"] is not None for s in summary)


def test_retrieval_rows_use_their_rule(shards):
    from embodied_rerender.evaluation.shots import RETRIEVAL

    warp_rows = [r for r in RETRIEVAL if r.generator == "warp"]
    assert [r.retrieval for r in warp_rows] == ["covisibility", "pose", "random"]
    rows, _ = evaluate(shards, {"warp": WarpSynthesizer()}, warp_rows, sync_stride=8, bank=BankOptions(samples=64))
    context = {label: [r["context"] for r in rows if r["setting"] == label] for label in {r["setting"] for r in rows}}
    assert sorted(context) == ["warp", "warp, pose distance", "warp, random context"]
    assert all(len(c) == 12 for c in context.values())
    assert context["warp, random context"] != context["warp"]
