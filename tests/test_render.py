"""render/: forward splatting (z-buffer, crack-free magnification, reference agreement) and hole filling."""

import math

import numpy as np
import pytest
import torch

from embodied_rerender.geometry.camera import look_at
from embodied_rerender.render import fill_holes, forward_splat, forward_splat_reference, temporal_fill


def _K(f, H, W):
    return torch.tensor([[f, 0.0, (W - 1) / 2], [0.0, f, (H - 1) / 2], [0.0, 0.0, 1.0]])


def _pose(x=0.0, y=0.0, z=0.0):
    c2w = torch.eye(4)
    c2w[:3, 3] = torch.tensor([x, y, z])
    return c2w


def _splat_args(images, depths, Ks, c2ws, tgt_K, tgt_c2w):
    """Stack per-view lists into (1, V, ...) batches and a (1, ...) target."""
    return (torch.stack(images)[None], torch.stack(depths)[None], torch.stack(Ks)[None], torch.stack(c2ws)[None],
            tgt_K[None], tgt_c2w[None])


def test_identity_warp_reproduces_the_view():
    g = torch.Generator().manual_seed(0)
    B, V, C, H, W = 2, 1, 3, 24, 32
    img = torch.rand(B, V, C, H, W, generator=g)
    depth = 0.5 + 2 * torch.rand(B, V, H, W, generator=g)
    depth[torch.rand(B, V, H, W, generator=g) < 0.2] = 0  # invalid pixels contribute nothing
    K = _K(30.0, H, W).expand(B, V, 3, 3)
    c2w = look_at(torch.tensor([[0.1, -0.3, 0.5], [0.0, 0.2, 1.0]]), torch.tensor([[0.0, 0.0, 2.0], [0.5, 0.5, 0.0]]))
    res = forward_splat(img, depth, K, c2w[:, None], K[:, 0], c2w, (H, W))
    valid = depth[:, 0] > 0
    assert torch.equal(res.mask, valid)
    assert torch.equal(res.image, torch.where(valid[:, None], img[:, 0], torch.zeros(())))
    assert torch.allclose(res.depth, depth[:, 0], rtol=1e-5, atol=1e-6)
    ref = forward_splat_reference(img, depth, K, c2w[:, None], K[:, 0], c2w, (H, W))
    assert torch.equal(ref.mask, valid) and torch.equal(ref.image, res.image)


@pytest.mark.parametrize("splat", [forward_splat, forward_splat_reference])
def test_nearer_view_wins(splat):
    H, W = 12, 16
    K, c2w = _K(20.0, H, W), _pose()
    red, blue = torch.zeros(3, H, W), torch.zeros(3, H, W)
    red[0], blue[2] = 1.0, 1.0
    far, near = torch.full((H, W), 2.0), torch.full((H, W), 1.0)
    for order in ([(red, far), (blue, near)], [(blue, near), (red, far)]):
        args = _splat_args([o[0] for o in order], [o[1] for o in order], [K, K], [c2w, c2w], K, c2w)
        res = splat(*args, (H, W))
        assert res.mask.all()
        assert torch.equal(res.image[0], blue) and torch.allclose(res.depth[0], near)


def _textured_plane(H, W):
    g = torch.Generator().manual_seed(1)
    return torch.rand(3, H, W, generator=g)


def test_magnified_plane_has_no_cracks():
    # A fronto-parallel plane 2 m from a far camera, seen from 0.5 m by a near camera: magnification 4x.
    Hs, Ws, H, W, f = 48, 64, 48, 64, 60.0
    img, depth = _textured_plane(Hs, Ws), torch.full((Hs, Ws), 2.0)
    args = _splat_args([img], [depth], [_K(f, Hs, Ws)], [_pose()], _K(f, H, W), _pose(0.05, -0.03, 1.5))
    res = forward_splat(*args, (H, W))
    ref = forward_splat_reference(*args, (H, W))
    assert res.mask.all()  # the plane fills the near camera's view; every pixel covered
    assert torch.allclose(res.depth[res.mask], torch.tensor(0.5), atol=1e-4)
    assert ref.mask.float().mean() < 0.2  # the point splat leaves ~15/16 of the pixels empty


