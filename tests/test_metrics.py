"""metrics/: PSNR/SSIM (plain and masked, uint8 and float layouts), SIFT view synchronization, depth error."""

import math

import cv2
import numpy as np
import pytest
import torch

from embodied_rerender.metrics import depth_error, match_pair, mean_metric, psnr, ssim, view_sync


def test_psnr_identical_and_known_mse():
    a = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    assert torch.isinf(psnr(a, a)).all()
    zeros = torch.zeros(2, 3, 8, 8)
    assert torch.allclose(psnr(zeros, zeros + 0.1), torch.full((2,), 20.0, dtype=torch.float64))  # mse 0.01
    u8a, u8b = np.zeros((4, 6, 5, 3), np.uint8), np.full((4, 6, 5, 3), 51, np.uint8)  # 0.2 -> mse 0.04
    assert np.allclose(psnr(u8a, u8b).numpy(), -10 * math.log10(0.04))
    # uint8 (T, H, W, 3) and float (T, 3, H, W) layouts give the same numbers
    img = np.random.default_rng(0).integers(0, 256, (2, 7, 9, 3), dtype=np.uint8)
    f = torch.from_numpy(img).permute(0, 3, 1, 2).double() / 255
    assert torch.allclose(psnr(img, img[::-1].copy()), psnr(f, f.flip(0)))


def test_psnr_masked():
    a, b = torch.zeros(1, 3, 4, 4), torch.zeros(1, 3, 4, 4)
    b[..., :, 2:] = 0.5  # error only in the right half
    left = torch.zeros(1, 4, 4, dtype=torch.bool)
    left[..., :2] = True
    assert torch.isinf(psnr(a, b, left)).all()
    assert torch.allclose(psnr(a, b, ~left), torch.tensor([-10 * math.log10(0.25)], dtype=torch.float64))
    assert torch.allclose(psnr(a, b), torch.tensor([-10 * math.log10(0.125)], dtype=torch.float64))
    assert torch.isnan(psnr(a, b, torch.zeros(1, 4, 4, dtype=torch.bool))).all()
    assert mean_metric(torch.tensor([10.0, math.nan, 20.0])) == 15.0


def test_ssim_identical_noise_and_mask():
    g = torch.Generator().manual_seed(1)
    a = torch.rand(2, 3, 32, 32, generator=g)
    assert torch.allclose(ssim(a, a), torch.ones(2, dtype=torch.float64))
    noisy = (a + 0.2 * torch.randn(a.shape, generator=g)).clamp(0, 1)
    s = ssim(a, noisy)
    assert (s < 0.9).all() and (s > -1).all()
    assert (ssim(a, (a + 0.05 * torch.randn(a.shape, generator=g)).clamp(0, 1)) > s).all()  # less noise, higher
    b = a.clone()
    b[..., 16:] = torch.rand(2, 3, 32, 16, generator=g)  # the right half differs
    mask = torch.zeros(2, 32, 32, dtype=torch.bool)
    mask[..., :8] = True  # far from the changed half (the window reaches 5 pixels)
    assert torch.allclose(ssim(a, b, mask), torch.ones(2, dtype=torch.float64))
    assert (ssim(a, b, ~mask) < ssim(a, b, mask)).all()
    u8 = (a.permute(0, 2, 3, 1).numpy() * 255).astype(np.uint8)
    assert torch.allclose(ssim(u8, u8), torch.ones(2, dtype=torch.float64))


def _textured(seed=0, H=240, W=320):
    """A structured image SIFT can lock on to: random rectangles and circles over smooth noise."""
    rng = np.random.default_rng(seed)
    img = cv2.GaussianBlur(rng.integers(0, 256, (H, W, 3), dtype=np.uint8), (0, 0), 3)
    for _ in range(60):
        x, y = int(rng.integers(0, W)), int(rng.integers(0, H))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        if rng.random() < 0.5:
            cv2.rectangle(img, (x, y), (x + int(rng.integers(5, 40)), y + int(rng.integers(5, 40))), colour, -1)
        else:
            cv2.circle(img, (x, y), int(rng.integers(3, 20)), colour, -1)
    return img


