"""Camera geometry: projection, Plücker raymaps, frustum co-visibility, trajectory builders.

Pure functions over batched torch tensors (CPU or CUDA, any float dtype). Conventions follow
design.md §4: OpenCV camera axes, camera-to-world 4x4 extrinsics in metres, K in pixels with pixel
centres at integer coordinates. `offsets` (re-aimed rigid camera offsets) is numpy, for target builders.
"""

from .camera import (camera_centers, crop_intrinsics, invert_pose, look_at, pixel_grid, project,
                     resize_intrinsics, unproject)
from .covisibility import (MergedView, covisibility, covisibility_many, frustum_points, gather_frames,
                           in_frustum, merge_candidates, merge_schedule, select_views)
from .plucker import plucker_raymap
from .trajectory import (blend_poses, head_to_gripper_path, interpolate_poses, matrix_to_quaternion,
                         offset_from_translation_rpy, orbit, out_and_back, quaternion_slerp,
                         quaternion_to_matrix, relative_offset)

__all__ = [
    "invert_pose", "project", "unproject", "pixel_grid", "resize_intrinsics", "crop_intrinsics", "look_at",
    "camera_centers",
    "plucker_raymap",
    "frustum_points", "in_frustum", "covisibility", "covisibility_many", "select_views", "merge_schedule",
    "gather_frames", "merge_candidates", "MergedView",
    "matrix_to_quaternion", "quaternion_to_matrix", "quaternion_slerp", "blend_poses", "interpolate_poses",
    "relative_offset", "offset_from_translation_rpy", "orbit", "head_to_gripper_path", "out_and_back",
]