def test_candidate_budget_does_not_change_the_result():
    Hs, Ws, f = 48, 64, 60.0
    img, depth = _textured_plane(Hs, Ws), torch.full((Hs, Ws), 2.0)
    depth[10:20, 10:30] = 1.2  # an occluder, so the z-buffer has real work
    args = _splat_args([img, img.flip(-1)], [depth, depth.flip(-1)], [_K(f, Hs, Ws)] * 2, [_pose(), _pose(0.1)],
                       _K(f, Hs, Ws), _pose(0.05, -0.03, 1.2))
    whole = forward_splat(*args, (Hs, Ws))
    sliced = forward_splat(*args, (Hs, Ws), max_candidates=500)
    assert torch.equal(whole.image, sliced.image) and torch.equal(whole.mask, sliced.mask)
    assert torch.equal(whole.depth, sliced.depth)


def test_vectorized_matches_reference_without_magnification():
    # Two views of a plane with a nearer box, translated sideways: every splat is one pixel, occlusions happen.
    B, H, W, f = 2, 30, 40, 35.0
    g = torch.Generator().manual_seed(2)
    img = torch.rand(B, 2, 3, H, W, generator=g)
    depth = torch.full((B, 2, H, W), 3.0)
    depth[..., 8:20, 10:25] = 1.5
    depth[:, 1, :4] = 0
    K = _K(f, H, W).expand(B, 2, 3, 3)
    src = torch.stack([torch.stack([_pose(0.1 * b, 0, 0), _pose(-0.2, 0.05 * b, 0)]) for b in range(B)])
    tgt = torch.stack([_pose(0.15, -0.05, 0), _pose(-0.1, 0.1, 0)])
    res = forward_splat(img, depth, K, src, K[:, 0], tgt, (H, W))
    ref = forward_splat_reference(img, depth, K, src, K[:, 0], tgt, (H, W))
    assert ref.mask.float().mean() > 0.8
    assert (res.mask | ~ref.mask).all()  # the splat covers at least what the reference covers
    m = ref.mask
    assert torch.equal(res.image.permute(0, 2, 3, 1)[m], ref.image.permute(0, 2, 3, 1)[m])
    assert torch.equal(res.depth[m], ref.depth[m])


def test_points_behind_or_outside_are_dropped():
    H, W = 10, 10
    img, depth = torch.ones(3, H, W), torch.full((H, W), 1.0)
    K = _K(10.0, H, W)
    behind = _pose(0, 0, 2.0)  # the plane at z = 1 is behind a camera at z = 2 looking along +z
    res = forward_splat(*_splat_args([img], [depth], [K], [_pose()], K, behind), (H, W))
    assert not res.mask.any() and torch.equal(res.image, torch.zeros_like(res.image))
    aside = _pose(5.0, 0, 0)  # the plane lies entirely outside this camera's view
    assert not forward_splat(*_splat_args([img], [depth], [K], [_pose()], K, aside), (H, W)).mask.any()


def test_fill_holes_fills_everything_and_keeps_valid_pixels():
    g = torch.Generator().manual_seed(3)
    B, C, H, W = 3, 3, 17, 23
    img = torch.rand(B, C, H, W, generator=g)
    depth = 1 + torch.rand(B, H, W, generator=g)
    mask = torch.rand(B, H, W, generator=g) < 0.3
    mask[1] = False
    mask[1, 5:7, 5:9] = True  # one small island: everything else far from any data
    mask[2] = False  # nothing at all
    out, out_d = fill_holes(torch.where(mask[:, None], img, torch.zeros(())), mask, torch.where(mask, depth, torch.zeros(())))
    assert torch.isfinite(out).all() and torch.isfinite(out_d).all()
    assert torch.equal(out.permute(0, 2, 3, 1)[mask], img.permute(0, 2, 3, 1)[mask])
    assert torch.equal(out_d[mask], depth[mask])
    # filled values are blends of valid ones; the island's frame is filled from the island alone
    assert (out_d[:2] >= 1 - 1e-6).all() and (out_d[:2] <= 2 + 1e-6).all()
    lo, hi = img[1][:, 5:7, 5:9].amin((1, 2)), img[1][:, 5:7, 5:9].amax((1, 2))
    assert ((out[1] >= lo[:, None, None] - 1e-6) & (out[1] <= hi[:, None, None] + 1e-6)).all()
    assert torch.equal(out[2], torch.zeros_like(out[2])) and torch.equal(out_d[2], torch.zeros_like(out_d[2]))


