"""The exit world (``autodrive/Exit-v0``, highway-env ``exit-v0``): road, episode, goal, config, bad input.

Step and statistical fidelity against highway-env are in ``tests/test_highway_fidelity.py`` and
``tests/test_highway_statistics.py``, with the other worlds.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import envs  # noqa: F401  (registers the ids)
from envs.highway.config import PRESETS, make_config
from envs.highway.env import HighwayEnv
from envs.highway.vector import HighwayVectorEnv
from envs.worlds.exit import REWARD_TERMS, lane_speed_limit

LANE_LEFT, IDLE, LANE_RIGHT, FASTER, SLOWER = range(5)


def test_defaults_match_highway_env(highway_env_env) -> None:
    he = highway_env_env("exit-v0").default_config()
    cfg = PRESETS["exit"]
    for key in ("lanes_count", "vehicles_count", "vehicles_density", "duration", "simulation_frequency",
                "collision_reward", "high_speed_reward", "right_lane_reward", "goal_reward", "normalize_reward",
                "ego_spacing", "scaling"):  # fmt: skip
        assert getattr(cfg, key) == he[key], key
    assert cfg.target_speeds == tuple(he["action"]["target_speeds"])
    env = HighwayEnv("exit")
    assert env.observation_space.shape == (15, 7)  # ExitObservation, 15 vehicles x 7 features


def test_episode_spawns_highway_envs_traffic() -> None:
    env = gym.make("autodrive/Exit-v0")
    obs, info = env.reset(seed=4)
    assert set(info["rewards"]) == set(REWARD_TERMS) and info["is_success"] is False
    s = env.unwrapped.scene()
    assert s.lane[0] == ("0", "1", 0) and s.speed[0] == 25.0 and s.target_speed[0] == 24.0
    for k in range(1, len(s.x)):
        lane_id = s.lane[k][2]
        assert s.lane[k][:2] == ("0", "1") and lane_id >= 1  # lane k drawn with probability k / sum
        assert s.speed[k] == pytest.approx(lane_speed_limit(lane_id))
        assert s.route[k] == (s.lane[k], ("1", "2", None), ("2", "3", None))
        assert s.flags[k] & 2 == 0  # ENABLE_LANE_CHANGE off: exit-v0's traffic keeps its lane
    assert np.all(np.diff(s.x[1:]) > 0)  # each NPC ahead of the previous ones
    # the observer row's x is its coordinate along the exit lane (starting at x = 400 m)
    assert obs[0, 1] == pytest.approx((s.x[0] - 400.0) / 200.0)


def test_reaching_the_exit_lane_is_the_goal() -> None:
    """Always LANE_RIGHT: a driver that reaches the exit section's extra lane is rewarded and succeeds."""
    env = HighwayEnv("exit", vehicles_count=0)
    env.reset(seed=0)
    succeeded = False
    for _ in range(18):
        _, reward, term, trunc, info = env.step(LANE_RIGHT)
        if info["is_success"]:
            succeeded = True
            assert info["rewards"]["goal_reward"] == 1.0 and reward > 0.9
            assert env.scene().target_lane[0] in (("1", "2", 6), ("2", "exit", 0))
        if term or trunc:
            break
    assert succeeded and trunc and not term


def test_vector_env_reports_success_per_env() -> None:
    vec = HighwayVectorEnv(6, preset="exit")
    vec.reset(seed=0)
    for _ in range(5):
        _, _, _, _, info = vec.step(np.full(6, LANE_RIGHT))
    assert info["is_success"].shape == (6,) and info["is_success"].dtype == bool


def test_unused_keys_and_bad_values_raise() -> None:
    with pytest.raises(KeyError, match="unknown exit config key 'offroad_terminal'"):
        make_config("exit", {"offroad_terminal": True})
    with pytest.raises(ValueError, match="lanes_count"):
        make_config("exit", lanes_count=1)
    with pytest.raises(ValueError, match="must differ"):
        make_config("exit", collision_reward=1.0)
    with pytest.raises(ValueError, match=r"no road \('1', '2'\)"):
        HighwayEnv("merge", observation={"type": "ExitObservation"})
