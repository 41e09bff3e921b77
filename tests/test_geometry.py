"""Geometry package: hand-computed cases for cameras, Plücker rays, co-visibility and trajectories."""

import math

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from embodied_rerender.geometry import (
    blend_poses, covisibility, covisibility_many, crop_intrinsics, frustum_points, gather_frames,
    head_to_gripper_path, in_frustum, interpolate_poses, invert_pose, look_at, matrix_to_quaternion,
    merge_candidates, merge_schedule, offset_from_translation_rpy, orbit, out_and_back, pixel_grid,
    plucker_raymap, project, quaternion_to_matrix, relative_offset, resize_intrinsics, select_views,
    unproject)

D = torch.float64
K0 = torch.tensor([[100.0, 0.0, 64.0], [0.0, 100.0, 48.0], [0.0, 0.0, 1.0]], dtype=D)
H0, W0 = 97, 129  # principal point (64, 48) is the exact centre with integer pixel centres


def pose(R=None, t=(0.0, 0.0, 0.0)):
    out = torch.eye(4, dtype=D)
    if R is not None:
        out[:3, :3] = torch.as_tensor(R, dtype=D)
    out[:3, 3] = torch.as_tensor(t, dtype=D)
    return out


def rot_y(deg):
    return torch.as_tensor(Rotation.from_euler("y", deg, degrees=True).as_matrix(), dtype=D)


def rot_z(deg):
    return torch.as_tensor(Rotation.from_euler("z", deg, degrees=True).as_matrix(), dtype=D)


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


# ---------------------------------------------------------------- camera


def test_project_identity_camera():
    pts = torch.tensor([[0.0, 0.0, 2.0], [1.0, 0.5, 2.0], [0.0, 0.0, -2.0]], dtype=D)
    uv, z = project(pts, pose(), K0)
    assert torch.allclose(uv[0], torch.tensor([64.0, 48.0], dtype=D))
    # u = 64 + 100 * 1 / 2, v = 48 + 100 * 0.5 / 2
    assert torch.allclose(uv[1], torch.tensor([114.0, 73.0], dtype=D))
    assert torch.allclose(z, torch.tensor([2.0, 2.0, -2.0], dtype=D))


def test_project_rotated_translated_camera():
    # Ry(90): camera z (optical axis) = world +x, camera x (right) = world -z, camera y = world +y.
    R = rot_y(90)
    assert torch.allclose(R[:, 2], torch.tensor([1.0, 0.0, 0.0], dtype=D), atol=1e-12)
    c2w = pose(R, (1.0, 2.0, 3.0))
    # 2 m ahead of the camera: on the optical axis.
    pts = torch.tensor([[3.0, 2.0, 3.0],
                        # 0.5 m along world -z = +0.5 m camera x: u = 64 + 100 * 0.5 / 2 = 89
                        [3.0, 2.0, 2.5],
                        # 0.4 m along world +y = camera y (down): v = 48 + 100 * 0.4 / 2 = 68
                        [3.0, 2.4, 3.0]], dtype=D)
    uv, z = project(pts, c2w, K0)
    assert torch.allclose(uv, torch.tensor([[64.0, 48.0], [89.0, 48.0], [64.0, 68.0]], dtype=D))
    assert torch.allclose(z, torch.full((3,), 2.0, dtype=D))


def test_invert_pose():
    c2w = look_at(torch.tensor([1.0, -2.0, 0.5], dtype=D), torch.tensor([0.0, 0.3, 0.1], dtype=D))
    inv = invert_pose(c2w)
    assert torch.allclose(inv @ c2w, torch.eye(4, dtype=D), atol=1e-12)
    assert torch.equal(inv[3], torch.tensor([0.0, 0.0, 0.0, 1.0], dtype=D))


def test_pixel_grid_and_unproject_convention():
    g = pixel_grid(2, 3, dtype=D)
    assert g.shape == (2, 3, 2)
    assert g[1, 2].tolist() == [2.0, 1.0]  # (u, v) = (column, row)
    depth = torch.ones(H0, W0, dtype=D)
    pts = unproject(depth, K0, pose())
    # Pixel centre (64, 48) is the principal point: straight ahead.
    assert torch.allclose(pts[48, 64], torch.tensor([0.0, 0.0, 1.0], dtype=D))
    assert torch.allclose(pts[48, 65], torch.tensor([0.01, 0.0, 1.0], dtype=D))