def test_temporal_fill_takes_the_nearest_frame():
    T, H, W = 4, 6, 8
    img = torch.arange(T, dtype=torch.float32).view(T, 1, 1, 1).expand(T, 3, H, W).clone()
    depth = 1 + torch.arange(T, dtype=torch.float32).view(T, 1, 1).expand(T, H, W).clone()
    mask = torch.ones(T, H, W, dtype=torch.bool)
    mask[1, 2, 3] = False  # frames 0 and 2 both valid: the tie goes to the earlier one
    mask[0:3, 4, 5] = False  # only frame 3 valid: 3 frames away from frame 0
    mask[:, 0, 0] = False  # never valid: spatial push-pull
    out, out_d, have = temporal_fill(img, mask, depth)
    assert out[1, :, 2, 3].tolist() == [0.0] * 3 and out_d[1, 2, 3] == 1.0
    assert out[0, :, 4, 5].tolist() == [3.0] * 3 and out[2, :, 4, 5].tolist() == [3.0] * 3 and out_d[0, 4, 5] == 4.0
    assert not have[:, 0, 0].any() and have.sum() == T * H * W - T
    assert torch.equal(out[mask.unsqueeze(1).expand_as(out)], img[mask.unsqueeze(1).expand_as(img)])
    assert torch.isfinite(out).all()
    out2, _, have2 = temporal_fill(img, mask, depth, max_gap=2)
    assert not have2[0, 4, 5] and have2[1, 4, 5]  # 3 frames is past the gap; frame 1 is 2 away


# --------------------------------------------------------------------------------------------
# A real sample episode: head camera (GT depth) warped into the left wrist camera.
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sample_episode(tmp_path_factory):
    from embodied_rerender.imageio import read_depth_png
    from embodied_rerender.io.agibot import AgiBotReader
    from embodied_rerender.sample import write_sample_dataset

    root = tmp_path_factory.mktemp("sample")
    write_sample_dataset(root, episodes=1, frames=20, seed=0, width=160, height=120, progress=False)
    reader = AgiBotReader(root)
    ref = reader.refs()[0]
    ep = reader.read(ref)
    gt_dir = root / "ground_truth" / ref.task_id / ref.episode_id / "depth"

    def gt_depth(camera):
        return torch.from_numpy(np.stack([read_depth_png(gt_dir / f"{camera}_depth_{t:06d}.png")
                                          for t in range(ep.num_frames)]))

    return ep, gt_depth


def test_head_to_wrist_warp_beats_constant_grey(sample_episode):
    from embodied_rerender.metrics import covisible_mask, mean_metric, psnr

    ep, gt_depth = sample_episode
    head, hand = ep.cameras["head"], ep.cameras["hand_left"]
    d_head, d_hand = gt_depth("head").float(), gt_depth("hand_left").float()
    src = torch.from_numpy(head[:]).permute(0, 3, 1, 2).float() / 255
    tgt = hand[:]
    sK = torch.from_numpy(head.trajectory.intrinsics_per_frame()).float()
    sE = torch.from_numpy(head.trajectory.extrinsics).float()
    tK = torch.from_numpy(hand.trajectory.intrinsics_per_frame()).float()
    tE = torch.from_numpy(hand.trajectory.extrinsics).float()
    res = forward_splat(src[:, None], d_head[:, None], sK[:, None], sE[:, None], tK, tE, (hand.height, hand.width))
    grey = torch.full_like(res.image, 0.5)
    out = res.image.clamp(0, 1)
    # The honest region: covered by the warp AND truly seen by the head (GT depths agree). Covered-but-not-
    # co-visible pixels (the wrist camera's own gripper fingers, which the head never sees) need a generator.
    region = res.mask & covisible_mask(d_hand, tK, tE, d_head, sK, sE)
    assert region.float().mean() > 0.3
    warp_db, grey_db = mean_metric(psnr(out, tgt, region)), mean_metric(psnr(grey, tgt, region))
    print(f"co-visible: warp {warp_db:.2f} dB, grey {grey_db:.2f} dB; covered: warp "
          f"{mean_metric(psnr(out, tgt, res.mask)):.2f} dB, grey {mean_metric(psnr(grey, tgt, res.mask)):.2f} dB")
    assert warp_db >= grey_db + 5.0
    assert mean_metric(psnr(out, tgt, res.mask)) > mean_metric(psnr(grey, tgt, res.mask))
    # the view carries its depth: right where the head saw the surface
    err = (res.depth - d_hand).abs()[region]
    assert err.median() < 0.01


