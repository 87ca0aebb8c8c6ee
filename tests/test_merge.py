"""The merge world (``autodrive/Merge-v0``, highway-env ``merge-v0``): road, episode, config and bad input.

Step and statistical fidelity against highway-env are in ``tests/test_highway_fidelity.py`` and
``tests/test_highway_statistics.py``, with the other worlds.
"""

from __future__ import annotations

import dataclasses

import gymnasium as gym
import numpy as np
import pytest

import envs  # noqa: F401  (registers the ids)
from envs.highway.config import PRESETS, MergeConfig, make_config
from envs.highway.env import HighwayEnv
from envs.highway.vector import HighwayVectorEnv
from envs.worlds.merge import END_X, REWARD_TERMS

LANE_LEFT, IDLE, LANE_RIGHT, FASTER, SLOWER = range(5)


def test_defaults_match_highway_env(highway_env_env) -> None:
    he = highway_env_env("merge-v0").default_config()
    cfg = PRESETS["merge"]
    for key in ("collision_reward", "right_lane_reward", "high_speed_reward", "merging_speed_reward",
                "lane_change_reward", "simulation_frequency", "policy_frequency"):  # fmt: skip
        assert getattr(cfg, key) == he[key], key
    assert cfg.reward_speed_range == tuple(he["reward_speed_range"])


def test_episode_spawns_highway_envs_vehicles() -> None:
    env = gym.make("autodrive/Merge-v0")
    obs, info = env.reset(seed=5)
    assert obs.shape == (5, 5) and set(info["rewards"]) == set(REWARD_TERMS)
    s = env.unwrapped.scene()
    assert s.lane[0] == ("a", "b", 1) and (s.x[0], s.y[0], s.speed[0]) == (30.0, 4.0, 30.0)
    assert s.lane[4] == ("j", "k", 0) and (s.speed[4], s.target_speed[4]) == (20.0, 30.0)
    assert s.lane[5] == ("b", "c", 2) and (s.x[5], s.y[5]) == (310.0, 8.0)  # the obstacle at the ramp's end
    assert [s.kind[k] for k in range(6)] == [1, 2, 2, 2, 2, 3]
    for k, (x0, v0) in enumerate(((90.0, 29.0), (70.0, 31.0), (5.0, 31.5)), start=1):
        assert abs(s.x[k] - x0) <= 5 and abs(s.speed[k] - v0) <= 1 and s.lane[k][:2] == ("a", "b")


def test_terminates_past_the_merge_and_never_truncates() -> None:
    env = HighwayEnv("merge")
    for seed in range(10):
        env.reset(seed=seed)
        for _ in range(40):
            _, reward, term, trunc, info = env.step(SLOWER)
            assert not trunc
            if term:
                break
        assert term and (info["crashed"] or env.state.x[0, 0] > END_X)


def test_reward_terms_follow_actions() -> None:
    """lane_change_reward counts LANE_LEFT/LANE_RIGHT; the weighted sum is mapped to [0, 1] as in
    highway-env (collision + merging_speed -> 0, high_speed + right_lane -> 1)."""
    env = HighwayEnv("merge")
    env.reset(seed=0)
    _, reward, _, _, info = env.step(LANE_LEFT)
    terms = info["rewards"]
    assert terms["lane_change_reward"] == 1.0
    cfg = env.config
    raw = sum(getattr(cfg, name) * value for name, value in terms.items())
    lo = cfg.collision_reward + cfg.merging_speed_reward
    expected = (raw - lo) / (cfg.high_speed_reward + cfg.right_lane_reward - lo)
    assert reward == pytest.approx(expected, abs=1e-6)
    _, _, _, _, info = env.step(IDLE)
    assert info["rewards"]["lane_change_reward"] == 0.0


def test_vector_env_runs_episodes_to_termination() -> None:
    vec = gym.make_vec("autodrive/Merge-v0", num_envs=8, vectorization_mode="vector_entry_point")
    assert isinstance(vec.unwrapped, HighwayVectorEnv)
    obs, _ = vec.reset(seed=3)
    assert obs.shape == (8, 5, 5)
    finished = np.zeros(8, dtype=bool)
    for _ in range(40):
        _, reward, term, trunc, info = vec.step(np.full(8, IDLE))
        assert not trunc.any() and set(info["rewards"]) == set(REWARD_TERMS)
        finished |= term
    assert finished.all()


def test_unused_keys_and_unsupported_options_raise() -> None:
    """A key highway-env's merge-v0 ignores silently (lanes_count) is an error naming the valid keys."""
    with pytest.raises(KeyError, match="unknown merge config key 'lanes_count'"):
        make_config("merge", {"lanes_count": 3})
    with pytest.raises(KeyError, match="merging_speed_reward"):
        gym.make("autodrive/Merge-v0", merging_speed_rewards=-1)
    with pytest.raises(KeyError, match="neighbour_vehicles_connected_lanes"):
        make_config("merge", {"neighbour_vehicles_connected_lanes": True})
    with pytest.raises(ValueError, match="camera_"):
        make_config("merge", {"observation": {"type": "camera", "width": 64}})  # camera_* keys instead
    with pytest.raises(ValueError, match="must differ"):
        MergeConfig(collision_reward=0.8, merging_speed_reward=-0.5)


def test_scenes_of_another_world_are_refused() -> None:
    highway = HighwayEnv("highway-fast")
    highway.reset(seed=0)
    merge = HighwayEnv("merge")
    with pytest.raises(ValueError, match="world"):
        merge.reset(options={"scene": highway.scene()})
    merge.reset(seed=1)
    scene = merge.scene()
    off_network = dataclasses.replace(scene, route=((("a", "d", None),), *scene.route[1:]))
    with pytest.raises(ValueError, match="not a road of the network"):
        HighwayEnv("merge").reset(options={"scene": off_network})
