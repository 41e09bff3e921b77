"""Run under zarr 2 (diffusion_policy's / UMI's pinned stack): load a replay buffer the way their
`ReplayBuffer.copy_from_path` / `copy_from_store` do and dump every array to an npz.

    python zarr2_replay_buffer.py STORE OUT.npz [--codecs imagecodecs|none]

STORE is a directory store or a `.zarr.zip` (opened as a `zarr.ZipStore`, UMI's file). The whole store is
copied into a `zarr.MemoryStore` with `zarr.copy_store` (meta first, then each data array, as their
loaders do), then the buffer invariant they assert is checked: every `data/*` array has
`meta/episode_ends[-1]` rows. Image codecs are registered with the installed imagecodecs release's own
`imagecodecs.numcodecs.register_codecs()` (`--codecs imagecodecs`), whose classes take the same
keyword arguments as diffusion_policy's vendored `diffusion_policy/codecs/imagecodecs_numcodecs.py`.
Prints a JSON summary: versions, keys, dtypes, shapes, codec ids.
"""

import json
import sys

import numpy as np
import zarr


def main(store_path: str, out: str, codecs: str = "imagecodecs") -> None:
    if codecs == "imagecodecs":
        import imagecodecs.numcodecs

        imagecodecs.numcodecs.register_codecs(verbose=False)
    src = zarr.ZipStore(store_path, mode="r") if store_path.endswith(".zip") else zarr.DirectoryStore(store_path)
    mem = zarr.MemoryStore()
    zarr.copy_store(src, mem, source_path="/meta", dest_path="/meta")
    root = zarr.group(mem)
    root.create_group("data", overwrite=True)
    data_keys = sorted(zarr.open_group(src, mode="r")["data"].array_keys())
    for key in data_keys:
        zarr.copy_store(src, mem, source_path=f"/data/{key}", dest_path=f"/data/{key}")
    ends = root["meta"]["episode_ends"][:]
    arrays = {"meta/episode_ends": ends}
    summary = {"zarr": zarr.__version__, "keys": data_keys, "arrays": {}}
    for key in data_keys:
        arr = root["data"][key]
        assert arr.shape[0] == ends[-1], f"data/{key} has {arr.shape[0]} rows, episode_ends[-1] = {ends[-1]}"
        arrays[f"data/{key}"] = arr[:]
        summary["arrays"][key] = {"dtype": str(arr.dtype), "shape": list(arr.shape),
                                  "codec": None if arr.compressor is None else arr.compressor.codec_id}
    np.savez(out, **arrays)
    print(json.dumps(summary))


if __name__ == "__main__":
    args = sys.argv[1:]
    codecs = args[args.index("--codecs") + 1] if "--codecs" in args else "imagecodecs"
    main(args[0], args[1], codecs)
