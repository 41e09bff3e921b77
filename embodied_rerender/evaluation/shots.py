"""Multi-shot table: 12 target trajectories per episode, synthesized in order through one memory bank.

The seed's multi-shot setting: each new shot may retrieve the earlier shots' outputs (written back to the bank),
so errors and inconsistencies compound with the shot count. Per sample episode the shots are, in order:

    1-2   hand_left, hand_right          (the recorded wrist trajectories)
    3-8   virtual_wrist_0..5             (three rigid offsets from each wrist camera)
    9-12  orbit_0..3                     (arcs around what the head camera looks at)

Every shot's ground truth is rendered losslessly by MuJoCo from the episode's seed (`sample.views`), so shots
without a recorded camera are scored the same way as the wrists. Reported at 3, 6, 9 and 12 shots: PSNR / SSIM
averaged over shots 1..n, and view synchronization (`metrics.sync`: RANSAC-inlier SIFT matches between every
pair of the first n synthesized views at the same instant) next to the same figure on the ground-truth views.

    python -c "from embodied_rerender.evaluation.shots import pack_shots; pack_shots('HELDOUT_SAMPLE', 'SHOTS_DIR')"
    embodied-rerender eval table=shots input=SHOTS_DIR hybrid=weights/hybrid_ref.safetensors learned=PATH \
        [stream=weights/stream_ref.safetensors] device=cuda output=DIR
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..generate.self_parts import OPENING_KEY
from ..io.packed import camera_tensors, read_shard, write_shard
from .runner import BankOptions, Setting, run_setting
from .markdown import table
from .scoring import group_rows, mean, means, pairwise_inliers, sync_at

# (x, y, z m; roll, pitch, yaw deg) in the wrist camera's frame; each applies to both wrists.
VIRTUAL_WRIST_OFFSETS = ((0.0, -0.04, -0.06, -15.0, 0.0, 0.0), (0.03, 0.0, -0.05, 0.0, 10.0, 0.0),
                         (-0.03, -0.02, -0.08, -10.0, -10.0, 0.0))
ORBITS = ((30.0, 1.0), (-30.0, 1.0), (50.0, 0.85), (-50.0, 1.15))  # (arc_deg, radius_scale)
SHOT_COUNTS = (3, 6, 9, 12)
SETTINGS = [Setting("warp", "warp"), Setting("learned", "learned"), Setting("hybrid", "hybrid"),
            Setting("hybrid, random context", "hybrid", 4, "random"), Setting("stream", "stream", 1)]
# settings=retrieval: what the retrieval rule is worth, per generator (co-visibility, pose distance, random)
RETRIEVAL = [Setting(f"{g}{label}", g, 4, rule) for g in ("warp", "hybrid")
             for label, rule in (("", "covisibility"), (", pose distance", "pose"), (", random context", "random"))]
SETTING_SETS = {"default": SETTINGS, "retrieval": RETRIEVAL}


def shot_targets(episode) -> list:
    """The 12 targets of a sample episode, in shot order (see the module docstring)."""
    from ..pipeline.targets import head_to_gripper, orbit, virtual_wrist

    targets = head_to_gripper(episode) + virtual_wrist(episode, offsets=VIRTUAL_WRIST_OFFSETS)
    for i, (arc, scale) in enumerate(ORBITS):
        for target in orbit(episode, arc_deg=arc, radius_scale=scale):
            target.name = f"orbit_{i}"
            targets.append(target)
    for target in targets:
        target.name = target.name.removesuffix("_synth")
        target.ground_truth = target.name
    return targets


def pack_shots(input: str | Path, output: str | Path, compress: bool = True, progress: bool = True) -> list[Path]:
    """Held-out sample episodes as shot shards `shots_<id>.safetensors[.gz]`: the head camera (frames, depth
    float16 m, c2w, K) and, per shot, its trajectory and MuJoCo-rendered ground truth."""
    from tqdm import tqdm

    from ..io import get_reader
    from ..sample.views import render_trajectories

    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    reader = get_reader("agibot", str(input))
    written = []
    for ref in tqdm(list(reader.refs()), desc="pack shots", disable=not progress):
        ep = reader.read(ref)
        head = ep.cameras["head"]
        targets = shot_targets(ep)
        truth = render_trajectories(input, int(ep.episode_id), {
            t.name: (t.trajectory.extrinsics, t.trajectory.intrinsics_per_frame()[0]) for t in targets})
        tensors = {"head.depth": head.read_depth(slice(None)).astype(np.float16),
                   **camera_tensors("head", head[:], head.trajectory)}
        for t in targets:
            tensors.update(camera_tensors(t.name, truth[t.name], t.trajectory))
        meta = {"episode": f"{ep.task_id}_{ep.episode_id}", "shots": [t.name for t in targets],
                "height": head.trajectory.height, "width": head.trajectory.width}
        if OPENING_KEY in ep.state:  # the gripper opening: self parts pick their template by it
            tensors[OPENING_KEY] = np.asarray(ep.state[OPENING_KEY], np.float64)
            meta["names"] = {OPENING_KEY: ep.names.get(OPENING_KEY, [])}
        written.append(write_shard(out / f"shots_{ep.task_id}_{ep.episode_id}", tensors, meta, compress))
    return written


def load_shots(path: str | Path):
    """`(episode, targets, truth)`: an Episode holding the head camera (and the gripper opening where packed),
    the shot Targets in order, and name -> `(T, H, W, 3) uint8` ground truth."""
    from ..episode import ArrayFrames, CameraStream, CameraTrajectory, Episode
    from ..generate import Target

    tensors, meta = read_shard(path)
    h, w = meta["height"], meta["width"]

    def trajectory(name):
        return CameraTrajectory(tensors[f"{name}.c2w"].numpy(), tensors[f"{name}.K"].numpy(), h, w)

    head = CameraStream("head", ArrayFrames(tensors["head.frames"].numpy()), trajectory("head"),
                        ArrayFrames(tensors["head.depth"].float().numpy()))
    task, ep_id = meta["episode"].split("_", 1)
    episode = Episode(ep_id, 30.0, {"head": head}, task_id=task)
    if OPENING_KEY in tensors:
        episode.state[OPENING_KEY] = tensors[OPENING_KEY].numpy()
        episode.names.update(meta.get("names", {}))
    targets = [Target(name, trajectory(name), ground_truth=name) for name in meta["shots"]]
    truth = {name: tensors[f"{name}.frames"].numpy() for name in meta["shots"]}
    return episode, targets, truth


def evaluate(shards: list[Path], synthesizers: dict, settings=SETTINGS, seed: int = 0, sync_stride: int = 8,
             bank: BankOptions = BankOptions()) -> tuple[list[dict], list[dict]]:
    """Score every setting on every episode. Returns (per-shot rows, per-(setting, episode, n) sync rows)."""
    rows, sync_rows = [], []
    for path in shards:
        episode, targets, truth = load_shots(path)
        frames = list(range(0, len(episode.cameras["head"]), sync_stride))
        truth_pairs = pairwise_inliers([truth[t.name] for t in targets], frames)
        for s in settings:
            if s.generator not in synthesizers:
                continue
            run = run_setting(episode, ["head"], targets, synthesizers[s.generator], s.k, s.retrieval, seed,
                              truth=truth, bank=bank)
            rows += [{"setting": s.label, "episode": episode.episode_id, **row, "seconds": round(run.seconds, 2)}
                     for row in run.rows]
            pairs = pairwise_inliers([st.synthesis.frames for st in run.steps], frames)
            for n in SHOT_COUNTS:
                if n <= len(run.steps):
                    sync_rows.append({"setting": s.label, "episode": episode.episode_id, "shots": n,
                                      "sync": round(sync_at(pairs, n), 2), "sync_truth": round(sync_at(truth_pairs, n), 2)})
    return rows, sync_rows


def summarize(rows: list[dict], sync_rows: list[dict]) -> list[dict]:
    """Per (setting, n): PSNR / SSIM / covered PSNR / coverage averaged over shots 1..n of every episode, the
    n-th shot's PSNR alone, and view sync of the synthesized and the ground-truth views."""
    out = []
    for label, mine in group_rows(rows).items():
        for n in SHOT_COUNTS:
            upto = [r for r in mine if r["shot"] <= n]
            if not any(r["shot"] == n for r in mine):
                continue
            entry = {"setting": label, "shots": n, **means(upto, ("psnr", "ssim", "psnr_covered", "coverage"))}
            entry["psnr_shot_n"] = mean([r["psnr"] for r in mine if r["shot"] == n])
            syncs = [s for s in sync_rows if s["setting"] == label and s["shots"] == n]
            entry["sync"] = round(float(np.mean([s["sync"] for s in syncs])), 2) if syncs else None
            entry["sync_truth"] = round(float(np.mean([s["sync_truth"] for s in syncs])), 2) if syncs else None
            out.append(entry)
    return out