# --------------------------------------------------------------------------------------------
# Fused kernels (render/kernels.py): every backend against the torch references.
# --------------------------------------------------------------------------------------------
def _kernel_cases():
    from embodied_rerender.render.kernels import available_backends

    cases = [("cpu", b) for b in available_backends("cpu")]
    if torch.cuda.is_available():
        cases += [("cuda", b) for b in available_backends("cuda")]
    return cases


def _occluded_scene(device="cpu"):
    """Two frames, three views (the third an exact copy of the first in another colour: depth ties), a nearer
    box, invalid pixels, a slanted far wall; the targets move closer, so splats are up to several pixels."""
    B, V, H, W, f = 2, 3, 30, 40, 35.0
    g = torch.Generator().manual_seed(5)
    img = torch.rand(B, V, 3, H, W, generator=g)
    ys = torch.arange(H, dtype=torch.float32).view(H, 1)
    depth = (3.0 + 0.04 * ys).expand(B, V, H, W).clone() + 0.05 * torch.rand(B, V, H, W, generator=g)
    depth[..., 8:20, 10:25] = 1.5
    depth[:, 1, :4] = 0
    depth[:, 2], img[:, 2] = depth[:, 0], 1 - img[:, 0]  # same points as view 0: ties must go to view 0
    K = _K(f, H, W).expand(B, V, 3, 3)
    src = torch.stack([torch.stack([_pose(0.1 * b, 0, 0), _pose(-0.2, 0.05 * b, 0), _pose(0.1 * b, 0, 0)])
                       for b in range(B)])
    tgt = torch.stack([_pose(0.15, -0.05, 1.0), _pose(-0.1, 0.1, 0.6)])
    return tuple(x.to(device) for x in (img, depth, K, src, K[:, 0], tgt)), (H, W)


@pytest.mark.parametrize("device,backend", _kernel_cases())
def test_kernel_point_mode_is_bit_identical_to_the_reference(device, backend):
    from embodied_rerender.render.kernels import splat

    args, size = _occluded_scene(device)
    ref = forward_splat_reference(*args, size)
    out = splat(*args, size, max_splat=1, backend=backend)
    assert ref.mask.float().mean() > 0.3
    assert torch.equal(out.mask, ref.mask)
    assert torch.equal(out.image, ref.image)
    assert torch.equal(out.depth, ref.depth)
    # channels-last uint8 input takes the same path and returns the same pixels
    u8 = (args[0] * 255).round().to(torch.uint8)
    out8 = splat(u8.permute(0, 1, 3, 4, 2), *args[1:], size, max_splat=1, backend=backend, channels_last=True)
    ref8 = forward_splat_reference(u8.float(), *args[1:], size)
    assert torch.equal(out8.image.float(), ref8.image) and torch.equal(out8.mask, ref8.mask)


@pytest.mark.parametrize("device,backend", _kernel_cases())
def test_kernel_splat_mode_matches_forward_splat(device, backend):
    """Exact: every backend runs the same float32 operations in the same order (Triton with FMA contraction off
    and correctly rounded division)."""
    from embodied_rerender.render.kernels import splat

    args, size = _occluded_scene(device)
    ref = forward_splat(*args, size)
    out = splat(*args, size, backend=backend)
    assert ref.mask.float().mean() > 0.9
    assert torch.equal(out.mask, ref.mask)
    assert torch.equal(out.image, ref.image) and torch.equal(out.depth, ref.depth)


