"""The policy benchmark's training data as a few small files, for a machine without lerobot or PyAV (the GPU
machine has OpenCV, whose FFmpeg decodes H.264 but not the AV1 the LeRobot writer uses).

`export_frames(frames, dir)` writes what `train.load_lerobot` read: per camera `<camera>.mp4` (every frame in row
order, H.264 CRF 0 in yuv444p, so colour is not subsampled and only the RGB <-> YUV rounding is lost: 0.5 / 255
mean, 2 / 255 max on a 96x72 one-arm episode) and `lowdim.npz` (state, action, episode, frame).
`import_frames(dir)` reads them back into a `Frames`; `tests/test_bench_policy.py` holds the round trip under
1 / 255 on rendered frames.

    python -m embodied_rerender.bench.pack [--cameras=head,hand_left] [--views=N] [--view-crf=10] \
        RUN/demos/lerobot PACK/demos [RUN/views/warp PACK/views/warp ...]

The first pair is the demonstrations (the policy's cameras); every later pair a views dataset (`views.write_views`),
packed as one directory per view, `PACK/views/warp/view_<j>` (head only, keyed by the demonstrations' episodes),
the first N views (default all), which `train_packs` reads. `--view-crf=N` encodes the views at CRF N (their own
synthesis error dwarfs a codec's) to keep the pack within what travels to the GPU machine.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

from .train import Frames, load_lerobot

CRF = 0  # lossless up to the colour-space rounding: ~3 KB per 96x72 frame (CRF 10: ~1 KB, 1.7 / 255 mean, 57 max)


def export_frames(frames: Frames, out: Path, fps: float = 30.0, crf: int = CRF) -> None:
    """Write `frames` (images camera -> `(N, 3, H, W) uint8`) under `out`, H.264 at `crf`."""
    from ..video import write_video

    out.mkdir(parents=True, exist_ok=True)
    for cam, images in frames.images.items():
        rgb = images.permute(0, 2, 3, 1).contiguous().numpy()
        write_video(out / f"{cam}.mp4", iter(rgb), fps, codec="h264", crf=crf, preset="veryslow",
                    pix_fmt="yuv444p")
    np.savez_compressed(out / "lowdim.npz", state=frames.state.numpy(), action=frames.action.numpy(),
                        episode=frames.episode, frame=frames.frame, cameras=np.array(list(frames.images)))


def _decode(path: Path) -> np.ndarray:
    """`(N, H, W, 3) uint8` RGB frames of an MP4, decoded by OpenCV."""
    import cv2

    cap, out = cv2.VideoCapture(str(path)), []
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        out.append(bgr[..., ::-1])
    cap.release()
    if not out:
        raise ValueError(f"{path}: OpenCV decoded no frames")
    return np.stack(out)


def import_frames(root: Path) -> Frames:
    """The `Frames` `export_frames` wrote under `root`."""
    low = np.load(root / "lowdim.npz")
    images = {}
    for cam in low["cameras"].tolist():
        rgb = _decode(root / f"{cam}.mp4")
        if len(rgb) != len(low["episode"]):
            raise ValueError(f"{root / (cam + '.mp4')}: {len(rgb)} frames for {len(low['episode'])} rows")
        images[cam] = torch.from_numpy(np.ascontiguousarray(rgb)).permute(0, 3, 1, 2).contiguous()
    return Frames(images, torch.from_numpy(low["state"]), torch.from_numpy(low["action"]), low["episode"], low["frame"])


def export_views(views: Path, demos: Path, out: Path, count: int | None = None, crf: int = CRF) -> int:
    """Pack the first `count` views (default all) of the views dataset `views` as `out/view_<j>` (H.264 at `crf`),
    keyed by the demonstrations' episodes in `demos`; returns how many."""
    from .views import load_views, view_episodes

    count = count or len(view_episodes(views, demos))
    for j, frames in enumerate(load_views(views, demos, count)):
        export_frames(frames, out / f"view_{j}", crf=crf)
    return count


def main(argv: list[str] | None = None) -> None:
    """Pairs of (dataset, output directory): the demonstrations first (`--cameras`), then views datasets."""
    args = list(sys.argv[1:] if argv is None else argv)
    options = {"cameras": "head", "views": None, "view-crf": str(CRF)}
    while args and args[0].startswith(("--cameras=", "--views=", "--view-crf=")):
        key, _, value = args.pop(0)[2:].partition("=")
        options[key] = value
    if not args or len(args) % 2:
        raise SystemExit("usage: python -m embodied_rerender.bench.pack [--cameras=head,...] [--views=N] "
                         "[--view-crf=N] DEMOS OUT [VIEWS OUT ...]")
    demos = Path(args[0])
    export_frames(load_lerobot(demos, options["cameras"].split(",")), Path(args[1]))
    print(f"{args[0]} -> {args[1]}", flush=True)
    for i in range(2, len(args), 2):
        count = export_views(Path(args[i]), demos, Path(args[i + 1]), int(options["views"] or 0) or None,
                             int(options["view-crf"]))
        print(f"{args[i]} -> {args[i + 1]}/view_0..{count - 1}", flush=True)


if __name__ == "__main__":
    main()
