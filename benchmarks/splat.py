"""Frames/s splatting k context views into a target camera: `forward_splat` (vectorized over frames and
views, magnification-sized splats) against `forward_splat_reference` (one view at a time, one-pixel splats)
in the same run, on the same scene.

    python benchmarks/splat.py [--device cpu|cuda] [--batch 8] [--views 4] [--height 480] [--width 640]
                               [--repeat 5] [--warmup 1]

The scene is ray-cast analytically (no rendering library): a textured table plane with five textured boxes
on it, seen by 4 context cameras (a head camera 0.7 m from the table centre, the head a few cm along its
trajectory, two side cameras 0.2-0.3 m from it) and one wrist-like target camera 0.3 m from the table
(about 2-3x magnification of head pixels). All cameras move a little from frame to frame. Building the scene
is not timed.

Figures (one JSON object per line on stdout), each the median of --repeat calls after --warmup calls
(on CUDA every call is bracketed by torch.cuda.synchronize()):

  splat.vectorized        forward_splat(max_splat=9): the renderer the warp synthesizer uses
  splat.vectorized_point  forward_splat(max_splat=1): the same one-pixel splats as the baseline, so the
                          ratio isolates vectorization from the extra work of magnified splats
Both against
  forward_splat_reference: a Python loop over the views, one-pixel splats, z-buffer merge between views
and, for every splat kernel backend available on the device (render/kernels.py `splat`: triton on CUDA,
numba on CPU, torch everywhere):
  splat.kernel.<backend>        splat(max_splat=9), also against forward_splat (`ratio_vs_forward_splat`)
  splat.kernel.<backend>_point  splat(max_splat=1): must be identical to the baseline (`identical_to_baseline`)

--small: 48x64, batch 2, one repeat (a smoke check for the test suite; its figures mean nothing).

`fps` counts target frames (one per batch element). `ratio` is ours / baseline in frames/s (>1 means ours
is faster). `coverage` is the share of target pixels that received a source pixel.
"""

from __future__ import annotations

import argparse
import json
import os

import torch


# -- scene -------------------------------------------------------------------------------------
BOXES = [  # (min xyz, max xyz) metres, on the table (z = 0)
    ((-0.12, -0.10, 0.0), (-0.04, -0.02, 0.08)),
    ((0.02, -0.14, 0.0), (0.10, -0.06, 0.05)),
    ((0.05, 0.04, 0.0), (0.11, 0.12, 0.12)),
    ((-0.08, 0.06, 0.0), (-0.02, 0.10, 0.03)),
    ((-0.02, -0.03, 0.0), (0.03, 0.02, 0.15)),
]


from timing import timed_median  # noqa: E402


def intrinsics(H: int, W: int, f_at_640: float = 520.0) -> torch.Tensor:
    f = f_at_640 * W / 640.0
    return torch.tensor([[f, 0.0, (W - 1) / 2.0], [0.0, f, (H - 1) / 2.0], [0.0, 0.0, 1.0]])


