"""`eval` (table=dataset, the default): score the synthesized cameras of a written dataset.

Per synthesized camera `X_synth` that replaces a recorded camera `X`: PSNR and SSIM per frame against
`X`. Where the sample's ground truth is available (`<root>/ground_truth/<task>/<episode>/depth/`), also
PSNR over the pixels the source camera truly sees (co-visible by ground-truth depth: the fair region for
a method that cannot invent what no camera saw) and colour consistency there. Across the synthesized
cameras of an episode: view synchronization (SIFT + RANSAC inliers between frames of the same instant),
with the recorded cameras they replace as the reference. Per synthesized camera whose poses revisit a pose
(`geometry.loops.find_revisits` on the stored extrinsics): loop closure between the revisit frames over the
static region (`metrics.loop`), the region taken from a recorded source camera's depth (ground truth first).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..episode import Episode
from ..errors import EpisodeError
from ..io import iter_episodes
from .scoring import mean as _mean, sync_inliers


def find_ground_truth(dataset: Path) -> Path | None:
    """The sample ground truth beside the dataset's source, found through its report.json, or None."""
    report = Path(dataset) / "report.json"
    if report.is_file():
        source = Path(json.loads(report.read_text()).get("input") or "")
        if (source / "ground_truth").is_dir():
            return source / "ground_truth"
    return None


def _gt_depth(root: Path, episode: Episode, camera: str) -> np.ndarray | None:
    from ..imageio import read_depth_png

    folder = root / str(episode.task_id) / str(episode.episode_id) / "depth"
    paths = [folder / f"{camera}_depth_{t:06d}.png" for t in range(episode.num_frames)]
    return np.stack([read_depth_png(p) for p in paths]) if all(p.is_file() for p in paths) else None


def score_camera(episode: Episode, name: str, ground_truth: Path | None) -> dict:
    """Per-frame and mean scores of synthesized camera `name` against the camera it replaces."""
    from ..metrics import psnr, ssim_over

    cam = episode.cameras[name]
    truth_name = cam.provenance.get("replaces")
    out: dict = {"replaces": truth_name, "generator": cam.provenance.get("generator")}
    if not truth_name or truth_name not in episode.cameras:
        return out
    synth, truth = cam[:], episode.cameras[truth_name][:]
    per_psnr = psnr(synth, truth).numpy()
    out.update(psnr=_mean(per_psnr), psnr_per_frame=[round(float(v), 3) for v in per_psnr])
    visible = _visible_region(episode, cam, truth_name, ground_truth, synth, out)
    ssims = ssim_over(synth, truth, [None] if visible is None else [None, visible])  # one SSIM map for both
    out["ssim"] = _mean(ssims[0].numpy())
    if visible is not None:
        out.update(psnr_visible=_mean(psnr(synth, truth, visible).numpy()), ssim_visible=_mean(ssims[1].numpy()))
    return out


def _visible_region(episode: Episode, cam, truth_name: str, ground_truth: Path | None, synth: np.ndarray,
                    out: dict):
    """`(T, H, W)` bool pixels the recorded source truly sees (from sample ground-truth depth), or None;
    adds `visible_fraction` and `colour_consistency` to `out`."""
    from ..metrics import colour_consistency, covisible_mask

    source = next((s for s in cam.provenance.get("sources", []) if s in episode.cameras and not episode.cameras[s].synthesized), None)
    if ground_truth is None or source is None:
        return None
    tgt_depth, src_depth = _gt_depth(ground_truth, episode, truth_name), _gt_depth(ground_truth, episode, source)
    if tgt_depth is None or src_depth is None:
        return None
    t_traj, s_traj = episode.cameras[truth_name].trajectory, episode.cameras[source].trajectory
    visible = covisible_mask(tgt_depth, t_traj.intrinsics, t_traj.extrinsics, src_depth, s_traj.intrinsics, s_traj.extrinsics)
    consistent, _ = colour_consistency(synth, tgt_depth, t_traj.intrinsics, t_traj.extrinsics, episode.cameras[source][:],
                                       src_depth, s_traj.intrinsics, s_traj.extrinsics)
    out.update(visible_fraction=round(float(visible.float().mean()), 4), colour_consistency=_mean(consistent.numpy()))
    return visible


