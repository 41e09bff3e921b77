"""Streaming (issue 7): the causal student never looks ahead, its KV cache reproduces full recomputation (also
once the window rolls), the staggered scheduler emits every frame once and in order, memory stays bounded on a
long stream, distillation runs, and the `stream` verb writes a video. Tiny configurations, CPU."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from embodied_rerender.cli import main
from embodied_rerender.models import DiTConfig, FlowConfig, VideoDiT, save_model
from embodied_rerender.models.causal import (CausalConfig, CausalDiT, PairConditioning, RingKVCache, init_from_teacher,
                                            load_student)
from embodied_rerender.stream import StaggeredScheduler, StreamEngine, StreamItem, noise_levels, stream_views
from embodied_rerender.train.data import write_shard
from embodied_rerender.train.distill import DistillConfig, distill, rollout

pytestmark = pytest.mark.usefixtures("one_thread")  # conftest.py


TINY = dict(height=12, width=16, patch=4, dim=32, depth=2, heads=2, cam_dim=8, sink=1, window=3, rope_period=16)


def tiny_student(seed: int = 0, **kw) -> CausalDiT:
    torch.manual_seed(seed)
    model = CausalDiT(CausalConfig(**{**TINY, **kw}))
    for p in model.parameters():  # zero-initialised gates would hide every path from the tests
        if p.abs().sum() == 0:
            torch.nn.init.normal_(p, std=0.05)
    return model.eval()


def tiny_inputs(B: int, N: int, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    r = lambda c: torch.randn(B, N, c, 12, 16, generator=g)  # noqa: E731
    return r(3), torch.rand(B, N, generator=g), PairConditioning(r(3), r(6), r(6), r(4))


@torch.no_grad()
def test_no_frame_attends_to_the_future():
    model = tiny_student()
    x, t, cond = tiny_inputs(2, 6)
    ref = model(x, t, cond, torch.arange(6))
    x2, cond2 = x.clone(), PairConditioning(cond.source.clone(), cond.source_rays.clone(), cond.target_rays.clone(),
                                            cond.prior.clone())
    x2[:, 4] += 3
    cond2.source[:, 4] -= 2
    cond2.target_rays[:, 4] *= 2
    cond2.prior[:, 4] += 1
    t2 = t.clone()
    t2[:, 4] = 0.01
    out = model(x2, t2, cond2, torch.arange(6))
    torch.testing.assert_close(out[:, :4], ref[:, :4], rtol=0, atol=0)
    assert not torch.allclose(out[:, 4:], ref[:, 4:])  # the perturbed frame and later ones do see it


@pytest.mark.parametrize("per_pass", [1, 3])
@torch.no_grad()
def test_kv_cache_equals_full_recomputation_also_after_the_window_rolls(per_pass):
    model = tiny_student()
    N = 12  # > sink + window: the cache rolls several times
    x, t, cond = tiny_inputs(2, N)
    full = model(x, t, cond, torch.arange(N))  # one pass, banded block-causal mask
    cache, outs = model.new_cache(), []
    for a in range(0, N, per_pass):
        sl = slice(a, min(a + per_pass, N))
        frames = torch.arange(sl.start, sl.stop)
        outs.append(model(x[:, sl], t[:, sl], cond.frames(sl), frames, cache, commit=len(frames)))
        assert len(cache) <= TINY["sink"] + TINY["window"]
    assert cache.frames.tolist() == [0, *range(N - TINY["window"], N)]  # the sink and the last `window` frames
    torch.testing.assert_close(torch.cat(outs, 1), full, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("per_pass", [1, 2])
@torch.no_grad()
def test_ring_cache_passes_equal_the_growing_cache(per_pass):
    # The fixed-storage cache the CUDA graphs replay over (keys in slot order, newest frame over the oldest
    # non-sink one) gives what the plain cache gives, pass after pass, with passes that also carry frames not
    # committed yet (as the engine's denoising passes do).
    model = tiny_student()
    N, full_at = 14, TINY["sink"] + TINY["window"]
    x, t, cond = tiny_inputs(1, N + per_pass)
    plain, ring = model.new_cache(), None
    for a in range(0, N, per_pass):
        sl = slice(a, a + 2 * per_pass)  # commit the first per_pass frames, denoise the next ones too
        frames = torch.arange(sl.start, sl.stop)
        ref = model(x[:, sl], t[:, sl], cond.frames(sl), frames, plain, commit=per_pass)
        if ring is None:
            if len(plain) == full_at:
                ring = RingKVCache(plain)
            continue
        out = model(x[:, sl], t[:, sl], cond.frames(sl), frames, ring, commit=per_pass)
        torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)
        assert sorted(ring.frames.tolist()) == plain.frames.tolist()
    assert ring is not None and ring.k[0].shape[2] == full_at * 2 * (12 // 4) * (16 // 4)  # storage never grew


def test_ring_cache_refuses_a_cache_that_is_not_full():
    model = tiny_student()
    x, t, cond = tiny_inputs(1, 2)
    cache = model.new_cache()
    model(x, t, cond, torch.arange(2), cache, commit=2)
    with pytest.raises(ValueError, match="full cache"):
        RingKVCache(cache)


@torch.no_grad()
def test_rotary_positions_are_periodic_and_sinks_position_free():
    # Shifting every non-sink frame index by a whole rotary period changes nothing: the stream can run forever.
    model = tiny_student()
    x, t, cond = tiny_inputs(1, 5)
    frames = torch.tensor([0, 5, 6, 7, 8])
    a = model(x, t, cond, frames)
    b = model(x, t, cond, frames + torch.tensor([0, 1, 1, 1, 1]) * TINY["rope_period"] * 1000)
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("steps,window", [(1, 1), (4, 1), (4, 2), (4, 4), (3, 3), (6, 2)])
def test_scheduler_emits_every_frame_once_and_in_order(steps, window):
    sched = StaggeredScheduler(steps, window)
    seen: dict[int, list[int]] = {}
    emitted = []

    def run_pass():
        plan = sched.plan()
        assert [s.frame for s in plan] == sorted(s.frame for s in plan)  # oldest first: block-causal order
        levels = [s.level for s in plan]
        assert levels == sorted(levels, reverse=True) and len(set(levels)) == len(levels)  # staggered
        for s in plan:
            seen.setdefault(s.frame, []).append(s.level)
        emitted.extend(sched.advance())

    for _ in range(23):
        while not sched.ready():
            run_pass()
        sched.admit()
        assert len(sched) <= window
        while not sched.ready() and len(sched):
            run_pass()
    while len(sched):
        run_pass()
    assert emitted == list(range(23))
    assert all(levels == list(range(steps)) for levels in seen.values())  # each level once, in order
    with pytest.raises(ValueError):
        StaggeredScheduler(4, 3)


def plane_item(i: int, size=(24, 32), rng=None) -> StreamItem:
    """A textured plane 0.7 m in front of a source camera drifting 2 mm per frame; the target 3 cm beside it."""
    h, w = size
    rng = rng or np.random.default_rng(i)
    K = np.array([[30.0, 0, (w - 1) / 2], [0, 30.0, (h - 1) / 2], [0, 0, 1]])
    src = np.eye(4)
    src[0, 3] = 0.002 * i
    tgt = src.copy()
    tgt[0, 3] += 0.03
    return StreamItem(rng.integers(0, 255, (h, w, 3), dtype=np.uint8), K, src, K, tgt, np.full((h, w), 0.7, np.float32))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA graphs need a CUDA device")
@pytest.mark.parametrize("steps,window", [(4, 1), (4, 4), (1, 1)])
@torch.no_grad()
def test_cuda_graph_passes_give_the_eager_frames(steps, window):
    model, N = tiny_student(), 24  # several times sink + window: the cache is full and graphs replay
    items = [plane_item(i) for i in range(N)]
    runs = {}
    for graphs in (False, True):
        engine = StreamEngine(model, steps=steps, window=window, seed=5, device="cuda", cuda_graphs=graphs)
        out = [f for it in items for f in engine.push(it)] + engine.flush()
        runs[graphs] = (torch.stack([f.working for f in out]).float().cpu(), engine.run_pass.replays)
    (eager, none), (graphed, replays) = runs[False], runs[True]
    assert none == 0 and replays > N // 2
    torch.testing.assert_close(graphed, eager, rtol=0, atol=2e-2)  # bf16 autocast either way; keys in slot order


@torch.no_grad()
def test_window_one_engine_is_per_frame_sampling_and_wider_windows_keep_order():
    model, steps, N = tiny_student(), 3, 7
    items = [plane_item(i) for i in range(N)]
    engine = StreamEngine(model, steps=steps, window=1, seed=5, detail_transfer=False)
    out = [f for it in items for f in engine.push(it)] + engine.flush()
    assert [f.index for f in out] == list(range(N))
    assert all(f.frame.shape == (24, 32, 3) and f.frame.dtype == np.uint8 and f.latency_s > 0 for f in out)
    # The same frames by the training rollout: per-frame Euler over the levels, clean frames committed to the cache.
    prep = StreamEngine(model, steps=steps)
    cond = PairConditioning.cat([c for c, _ in prep._prepare(items)])  # one batch; the engine prepared one by one
    g = torch.Generator().manual_seed(5)
    noise = torch.cat([torch.randn((1, 1, 3, 12, 16), generator=g) for _ in range(N)], 1)
    ref = rollout(model, cond, noise, noise_levels(steps), [steps - 1] * N)
    torch.testing.assert_close(torch.stack([f.working for f in out])[None], ref.clamp(-1, 1), rtol=1e-4, atol=1e-4)
    for window in (2, 3):
        frames = list(stream_views(model, items, steps=3 if window == 3 else 4, window=window))
        assert [f.index for f in frames] == list(range(N))


@torch.no_grad()
def test_batched_inputs_equal_per_frame_inputs_and_push_many_equals_push():
    from embodied_rerender.stream.engine import prepare_batch, prepare_inputs

    model, N = tiny_student(), 5
    items = [plane_item(i) for i in range(N)]
    items[2] = dataclasses.replace(items[2], depth=None)  # no depth: an empty prior inside the batch
    reference = torch.as_tensor(items[0].source_c2w, dtype=torch.float32)
    batch = prepare_batch(items, model.cfg, reference, (30, 40), torch.device("cpu"))
    for it, (cond, prior) in zip(items, batch):
        one, one_prior = prepare_inputs(it, model.cfg, reference, (30, 40), torch.device("cpu"))
        for name in ("source", "source_rays", "target_rays", "prior"):
            torch.testing.assert_close(getattr(cond, name), getattr(one, name), rtol=0, atol=0)
        for a, b in zip(prior, one_prior):  # image, depth, covered
            torch.testing.assert_close(a, b, rtol=0, atol=0)
    empty = batch[2][1]  # the depthless frame's prior: all holes
    assert empty.image.eq(0).all() and empty.depth.eq(0).all() and not empty.covered.any()
    for window in (1, 2):
        pushed = StreamEngine(model, steps=2, window=window, seed=3)
        one_by_one = [f for it in items for f in pushed.push(it)] + pushed.flush()
        burst = StreamEngine(model, steps=2, window=window, seed=3)
        together = burst.push_many(items[:3]) + burst.push_many(items[3:]) + burst.flush()
        assert [f.index for f in together] == [f.index for f in one_by_one] == list(range(N))
        assert all((a.frame == b.frame).all() for a, b in zip(one_by_one, together))


@torch.no_grad()
def test_a_long_stream_runs_in_bounded_memory():
    model = tiny_student(prior_channels=0)  # no warp prior: the cost is the network's alone
    engine = StreamEngine(model, steps=2, window=2, size=(24, 32))
    rng, sizes, n = np.random.default_rng(0), [], 0
    for i in range(200):
        n += len(engine.push(plane_item(i, rng=rng)))
        sizes.append((len(engine.cache), engine.cache.num_bytes(), len(engine.flight)))
    n += len(engine.flush())
    assert n == 200
    assert max(s[0] for s in sizes) == TINY["sink"] + TINY["window"]
    assert len({s[1] for s in sizes[20:]}) == 1  # constant bytes once the window is full
    assert max(s[2] for s in sizes) <= 2


# -- distillation and the verb -----------------------------------------------------------------------------
H, W, T = 12, 16, 10
CAMS = ["head", "hand_left", "hand_right"]


def scene(T: int, h: int, w: int):
    """Cameras looking at a textured plane at z = 0.7 m: frames, K, c2w per camera, head depth."""
    rng = np.random.default_rng(0)
    K = np.array([[w * 0.8, 0, (w - 1) / 2], [0, w * 0.8, (h - 1) / 2], [0, 0, 1]], np.float32)
    out = {}
    for i, cam in enumerate(CAMS):
        base = rng.integers(0, 255, (1, h, w, 3))
        out[f"{cam}.frames"] = np.clip(base + np.arange(T)[:, None, None, None] * 3, 0, 255).astype(np.uint8)
        c2w = np.tile(np.eye(4, dtype=np.float32), (T, 1, 1))
        c2w[:, 0, 3] = 0.03 * i + 0.002 * np.arange(T)
        out[f"{cam}.c2w"], out[f"{cam}.K"] = c2w, K
    out["head.depth"] = np.full((T, h, w), 0.7, np.float16)
    return out


@pytest.fixture(scope="module")
def distilled(tmp_path_factory):
    root = tmp_path_factory.mktemp("distill")
    tensors = scene(T, H, W)
    shard = {k: v for k, v in tensors.items() if not k.endswith("depth")}
    for wrist in CAMS[1:]:
        shard[f"{wrist}.prior"] = shard[f"{wrist}.frames"] // 2
        shard[f"{wrist}.covered"] = np.full((T, H, W), 255, np.uint8)
    meta = {"episode": "1_0", "cameras": CAMS, "wrists": CAMS[1:], "starts": [0, 2, 4], "clip": 4, "height": H,
            "width": W, "frames": T}
    (root / "shards").mkdir()
    write_shard(root / "shards" / "episode_1_0", shard, meta, compress=False)
    torch.manual_seed(0)
    teacher = VideoDiT(DiTConfig(height=H, width=W, frames=4, patch=4, patch_t=2, dim=32, depth=2, heads=2, cam_dim=8,
                                 max_context=1))
    save_model(root / "teacher", teacher, FlowConfig(steps=2))
    cfg = DistillConfig(data=str(root / "shards"), output=str(root / "out"), teacher=str(root / "teacher.safetensors"),
                        student={"window": 3}, steps=2, clip=8, batch_size=1, total_steps=4, warmup_frac=0.5,
                        teacher_steps=2, log_every=1, device="cpu")
    summary = distill(cfg)
    return root, summary


def test_distillation_runs_both_phases_with_finite_losses(distilled):
    root, summary = distilled
    assert summary["steps"] == 4 and summary["copied_from_teacher"] > 20
    rows = (root / "out" / "loss.csv").read_text().splitlines()
    phases = [r.split(",")[1] for r in rows[1:]]
    assert phases == ["regression", "regression", "dmd", "dmd"]
    assert all(np.isfinite(float(v)) for r in rows[1:] for v in r.split(",")[2:])
    student, config = load_student(root / "out" / "student.safetensors")
    assert config["stream"] == {"steps": 2, "shift": 3.0} and student.cfg.window == 3


def test_student_starts_from_the_teacher_weights():
    torch.manual_seed(0)
    teacher = VideoDiT(DiTConfig(height=H, width=W, frames=4, patch=4, patch_t=2, dim=32, depth=2, heads=2, cam_dim=8))
    student = CausalDiT(CausalConfig(height=H, width=W, patch=4, dim=32, depth=2, heads=2, cam_dim=8))
    copied = init_from_teacher(student, teacher)
    assert "blocks.0.qkv.weight" in copied and "target_embed.weight" in copied and "pos_space" in copied
    torch.testing.assert_close(student.blocks[1].mlp[0].weight, teacher.blocks[1].mlp[0].weight)


def test_stream_verb_writes_an_mp4(distilled, tmp_path, capsys):
    root, _ = distilled
    tensors = scene(6, 24, 32)
    ev = {f"{c}.{k}": tensors[f"{c}.{k}"] for c in CAMS for k in ("frames",)}
    for c in CAMS:
        ev[f"{c}.c2w"] = tensors[f"{c}.c2w"].astype(np.float64)
        ev[f"{c}.K"] = np.tile(tensors[f"{c}.K"].astype(np.float64), (6, 1, 1))
    ev["head.depth"] = tensors["head.depth"]
    shard = write_shard(tmp_path / "eval_1_0", ev, {"episode": "1_0", "cameras": CAMS, "height": 24, "width": 32}, False)
    out = tmp_path / "out.mp4"
    assert main(["stream", f"input={shard}", f"checkpoint={root / 'out' / 'student.safetensors'}", f"output={out}",
                 "window=2", f"json={tmp_path / 's.json'}"]) == 0
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["frames"] == 6 and summary["window"] == 2 and out.stat().st_size > 0
    from embodied_rerender.video import VideoReader

    assert len(VideoReader(out)) == 6 and VideoReader(out).shape == (24, 32)
    assert "frames/s" in capsys.readouterr().out


def test_stream_verb_takes_a_video_with_poses_and_the_api_takes_tuples(distilled, tmp_path):
    from embodied_rerender.video import VideoReader, write_video

    root, _ = distilled
    items = [plane_item(i) for i in range(5)]
    write_video(tmp_path / "in.mp4", [it.source for it in items], 30, codec="h264")
    np.savez(tmp_path / "poses.npz", source_K=items[0].source_K, source_c2w=np.stack([it.source_c2w for it in items]),
             target_K=items[0].target_K, target_c2w=np.stack([it.target_c2w for it in items]),
             depth=np.stack([it.depth for it in items]))
    out = tmp_path / "out.mp4"
    assert main(["stream", f"input={tmp_path / 'in.mp4'}", f"poses={tmp_path / 'poses.npz'}",
                 f"checkpoint={root / 'out' / 'student.safetensors'}", f"output={out}"]) == 0
    assert len(VideoReader(out)) == 5
    student, _ = load_student(root / "out" / "student.safetensors")
    tuples = [(it.source, it.source_K, it.source_c2w, it.target_K, it.target_c2w, it.depth) for it in items]
    assert [f.index for f in stream_views(student, iter(tuples), steps=2)] == list(range(5))


def test_stream_verb_runs_on_a_sample_episode_with_the_shipped_student(tmp_path, capsys):
    """No checkpoint= given: the verb takes weights/stream_ref, as `augment generator=hybrid` takes hybrid_ref."""
    from embodied_rerender.stream.run import default_checkpoint

    assert default_checkpoint() is not None, "weights/stream_ref.safetensors (+ .json) is not shipped"
    src = tmp_path / "agibot"
    assert main(["sample", f"output={src}", "episodes=1", "frames=17", "width=64", "height=48", "progress=false"]) == 0
    out = tmp_path / "wrist.mp4"
    assert main(["stream", f"input={src}", "frames=6", f"output={out}", "device=cpu"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["frames"] == 6 and Path(summary["checkpoint"]).name == "stream_ref.safetensors"
    assert out.stat().st_size > 0
