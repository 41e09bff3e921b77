"""Networks of the learned generators: a multi-in-single-out video DiT (pixel space, Plücker raymaps added
per block, k context videos concatenated along time), rectified-flow training and sampling, checkpoints.

Split as diffusers does: the network (`dit`, behind `backbone.VideoBackbone`), the schedule/sampler
(`flow`), and the pipelines that use them (`generate.learned`, `train.trainer`).
"""

from .backbone import Conditioning, VideoBackbone, clip_raymaps
from .checkpoint import BACKBONES, load_model, read_config, read_optimizer, save_model, save_optimizer
from .dit import DiTConfig, VideoDiT, num_parameters, patchify, unpatchify
from .flow import FlowConfig, add_noise, flow_loss, sample, sample_timesteps, shift_time

__all__ = ["Conditioning", "VideoBackbone", "clip_raymaps", "DiTConfig", "VideoDiT", "FlowConfig", "add_noise", "flow_loss", "sample",
           "sample_timesteps", "shift_time", "patchify", "unpatchify", "num_parameters", "save_model", "load_model",
           "save_optimizer", "read_optimizer", "read_config", "BACKBONES"]