def test_triton_kernel_in_the_interpreter_matches_the_reference():
    """The Triton kernel's logic on CPU (TRITON_INTERPRET=1), so CI without a GPU still checks it."""
    from triton_interpreter import run_interpreted

    pytest.importorskip("triton")
    code = (
        "import torch, test_render as t\n"
        "from embodied_rerender.render import forward_splat, forward_splat_reference\n"
        "from embodied_rerender.render.kernels import splat\n"
        "args, size = t._occluded_scene()\n"
        "ref, p = forward_splat_reference(*args, size), splat(*args, size, max_splat=1, backend='triton')\n"
        "assert torch.equal(p.image, ref.image) and torch.equal(p.depth, ref.depth) and torch.equal(p.mask, ref.mask)\n"
        "ref, s = forward_splat(*args, size), splat(*args, size, backend='triton')\n"
        "assert torch.equal(s.mask, ref.mask) and torch.equal(s.image, ref.image) and torch.equal(s.depth, ref.depth)\n"
        "from embodied_rerender.render import far_push_pull, triton_kernels\n"
        "for v, m in t._fill_cases():\n"
        "    assert torch.allclose(triton_kernels.far_push_pull(v, m), far_push_pull(v, m), atol=1e-6)\n"
        "print('ok')\n")
    run_interpreted(code)


def test_unknown_or_missing_backend_is_a_clear_error():
    from embodied_rerender.render.kernels import splat

    args, size = _occluded_scene()
    with pytest.raises(ValueError, match="unknown splat backend"):
        splat(*args, size, backend="opengl")


# --------------------------------------------------------------------------------------------
# Footprint: closed slanted surfaces, no oversized isolated splats.
# --------------------------------------------------------------------------------------------
def test_slanted_plane_has_no_interior_holes():
    from scipy.ndimage import binary_fill_holes

    from embodied_rerender.render.kernels import splat

    # A plane tilted 60 degrees away from a source camera (grazing view) seen head-on, closer, by the target.
    Hs, Ws, f = 48, 64, 50.0
    Ks = _K(f, Hs, Ws)
    normal = torch.tensor([0.0, -math.sin(math.radians(60)), -math.cos(math.radians(60))])
    p0 = torch.tensor([0.0, 0.0, 2.0])
    v, u = torch.meshgrid(torch.arange(Hs, dtype=torch.float32), torch.arange(Ws, dtype=torch.float32), indexing="ij")
    rays = torch.stack([(u - Ks[0, 2]) / f, (v - Ks[1, 2]) / f, torch.ones_like(u)], -1)
    t = (normal @ p0) / (rays @ normal)
    depth = torch.where((t > 0) & (t < 10), t, torch.zeros(()))
    img = _textured_plane(Hs, Ws)
    eye = p0 + 1.0 * (-normal)  # on the camera's side of the plane, looking straight at it
    tgt = look_at(eye[None], p0[None])[0]
    args = _splat_args([img], [depth], [Ks], [_pose()], Ks, tgt)
    res = splat(*args, (Hs, Ws), backend="torch")
    ref = forward_splat_reference(*args, (Hs, Ws))
    # Interior: target pixels whose ray meets the plane at a point the source sees at least 2 px inside its image.
    from embodied_rerender.geometry.camera import project, unproject

    tr = unproject(torch.ones(Hs, Ws), Ks, tgt).reshape(-1, 3) - tgt[:3, 3]  # ray directions
    s_hit = (normal @ p0 - tgt[:3, 3] @ normal) / (tr @ normal)
    uv, z = project(tgt[:3, 3] + s_hit[:, None] * tr, _pose(), Ks)
    inside = ((s_hit > 0) & (z > 0) & (uv[:, 0] > 2) & (uv[:, 0] < Ws - 3) & (uv[:, 1] > 2) & (uv[:, 1] < Hs - 3))
    interior = inside.reshape(Hs, Ws)
    assert interior.float().mean() > 0.3
    assert ref.mask[0][interior].float().mean() < 0.8  # the point splat is a dot pattern on this surface
    assert res.mask[0][interior].all()  # the Jacobian footprint closes it
    assert torch.equal(forward_splat(*args, (Hs, Ws)).mask, res.mask)


