"""embodied-rerender: more camera viewpoints for multi-camera robot demonstrations.

The core (episode model, IO registry) imports fast and without lerobot, ray or mujoco.
"""

from .episode import CameraStream, CameraTrajectory, Episode, Segment
from .errors import ConsistencyError, DatasetError, EpisodeError, FormatError

__version__ = "0.1.0"
__all__ = ["Episode", "CameraStream", "CameraTrajectory", "Segment", "EpisodeError", "FormatError",
           "ConsistencyError", "DatasetError"]