def test_unproject_project_roundtrip_batched():
    torch.manual_seed(0)
    c2w = look_at(torch.tensor([[0.5, -1.0, 1.2], [-0.4, 0.8, 0.9]], dtype=D),
                  torch.tensor([[0.0, 0.0, 0.2], [0.1, 0.0, 0.0]], dtype=D))
    K = torch.stack([K0, resize_intrinsics(K0, (H0, W0), (50, 70))])
    K[1, 0, 1] = 0.3  # skew too
    depth = torch.rand(2, 8, 11, dtype=D) + 0.5
    pts = unproject(depth, K, c2w)  # (2, 8, 11, 3)
    uv, z = project(pts.reshape(2, -1, 3), c2w, K)
    grid = pixel_grid(8, 11, dtype=D).reshape(-1, 2)
    assert torch.allclose(uv, grid.expand(2, -1, -1), atol=1e-9)
    assert torch.allclose(z, depth.reshape(2, -1), atol=1e-12)


def test_resize_and_crop_intrinsics():
    K = torch.tensor([[100.0, 0.0, 63.5], [0.0, 90.0, 47.5], [0.0, 0.0, 1.0]], dtype=D)  # centred, 128 x 96
    K2 = resize_intrinsics(K, (96, 128), (48, 64))
    # f halves; a centred principal point stays centred: (64 - 1) / 2, (48 - 1) / 2
    assert torch.allclose(K2, torch.tensor([[50.0, 0.0, 31.5], [0.0, 45.0, 23.5], [0.0, 0.0, 1.0]], dtype=D))
    # Consistent with projection: a point's pixel moves like a continuous coordinate, (u + 0.5) s - 0.5.
    p = torch.tensor([[0.3, -0.2, 1.7]], dtype=D)
    uv, _ = project(p, pose(), K)
    uv2, _ = project(p, pose(), K2)
    assert torch.allclose(uv2, (uv + 0.5) * 0.5 - 0.5)
    Kc = crop_intrinsics(K, top=10, left=20)
    assert torch.allclose(Kc[:2, 2], torch.tensor([43.5, 37.5], dtype=D))
    uvc, _ = project(p, pose(), Kc)
    assert torch.allclose(uvc, uv - torch.tensor([20.0, 10.0], dtype=D))
    assert torch.equal(Kc[:, :2], K[:, :2])


def test_look_at_opencv_axes():
    eye = torch.tensor([0.0, 0.0, 0.0], dtype=D)
    c2w = look_at(eye, torch.tensor([1.0, 0.0, 0.0], dtype=D))  # look along +x, z up
    R = c2w[:3, :3]
    assert torch.allclose(R[:, 2], torch.tensor([1.0, 0.0, 0.0], dtype=D))   # forward
    assert torch.allclose(R[:, 0], torch.tensor([0.0, -1.0, 0.0], dtype=D))  # right
    assert torch.allclose(R[:, 1], torch.tensor([0.0, 0.0, -1.0], dtype=D))  # image down = world down
    assert torch.allclose(torch.linalg.det(R), torch.tensor(1.0, dtype=D))
    # Straight down (parallel to up) still gives a proper rotation.
    c2w = look_at(eye, torch.tensor([0.0, 0.0, -1.0], dtype=D))
    R = c2w[:3, :3]
    assert torch.allclose(R.T @ R, torch.eye(3, dtype=D), atol=1e-12)
    assert torch.allclose(R[:, 2], torch.tensor([0.0, 0.0, -1.0], dtype=D))


# ---------------------------------------------------------------- Plücker


