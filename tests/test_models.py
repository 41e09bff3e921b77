"""Video DiT and flow matching: shapes, masks, determinism, checkpoints (tiny CPU configurations)."""

from __future__ import annotations

import json

import torch

from embodied_rerender.models import (Conditioning, DiTConfig, FlowConfig, VideoDiT, add_noise, clip_raymaps,
                                      load_model, patchify, sample, sample_timesteps, save_model, unpatchify)

TINY = dict(height=12, width=16, frames=4, patch=4, patch_t=2, dim=32, depth=2, heads=2, cam_dim=8, max_context=3)


def tiny_model(prior_channels: int = 4, seed: int = 0) -> VideoDiT:
    torch.manual_seed(seed)
    model = VideoDiT(DiTConfig(**TINY, prior_channels=prior_channels))
    for p in model.parameters():  # zero-initialised gates would hide the conditioning paths from the tests
        if p.abs().sum() == 0:
            torch.nn.init.normal_(p, std=0.05)
    return model.eval()


def tiny_cond(B: int = 2, k: int = 3, prior: bool = True, seed: int = 1) -> Conditioning:
    g = torch.Generator().manual_seed(seed)
    T, H, W = TINY["frames"], TINY["height"], TINY["width"]
    return Conditioning(torch.randn(B, 6, T, H, W, generator=g), torch.randn(B, k, 3, T, H, W, generator=g),
                        torch.randn(B, k, 6, T, H, W, generator=g), torch.ones(B, k, dtype=torch.bool),
                        torch.randn(B, 4, T, H, W, generator=g) if prior else None)


def test_forward_shape_and_patchify_round_trip():
    model, cond = tiny_model(), tiny_cond()
    x = torch.randn(2, 3, 4, 12, 16)
    assert model(x, torch.rand(2), cond).shape == x.shape
    assert model(x, torch.rand(2, 2), cond).shape == x.shape  # per token-frame times
    assert torch.equal(unpatchify(patchify(x, model.cfg), model.cfg), x)
    learned = tiny_model(prior_channels=0)
    assert learned(x, torch.rand(2), tiny_cond(prior=False)).shape == x.shape


def test_masked_context_has_no_influence_and_present_context_does():
    model, cond = tiny_model(), tiny_cond()
    x, t = torch.randn(2, 3, 4, 12, 16), torch.full((2,), 0.7)
    cond.context_mask = torch.tensor([[True, True, False], [True, False, False]])
    ref = model(x, t, cond)
    changed = Conditioning(cond.target_rays, cond.context.clone(), cond.context_rays.clone(), cond.context_mask, cond.prior)
    changed.context[0, 2] += 5
    changed.context_rays[1, 1:] -= 3
    torch.testing.assert_close(model(x, t, changed), ref)
    changed.context[0, 0] += 5  # a present slot does change the output
    assert not torch.allclose(model(x, t, changed)[0], ref[0])
    # the target raymap and the prior are inputs too
    assert not torch.allclose(model(x, t, Conditioning(cond.target_rays * 2, cond.context, cond.context_rays,
                                                       cond.context_mask, cond.prior)), ref)


def test_flow_interpolation_and_high_noise_bias():
    x0, eps = torch.randn(2, 3, 4, 12, 16), torch.randn(2, 3, 4, 12, 16)
    assert torch.equal(add_noise(x0, eps, torch.zeros(2)), x0)
    assert torch.equal(add_noise(x0, eps, torch.ones(2)), eps)
    per_frame = add_noise(x0, eps, torch.tensor([[0.0, 1.0], [1.0, 0.0]]))
    assert torch.equal(per_frame[0, :, :2], x0[0, :, :2]) and torch.equal(per_frame[0, :, 2:], eps[0, :, 2:])
    t = sample_timesteps(4000, FlowConfig(shift=3.0), torch.Generator().manual_seed(0))
    assert 0 < t.min() and t.max() < 1 and t.mean() > 0.65  # shifted toward noise
    assert sample_timesteps(4000, FlowConfig(shift=1.0), torch.Generator().manual_seed(0)).mean().sub(0.5).abs() < 0.02


def test_sampling_is_deterministic_per_seed_and_keeps_clean_frames():
    model, cond = tiny_model(), tiny_cond(B=1)
    shape = (1, 3, 4, 12, 16)
    a = sample(model, cond, shape, torch.Generator().manual_seed(7), steps=3)
    b = sample(model, cond, shape, torch.Generator().manual_seed(7), steps=3)
    c = sample(model, cond, shape, torch.Generator().manual_seed(8), steps=3)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.shape == shape and a.abs().max() <= 1
    known = torch.rand(shape) * 2 - 1
    clean = torch.tensor([[True, False]])
    out = sample(model, cond, shape, torch.Generator().manual_seed(7), steps=3, clean_frames=known, clean=clean, guidance=2.0)
    assert torch.equal(out[:, :, :2], known[:, :, :2].clamp(-1, 1))


def test_checkpoint_round_trip_is_safetensors_and_json(tmp_path):
    model, cond = tiny_model(), tiny_cond()
    x, t = torch.randn(2, 3, 4, 12, 16), torch.rand(2)
    path = save_model(tmp_path / "ckpt", model, FlowConfig(steps=5), {"step": 3})
    assert path.name == "ckpt.safetensors" and path.read_bytes()[:8] != b"\x80\x04\x95"  # not a pickle
    config = json.loads((tmp_path / "ckpt.json").read_text())
    assert config["model"]["backbone"] == "dit" and config["step"] == 3
    loaded, flow, _ = load_model(path)
    assert flow.steps == 5
    torch.testing.assert_close(loaded(x, t, cond), model(x, t, cond))
    save_model(tmp_path / "half", model, FlowConfig(), dtype=torch.bfloat16)  # export halves the file
    assert (tmp_path / "half.safetensors").stat().st_size < 0.6 * path.stat().st_size


def test_raymaps_are_in_the_reference_frame():
    K = torch.tensor([[[10.0, 0, 7.5], [0, 10.0, 5.5], [0, 0, 1]]])
    pose = torch.eye(4)
    pose[:3, 3] = torch.tensor([0.3, -0.2, 1.0])
    rays = clip_raymaps(K, pose.expand(1, 2, 4, 4), pose[None], 12, 16)
    assert rays.shape == (1, 6, 2, 12, 16)
    assert torch.allclose(rays[:, 3:], torch.zeros(1), atol=1e-6)  # the camera sits at the reference origin
