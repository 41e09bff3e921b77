"""Real-time streaming synthesis with the causal student (issue 7): the staggered-noise scheduler (RAIN),
the engine that runs the student over a stream with its KV cache, and the stream's input sources.

Split as diffusers does: network in `models.causal`, schedule in `scheduler`, pipeline in `engine`.
"""

from .engine import StreamEngine, StreamFrame, StreamItem, stream_views
from .scheduler import StaggeredScheduler, noise_levels

__all__ = ["StreamEngine", "StreamFrame", "StreamItem", "stream_views", "StaggeredScheduler", "noise_levels"]
