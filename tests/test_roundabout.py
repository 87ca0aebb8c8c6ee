"""The roundabout world (``autodrive/Roundabout-v0``, highway-env ``roundabout-v0``): road, routes,
episode, config and bad input.

Step and statistical fidelity against highway-env are in ``tests/test_highway_fidelity.py`` and
``tests/test_highway_statistics.py``, with the other worlds.
"""

from __future__ import annotations

import gymnasium as gym
import pytest

import envs  # noqa: F401  (registers the ids)
from envs.highway.config import PRESETS, make_config
from envs.highway.env import HighwayEnv
from envs.worlds.roundabout import DESTINATIONS, REWARD_TERMS, roundabout_network

LANE_LEFT, IDLE, LANE_RIGHT, FASTER, SLOWER = range(5)


def test_defaults_match_highway_env(highway_env_env) -> None:
    he = highway_env_env("roundabout-v0").default_config()
    cfg = PRESETS["roundabout"]
    for key in ("collision_reward", "high_speed_reward", "lane_change_reward", "duration", "normalize_reward",
                "incoming_vehicle_destination", "screen_width", "screen_height"):  # fmt: skip
        assert getattr(cfg, key) == he[key], key
    assert cfg.target_speeds == tuple(he["action"]["target_speeds"])
    assert cfg.centering_position == tuple(he["centering_position"])
    options = dict(cfg.observation_options)
    assert options["absolute"] is True and dict(options["features_range"])["x"] == (-100.0, 100.0)


def test_routes_are_highway_envs_plan_route_to() -> None:
    """Every vehicle's route: its lane, then the shortest path's roads to its exit (the ego: north)."""
    net = roundabout_network()
    env = HighwayEnv("roundabout")
    for seed in range(5):
        env.reset(seed=seed)
        s = env.scene()
        assert s.lane[0] == ("ser", "ses", 0) and s.speed[0] == 8.0 and s.target_speed[0] == 8.0
        assert s.route[0][0] == s.lane[0] and s.route[0][-1][:2] == ("nx", "nxs")
        for k in range(1, 5):
            route = s.route[k]
            assert route[0] == s.lane[k]
            goal = route[-1][1]
            assert goal in DESTINATIONS
            path = net.shortest_path(s.lane[k][1], goal)
            assert [r[:2] for r in route[1:]] == list(zip(path, path[1:]))
            assert all(r[2] is None for r in route[1:])


def test_incoming_vehicle_destination_fixes_the_ring_vehicles_exit() -> None:
    for destination in range(3):
        env = HighwayEnv("roundabout", incoming_vehicle_destination=destination)
        for seed in range(3):
            env.reset(seed=seed)
            assert env.scene().route[1][-1][1] == DESTINATIONS[destination]


def test_episode_rewards_and_truncation() -> None:
    env = gym.make("autodrive/Roundabout-v0")
    obs, info = env.reset(seed=1)
    assert obs.shape == (5, 5) and set(info["rewards"]) == set(REWARD_TERMS)
    _, reward, _, _, info = env.step(FASTER)
    assert info["rewards"]["high_speed_reward"] == 1.0  # speed index 2 of (0, 8, 16), over 2
    steps = 1
    while True:
        _, _, term, trunc, info = env.step(IDLE)
        steps += 1
        if term or trunc:
            break
    assert term or (trunc and steps == 11)  # 11 s at 1 Hz


def test_bad_config_raises() -> None:
    with pytest.raises(ValueError, match="incoming_vehicle_destination"):
        make_config("roundabout", incoming_vehicle_destination=3)
    with pytest.raises(KeyError, match="unknown roundabout config key 'lanes_count'"):
        make_config("roundabout", lanes_count=2)
