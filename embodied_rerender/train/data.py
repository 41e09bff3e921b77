"""Training data: multi-camera episodes packed into small safetensors shards, one per episode.

Packing runs where the readers run (it decodes videos and warps with :class:`WarpSynthesizer`); training
needs only torch + safetensors, so the shards travel to a GPU machine that has neither PyAV nor MuJoCo.
A shard holds, at the training resolution:

    <cam>.frames   (T, h, w, 3) uint8     every recorded camera (head, hand_left, hand_right)
    <cam>.c2w      (T, 4, 4) float32      camera-to-world
    <cam>.K        (3, 3) float32         intrinsics at (h, w) (geometry.resize_intrinsics)
    <wrist>.prior  (T, h, w, 3) uint8     head -> wrist warp render (made at full resolution, then resized)
    <wrist>.covered (T, h, w) uint8       share of each low-res pixel the warp covered, 0..255
    covis.<wrist>  (S, C * S) float32     frustum co-visibility of each target clip (start s) with every
                                          candidate clip (camera c, start s'), for retrieval at training time

and in its metadata `cameras`, `wrists`, `starts`, `clip`, `episode`. Eval shards (`pack_eval`) keep full
resolution, head depth and the wrist ground truth instead, so scoring also runs without a video decoder.
Files may be gzip-compressed (`.safetensors.gz`, stdlib gzip) to fit transfer limits.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

WRISTS = ("hand_left", "hand_right")


def resize_frames(frames: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """`(T, H, W, C)` uint8 or float -> `(T, h, w, C)` same dtype, area-averaged (anti-aliased)."""
    x = torch.from_numpy(np.ascontiguousarray(frames)).float()
    squeeze = x.ndim == 3
    if squeeze:
        x = x[..., None]
    y = F.interpolate(x.permute(0, 3, 1, 2), size=size, mode="area").permute(0, 2, 3, 1)
    if squeeze:
        y = y[..., 0]
    if frames.dtype == np.uint8:
        return y.round().clamp(0, 255).to(torch.uint8).numpy()
    return y.numpy().astype(frames.dtype)


def write_shard(path: Path, tensors: dict[str, np.ndarray], meta: dict, compress: bool) -> Path:
    from safetensors.numpy import save

    blob = save({k: np.ascontiguousarray(v) for k, v in tensors.items()}, metadata={"meta": json.dumps(meta)})
    path = path.with_name(path.name + (".safetensors.gz" if compress else ".safetensors"))
    tmp = path.with_name("." + path.name + ".tmp")
    tmp.write_bytes(gzip.compress(blob, compresslevel=6) if compress else blob)
    tmp.replace(path)
    return path


def read_shard(path: str | Path) -> tuple[dict[str, torch.Tensor], dict]:
    """Tensors and metadata of one shard (plain or gzip)."""
    from safetensors.torch import load

    path = Path(path)
    blob = path.read_bytes()
    if path.suffix == ".gz":
        blob = gzip.decompress(blob)
    tensors = load(blob)
    # Metadata is in the header: a JSON length-prefixed block at the start of the file.
    n = int.from_bytes(blob[:8], "little")
    header = json.loads(blob[8:8 + n])
    meta = json.loads(header.get("__metadata__", {}).get("meta", "{}"))
    return tensors, meta


def shard_paths(root: str | Path, prefix: str = "episode_") -> list[Path]:
    root = Path(root)
    return sorted(p for p in root.iterdir() if p.name.startswith(prefix) and ".safetensors" in p.name)


def _warp_prior(episode, wrist: str, device: str):
    """Head -> wrist warp render at the episode's resolution: frames uint8, covered bool, depth."""
    from ..generate.warp import WarpSynthesizer
    from ..memory import View

    head = episode.cameras["head"]
    view = View("head", head[:], head.read_depth(slice(None)), head.trajectory)
    return WarpSynthesizer(device=device).synthesize([view], episode.cameras[wrist].trajectory, 0)


def clip_starts(num_frames: int, clip: int, stride: int) -> list[int]:
    return list(range(0, num_frames - clip + 1, stride))


def covisibility_table(K: dict[str, torch.Tensor], c2w: dict[str, torch.Tensor], cameras: list[str], wrist: str,
                       starts: list[int], clip: int, size: tuple[int, int], near: float, far: float,
                       samples: int, seed: int) -> np.ndarray:
    """`(S, C * S)` Algorithm-1 scores of target clip (wrist, s) against every candidate clip (c, s')."""
    from ..geometry.covisibility import covisibility_many

    gen = torch.Generator().manual_seed(seed)
    mem_K = torch.stack([K[c] for c in cameras for _ in starts])
    mem_c2w = torch.stack([c2w[c][s:s + clip] for c in cameras for s in starts])
    rows = [covisibility_many(mem_K, mem_c2w, K[wrist], c2w[wrist][s:s + clip], *size, near, far, samples, gen)
            for s in starts]
    return torch.stack(rows).numpy().astype(np.float32)


@dataclass
class PackConfig:
    """height, width: training resolution; clip: frames per clip; stride: clip start spacing (candidate
    grid for retrieval); near/far/samples: co-visibility frusta; device: where the warp runs."""

    height: int = 72
    width: int = 96
    clip: int = 8
    stride: int = 4
    near: float = 0.05
    far: float = 2.5
    samples: int = 128
    compress: bool = True
    device: str = "cpu"