def test_plucker_identity_and_translated_camera():
    K = torch.tensor([[2.0, 0.0, 3.0], [0.0, 2.0, 2.0], [0.0, 0.0, 1.0]], dtype=D)
    H, W = 5, 7
    c2w = torch.stack([pose(), pose(t=(1.0, 2.0, 3.0))])
    rays = plucker_raymap(K, c2w, H, W)
    assert rays.shape == (2, 6, H, W)
    # Identity camera: centre pixel (3, 2) looks down +z, moment 0 everywhere (o = 0).
    assert torch.allclose(rays[0, :, 2, 3], torch.tensor([0.0, 0.0, 1.0, 0.0, 0.0, 0.0], dtype=D))
    assert torch.allclose(rays[0, 3:], torch.zeros(3, H, W, dtype=D))
    assert torch.allclose(rays[:, :3].norm(dim=1), torch.ones(2, H, W, dtype=D))
    # Translated camera o = (1, 2, 3): centre ray d = (0, 0, 1), o x d = (2, -1, 0).
    assert torch.allclose(rays[1, :, 2, 3], torch.tensor([0.0, 0.0, 1.0, 2.0, -1.0, 0.0], dtype=D))
    # Pixel (u=5, v=2): K^-1 [5, 2, 1] = (1, 0, 1), d = (1, 0, 1)/sqrt2, o x d = (2, 2, -2)/sqrt2.
    s = 1 / math.sqrt(2)
    expect = torch.tensor([s, 0.0, s, 2 * s, 2 * s, -2 * s], dtype=D)
    assert torch.allclose(rays[1, :, 2, 5], expect)


def test_plucker_reference_frame():
    K = K0[None]
    A = look_at(torch.tensor([0.5, -1.0, 1.0], dtype=D), torch.zeros(3, dtype=D))
    B = look_at(torch.tensor([-0.3, -0.8, 0.6], dtype=D), torch.tensor([0.1, 0.0, 0.0], dtype=D))
    H, W = 6, 8
    # The reference camera itself becomes the identity camera.
    ref_self = plucker_raymap(K, A[None], H, W, reference=A)
    ident = plucker_raymap(K, pose()[None], H, W)
    assert torch.allclose(ref_self, ident, atol=1e-12)
    # B relative to A equals B's relative pose A^-1 B in world coordinates.
    rel = plucker_raymap(K, B[None], H, W, reference=A)
    assert torch.allclose(rel, plucker_raymap(K, (invert_pose(A) @ B)[None], H, W), atol=1e-12)
    # Moving the whole world rigidly changes nothing.
    G = pose(rot_z(37) @ rot_y(-20), (0.3, -2.0, 0.7))
    moved = plucker_raymap(K, (G @ B)[None], H, W, reference=G @ A)
    assert torch.allclose(moved, rel, atol=1e-12)


# ---------------------------------------------------------------- co-visibility

NEAR, FAR = 0.1, 2.0
HC, WC = 48, 64
KC = torch.tensor([[50.0, 0.0, 31.5], [0.0, 50.0, 23.5], [0.0, 0.0, 1.0]], dtype=D)  # ~65 deg hfov


def traj(c2w, F=4):
    return c2w.expand(F, 4, 4).clone()


def score(mem, tgt, K_m=KC, K_t=KC, seed=0, P=2000, **kw):
    return covisibility(K_m, mem, K_t, tgt, HC, WC, NEAR, FAR, P, gen(seed), **kw)


def test_frustum_points_inside_and_depth_distribution():
    c2w = traj(look_at(torch.tensor([0.2, 0.1, 0.5], dtype=D), torch.zeros(3, dtype=D)), 3)
    pts = frustum_points(KC, c2w, HC, WC, 1.0, 2.0, 10000, gen(1))
    assert pts.shape == (3, 10000, 3)
    assert in_frustum(pts, KC, c2w, HC, WC, 1.0, 2.0).all()
    _, z = project(pts, c2w, KC)
    # Uniform in volume: density 3 z^2 / (2^3 - 1^3), mean = (3/4)(2^4 - 1)/7 = 45/28.
    assert abs(z.mean().item() - 45 / 28) < 0.01
    pts_d = frustum_points(KC, c2w, HC, WC, 1.0, 2.0, 10000, gen(1), sampling="depth")
    _, zd = project(pts_d, c2w, KC)
    assert abs(zd.mean().item() - 1.5) < 0.01