def test_view_sync_textured_vs_noise():
    img = _textured()
    H, W = img.shape[:2]
    shifted = np.roll(img, (7, -12), axis=(0, 1))
    # a mild perspective warp of the same scene: still one rigid two-view geometry for SIFT + RANSAC
    src = np.float32([[0, 0], [W, 0], [W, H], [0, H]])
    dst = np.float32([[8, 5], [W - 4, 0], [W - 10, H - 6], [3, H]])
    warped = cv2.warpPerspective(img, cv2.getPerspectiveTransform(src, dst), (W, H))
    rng = np.random.default_rng(5)
    noise_a, noise_b = (rng.integers(0, 256, (H, W, 3), dtype=np.uint8) for _ in range(2))
    good = view_sync([np.stack([img, img]), np.stack([shifted, warped])])
    bad = view_sync([noise_a[None], noise_b[None]])
    assert good.inliers[(0, 1)].min() >= 30 and good.mean_inliers >= 30
    assert (good.inliers[(0, 1)] <= good.matches[(0, 1)]).all()
    assert bad.mean_inliers <= 15
    # three views: three pairs, reproducible
    three = view_sync([img[None], shifted[None], warped[None]])
    assert set(three.inliers) == {(0, 1), (0, 2), (1, 2)}
    assert view_sync([img[None], shifted[None], warped[None]]).inliers == three.inliers
    with pytest.raises(ValueError):
        view_sync([img[None]])


def test_match_pair_is_reproducible_and_leaves_the_global_rng_alone():
    img = _textured()
    H, W = img.shape[:2]
    src = np.float32([[0, 0], [W, 0], [W, H], [0, H]])
    dst = np.float32([[8, 5], [W - 4, 0], [W - 10, H - 6], [3, H]])
    warped = cv2.warpPerspective(img, cv2.getPerspectiveTransform(src, dst), (W, H))
    noisy = np.clip(warped + np.random.default_rng(2).normal(0, 12, warped.shape), 0, 255).astype(np.uint8)

    def draw() -> np.ndarray:  # the next numbers of OpenCV's global RNG
        return cv2.randu(np.zeros((1, 8)), 0, 1).copy()

    cv2.setRNGSeed(11)
    expected = draw()
    cv2.setRNGSeed(11)
    first = match_pair(img, noisy)
    assert (draw() == expected).all()  # neither reseeded nor drawn from
    cv2.setRNGSeed(99)  # another global state: the same matches
    second = match_pair(img, noisy)
    assert first.num_inliers > 0 and (first.inliers == second.inliers).all()
    assert (first.pts_a == second.pts_a).all() and (first.pts_b == second.pts_b).all()


def test_depth_error():
    gt = torch.full((2, 4, 4), 2.0)
    pred = gt.clone()
    pred[0, 0, 0] = 2.2  # 10 % off, 20 cm
    pred[1] = 0  # nothing covered
    mask = pred > 0
    err = depth_error(pred, gt, mask)
    assert err.count.tolist() == [16.0, 0.0]
    assert math.isclose(float(err.abs_rel[0]), 0.1 / 16, rel_tol=1e-5)
    assert math.isclose(float(err.within[0]), 15 / 16)
    assert math.isnan(float(err.abs_rel[1]))


def test_covisibility_and_colour_consistency():
    from embodied_rerender.metrics import colour_consistency, covisible_mask
    from embodied_rerender.render import forward_splat

    # A textured wall at z = 2 with a box at z = 1 in front of part of it, seen by a source camera and by a
    # target camera 0.4 m to the side: the wall behind the box is visible to one camera and not the other.
    H, W, f = 30, 40, 30.0
    K = torch.tensor([[f, 0, (W - 1) / 2], [0, f, (H - 1) / 2], [0, 0, 1.0]])
    src_c2w, tgt_c2w = torch.eye(4), torch.eye(4)
    tgt_c2w[0, 3] = 0.4
    src_depth = torch.full((1, H, W), 2.0)
    src_depth[:, 10:20, 15:25] = 1.0
    img = torch.rand(1, 3, H, W, generator=torch.Generator().manual_seed(4))
    warp = forward_splat(img[:, None], src_depth[:, None], K[None, None], src_c2w[None, None], K[None],
                         tgt_c2w[None], (H, W))
    # the target's "GT" depth: same scene rendered from there (the box shifts by f * 0.4 / 1 = 12 px, the wall by 6)
    tgt_depth = torch.full((1, H, W), 2.0)
    tgt_depth[:, 10:20, 3:13] = 1.0
    vis = covisible_mask(tgt_depth, K, tgt_c2w, src_depth, K, src_c2w)
    assert vis[0, 15, 8] and not vis[0, 15, 14]  # box visible; wall pixel just right of the box hidden from source
    assert not vis[0, :, -4:].any()  # off the source's right edge
    frac, count = colour_consistency(warp.image, tgt_depth, K, tgt_c2w, img, src_depth, K, src_c2w, mask=warp.mask)
    assert count[0] > 0.6 * H * W and frac[0] > 0.95
    noise = torch.rand(1, 3, H, W, generator=torch.Generator().manual_seed(5))
    assert colour_consistency(noise, tgt_depth, K, tgt_c2w, img, src_depth, K, src_c2w)[0][0] < 0.5