def pack_episodes(input: str | Path, output: str | Path, config: PackConfig | None = None, progress: bool = True,
                  limit: int | None = None) -> list[Path]:
    """Pack every episode an AgiBot-layout reader finds under `input` into `output/episode_<id>.safetensors[.gz]`."""
    from tqdm import tqdm

    from ..geometry.camera import resize_intrinsics
    from ..io import get_reader

    cfg = config or PackConfig()
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    reader = get_reader("agibot", str(input))
    refs = list(reader.refs())[:limit]
    written = []
    size = (cfg.height, cfg.width)
    for ref in tqdm(refs, desc="pack", disable=not progress):
        ep = reader.read(ref)
        cameras = [c for c in ("head", *WRISTS) if c in ep.cameras and ep.cameras[c].trajectory is not None]
        tensors, K, c2w = {}, {}, {}
        for name in cameras:
            cam = ep.cameras[name]
            traj = cam.trajectory
            tensors[f"{name}.frames"] = resize_frames(cam[:], size)
            K[name] = resize_intrinsics(torch.as_tensor(traj.intrinsics_per_frame()[0], dtype=torch.float32),
                                        (traj.height, traj.width), size)
            c2w[name] = torch.as_tensor(traj.extrinsics, dtype=torch.float32)
            tensors[f"{name}.K"], tensors[f"{name}.c2w"] = K[name].numpy(), c2w[name].numpy()
        starts = clip_starts(ep.num_frames, cfg.clip, cfg.stride)
        wrists = [w for w in WRISTS if w in cameras]
        for i, wrist in enumerate(wrists):
            warp = _warp_prior(ep, wrist, cfg.device)
            tensors[f"{wrist}.prior"] = resize_frames(warp.frames, size)
            tensors[f"{wrist}.covered"] = resize_frames(warp.covered.astype(np.uint8) * 255, size)
            tensors[f"covis.{wrist}"] = covisibility_table(K, c2w, cameras, wrist, starts, cfg.clip, size, cfg.near,
                                                           cfg.far, cfg.samples, seed=i)
        meta = {"episode": f"{ep.task_id}_{ep.episode_id}", "cameras": cameras, "wrists": wrists, "starts": starts,
                "clip": cfg.clip, "height": cfg.height, "width": cfg.width, "frames": ep.num_frames}
        written.append(write_shard(out / f"episode_{ep.task_id}_{ep.episode_id}", tensors, meta, cfg.compress))
    (out / "pack.json").write_text(json.dumps({"config": cfg.__dict__, "episodes": [p.name for p in written]}, indent=1))
    return written


def camera_tensors(name: str, frames: np.ndarray, trajectory) -> dict[str, np.ndarray]:
    """One camera's entries of an eval shard: `<name>.frames` `(T, H, W, 3) uint8`, `<name>.c2w` `(T, 4, 4)` and
    `<name>.K` `(T, 3, 3)` float64."""
    return {f"{name}.frames": frames, f"{name}.c2w": trajectory.extrinsics.astype(np.float64),
            f"{name}.K": trajectory.intrinsics_per_frame().astype(np.float64)}


def pack_eval(input: str | Path, output: str | Path, compress: bool = True, progress: bool = True) -> list[Path]:
    """Held-out episodes at full resolution for scoring: head frames + depth (float16 metres), wrist ground
    truth, every camera's c2w and K. Written as `eval_<id>.safetensors[.gz]`."""
    from tqdm import tqdm

    from ..io import get_reader

    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    reader = get_reader("agibot", str(input))
    written = []
    for ref in tqdm(list(reader.refs()), desc="pack eval", disable=not progress):
        ep = reader.read(ref)
        tensors = {}
        cameras = [c for c in ("head", *WRISTS) if c in ep.cameras]
        for name in cameras:
            tensors.update(camera_tensors(name, ep.cameras[name][:], ep.cameras[name].trajectory))
        tensors["head.depth"] = ep.cameras["head"].read_depth(slice(None)).astype(np.float16)
        h, w = tensors["head.frames"].shape[1:3]
        meta = {"episode": f"{ep.task_id}_{ep.episode_id}", "cameras": cameras, "height": h, "width": w}
        written.append(write_shard(out / f"eval_{ep.task_id}_{ep.episode_id}", tensors, meta, compress))
    return written


def load_eval_episode(path: str | Path):
    """An :class:`~embodied_rerender.episode.Episode` from an eval shard (frames in memory)."""
    from ..episode import ArrayFrames, CameraStream, CameraTrajectory, Episode

    tensors, meta = read_shard(path)
    cams = {}
    for name in meta["cameras"]:
        traj = CameraTrajectory(tensors[f"{name}.c2w"].numpy(), tensors[f"{name}.K"].numpy(), meta["height"], meta["width"])
        depth = ArrayFrames(tensors["head.depth"].float().numpy()) if name == "head" else None
        cams[name] = CameraStream(name, ArrayFrames(tensors[f"{name}.frames"].numpy()), traj, depth)
    task, ep_id = meta["episode"].split("_", 1)
    return Episode(ep_id, 30.0, cams, task_id=task)