COLUMNS = [("setting", "setting"), ("shots", "shots"), ("PSNR (1..n)", "psnr"), ("SSIM (1..n)", "ssim"),
           ("PSNR covered", "psnr_covered"), ("coverage", "coverage"), ("PSNR of shot n", "psnr_shot_n"),
           ("view sync", "sync"), ("view sync, ground truth", "sync_truth")]


def markdown_table(summary: list[dict]) -> str:
    return table(COLUMNS, summary)


def run_table(cfg: dict) -> tuple[dict, str]:
    """(report, printable table) for `eval table=shots`."""
    from ..io.packed import shard_paths
    from ..errors import DatasetError
    from .synthesizers import build_synthesizers

    shards = shard_paths(cfg["input"], "shots_")
    if not shards:
        raise DatasetError(f"no shots_*.safetensors[.gz] in {cfg['input']}; make them with evaluation.shots.pack_shots")
    if cfg["settings"] not in SETTING_SETS:
        raise DatasetError(f"settings={cfg['settings']}: use one of {', '.join(SETTING_SETS)}")
    rows, sync_rows = evaluate(shards, build_synthesizers(cfg), SETTING_SETS[cfg["settings"]], seed=cfg["seed"],
                               sync_stride=cfg["sync_stride"], bank=BankOptions(cfg["near"], cfg["far"], cfg["samples"]))
    summary = summarize(rows, sync_rows)
    return {"config": cfg, "summary": summary, "rows": rows, "sync": sync_rows}, markdown_table(summary)