def test_in_frustum_boundaries():
    pts = torch.tensor([[0.0, 0.0, 1.0], [0.0, 0.0, 3.0], [0.0, 0.0, -1.0],
                        [10.0, 0.0, 1.0], [0.0, 0.0, 0.05]], dtype=D)
    assert in_frustum(pts, KC, pose(), HC, WC, NEAR, FAR).tolist() == [True, False, False, False, False]


def test_covisibility_identical_away_partial():
    cam = traj(pose())
    same = score(cam, cam)
    away = score(traj(pose(rot_y(180))), cam)
    partial = score(traj(pose(rot_y(30))), cam)
    assert same.item() > 0.999
    assert away.item() == 0.0
    assert 0.1 < partial.item() < 0.9
    # Turning further away monotonically lowers the overlap.
    more = score(traj(pose(rot_y(55))), cam)
    assert away < more < partial < same


def test_covisibility_symmetric_terms():
    # A narrower camera (f doubled) at the same pose: its frustum lies inside the wide one.
    narrow_K = KC.clone()
    narrow_K[0, 0] = narrow_K[1, 1] = 100.0
    cam = traj(pose(t=(0.3, -0.2, 0.1)))
    s, fwd, rev = score(cam, cam, K_m=narrow_K, P=20000, return_terms=True)
    assert fwd.item() > 0.999  # every narrow-frustum sample is seen by the wide target
    assert abs(rev.item() - 0.25) < 0.01  # the narrow view covers (50/100)^2 of the wide volume
    assert torch.allclose(s, 0.5 * (fwd + rev))
    # Swapping memory and target swaps the terms; the score is symmetric.
    s2, fwd2, rev2 = score(cam, cam, K_t=narrow_K, P=20000, return_terms=True)
    assert rev2.item() > 0.999 and abs(fwd2.item() - 0.25) < 0.01
    assert abs(s.item() - s2.item()) < 0.01


def test_covisibility_match_index_vs_any():
    # Memory pans from right-facing to left-facing; the target pans the other way.
    angles = torch.linspace(-60, 60, 5)
    mem = torch.stack([pose(rot_y(float(a))) for a in angles])
    tgt = mem.flip(0)
    s_index = score(mem, tgt)
    s_any = score(mem, tgt, match="any")
    assert s_any > 0.9 and s_index < s_any
    with pytest.raises(ValueError):
        score(mem, tgt[:3])
    # "any" accepts different frame counts.
    assert score(mem, tgt[:3], match="any") > 0.5


def test_covisibility_deterministic_and_batched_matches_single():
    cam = traj(pose())
    views = torch.stack([traj(pose(rot_y(a), (0.1 * i, 0.0, 0.0))) for i, a in enumerate([0, 20, 45, 90, 180])])
    a = covisibility_many(KC, views, KC, cam, HC, WC, NEAR, FAR, 500, gen(3))
    b = covisibility_many(KC, views, KC, cam, HC, WC, NEAR, FAR, 500, gen(3))
    assert a.shape == (5,) and torch.equal(a, b)
    c = covisibility_many(KC, views, KC, cam, HC, WC, NEAR, FAR, 500, gen(4))
    assert not torch.equal(a, c)
    # Each batched score equals the single-view call under the same seed (shared draws).
    for i in range(5):
        assert torch.equal(a[i], covisibility(KC, views[i], KC, cam, HC, WC, NEAR, FAR, 500, gen(3)))
    # Chunking changes nothing, in either match mode.
    small = covisibility_many(KC, views, KC, cam, HC, WC, NEAR, FAR, 500, gen(3), max_elements=700)
    assert torch.equal(a, small)
    any_big = covisibility_many(KC, views, KC, cam, HC, WC, NEAR, FAR, 500, gen(3), match="any")
    any_small = covisibility_many(KC, views, KC, cam, HC, WC, NEAR, FAR, 500, gen(3), match="any",
                                  max_elements=700)
    assert torch.equal(any_big, any_small)
    # Per-view K (N, 3, 3) is accepted and matches the shared K.
    per_view = covisibility_many(KC.expand(5, 3, 3), views, KC, cam, HC, WC, NEAR, FAR, 500, gen(3))
    assert torch.equal(a, per_view)
    # float32 works and agrees closely.
    f32 = covisibility_many(KC.float(), views.float(), KC.float(), cam.float(), HC, WC, NEAR, FAR, 500, gen(3))
    assert f32.dtype == torch.float32 and torch.allclose(f32.double(), a, atol=0.02)


