"""The self-parts template's per-pixel median (`render/numba_kernels.py` `median_hits`): the sorting network and
the 256-bin count on the same frames, against numpy (`render/self_parts.py` `constant_mask_reference`'s median and
hit count), on one numba thread (an augment worker's share on a busy machine).

    python benchmarks/self_parts.py [--size 480x640] [--frames 10 25 40 128 256] [--repeat 3] [--small]

Frames are random uint8 with a constant band (the "parts"). Figures (one JSON line per frame count): median
seconds of each method, `count_over_sort` (> 1: the network is faster; `SORT_MAX` in the kernel module is where it
stops being so), `numpy_over_auto`, and whether every method gives numpy's medians and hits.
--small: 24x32, 7 and 130 frames (both methods of "auto"), one repeat (a smoke check).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time


def main() -> None:
    import numba
    import numpy as np

    from embodied_rerender.render import numba_kernels

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="480x640", help="HxW")
    ap.add_argument("--frames", type=int, nargs="+", default=[10, 25, 40, 128, 256])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--tol", type=int, default=12)
    ap.add_argument("--small", action="store_true")
    args = ap.parse_args()
    if args.small:
        args.size, args.frames, args.repeat = "24x32", [7, 130], 1
    h, w = (int(v) for v in args.size.split("x"))
    numba.set_num_threads(1)
    rng = np.random.default_rng(0)

    def numpy_side(frames):  # constant_mask_reference's median and hit count, without the opening
        median = np.median(frames, axis=0).round().astype(np.uint8)
        diff = np.abs(frames.astype(np.int16) - median.astype(np.int16)).max(-1)
        return median, (diff <= args.tol).sum(0)

    sides = {"sort": lambda f: numba_kernels.median_hits(f, args.tol, "sort"),
             "count": lambda f: numba_kernels.median_hits(f, args.tol, "count"),
             "auto": lambda f: numba_kernels.median_hits(f, args.tol), "numpy": numpy_side}
    for n in args.frames:
        frames = rng.integers(0, 256, (n, h, w, 3), dtype=np.uint8)
        frames[:, : h // 4] = frames[:1, : h // 4]  # a band that holds in every frame
        for side in ("sort", "count"):
            sides[side](frames[:, :2])  # compiled (or loaded from the cache) outside the timing
        seconds, results = {}, {}
        for name, fn in sides.items():
            runs = []
            for _ in range(max(1, args.repeat)):
                t0 = time.perf_counter()
                results[name] = fn(frames)
                runs.append(time.perf_counter() - t0)
            seconds[name] = statistics.median(runs)
        ref = results["numpy"]
        same = all(np.array_equal(results[k][0], ref[0]) and np.array_equal(results[k][1], ref[1])
                   for k in ("sort", "count", "auto"))
        print(json.dumps({"figure": "self_parts.median_hits", "size": f"{w}x{h}", "frames": n, "threads": 1,
                          **{f"{k}_s": round(v, 4) for k, v in seconds.items()},
                          "count_over_sort": round(seconds["count"] / seconds["sort"], 2),
                          "numpy_over_auto": round(seconds["numpy"] / seconds["auto"], 2),
                          "auto": "sort" if n <= numba_kernels.SORT_MAX else "count", "same_as_numpy": same}),
              flush=True)


if __name__ == "__main__":
    main()
