"""LoopAug: loop builders close exactly, loop samples' revisit frames are identical, the loop-closure metric
is zero for a perfect loop and grows with a perturbed one, and training mixes loop samples with holes masked."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from embodied_rerender.geometry.loops import closed_orbit, find_revisits, head_gripper_head, loop_timing, out_and_back
from embodied_rerender.geometry.trajectory import orbit
from embodied_rerender.metrics.loop import loop_closure, static_from_depth

os.environ.setdefault("MUJOCO_GL", "osmesa")


def _path(n: int, x0: float = 0.0) -> torch.Tensor:
    return orbit(torch.tensor([x0, 0.0, 0.0], dtype=torch.float64), 0.6, 0.4, n, arc_deg=70)


def _identical(c2w: torch.Tensor, pairs: torch.Tensor) -> bool:
    return all(torch.equal(c2w[i], c2w[j]) for i, j in pairs.tolist())


def test_out_and_back_closes_exactly_and_pairs_mirror_frames():
    loop = out_and_back(_path(7))
    assert loop.c2w.shape == (13, 4, 4) and torch.equal(loop.c2w[0], loop.c2w[-1])
    assert loop.revisits.tolist() == [[i, 12 - i] for i in range(6)] and _identical(loop.c2w, loop.revisits)
    even = out_and_back(_path(7), frames=10)  # over a fixed clock: the turn is held, not a revisit
    assert len(even.c2w) == 10 and [4, 5] not in even.revisits.tolist() and _identical(even.c2w, even.revisits)


@pytest.mark.parametrize("moving", [False, True])
def test_head_gripper_head_starts_and_ends_at_the_head_and_turns_at_the_wrist(moving):
    head, wrist = _path(9), _path(9, 0.3)
    if not moving:
        head, wrist = head[0], wrist[4]
    loop = head_gripper_head(head, wrist, frames=9, dwell=0.1)
    h0 = head[0] if moving else head
    assert torch.equal(loop.c2w[0], h0) and torch.equal(loop.c2w[-1], loop.c2w[0])
    assert torch.equal(loop.c2w[4], wrist[4] if moving else wrist)  # alpha 1 at the turn: the wrist pose exactly
    assert len(loop.revisits) == 4 and _identical(loop.c2w, loop.revisits)
    a = loop_timing(9, 0.1)
    assert torch.equal(a, a.flip(0)) and a[0] == 0 and a[4] == 1 and bool((a[1:5] >= a[:4]).all())


def test_closed_orbit_repeats_its_poses_each_lap():
    loop = closed_orbit(torch.zeros(3), 0.2, frames=13, laps=2, look_at=torch.tensor([0.0, 0.0, -1.0]))
    assert torch.equal(loop.c2w[0], loop.c2w[-1]) and _identical(loop.c2w, loop.revisits)
    assert {(0, 6), (0, 12), (6, 12), (3, 9)} <= {tuple(p) for p in loop.revisits.tolist()}
    centres = loop.c2w[:, :3, 3]
    assert torch.allclose(centres.norm(dim=1), torch.full((13,), 0.2, dtype=torch.float64))


def test_revisits_are_found_from_stored_poses_but_not_for_a_camera_standing_still():
    loop = head_gripper_head(_path(11), _path(11, 0.3), dwell=0.2)
    noisy = loop.c2w.clone()
    noisy[:, :3, 3] += 1e-5 * torch.randn(noisy.shape[0], 3, generator=torch.Generator().manual_seed(0), dtype=noisy.dtype)
    assert {tuple(p) for p in find_revisits(noisy).tolist()} == {tuple(p) for p in loop.revisits.tolist()}
    still = _path(1).expand(8, 4, 4)
    assert len(find_revisits(still)) == 0


def _texture(h: int = 72, w: int = 96) -> np.ndarray:
    rng = np.random.default_rng(1)
    small = rng.integers(0, 255, (h // 6, w // 6, 3)).astype(np.float32)
    img = torch.nn.functional.interpolate(torch.from_numpy(small).permute(2, 0, 1)[None], size=(h, w), mode="bicubic")
    return img[0].permute(1, 2, 0).clamp(0, 255).round().byte().numpy()


def test_loop_metric_is_zero_for_a_perfect_loop_and_grows_with_the_perturbation():
    base = _texture()
    perfect = np.stack([base, _texture()[::-1].copy(), base])
    s = loop_closure(perfect, [[0, 2]]).summary()
    assert s["loop_mae"] == 0 and s["loop_psnr"] == 100 and s["loop_match_px"] == 0
    maes, shifts = [], []
    for d in (1, 2, 4):
        moved = np.roll(base, d, axis=1)
        r = loop_closure(np.stack([base, moved]), [[0, 1]]).summary()
        maes.append(r["loop_mae"])
        shifts.append(r["loop_match_px"])
    assert maes[0] > 0 and maes == sorted(maes) and len(set(maes)) == 3
    assert shifts == sorted(shifts) and shifts[-1] > shifts[0] > 0
    # Only the static region counts: a change where the mask is off leaves the error at zero.
    changed = base.copy()
    changed[:10] = 0
    static = np.ones((2, 72, 96), bool)
    static[:, :10] = False
    assert loop_closure(np.stack([base, changed]), [[0, 1]], static, features=False).summary()["loop_mae"] == 0


def test_static_region_is_where_both_depths_agree():
    a = np.array([[1.0, 1.0, 0.0], [2.0, 2.0, 2.0]])
    b = np.array([[1.01, 0.5, 1.0], [2.0, 0.0, 2.1]])
    assert static_from_depth(a, b).tolist() == [[True, False, False], [True, False, False]]


def test_flow_loss_weight_ignores_masked_pixels():
    from embodied_rerender.models.flow import flow_loss

    class Zero(torch.nn.Module):  # predicts v = 0: the loss is then the weighted mean of (eps - x0)^2
        def forward(self, x, t, cond):
            return torch.zeros_like(x)

    gen = torch.Generator().manual_seed(0)
    x0, eps = torch.randn(2, 3, 4, 6, 8, generator=gen), torch.randn(2, 3, 4, 6, 8, generator=gen)
    weight = torch.ones(2, 1, 4, 6, 8)
    weight[:, :, 1:, :3] = 0
    t = torch.full((2,), 0.5)
    loss = flow_loss(Zero(), x0, None, t, eps, weight=weight)
    x1 = x0.clone()
    x1[:, :, 1:, :3] += 5.0  # change only masked pixels
    assert torch.allclose(flow_loss(Zero(), x1, None, t, eps, weight=weight), loss)
    x1[:, :, 0] += 1.0  # change a kept pixel
    assert not torch.allclose(flow_loss(Zero(), x1, None, t, eps, weight=weight), loss)
    expected = ((eps - x0) ** 2 * weight).sum((1, 2, 3, 4)) / (weight.sum((1, 2, 3, 4)) * 3)
    assert torch.allclose(loss, expected.mean())
    assert torch.allclose(flow_loss(Zero(), x0, None, t, eps, weight=torch.ones_like(weight)), flow_loss(Zero(), x0, None, t, eps))


SIZE = dict(height=24, width=32, clip=6)


@pytest.fixture(scope="module")
def packed(tmp_path_factory):
    """A real sample episode packed for training and for LoopAug (tiny sizes)."""
    from embodied_rerender.cli import main
    from embodied_rerender.train.data import PackConfig, pack_episodes
    from embodied_rerender.train.loops import LoopPackConfig, pack_loops

    root = tmp_path_factory.mktemp("loops")
    src = root / "agibot"
    assert main(["sample", f"output={src}", "episodes=1", "frames=17", "width=64", "height=48", "progress=false"]) == 0
    pack_episodes(src, root / "train", PackConfig(**SIZE, stride=4, samples=16), progress=False)
    pack_loops(src, root / "loops", LoopPackConfig(**SIZE, per_wrist=2), progress=False)
    return src, root


def test_loop_samples_revisit_frames_are_identical_and_the_turn_is_the_recorded_wrist(packed):
    from embodied_rerender.io import get_reader
    from embodied_rerender.train.data import resize_frames, shard_paths, read_shard
    from embodied_rerender.train.loops import expand

    src, root = packed
    tensors, meta = read_shard(shard_paths(root / "loops", "loops_")[0])
    keys = meta["keys"]
    assert keys == [0, 1, 2, 2, 1, 0] and tensors["frames"].shape[:2] == (4, 3)  # 2 wrists x 2 starts, 3 keys
    frames, c2w = expand(tensors["frames"][0], keys), expand(tensors["c2w"][0], keys)
    for k in range(6):
        assert torch.equal(frames[k], frames[5 - k]) and torch.equal(c2w[k], c2w[5 - k])
    ep = get_reader("agibot", str(src)).read(next(iter(get_reader("agibot", str(src)).refs())))
    wrist = meta["wrists"][int(tensors["wrist"][0])]
    t_turn = int(tensors["times"][0, -1])
    recorded = resize_frames(ep.cameras[wrist][t_turn:t_turn + 1], (24, 32))[0]
    assert np.array_equal(tensors["frames"][0, -1].numpy(), recorded)
    assert bool((tensors["mask"][0, -1] == 1).all())  # the recorded frame is known everywhere
    assert np.allclose(tensors["c2w"][0, -1].numpy(), ep.cameras[wrist].trajectory.extrinsics[t_turn], atol=1e-6)
    assert 0 < float(tensors["mask"][0, 1].float().mean()) < 1  # in-between warps have masked holes


def test_training_mixes_loop_samples_and_runs(packed, tmp_path):
    from embodied_rerender.train.pairs import PairSampler
    from embodied_rerender.train.trainer import TrainConfig, train

    _, root = packed
    sampler = PairSampler.from_dir(root / "train", loop_dir=root / "loops", loop_ratio=1.0, k_max=2)
    batch = sampler.sample(3, 2, torch.Generator().manual_seed(0))
    for k in range(6):  # all loop samples: revisit frames identical in target, prior and weight
        assert torch.equal(batch.target[:, :, k], batch.target[:, :, 5 - k])
        assert torch.equal(batch.weight[:, :, k], batch.weight[:, :, 5 - k])
    assert float(batch.weight.min()) == 0 and bool(batch.context_mask.all())
    plain = PairSampler.from_dir(root / "train", k_max=2).sample(3, 2, torch.Generator().manual_seed(0))
    assert bool((plain.weight == 1).all())
    with pytest.raises(ValueError, match="loop_ratio"):
        PairSampler.from_dir(root / "train", loop_ratio=0.5)
    model = dict(height=24, width=32, frames=6, patch=4, patch_t=2, dim=32, depth=1, heads=2, cam_dim=8, max_context=2)
    cfg = TrainConfig(data=str(root / "train"), output=str(tmp_path / "run"), loop_data=str(root / "loops"),
                      loop_ratio=0.5, model=model, flow={"steps": 2}, batch_size=2, stage_steps=[1, 1],
                      self_cond_steps=1, self_cond_sample_steps=1, log_every=1, device="cpu", amp=False, warmup=1)
    summary = train(cfg)
    assert summary["steps"] == 3 and np.isfinite(summary["final_loss"])


def test_augment_loop_target_and_eval_reports_its_closure(packed, tmp_path):
    import json

    from embodied_rerender.cli import main

    src, _ = packed
    out = tmp_path / "aug"
    assert main(["augment", f"input={src}", f"output={out}", "targets=[loop]", "loop.kind=out_and_back",
                 "progress=false", "samples=32", "preview=false"]) == 0
    assert main(["eval", f"input={out}", f"output={tmp_path / 'eval'}", "sync_stride=10"]) == 0
    report = json.loads((tmp_path / "eval" / "eval.json").read_text())
    loop = report["episodes"][0]["cameras"]["loop_out_and_back"]["loop"]
    assert loop["pairs"] > 0 and loop["static_region"].startswith("depth of head")
    assert loop["loop_mae"] is not None and report["summary"]["loop_mae"] is not None