def test_covisibility_requires_generator():
    cam = traj(pose())
    with pytest.raises(TypeError):
        covisibility(KC, cam, KC, cam, HC, WC, NEAR, FAR, 10, None)


def test_select_views():
    s = torch.tensor([0.2, 0.9, 0.5, 0.9, 0.0])
    assert select_views(s, 3).tolist() == [1, 3, 2]
    assert select_views(s, 10).tolist() == [1, 3, 2, 0, 4]


def test_merge_schedule_and_gather():
    assert merge_schedule(3, 6).tolist() == [0, 0, 1, 1, 2, 2]
    assert merge_schedule(3, 7).tolist() == [0, 0, 0, 1, 1, 2, 2]
    assert merge_schedule(3, 6, "interleave").tolist() == [0, 1, 2, 0, 1, 2]
    per_view = torch.arange(4 * 6).reshape(4, 6)
    src = torch.tensor([2, 2, 0, 0, 3, 3])
    assert gather_frames(per_view, src).tolist() == [12, 13, 2, 3, 22, 23]


def _candidates():
    F = 4
    views = [pose(), pose(t=(0.05, 0.0, 0.0)),        # 0, 1: see what the target sees
             pose(rot_y(35)), pose(rot_y(-50)),         # 2, 3: partial
             pose(rot_y(120)), pose(rot_y(180))]        # 4, 5: facing away
    return torch.stack([traj(v, F) for v in views]), traj(pose(), F)


def test_merge_candidates_returns_k_and_keeps_covisible():
    mem, tgt = _candidates()
    out = merge_candidates(KC, mem, KC, tgt, 3, HC, WC, NEAR, FAR, 1000, gen(0))
    assert len(out) == 3
    members = [v.members for v in out]
    # The two co-visible views survive unmerged and rank first; the divergent ones are fused.
    assert members[0] in {(0,), (1,)} and members[1] in {(0,), (1,)}
    assert members[2] == (2, 3, 4, 5)
    assert sorted(i for m in members for i in m) == list(range(6))
    for v in out:
        assert set(v.frame_source.tolist()) <= set(v.members)
        assert v.frame_source.shape == (4,)
    # The merged trajectory's poses come from its members, frame by frame.
    merged = out[2]
    c2w = gather_frames(mem, merged.frame_source)
    for f in range(4):
        assert torch.equal(c2w[f], mem[merged.frame_source[f], f])
    assert out[0].score >= out[1].score >= out[2].score
    # Same seed, same answer.
    again = merge_candidates(KC, mem, KC, tgt, 3, HC, WC, NEAR, FAR, 1000, gen(0))
    assert [v.members for v in again] == members
    assert all(torch.equal(a.frame_source, b.frame_source) for a, b in zip(out, again))


def test_merge_candidates_edge_cases():
    mem, tgt = _candidates()
    # l <= k: nothing merged.
    out = merge_candidates(KC, mem, KC, tgt, 6, HC, WC, NEAR, FAR, 200, gen(0))
    assert sorted(v.members for v in out) == [(i,) for i in range(6)]
    # k = 1 terminates with everything in one slot.
    out = merge_candidates(KC, mem, KC, tgt, 1, HC, WC, NEAR, FAR, 200, gen(0))
    assert len(out) == 1 and out[0].members == tuple(range(6))
    # Pruning to max_candidates drops the least co-visible before merging.
    out = merge_candidates(KC, mem, KC, tgt, 2, HC, WC, NEAR, FAR, 500, gen(0), max_candidates=4)
    kept = sorted(i for v in out for i in v.members)
    assert kept == [0, 1, 2, 3] and len(out) == 2
    # Precomputed scores are honoured (here they invert the geometry).
    scores = torch.tensor([0.0, 0.1, 0.2, 0.3, 0.9, 1.0], dtype=D)
    out = merge_candidates(KC, mem, KC, tgt, 3, HC, WC, NEAR, FAR, 200, gen(0), scores=scores)
    assert {(4,), (5,)} <= {v.members for v in out}
    with pytest.raises(ValueError):
        merge_candidates(KC, mem, KC, tgt, 0, HC, WC, NEAR, FAR, 200, gen(0))