def loop_scores(episode: Episode, name: str, ground_truth: Path | None, max_pairs: int = 24) -> dict | None:
    """Loop closure of synthesized camera `name` if its trajectory revisits a pose, else None. The static
    region comes from the depth of a recorded source camera (sample ground truth, else the dataset's),
    splatted into the camera at both revisit times; without any, the whole frame is compared."""
    from ..geometry.loops import find_revisits
    from ..metrics.loop import loop_closure, splat_depth, static_from_depth

    cam = episode.cameras[name]
    pairs = find_revisits(cam.trajectory.extrinsics).numpy()
    if not len(pairs):
        return None
    if len(pairs) > max_pairs:
        pairs = pairs[np.linspace(0, len(pairs) - 1, max_pairs).round().astype(int)]
    frames, static, region = cam[:], None, "whole frame"
    for src in [s for s in cam.provenance.get("sources", []) if s in episode.cameras and not episode.cameras[s].synthesized]:
        scam = episode.cameras[src]
        depth = _gt_depth(ground_truth, episode, src) if ground_truth is not None else None
        if depth is None and scam.depth is not None:
            depth = scam.read_depth(slice(None))
        if depth is None:
            continue
        used = np.unique(pairs)
        sd = np.zeros((len(frames),) + frames.shape[1:3], np.float32)
        st, tt = scam.trajectory, cam.trajectory
        for lo in range(0, len(used), 16):
            f = used[lo:lo + 16]
            sd[f] = splat_depth(depth[f], st.intrinsics_per_frame()[f], st.extrinsics[f], tt.intrinsics_per_frame()[f],
                                tt.extrinsics[f], frames.shape[1:3])
        static = np.stack([static_from_depth(sd[i], sd[j]) for i, j in pairs])
        region = f"depth of {src}" + (" (ground truth)" if ground_truth is not None else "")
        break
    scores = loop_closure(frames, pairs, static)
    return {**scores.summary(), "static_region": region}


def sync_scores(episode: Episode, names: list[str], stride: int) -> dict:
    """Mean SIFT/RANSAC inliers between the synthesized views, and between the recorded ones they replace."""
    recorded = [episode.cameras[n].provenance.get("replaces") for n in names]
    recorded = [r for r in recorded if r in episode.cameras]
    out = {"synthesized": sync_inliers([episode.cameras[n][:] for n in names], stride),
           "recorded": sync_inliers([episode.cameras[n][:] for n in recorded], stride)}
    return {k: v for k, v in out.items() if v is not None}


def evaluate(reader, ground_truth: Path | None = None, sync_stride: int = 5) -> dict:
    """Scores for every episode `reader` yields; skipped episodes are listed with their reason."""
    episodes, skipped = [], []
    for ref, ep in iter_episodes(reader):
        if isinstance(ep, EpisodeError):
            skipped.append(ep.as_dict())
            continue
        names = [n for n, c in ep.cameras.items() if c.synthesized]
        cams = {n: score_camera(ep, n, ground_truth) for n in names}
        for n in names:
            loop = loop_scores(ep, n, ground_truth)
            if loop is not None:
                cams[n]["loop"] = loop
        episodes.append({"episode": f"{ep.task_id}/{ep.episode_id}" if ep.task_id else ep.episode_id,
                         "cameras": cams, "view_sync": sync_scores(ep, names, sync_stride)})
    keys = ("psnr", "ssim", "psnr_visible", "ssim_visible", "colour_consistency")
    summary = {k: _mean([c[k] for e in episodes for c in e["cameras"].values() if c.get(k) is not None]) for k in keys}
    for kind in ("synthesized", "recorded"):
        summary[f"view_sync_{kind}"] = _mean([e["view_sync"][kind] for e in episodes if kind in e["view_sync"]])
    for key in ("loop_mae", "loop_psnr", "loop_match_px", "loop_inlier_ratio"):
        summary[key] = _mean([c["loop"][key] for e in episodes for c in e["cameras"].values()
                              if c.get("loop", {}).get(key) is not None])
    return {"ground_truth": str(ground_truth) if ground_truth else None, "summary": summary, "episodes": episodes,
            "skipped": skipped}


def write_plots(report: dict, out: Path) -> list[Path]:
    """One PNG per episode: PSNR per frame of every synthesized camera that has a ground truth."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for entry in report["episodes"]:
        curves = {n: c["psnr_per_frame"] for n, c in entry["cameras"].items() if "psnr_per_frame" in c}
        if not curves:
            continue
        fig, ax = plt.subplots(figsize=(7, 3.2))
        for name, values in curves.items():
            ax.plot(values, label=name)
        ax.set(xlabel="frame", ylabel="PSNR (dB)", title=f"episode {entry['episode']}")
        ax.legend(fontsize=8)
        fig.tight_layout()
        path = out / f"psnr_{entry['episode'].replace('/', '_')}.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        paths.append(path)
    return paths


__all__ = ["evaluate", "write_plots", "find_ground_truth", "score_camera", "sync_scores", "loop_scores"]