def test_isolated_pixel_stays_one_pixel():
    from embodied_rerender.render.kernels import splat

    # A lone valid pixel (a flying pixel at a depth edge) magnified 2x stands for itself only.
    H, W, f = 32, 48, 30.0
    img, depth = torch.ones(3, H, W), torch.zeros(H, W)
    depth[20, 16] = 2.0  # lands near (8.5, 24.5) in the target
    depth[12:16, 30:34] = 2.0  # a real 4x4 patch: that one is magnified to about 8x8
    args = _splat_args([img], [depth], [_K(f, H, W)], [_pose()], _K(f, H, W), _pose(0, 0, 1.0))
    res = splat(*args, (H, W), backend="torch")
    ref = forward_splat_reference(*args, (H, W))
    assert ref.mask[0, 20:30, 3:14].sum() == 1
    y, x = ref.mask[0, 20:30, 3:14].nonzero()[0].tolist()
    y, x = y + 20, x + 3
    assert res.mask[0, y - 3:y + 4, x - 3:x + 4].sum() == 1  # one pixel, not a 2x2 or larger square
    assert res.mask.sum() >= 1 + 7 * 7  # the patch is magnified


# --------------------------------------------------------------------------------------------
# Depth-aware fill: disocclusions take the far surface.
# --------------------------------------------------------------------------------------------
def test_depth_aware_fill_paints_the_far_plane_into_a_disocclusion():
    from embodied_rerender.render.kernels import splat

    H, W, f = 48, 64, 50.0
    img = torch.zeros(3, H, W)
    img[0] = 1.0  # far plane: red
    depth = torch.full((H, W), 3.0)
    depth[16:32, 24:40] = 1.0
    img[:, 16:32, 24:40] = torch.tensor([0.0, 0.0, 1.0])[:, None, None]  # near square: blue
    args = _splat_args([img], [depth], [_K(f, H, W)], [_pose()], _K(f, H, W), _pose(0.15))
    res = splat(*args, (H, W), backend="torch")
    hole = ~res.mask[0]
    # the square shifts left in the target and uncovers a strip of the plane to its right
    assert hole[16:32, 24:48].sum() >= 64
    out, out_d = fill_holes(res.image, res.mask, res.depth)
    assert out[0, 2][hole].max() == 0.0 and out[0, 0][hole].min() == 1.0  # pure far colour, no occluder blend
    assert torch.allclose(out_d[0][hole], torch.tensor(3.0), rtol=0.05)
    assert torch.equal(out[0][:, ~hole], res.image[0][:, ~hole])
    plain, _ = fill_holes(res.image, res.mask, res.depth, depth_aware=False)
    assert plain[0, 2][hole].max() > 0.2  # plain push-pull smears the occluder in: what this fixes


def _fill_cases():
    """(values (B, 4, H, W) with two depth layers in channel 3, mask (B, H, W)) of odd, thin and 1x1 sizes."""
    g = torch.Generator().manual_seed(7)
    for B, H, W in ((2, 17, 23), (1, 1, 5), (1, 32, 48), (1, 1, 1)):
        v = torch.rand(B, 4, H, W, generator=g)
        v[:, 3] = 1 + 3 * (torch.rand(B, H, W, generator=g) > 0.5)
        yield v, torch.rand(B, H, W, generator=g) < 0.3


def test_compiled_fill_matches_torch_far_push_pull():
    pytest.importorskip("numba")
    from embodied_rerender.render import far_push_pull
    from embodied_rerender.render import numba_kernels

    for v, m in _fill_cases():
        assert torch.allclose(numba_kernels.far_push_pull(v, m), far_push_pull(v, m), atol=1e-6)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="the compiled Triton fill needs CUDA (CPU: interpreter test)")
def test_triton_fill_matches_torch_far_push_pull_on_cuda():
    from embodied_rerender.render import far_push_pull, triton_kernels

    for v, m in _fill_cases():
        v, m = v.cuda(), m.cuda()
        assert torch.allclose(triton_kernels.far_push_pull(v, m), far_push_pull(v, m), atol=1e-6)


