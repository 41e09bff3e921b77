"""The fused kernels of the static-scene memory (numba on a CPU, Triton in its interpreter) against
`static_views_reference`, on a ray-cast table with boxes seen by a drifting camera while one box moves (the arm)."""

from __future__ import annotations

import pytest
import torch

from embodied_rerender.generate.warp import _instants, static_views, static_views_reference
from embodied_rerender.geometry.camera import look_at, pixel_grid, pixels_to_rays

H, W, T = 24, 32, 12
STATIC_BOXES = [((-0.12, -0.10, 0.0), (-0.04, -0.02, 0.08)), ((0.05, 0.04, 0.0), (0.11, 0.12, 0.12))]


def boxes_at(t: int) -> list:
    """(min xyz, max xyz) boxes at frame t: the static ones and one that crosses the table, 1.5 cm a frame."""
    x = -0.10 + 0.015 * t
    return STATIC_BOXES + [((x, -0.04, 0.05), (x + 0.06, 0.02, 0.11))]


def raycast(K: torch.Tensor, c2w: torch.Tensor, boxes: list) -> torch.Tensor:
    """z-depth ``(H, W)`` float32 of the table z = 0 and `boxes` from one camera (0 where the ray misses)."""
    d = pixels_to_rays(pixel_grid(H, W).reshape(-1, 2), K) @ c2w[:3, :3].T  # (HW, 3): the parameter is z-depth
    o = c2w[:3, 3].expand_as(d)
    best = torch.where(d[:, 2] < -1e-9, -o[:, 2] / d[:, 2].clamp(max=-1e-9), torch.tensor(float("inf")))
    safe = torch.where(d.abs() < 1e-12, torch.full_like(d, 1e-12), d)
    for lo, hi in boxes:
        t1, t2 = (torch.tensor(lo) - o) / safe, (torch.tensor(hi) - o) / safe
        near, far = torch.minimum(t1, t2).amax(-1), torch.maximum(t1, t2).amin(-1)
        best = torch.where((near <= far) & (near > 0) & (near < best), near, best)
    return torch.where(torch.isfinite(best), best, torch.zeros(())).reshape(H, W).float()


def table_view() -> tuple[torch.Tensor, ...]:
    """frames ``(T, H, W, 3)`` uint8, depth ``(T, H, W)``, K ``(T, 3, 3)`` and c2w ``(T, 4, 4)`` of one view."""
    K = torch.tensor([[26.0, 0.0, (W - 1) / 2], [0.0, 26.0, (H - 1) / 2], [0.0, 0.0, 1.0]])
    drift = torch.arange(T, dtype=torch.float32)[:, None] * torch.tensor([0.006, 0.003, -0.002])
    poses = look_at(torch.tensor([-0.45, 0.05, 0.5]) + drift, torch.tensor([0.0, 0.0, 0.02]) + 0.5 * drift)
    depth = torch.stack([raycast(K, poses[t], boxes_at(t)) for t in range(T)])
    frames = (depth[..., None] * 300).clamp(0, 255).to(torch.uint8).expand(-1, -1, -1, 3).contiguous()
    return frames, depth, K.expand(T, 3, 3).contiguous(), poses.float()


def compare(view: tuple[torch.Tensor, ...], backend: str) -> tuple[float, float]:
    """The kernel's against the reference's output on every frame of `view`: (fraction of depth pixels that
    differ, fraction the reference keeps); asserts the other outputs equal and kept depths exact."""
    times = torch.arange(len(view[1]), device=view[1].device)
    ref = static_views_reference(*view, 0, times, 2, 3)
    out = static_views(*view, 0, times, 2, 3, backend=backend)
    for i in (0, 2, 3):
        assert torch.equal(out[i], ref[i])
    assert out[1].shape == ref[1].shape and out[1].dtype == torch.float32
    both = (out[1] > 0) & (ref[1] > 0)
    assert torch.equal(out[1][both], ref[1][both])
    return (out[1] != ref[1]).float().mean().item(), (ref[1] > 0).float().mean().item()


def test_scene_has_static_and_moving_parts():
    """The reference keeps part of the static scene and nothing of the moving box (another instant saw the table
    through where it was), so the comparisons below are not between two empty outputs."""
    frames, depth, ks, poses = table_view()
    kept = static_views_reference(frames, depth, ks, poses, 0, torch.arange(T), 2, 3)[1]
    still = torch.stack([raycast(ks[0], poses[t], STATIC_BOXES) for t in range(T)])
    box = depth < still - 0.01  # (T, H, W): the moving box
    kept_box = box[_instants(torch.arange(T), 0, T, 2, 3)[0]] & (kept > 0)  # (T, C, H, W)
    assert (depth > 0).all() and box.any(-1).any(-1).all()
    assert 0.01 < (kept > 0).float().mean() < 0.5 and not kept_box.any()


def test_numba_kernel_matches_the_reference():
    pytest.importorskip("numba")
    differ, kept = compare(table_view(), "numba")
    assert differ <= 1e-3 and kept > 0.01


def test_numba_kernel_matches_on_the_head_camera_scenes():
    pytest.importorskip("numba")
    import test_static_memory as scenes

    for drift in (0.0, 0.01):
        view = scenes.head_view([scenes.OCCLUDER, scenes.GHOST], drift)
        traj = view.trajectory
        tensors = (torch.from_numpy(view.frames), torch.from_numpy(view.depth),
                   torch.tensor(traj.intrinsics_per_frame(), dtype=torch.float32),
                   torch.tensor(traj.extrinsics, dtype=torch.float32))
        differ, kept = compare(tensors, "numba")
        assert differ <= 1e-3 and kept > 0.01


def test_triton_kernel_in_the_interpreter_matches_the_reference():
    from triton_interpreter import run_interpreted

    pytest.importorskip("triton")
    run_interpreted("import test_static_kernels as t\n"
                    "differ, kept = t.compare(t.table_view(), 'triton')\n"
                    "assert differ <= 1e-3 and kept > 0.01, (differ, kept)\n"
                    "print('ok', differ, kept)\n")


def test_unknown_backend_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown"):
        static_views(*table_view(), 0, torch.arange(2), 1, 3, backend="opengl")


def test_the_synthesizer_takes_the_fused_path(monkeypatch):
    pytest.importorskip("numba")
    from embodied_rerender.generate import WarpSynthesizer
    from embodied_rerender.generate import warp

    import test_static_memory as scenes

    def fail(*args, **kwargs):
        raise AssertionError("the torch reference ran")

    monkeypatch.setattr(warp, "static_views_reference", fail)
    out = WarpSynthesizer(static_memory=1, static_stride=5).synthesize([scenes.head_view([scenes.OCCLUDER])],
                                                                         scenes.target(), 0)
    assert out.covered.mean() > 0.5


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_triton_kernel_matches_the_reference_on_cuda():
    pytest.importorskip("triton")
    view = tuple(x.cuda() for x in table_view())
    differ, kept = compare(view, "triton")
    assert differ <= 1e-3 and kept > 0.01