def test_ssim_over_several_masks_equals_ssim_per_mask():
    import torch

    from embodied_rerender.metrics import ssim, ssim_over

    g = torch.Generator().manual_seed(0)
    a, b = torch.rand(10, 3, 16, 20, generator=g), torch.rand(10, 3, 16, 20, generator=g)
    m = torch.rand(10, 16, 20, generator=g) > 0.5
    whole, masked = ssim_over(a, b, [None, m], chunk=3)
    torch.testing.assert_close(whole, ssim(a, b))
    torch.testing.assert_close(masked, ssim(a, b, m))


def test_compiled_cpu_ssim_and_psnr_of_uint8_equal_the_torch_path():
    """uint8 frames on a CPU take the numba kernel; the same frames as floats take the torch path."""
    from embodied_rerender.metrics import ssim_over, to_float_chw
    from embodied_rerender.metrics.image import _numba_ssim

    if _numba_ssim() is None:
        pytest.skip("numba is not installed")
    g = np.random.default_rng(4)
    a = g.integers(0, 256, (2, 3, 13, 17, 3), dtype=np.uint8)  # two leading axes, odd sizes
    b = np.clip(a.astype(int) + g.integers(-50, 50, a.shape), 0, 255).astype(np.uint8)
    b[0, 1] = a[0, 1]  # one identical frame: SSIM 1
    m = g.random((2, 3, 13, 17)) > 0.5
    m[1, 2] = False  # one empty mask: NaN
    compiled = ssim_over(a, b, [None, torch.from_numpy(m), None])
    reference = ssim_over(to_float_chw(a, torch.float32), to_float_chw(b, torch.float32), [None, torch.from_numpy(m), None])
    for got, want in zip(compiled, reference):
        assert got.shape == (2, 3) and got.dtype == torch.float64
        torch.testing.assert_close(got, want.double(), atol=1e-6, rtol=0, equal_nan=True)
    assert torch.isnan(compiled[1][1, 2]) and abs(float(compiled[0][0, 1]) - 1.0) < 1e-6
    from embodied_rerender.metrics.image import psnr_over

    compiled = psnr_over(a, b, [None, torch.from_numpy(m)])
    reference = psnr_over(to_float_chw(a), to_float_chw(b), [None, torch.from_numpy(m)])
    for got, want in zip(compiled, reference):
        assert got.shape == (2, 3) and got.dtype == torch.float64
        torch.testing.assert_close(got, want, atol=1e-9, rtol=0, equal_nan=True)
    assert torch.isinf(compiled[0][0, 1]) and torch.isnan(compiled[1][1, 2])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_score_views_on_cuda_equals_the_cpu():
    from embodied_rerender.metrics import score_views

    g = np.random.default_rng(3)
    a = g.integers(0, 256, (5, 30, 40, 3), dtype=np.uint8)
    b = np.clip(a.astype(int) + g.integers(-30, 30, a.shape), 0, 255).astype(np.uint8)
    m = g.random((5, 30, 40)) > 0.4
    cpu, gpu = score_views(a, b, m), score_views(a, b, m, device="cuda")
    assert cpu.keys() == gpu.keys() and all(abs(cpu[k] - gpu[k]) <= 2e-3 for k in cpu)