# ---------------------------------------------------------------- trajectories


def test_quaternion_roundtrip_matches_scipy():
    rng = np.random.default_rng(0)
    rots = Rotation.random(50, random_state=rng)
    near_pi = Rotation.from_rotvec(np.array([[0.0, 0.0, math.pi - 1e-9], [math.pi, 0, 0], [0, math.pi, 0]]))
    mats = np.concatenate([rots.as_matrix(), near_pi.as_matrix(), np.eye(3)[None]])
    q = matrix_to_quaternion(torch.as_tensor(mats))
    ref = Rotation.from_matrix(mats).as_quat()  # xyzw
    # q and -q are the same rotation.
    dots = np.abs((q.numpy() * ref).sum(-1))
    assert np.allclose(dots, 1.0, atol=1e-9)
    assert torch.allclose(quaternion_to_matrix(q), torch.as_tensor(mats), atol=1e-9)


def test_interpolate_poses_endpoints_and_slerp_midpoint():
    a = pose(t=(0.0, 0.0, 0.0))
    b = pose(rot_z(90), (2.0, -4.0, 1.0))
    c2w = torch.stack([a, b])
    t_src = torch.tensor([0.0, 1.0], dtype=D)
    out = interpolate_poses(c2w, t_src, torch.tensor([0.0, 0.5, 1.0, 1.5, -1.0], dtype=D))
    assert torch.equal(out[0], a) and torch.equal(out[2], b)
    assert torch.equal(out[3], b) and torch.equal(out[4], a)  # clamped outside the range
    assert torch.allclose(out[1, :3, :3], rot_z(45), atol=1e-12)  # 90 degree turn: midpoint is 45
    assert torch.allclose(out[1, :3, 3], torch.tensor([1.0, -2.0, 0.5], dtype=D))
    # Uneven source times and an interior source time hit exactly.
    c3 = torch.stack([a, b, pose(rot_y(30), (1.0, 1.0, 1.0))])
    ts = torch.tensor([0.0, 0.2, 1.0], dtype=D)
    o3 = interpolate_poses(c3, ts, torch.tensor([0.2, 0.1, 0.6], dtype=D))
    assert torch.equal(o3[0], b)
    assert torch.allclose(o3[1, :3, :3], rot_z(45), atol=1e-12)
    R_rel = o3[2, :3, :3] @ b[:3, :3].T  # halfway from b to c: half the relative rotation
    full = pose(rot_y(30))[:3, :3] @ b[:3, :3].T
    half_angle = Rotation.from_matrix(R_rel.numpy()).magnitude()
    assert abs(half_angle - Rotation.from_matrix(full.numpy()).magnitude() / 2) < 1e-9


def test_slerp_takes_short_arc():
    a = pose(rot_z(170))
    b = pose(rot_z(-170))  # 20 degrees apart across 180
    mid = blend_poses(a, b, 0.5)
    assert torch.allclose(mid[:3, :3], rot_z(180), atol=1e-9)


def test_relative_offset_and_rpy():
    cams = torch.stack([look_at(torch.tensor([1.0, 0.0, 0.5], dtype=D), torch.zeros(3, dtype=D)),
                        pose(rot_y(10), (0.1, 0.2, 0.3))])
    assert torch.equal(relative_offset(cams, torch.eye(4, dtype=D)), cams)
    off = offset_from_translation_rpy(torch.tensor([0.0, 0.0, 0.1], dtype=D), torch.tensor([10.0, -20.0, 30.0], dtype=D))
    ref = Rotation.from_euler("xyz", [10, -20, 30], degrees=True).as_matrix()
    assert torch.allclose(off[:3, :3], torch.as_tensor(ref), atol=1e-12)
    out = relative_offset(cams, off)
    # The virtual camera sits 0.1 m ahead of the carrier along its optical axis.
    assert torch.allclose(out[:, :3, 3], cams[:, :3, 3] + 0.1 * cams[:, :3, 2])
    assert torch.allclose(out[:, :3, :3], cams[:, :3, :3] @ off[:3, :3])
    assert offset_from_translation_rpy([0, 0, 0], [0, 0, 0]).dtype == torch.get_default_dtype()


