"""The intersection world (``autodrive/Intersection-v0``, highway-env ``intersection-v0``): road,
spawning, the pool of vehicle slots, rewards, config and bad input.

The road (lane for lane, priorities included) is compared with highway-env's in ``tests/test_worlds.py``;
step and statistical fidelity in ``tests/test_highway_fidelity.py`` and
``tests/test_highway_statistics.py``, with the other worlds.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import envs  # noqa: F401  (registers the ids)
from envs.highway.config import PRESETS, make_config
from envs.highway.env import HighwayEnv
from envs.highway.vector import HighwayVectorEnv
from envs.physics import structs as st
from envs.worlds.intersection import IntersectionWorld

SLOWER, IDLE, FASTER = range(3)


def test_defaults_match_highway_env(highway_env_env) -> None:
    he = highway_env_env("intersection-v0").default_config()
    cfg = PRESETS["intersection"]
    for key in ("collision_reward", "high_speed_reward", "arrived_reward", "duration", "normalize_reward",
                "destination", "initial_vehicle_count", "spawn_probability", "offroad_terminal",
                "screen_width", "screen_height", "scaling"):  # fmt: skip
        assert getattr(cfg, key) == he[key], key
    assert cfg.target_speeds == tuple(he["action"]["target_speeds"])
    assert cfg.reward_speed_range == tuple(he["reward_speed_range"])
    assert cfg.action_names == ("SLOWER", "IDLE", "FASTER")
    options = dict(cfg.observation_options)
    assert options["absolute"] is True and options["vehicles_count"] == 15
    assert options["features"] == tuple(he["observation"]["features"])


def test_episode_start() -> None:
    """The ego on the south access road at 10 m/s cruising at 9, routed to the west exit (o1); the
    other vehicles on access roads or already in the junction after the warm-up, none within 20 m."""
    env = HighwayEnv("intersection")
    for seed in range(5):
        obs, info = env.reset(seed=seed)
        assert obs.shape == (15, 7)
        s = env.scene()
        assert s.lane[0] == ("o0", "ir0", 0) and s.speed[0] == 10.0 and s.target_speed[0] == 9.0
        assert s.route[0][-1][:2] == ("il1", "o1")
        assert s.road_steps == 45  # the 3 s warm-up, which the right-of-way checks count
        others = np.flatnonzero(np.asarray(s.kind) == st.IDM)
        assert 1 <= len(others) <= 10
        gaps = np.hypot(np.asarray(s.x)[others] - s.x[0], np.asarray(s.y)[others] - s.y[0])
        assert (gaps >= 20).all()
        for k in others:
            assert s.route[k][-1][1].startswith("o")


def test_vehicles_spawn_and_leave_in_a_pool_of_slots() -> None:
    """With spawn_probability 1, vehicles join after steps (never within 15 m of another); the pool
    has room for every spawn of an episode."""
    env = HighwayEnv("intersection", spawn_probability=1.0, duration=13)
    assert IntersectionWorld(env.config).slots == 1 + 10 + 13
    counts = []
    env.reset(seed=3)
    start = int((np.asarray(env.scene().kind) != st.ABSENT).sum())
    for _ in range(8):
        _, _, term, trunc, _ = env.step(SLOWER)
        s = env.scene()
        present = np.flatnonzero(np.asarray(s.kind) != st.ABSENT)
        counts.append(len(present))
        if term or trunc:
            break
    assert max(counts) > start


def test_arrival_rewards_and_terminates() -> None:
    """Driving on at full speed ends each episode in a crash (-5 plus the speed term) or an arrival
    (reward 1, is_success)."""
    env = gym.make("autodrive/Intersection-v0")
    outcomes = set()
    for seed in range(12):
        env.reset(seed=seed)
        while True:
            _, reward, term, trunc, info = env.step(FASTER)
            if term or trunc:
                break
        if info["is_success"]:  # arrival replaces the whole reward, even on a crash (highway-env's)
            outcomes.add("arrived")
            assert reward == 1.0 and info["rewards"]["arrived_reward"] == 1.0 and term
        elif info["crashed"]:
            outcomes.add("crash")
            assert reward == -5.0 + info["rewards"]["high_speed_reward"] and term
    assert "arrived" in outcomes


def test_check_env_and_batch() -> None:
    check_env(gym.make("autodrive/Intersection-v0").unwrapped, skip_render_check=True)
    vec = HighwayVectorEnv(4, preset="intersection")
    obs, _ = vec.reset(seed=0)
    assert obs.shape == (4, 15, 7)
    for _ in range(15):  # past the first autoresets
        obs, reward, term, trunc, info = vec.step(np.full(4, FASTER))
        assert np.isfinite(obs).all() and np.isfinite(reward).all()
    vec.close()


def test_same_seed_same_episode() -> None:
    def episode(seed):
        env = HighwayEnv("intersection")
        obs, _ = env.reset(seed=seed)
        out = [obs]
        for a in (IDLE, FASTER, SLOWER, IDLE, FASTER):
            out.append(env.step(a)[0])
        return np.array(out)

    np.testing.assert_array_equal(episode(7), episode(7))
    assert not np.array_equal(episode(7), episode(8))


def test_bad_config_raises() -> None:
    with pytest.raises(ValueError, match="destination='o5'"):
        make_config("intersection", destination="o5")
    with pytest.raises(ValueError, match="spawn_probability"):
        make_config("intersection", spawn_probability=1.5)
    with pytest.raises(ValueError, match="initial_vehicle_count"):
        make_config("intersection", initial_vehicle_count=0)
    with pytest.raises(KeyError, match="unknown intersection config key 'lanes_count'"):
        make_config("intersection", lanes_count=2)
    env = gym.make("autodrive/Intersection-v0")
    env.reset(seed=0)
    with pytest.raises(ValueError, match="action"):
        env.step(3)  # only SLOWER, IDLE, FASTER


def test_highway_env_intersection_reports_arrival_like_ours() -> None:
    """Evaluations in highway-env's intersection-v0 get ``info["is_success"]`` (ArrivalInfo), the same
    arrival test as ours, so arrival rates compare across the two simulators."""
    pytest.importorskip("highway_env")
    from agents.common.envs import make_vec_env

    venv = make_vec_env("intersection-v0", 2, seed=0)
    venv.reset(seed=0)
    seen = False
    for _ in range(14):
        _, _, term, trunc, infos = venv.step(np.full(2, FASTER))
        assert "is_success" in infos
        seen |= bool(np.any(infos["is_success"]))
    venv.close()
    assert seen  # full speed arrives in some of them
