"""io/policy.py: the one definition of the policy state (20) and action (22), shared by every writer."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from writer_fixtures import two_episodes

from embodied_rerender.io.policy import ACTION_KEYS, STATE_KEYS, action_vector, state_vector


@pytest.fixture(scope="module")
def episode(tmp_path_factory):
    return two_episodes(tmp_path_factory.mktemp("agibot"))[0]


def test_agibot_order_names_and_values(episode):
    state, action = state_vector(episode), action_vector(episode)
    assert state.values.shape == (10, 20) and state.values.dtype == np.float32 and state.keys == STATE_KEYS
    assert action.values.shape == (10, 22) and action.keys == ACTION_KEYS
    assert len(set(state.names)) == 20 and len(set(action.names)) == 22
    assert state.names[:2] == ("joint.position.left_arm_0", "joint.position.left_arm_1")
    assert state.names[14:] == ("effector.position.left_gripper", "effector.position.right_gripper", "head.position.yaw",
                                "head.position.pitch", "waist.position.pitch", "waist.position.lift")
    assert action.names[20:] == ("robot.velocity.linear_x", "robot.velocity.yaw_rate")
    expected = np.concatenate([episode.state[k].reshape(10, -1) for k in STATE_KEYS], axis=1).astype(np.float32)
    np.testing.assert_array_equal(state.values, expected)
    np.testing.assert_array_equal(action.values[:, 20:], episode.action["robot.velocity"].astype(np.float32))


def test_other_datasets_use_every_group_sorted(episode):
    """No AgiBot group: all groups, sorted by key; missing or repeated column names become indices."""
    other = dataclasses.replace(episode, state={"b": np.ones((10, 2)), "a": np.zeros((10, 1, 3))},
                                action={}, names={"b": ["x", "x"], "a": ["u", "v", "w"]})
    state = state_vector(other)
    assert state.keys == ("a", "b") and state.names == ("a.u", "a.v", "a.w", "b.0", "b.1")
    np.testing.assert_array_equal(state.values, np.array([[0, 0, 0, 1, 1]] * 10, np.float32))
    assert action_vector(other).values.shape == (10, 0)
