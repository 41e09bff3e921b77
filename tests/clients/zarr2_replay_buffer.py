"""Run under zarr 2 (diffusion_policy's / UMI's pinned stack): load a replay buffer the way their
`ReplayBuffer.copy_from_path` / `copy_from_store` do and dump every array to an npz.

    python zarr2_replay_buffer.py STORE OUT.npz [--codecs imagecodecs|none] [--umi]

STORE is a directory store or a `.zarr.zip` (opened as a `zarr.ZipStore`, UMI's file). The whole store is
copied into a `zarr.MemoryStore` with `zarr.copy_store` (meta first, then each data array, as their
loaders do), then the buffer invariant they assert is checked: every `data/*` array has
`meta/episode_ends[-1]` rows. Image codecs are registered with the installed imagecodecs release's own
`imagecodecs.numcodecs.register_codecs()` (`--codecs imagecodecs`), whose classes take the same
keyword arguments as diffusion_policy's vendored `diffusion_policy/codecs/imagecodecs_numcodecs.py`.
`--umi` also checks what UMI's `07_generate_replay_buffer.py` writes and its `UmiDataset` / `SequenceSampler`
index: `camera0_rgb` (N, H, W, 3) uint8 one frame per chunk, `robot0_eef_pos` / `robot0_eef_rot_axis_angle`
(N, 3) float32, `robot0_gripper_width` (N, 1) float32 (the sampler reads `[:, 0]`), `robot0_demo_start_pose` /
`robot0_demo_end_pose` (N, 6), `action` (N, 7) = [pos, rotvec, gripper] per robot (UmiDataset slices 7 per robot).
Prints a JSON summary: versions, keys, dtypes, shapes, codec ids.
"""

import json
import sys

import numpy as np
import zarr


UMI_LOWDIM = {"robot0_eef_pos": ("float32", 3), "robot0_eef_rot_axis_angle": ("float32", 3),
              "robot0_gripper_width": ("float32", 1), "robot0_demo_start_pose": (None, 6),
              "robot0_demo_end_pose": (None, 6), "action": (None, 7)}


def check_umi(data, ends) -> dict:
    """UMI's expectations of a replay buffer (see the module docstring); returns what was checked."""
    keys = set(data.array_keys())
    missing = ({"camera0_rgb"} | set(UMI_LOWDIM)) - keys
    assert not missing, f"UMI keys missing: {sorted(missing)}"
    cam = data["camera0_rgb"]
    assert cam.dtype == np.uint8 and cam.ndim == 4 and cam.shape[-1] == 3, (cam.dtype, cam.shape)
    assert cam.chunks == (1,) + cam.shape[1:], cam.chunks
    for key, (dtype, width) in UMI_LOWDIM.items():
        arr = data[key]
        assert arr.shape == (ends[-1], width), (key, arr.shape)
        assert dtype is None or str(arr.dtype) == dtype, (key, arr.dtype)
    gripper = data["robot0_gripper_width"][:, 0]  # SequenceSampler's first read
    start, end = data["robot0_demo_start_pose"][:], data["robot0_demo_end_pose"][:]
    for i, stop in enumerate(ends):  # one start/end pose per episode, on each of its rows
        first = 0 if i == 0 else ends[i - 1]
        assert (start[first:stop] == start[first]).all() and (end[first:stop] == end[first]).all()
    return {"camera0_rgb": list(cam.shape), "gripper_width_range": [float(gripper.min()), float(gripper.max())]}


def main(store_path: str, out: str, codecs: str = "imagecodecs", umi: bool = False) -> None:
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
    if umi:
        summary["umi"] = check_umi(root["data"], ends)
    np.savez(out, **arrays)
    print(json.dumps(summary))


if __name__ == "__main__":
    args = sys.argv[1:]
    codecs = args[args.index("--codecs") + 1] if "--codecs" in args else "imagecodecs"
    main(args[0], args[1], codecs, "--umi" in args)