def test_orbit_looks_at_centre():
    center = torch.tensor([0.5, -0.2, 0.1], dtype=D)
    c2w = orbit(center, radius=1.0, height=0.6, num_frames=8, start_angle=-45.0, arc_deg=180.0)
    assert c2w.shape == (8, 4, 4)
    eye = c2w[:, :3, 3]
    assert torch.allclose((eye[:, :2] - center[:2]).norm(dim=-1), torch.ones(8, dtype=D))
    assert torch.allclose(eye[:, 2], torch.full((8,), 0.7, dtype=D))
    fwd = torch.nn.functional.normalize(center - eye, dim=-1)
    assert torch.allclose(c2w[:, :3, 2], fwd, atol=1e-12)
    uv, z = project(center.expand(8, 1, 3), c2w, KC)
    assert torch.allclose(uv[:, 0], KC[:2, 2].expand(8, 2), atol=1e-9)
    assert (c2w[:, 2, 1] < 0).all()  # image down points downwards in the world
    ang = torch.rad2deg(torch.atan2(eye[:, 1] - center[1], eye[:, 0] - center[0]))
    assert torch.allclose(ang[[0, -1]], torch.tensor([-45.0, 135.0], dtype=D))
    other = orbit(center, 1.0, 0.6, 4, look_at=torch.zeros(3, dtype=D))
    assert torch.allclose(project(torch.zeros(4, 1, 3, dtype=D), other, KC)[0][:, 0], KC[:2, 2].expand(4, 2))


def test_head_to_gripper_path():
    head = torch.stack([pose(rot_z(0), (0.0, 0.0, 1.0)), pose(rot_z(10), (0.0, 0.1, 1.0))])
    grip = torch.stack([pose(rot_y(60), (0.5, 0.0, 0.2)), pose(rot_y(80), (0.6, 0.1, 0.2))])
    assert torch.equal(head_to_gripper_path(head, grip, 0.0), head)
    assert torch.equal(head_to_gripper_path(head, grip, 1.0), grip)
    ramp = head_to_gripper_path(head, grip, torch.tensor([0.0, 1.0], dtype=D))
    assert torch.equal(ramp[0], head[0]) and torch.equal(ramp[1], grip[1])
    mid = head_to_gripper_path(head, grip, 0.5)
    assert torch.allclose(mid[0, :3, :3], rot_y(30), atol=1e-12)
    assert torch.allclose(mid[:, :3, 3], 0.5 * (head[:, :3, 3] + grip[:, :3, 3]))


def test_out_and_back_closes():
    c2w = orbit(torch.zeros(3, dtype=D), 1.0, 0.5, 5, arc_deg=90.0)
    loop = out_and_back(c2w)
    assert loop.shape == (9, 4, 4)
    assert torch.equal(loop[0], loop[-1])
    assert torch.equal(loop[4], c2w[-1]) and torch.equal(loop[5], c2w[3])


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    dev = torch.device("cuda")
    cam = traj(pose())
    views = torch.stack([traj(pose(rot_y(a))) for a in [0, 30, 90]])
    cpu = covisibility_many(KC, views, KC, cam, HC, WC, NEAR, FAR, 500, gen(0))
    gpu = covisibility_many(KC.to(dev), views.to(dev), KC.to(dev), cam.to(dev), HC, WC, NEAR, FAR, 500, gen(0))
    assert gpu.device.type == "cuda"
    assert torch.allclose(gpu.cpu(), cpu, atol=2e-3)
    rays = plucker_raymap(KC[None].to(dev), views[:, 0].to(dev), HC, WC, reference=views[0, 0].to(dev))
    assert torch.allclose(rays.cpu(), plucker_raymap(KC[None], views[:, 0], HC, WC, reference=views[0, 0]))
    traj_gpu = interpolate_poses(views[1].to(dev), torch.arange(4.0, dtype=D, device=dev),
                                 torch.tensor([0.5, 2.5], dtype=D, device=dev))
    assert traj_gpu.device.type == "cuda"
