"""The racetrack world (``autodrive/Racetrack-v0``, highway-env ``racetrack-v0``): defaults, spaces,
spawning, the reward and termination, the variable traffic, config errors.

Step fidelity against highway-env is in ``tests/test_highway_fidelity.py`` with the other worlds.
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
from envs.worlds.racetrack import MIN_GAP, REWARD_TERMS, racetrack_network

ENV_ID = "autodrive/Racetrack-v0"


def test_defaults_match_highway_env(highway_env_env) -> None:
    he = highway_env_env("racetrack-v0").default_config()
    cfg = PRESETS["racetrack"]
    for key in ("simulation_frequency", "policy_frequency", "duration", "collision_reward",
                "lane_centering_cost", "lane_centering_reward", "action_reward", "other_vehicles",
                "screen_width", "screen_height", "speed_limit", "terminate_off_road"):  # fmt: skip
        assert getattr(cfg, key) == he[key], key
    assert cfg.centering_position == tuple(he["centering_position"])
    action = cfg["action"]
    for key in ("type", "longitudinal", "lateral", "target_speeds"):
        assert action[key] == he["action"][key], key
    ours, theirs = cfg["observation"], he["observation"]
    assert ours == {k: theirs[k] for k in ours}, (ours, theirs)


def test_spaces_check_env_and_same_seed_same_episode() -> None:
    env = gym.make(ENV_ID)
    assert env.action_space == gym.spaces.Box(-1.0, 1.0, (1,), np.float32)  # steering only
    assert env.observation_space.shape == (2, 12, 12)  # presence, on_road over 36 m x 36 m, 3 m cells
    check_env(env.unwrapped, skip_render_check=True)
    sb3_env_checker = pytest.importorskip("stable_baselines3.common.env_checker")
    sb3_env_checker.check_env(gym.make(ENV_ID).unwrapped, warn=False)

    def rollout(seed: int) -> list:
        env = gym.make(ENV_ID)
        obs, _ = env.reset(seed=seed)
        rng = np.random.default_rng(0)
        out = [obs]
        for _ in range(15):
            obs, r, term, trunc, _ = env.step(rng.uniform(-0.3, 0.3, 1).astype(np.float32))
            out += [obs, r]
            if term or trunc:
                break
        return out

    a, b, c = rollout(4), rollout(4), rollout(5)
    assert all(np.array_equal(x, y) for x, y in zip(a, b)) and len(a) == len(b)
    assert len(a) != len(c) or not all(np.array_equal(x, y) for x, y in zip(a, c))


def test_spawn_is_highway_envs() -> None:
    """The ego on (a, b, 0 or 1) at 20-50 m and its lane's 10 m/s; the IDM vehicle ahead on (b, c, the
    same id) at 6-9 m/s; both lane ids drawn over seeds."""
    net = racetrack_network()
    env = HighwayEnv("racetrack")
    ego_ids = set()
    for seed in range(30):
        env.reset(seed=seed)
        s = env.scene()
        assert s.num_slots == 2 and s.kind.tolist() == [1, 2]
        (a, b, lane_id), npc = s.lane[0], s.lane[1]
        assert (a, b) == ("a", "b") and npc == ("b", "c", lane_id)
        start = np.array(net.get_lane(s.lane[0]).start)  # a straight lane along +x
        assert 20.0 <= s.x[0] - start[0] <= 50.0 and s.y[0] == start[1] and s.heading[0] == 0.0
        assert s.speed[0] == 10.0 and 6.0 <= s.speed[1] <= 9.0 and s.target_speed[1] == s.speed[1]
        ego_ids.add(lane_id)
    assert ego_ids == {0, 1}


def test_reward_terms_and_off_road_termination() -> None:
    """Driving straight leaves the circuit at its first bend: the lane-centring term falls, and the
    episode ends with on_road_reward 0 and a zero reward; a command costs its norm."""
    env = gym.make(ENV_ID)
    _, info = env.reset(seed=0)
    assert set(info["rewards"]) == set(REWARD_TERMS)
    _, reward, term, _, info = env.step(np.array([0.5], np.float32))
    assert info["rewards"]["action_reward"] == pytest.approx(0.5)
    centering = info["rewards"]["lane_centering_reward"]
    assert reward == pytest.approx((centering - 0.3 * 0.5 + 1) / 2, abs=1e-6)  # lmap onto [-1, 1]
    for _ in range(100):
        _, reward, term, trunc, info = env.step(np.array([0.0], np.float32))
        if term or trunc:
            break
    assert term and not info["crashed"] and info["rewards"]["on_road_reward"] == 0.0 and reward == 0.0
    kept = gym.make(ENV_ID, terminate_off_road=False)
    kept.reset(seed=0)
    for _ in range(40):
        _, reward, term, _, info = kept.step(np.array([0.0], np.float32))
        assert not term
    assert info["rewards"]["on_road_reward"] == 0.0 and reward == 0.0


def test_other_vehicles_vary_and_keep_their_distance() -> None:
    """other_vehicles = 6: the front vehicle plus U{0..5} more on random lanes, none within 20 m of
    another at spawn; a fixed pool of 7 slots, the unused ones absent."""
    env = HighwayVectorEnv(64, preset="racetrack", other_vehicles=6)
    env.reset(seed=0)
    kind = env.sim.host["kind"]
    x, y = env.sim.host["x"], env.sim.host["y"]
    present = (kind > 0).sum(axis=1)
    assert kind.shape == (64, 7) and present.min() >= 2 and present.max() <= 7 and len(set(present)) > 2
    for e in range(64):
        idx = np.flatnonzero(kind[e] > 0)
        pts = np.stack([x[e, idx], y[e, idx]], 1)
        gaps = np.linalg.norm(pts[:, None] - pts[None], axis=-1)[np.triu_indices(len(idx), 1)]
        # the ego and the front vehicle are placed without the check, as in highway-env
        assert (gaps[1:] >= MIN_GAP - 1e-4).all() if len(idx) > 2 else True
    env.close()


def test_bad_config_raises() -> None:
    with pytest.raises(ValueError, match="other_vehicles"):
        make_config("racetrack", other_vehicles=-1)
    with pytest.raises(ValueError, match="collision_reward"):
        make_config("racetrack", collision_reward=1.0)
    with pytest.raises(KeyError, match="unknown racetrack config key 'lanes_count'"):
        make_config("racetrack", lanes_count=2)
    with pytest.raises(ValueError, match="dynamical"):
        make_config("racetrack", action={"type": "ContinuousAction", "dynamical": True})