def test_warp_synthesizer_backends_agree_and_stay_uint8():
    from embodied_rerender.episode import CameraTrajectory
    from embodied_rerender.generate.warp import WarpSynthesizer
    from embodied_rerender.memory import View
    from embodied_rerender.render.kernels import available_backends

    T, H, W = 5, 24, 32
    g = np.random.default_rng(0)
    K = _K(30.0, H, W).numpy().astype(np.float64)
    ext = np.tile(np.eye(4), (T, 1, 1))
    ext[:, 0, 3] = 0.01 * np.arange(T)
    depth = np.full((T, H, W), 2.0, np.float32)
    depth[:, 8:16, 10:20] = 1.0
    view = View("head", g.integers(0, 256, (T, H, W, 3), dtype=np.uint8), depth, CameraTrajectory(ext, K, H, W))
    tgt = ext.copy()
    tgt[:, 0, 3] += 0.1
    tgt[:, 2, 3] += 0.5
    target = CameraTrajectory(tgt, K, H, W)
    outs = [WarpSynthesizer(chunk=2, backend=b).synthesize([view], target, 0) for b in available_backends("cpu")]
    for out in outs:
        assert callable(out._depth)  # the depth stays where it was rendered until read
        assert out.frames.dtype == np.uint8 and out.frames.shape == (T, H, W, 3)
        assert out.covered.mean() > 0.5 and (out.depth > 0).all()
        assert out.depth.dtype == np.float32 and out.depth.shape == (T, H, W) and out.depth is out.depth  # once
    for out in outs[1:]:
        assert np.array_equal(out.covered, outs[0].covered)
        assert np.abs(out.frames.astype(int) - outs[0].frames.astype(int)).max() <= 1
    temporal = WarpSynthesizer(chunk=2, temporal_gap=2).synthesize([view], target, 0)
    assert np.array_equal(temporal.covered, outs[0].covered) and temporal.frames.dtype == np.uint8


@pytest.mark.parametrize("device", ["cpu"] + (["cuda"] if torch.cuda.is_available() else []))
def test_streamed_context_equals_the_whole_views(device):
    """Chunks fetched ahead (clamped at the ends of views that start and stop at other frames) are the frames the
    whole-view upload indexes."""
    from embodied_rerender.episode import CameraTrajectory
    from embodied_rerender.generate.context import StreamedContext, WholeContext
    from embodied_rerender.memory import View

    g = np.random.default_rng(1)
    K = _K(20.0, 6, 8).numpy().astype(np.float64)
    views = []
    for start, n in ((0, 10), (3, 4)):
        poses = np.tile(np.eye(4), (n, 1, 1))
        poses[:, 0, 3] = np.arange(n)
        views.append(View(f"v{start}", g.integers(0, 256, (n, 6, 8, 3), dtype=np.uint8),
                          g.random((n, 6, 8)).astype(np.float32), CameraTrajectory(poses, K, 6, 8), start=start))
    whole, streamed = WholeContext(views, torch.device(device)), StreamedContext(views, torch.device(device))
    streamed.prefetch(4, 8)
    for t0, t1 in ((0, 4), (4, 8), (8, 12)):
        for a, b in zip(whole.at(t0, t1), streamed.at(t0, t1)):
            assert torch.equal(a, b)


@pytest.mark.parametrize("device", ["cpu"] + (["cuda"] if torch.cuda.is_available() else []))
def test_whole_context_reuses_the_views_it_already_holds(device):
    """A view whose frame and depth arrays a previous call uploaded is not uploaded again (one head view serves
    every target of an episode); a new view is, and the resident set then holds this call's views only."""
    from embodied_rerender.episode import CameraTrajectory
    from embodied_rerender.generate.context import WholeContext
    from embodied_rerender.memory import View

    g = np.random.default_rng(2)
    K = _K(20.0, 6, 8).numpy().astype(np.float64)

    def view(name):
        return View(name, g.integers(0, 256, (4, 6, 8, 3), dtype=np.uint8), g.random((4, 6, 8)).astype(np.float32),
                    CameraTrajectory(np.tile(np.eye(4), (4, 1, 1)), K, 6, 8))

    head, other, dev, resident = view("head"), view("other"), torch.device(device), {}
    first = WholeContext([head], dev, resident)
    second = WholeContext([head, other], dev, resident)
    assert second.views[0][0] is first.views[0][0] and second.views[0][1] is first.views[0][1]
    assert torch.equal(second.views[1][0].cpu(), torch.from_numpy(other.frames))
    assert len(resident) == 2
    third = WholeContext([other], dev, resident)
    assert third.views[0][0] is second.views[1][0] and len(resident) == 1
