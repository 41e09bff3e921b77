"""The scripted expert: the sample's planned motion as a sequence of 22-d actions.

The plan (IK joint targets, gripper ramps, head tracking) is the same one `embodied-rerender sample`
records, so an expert rollout in `PickPlaceEnv` reproduces a recorded demonstration and its actions are
the recorded `action` vectors (the next frame's joints, gripper command, head and waist, zero base velocity).
"""

from __future__ import annotations

import numpy as np

from ..sample import SampleEpisode


def expert_actions(episode: SampleEpisode) -> np.ndarray:
    """`(T - 1, 22)` actions that take frame t to frame t + 1 of the scripted plan."""
    plan = episode.plan
    nxt = slice(1, None)
    return np.concatenate([episode.arm_q[nxt], plan.gripper_cmd[nxt], plan.head[nxt], plan.waist[nxt],
                           np.zeros((episode.frames - 1, 2))], axis=1)


def run_expert(env, seed: int, index: int = 0, head_offset=None, on_step=None) -> tuple[bool, dict]:
    """Roll the expert out in `env` from `reset(seed, index)`; `on_step(obs)` sees every observation.
    Returns (success, info)."""
    obs = env.reset(seed, index, head_offset)
    if on_step:
        on_step(obs)
    success, info = False, {}
    for action in expert_actions(env.episode):
        obs, success, info = env.step(action)
        if on_step:
            on_step(obs)
    return success, info