def camera_poses(batch: int, views: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Context poses ``(B, V, 4, 4)`` and target poses ``(B, 4, 4)``; the rig drifts about 5 mm per frame."""
    from embodied_rerender.geometry.camera import look_at

    eyes = [(-0.50, 0.00, 0.50), (-0.47, 0.03, 0.50), (-0.42, -0.22, 0.42), (-0.35, 0.25, 0.45),
            (-0.55, -0.10, 0.55), (-0.40, 0.10, 0.60)]
    looks = [(0.0, 0.0, 0.02), (0.01, 0.0, 0.02), (0.0, 0.02, 0.03), (0.01, -0.02, 0.03),
             (0.0, 0.0, 0.0), (0.0, 0.0, 0.0)]
    if views > len(eyes):
        raise SystemExit(f"--views at most {len(eyes)}")
    drift = torch.arange(batch, dtype=torch.float32)[:, None] * torch.tensor([0.004, 0.002, -0.001])
    eye = torch.tensor(eyes[:views])[None] + drift[:, None]
    look = torch.tensor(looks[:views])[None] + 0.5 * drift[:, None]
    src = look_at(eye, look)
    tgt_eye = torch.tensor([-0.20, 0.06, 0.22]) + drift
    tgt = look_at(tgt_eye, torch.tensor([0.02, 0.0, 0.03]) + 0.5 * drift)
    return src, tgt


def raycast(K: torch.Tensor, c2w: torch.Tensor, H: int, W: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Images ``(..., 3, H, W)`` in [0, 1] and z-depth ``(..., H, W)`` of the table-and-boxes scene."""
    from embodied_rerender.geometry.camera import pixel_grid, pixels_to_rays

    dev = c2w.device
    K = K.to(dev)
    uv = pixel_grid(H, W, device=dev).reshape(H * W, 2)
    rays_cam = pixels_to_rays(uv, K)  # (HW, 3), camera z = 1: the ray parameter is z-depth
    d = rays_cam @ c2w[..., :3, :3].transpose(-1, -2)  # (..., HW, 3)
    o = c2w[..., None, :3, 3].expand_as(d)
    inf = torch.full(d.shape[:-1], float("inf"), device=dev)
    dz = d[..., 2]
    t_plane = torch.where(dz < -1e-9, -o[..., 2] / dz.clamp(max=-1e-9), inf)
    t_best, hit = t_plane, torch.full(d.shape[:-1], -1, dtype=torch.int64, device=dev)
    safe_d = torch.where(d.abs() < 1e-12, torch.full_like(d, 1e-12), d)
    for i, (lo, hi) in enumerate(BOXES):
        t1 = (torch.tensor(lo, device=dev) - o) / safe_d
        t2 = (torch.tensor(hi, device=dev) - o) / safe_d
        t_near = torch.minimum(t1, t2).amax(-1)
        t_far = torch.maximum(t1, t2).amin(-1)
        ok = (t_near <= t_far) & (t_near > 0) & (t_near < t_best)
        t_best = torch.where(ok, t_near, t_best)
        hit = torch.where(ok, torch.full_like(hit, i), hit)
    p = o + t_best[..., None] * d
    # Texture: a 3 cm checkerboard with a fine sinusoid on the table; a colour with stripes per box.
    checker = ((torch.floor(p[..., 0] / 0.03) + torch.floor(p[..., 1] / 0.03)) % 2)
    fine = 0.5 + 0.5 * torch.sin(p[..., 0] * 400.0) * torch.cos(p[..., 1] * 330.0)
    table = torch.stack([0.35 + 0.3 * checker + 0.1 * fine, 0.3 + 0.25 * checker, 0.25 + 0.15 * fine], -1)
    palette = torch.tensor([[0.8, 0.2, 0.2], [0.2, 0.7, 0.3], [0.2, 0.3, 0.8], [0.9, 0.8, 0.2], [0.7, 0.3, 0.8]],
                           device=dev)
    stripes = 0.75 + 0.25 * torch.sin((p[..., 0] + p[..., 1] + p[..., 2]) * 300.0)
    box = palette[hit.clamp_min(0)] * stripes[..., None]
    colour = torch.where((hit >= 0)[..., None], box, table)
    depth = torch.where(torch.isfinite(t_best), t_best, torch.zeros_like(t_best))
    colour = torch.where((depth > 0)[..., None], colour, torch.zeros_like(colour))
    lead = c2w.shape[:-2]
    return (colour.reshape(*lead, H, W, 3).movedim(-1, -3).contiguous(), depth.reshape(*lead, H, W))


def make_inputs(batch: int, views: int, H: int, W: int) -> dict:
    K = intrinsics(H, W)
    src_c2w, tgt_c2w = camera_poses(batch, views)
    images, depths = raycast(K, src_c2w, H, W)
    return {"images": images, "depths": depths, "src_K": K.expand(batch, views, 3, 3).contiguous(),
            "src_c2w": src_c2w, "tgt_K": K.expand(batch, 3, 3).contiguous(), "tgt_c2w": tgt_c2w}


def magnification(inp: dict) -> dict:
    """Median and 90th percentile of the isotropic magnification of the valid source pixels landing in front
    of the target (what sets the splat size)."""
    from embodied_rerender.geometry.camera import project, unproject

    B, V, H, W = inp["depths"].shape
    pts = unproject(inp["depths"], inp["src_K"], inp["src_c2w"]).reshape(B, V * H * W, 3)
    uv, z = project(pts, inp["tgt_c2w"][:, None], inp["tgt_K"][:, None])
    zs = inp["depths"].reshape(B, V * H * W)
    on = (zs > 0) & (z > 1e-4) & (uv[..., 0] >= 0) & (uv[..., 0] < W) & (uv[..., 1] >= 0) & (uv[..., 1] < H)
    s = (zs / z)[on]  # same focal length everywhere
    s = s[torch.randperm(s.numel(), generator=torch.Generator().manual_seed(0))[:1_000_000]]
    return {"median": round(float(s.median()), 2), "p90": round(float(s.quantile(0.9)), 2),
            "share_on_target": round(float(on.float().mean()), 3)}


# -- timing ------------------------------------------------------------------------------------
def main() -> None:
    from embodied_rerender.render import forward_splat, forward_splat_reference
    from embodied_rerender.render.kernels import available_backends, splat

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch", type=int, default=8, help="target frames per call (the warp synthesizer's chunk)")
    parser.add_argument("--views", type=int, default=4, help="context views k")
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--max-splat", type=int, default=9, help="forward_splat's max_splat (the warp default)")
    parser.add_argument("--small", action="store_true", help="tiny sizes, one repeat (smoke check)")
    args = parser.parse_args()
    if args.small:
        args.height, args.width, args.batch, args.repeat, args.warmup = 48, 64, 2, 1, 1
    device = torch.device(args.device)
    H, W = args.height, args.width

    cpu = make_inputs(args.batch, args.views, H, W)
    mag = magnification(cpu)
    inp = {k: v.to(device) for k, v in cpu.items()}
    size = (H, W)
    dev_name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu ({os.cpu_count()} cores, {torch.get_num_threads()} threads)"
    common = {"device": dev_name, "torch": torch.__version__, "size": f"{W}x{H}", "views": args.views,
              "batch": args.batch, "repeat": args.repeat, "warmup": args.warmup, "magnification": mag,
              "loadavg_1m": round(os.getloadavg()[0], 2)}

    base_s, base_runs, base_out = timed_median(lambda: forward_splat_reference(**inp, out_size=size),
                                               device, args.repeat, args.warmup)
    base_fps = args.batch / base_s
    base_cov = float(base_out.mask.float().mean())
    peak = {}
    runs_list = [("splat.vectorized", forward_splat, args.max_splat), ("splat.vectorized_point", forward_splat, 1)]
    for backend in available_backends(device):
        fn = lambda backend=backend, **kw: splat(**kw, backend=backend)  # noqa: E731
        runs_list += [(f"splat.kernel.{backend}", fn, args.max_splat), (f"splat.kernel.{backend}_point", fn, 1)]
    vec_s = {}
    for name, fn, max_splat in runs_list:
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        s, runs, out = timed_median(lambda: fn(**inp, out_size=size, max_splat=max_splat),
                                    device, args.repeat, args.warmup)
        if device.type == "cuda":
            peak = {"peak_gpu_mb": round(torch.cuda.max_memory_allocated(device) / 1e6)}
        extra = {}
        if max_splat == 1:  # same splats as the baseline: the result must be identical
            extra["identical_to_baseline"] = bool(torch.equal(out.mask, base_out.mask)
                                                  and torch.equal(out.image, base_out.image)
                                                  and torch.equal(out.depth, base_out.depth))
        vec_s.setdefault(max_splat, s)  # forward_splat runs first for each mode
        extra["ratio_vs_forward_splat"] = round(vec_s[max_splat] / s, 3)
        print(json.dumps({"figure": name, **common, "max_splat": max_splat, "seconds_per_call": round(s, 4),
                          "runs_s": [round(r, 4) for r in runs], "fps": round(args.batch / s, 2),
                          "coverage": round(float(out.mask.float().mean()), 4), **extra, **peak,
                          "baseline": "forward_splat_reference (per-view loop, 1-px splats)",
                          "baseline_seconds_per_call": round(base_s, 4), "baseline_runs_s": [round(r, 4) for r in base_runs],
                          "baseline_fps": round(base_fps, 2), "baseline_coverage": round(base_cov, 4),
                          "ratio": round(base_s / s, 3)}), flush=True)


if __name__ == "__main__":
    main()
