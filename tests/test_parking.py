"""The parking world (``autodrive/Parking-v0``, highway-env ``parking-v0``): defaults, the dict
observation and its goal-conditioned reward, spawning, parked vehicles, success and crashes, bad input,
and step fidelity against highway-env (parked vehicles, walls, the goal reached, ported configs).
"""

from __future__ import annotations

import dataclasses

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import envs  # noqa: F401  (registers the ids)
from envs.highway.config import PRESETS, make_config
from envs.highway.env import GoalHighwayEnv, HighwayEnv
from envs.highway.vector import GoalHighwayVectorEnv, HighwayVectorEnv
from envs.physics import structs as st
from envs.worlds.parking import REWARD_TERMS, SPOTS, parking_network

ENV_ID = "autodrive/Parking-v0"
KEYS = ("observation", "achieved_goal", "desired_goal")


def test_defaults_match_highway_env(highway_env_env) -> None:
    he = highway_env_env("parking-v0").default_config()
    cfg = PRESETS["parking"]
    for key in ("simulation_frequency", "policy_frequency", "duration", "collision_reward",
                "success_goal_reward", "vehicles_count", "add_walls", "screen_width", "screen_height",
                "scaling"):  # fmt: skip
        assert getattr(cfg, key) == he[key], key
    assert cfg.reward_weights == tuple(he["reward_weights"])
    assert cfg.centering_position == tuple(he["centering_position"])
    assert cfg["action"]["type"] == he["action"]["type"] == "ContinuousAction"
    assert cfg["observation"] == he["observation"]


def test_spaces_check_env_and_same_seed_same_episode() -> None:
    env = gym.make(ENV_ID)
    assert env.action_space == gym.spaces.Box(-1.0, 1.0, (2,), np.float32)  # acceleration, steering
    assert set(env.observation_space.spaces) == set(KEYS)
    assert all(env.observation_space[k].shape == (6,) for k in KEYS)
    check_env(env.unwrapped, skip_render_check=True)
    sb3_env_checker = pytest.importorskip("stable_baselines3.common.env_checker")
    sb3_env_checker.check_env(gym.make(ENV_ID).unwrapped, warn=False)

    def rollout(seed: int) -> list:
        env = gym.make(ENV_ID)
        obs, _ = env.reset(seed=seed)
        rng = np.random.default_rng(0)
        out = [obs[k] for k in KEYS]
        for _ in range(15):
            obs, r, term, trunc, _ = env.step(rng.uniform(-1, 1, 2).astype(np.float32))
            out += [*(obs[k] for k in KEYS), r]
            if term or trunc:
                break
        return out

    a, b, c = rollout(4), rollout(4), rollout(5)
    assert all(np.array_equal(x, y) for x, y in zip(a, b)) and len(a) == len(b)
    assert len(a) != len(c) or not all(np.array_equal(x, y) for x, y in zip(a, c))


def test_spawn_goal_and_reward_are_consistent() -> None:
    """The ego at rest at the origin; the goal a non-solid object mid-spot, never the ego's closest spot;
    parked vehicles in the other spots; walls last. The step reward is compute_reward on the observed
    goals plus the collision penalty, and is_success is compute_reward above -success_goal_reward."""
    net = parking_network()
    env = GoalHighwayEnv("parking", vehicles_count=6)
    goals = set()
    for seed in range(30):
        obs, info = env.reset(seed=seed)
        s = env.scene()
        assert s.kind.tolist() == [st.CONTROLLED, *[st.VEHICLE] * 6, *[st.OBSTACLE] * 5]
        assert (s.x[0], s.y[0], s.speed[0]) == (0.0, 0.0, 0.0)
        goal = 7
        assert s.flags[goal] & st.SOLID == 0 and (s.length[goal], s.width[goal]) == (2.0, 2.0)
        assert all(s.flags[k] & st.SOLID for k in range(8, 12))
        spots = [tuple(s.lane[k]) for k in range(1, 8)]
        assert len(set(spots)) == 7 and tuple(s.lane[0]) not in spots  # one object per spot
        lane = net.get_lane(s.lane[goal])
        mid = (np.array(lane.start) + np.array(lane.end)) / 2  # 4 m into an 8 m spot
        np.testing.assert_allclose([s.x[goal], s.y[goal]], mid, atol=1e-12)
        np.testing.assert_allclose(obs["desired_goal"][:2], [s.x[goal] / 100, s.y[goal] / 100], atol=1e-6)
        np.testing.assert_array_equal(obs["observation"], obs["achieved_goal"])
        goals.add(tuple(s.lane[goal]))
    assert len(goals) > 15  # uniform over the free spots
    rng = np.random.default_rng(0)
    for _ in range(20):
        obs, r, term, trunc, info = env.step(rng.uniform(-1, 1, 2).astype(np.float32))
        goal_part = env.compute_reward(obs["achieved_goal"], obs["desired_goal"], info)
        assert r == goal_part + env.config.collision_reward * info["crashed"]  # HER's contract, exactly
        assert info["is_success"] == (goal_part > -env.config.success_goal_reward)
        assert info["rewards"]["goal_reward"] == pytest.approx(goal_part, abs=1e-4)
        if term or trunc:
            break
    # HER relabels batches: the vector env and the single env compute the same batched rewards
    a, d = rng.normal(size=(64, 6)), rng.normal(size=(64, 6))
    batch = env.compute_reward(a, d, [{}] * 64)
    assert batch.shape == (64,) and np.allclose(batch, [env.compute_reward(x, y, {}) for x, y in zip(a, d)])
    vec = GoalHighwayVectorEnv(3, preset="parking")
    np.testing.assert_allclose(vec.compute_reward(a, d, None), batch)


def test_reaching_the_goal_succeeds_and_terminates() -> None:
    """A scene with the ego on its goal, at rest and facing along the spot: success at once."""
    env = HighwayEnv("parking")
    env.reset(seed=1)
    s = env.scene()
    goal = int(np.flatnonzero(s.kind == st.OBSTACLE)[0])
    x, y, heading = s.x.copy(), s.y.copy(), s.heading.copy()
    x[0], y[0], heading[0] = s.x[goal], s.y[goal] - 0.5 * np.sign(s.y[goal]), s.heading[goal]
    env.reset(options={"scene": dataclasses.replace(s, x=x, y=y, heading=heading)})
    _, r, term, trunc, info = env.step(np.zeros(2, np.float32))
    assert info["is_success"] and term and not trunc and not info["crashed"] and r > -0.12


def test_driving_into_a_wall_or_a_parked_vehicle_crashes() -> None:
    env = HighwayVectorEnv(16, preset="parking", vehicles_count=20)
    env.reset(seed=0)
    crashed = np.zeros(16, bool)
    for _ in range(60):  # full throttle straight ahead: every ego meets a wall or a parked car
        _, r, term, trunc, info = env.step(np.tile([1.0, 0.0], (16, 1)).astype(np.float32))
        crashed |= term & info["crashed"]
        assert not trunc.any()
    assert crashed.all()


def test_vector_env_dict_observations() -> None:
    env = HighwayVectorEnv(4, preset="parking")
    obs, info = env.reset(seed=0)
    assert set(obs) == set(KEYS) and all(obs[k].shape == (4, 6) for k in KEYS)
    assert env.observation_space[KEYS[0]].shape == (4, 6)
    obs, r, term, trunc, info = env.step(np.zeros((4, 2), np.float32))
    assert info["is_success"].shape == (4,) and set(info["rewards"]) == set(REWARD_TERMS)


def test_bad_config_and_scenes_raise() -> None:
    with pytest.raises(ValueError, match="vehicles_count"):
        make_config("parking", vehicles_count=2 * SPOTS - 1)
    with pytest.raises(ValueError, match="reward_weights"):
        make_config("parking", reward_weights=(1.0, 0.3))
    with pytest.raises(ValueError, match="scales"):
        make_config("parking", observation={"type": "KinematicsGoal", "scales": [100, 100]})
    with pytest.raises(KeyError, match="unknown parking config key"):
        make_config("parking", lanes_count=3)
    env = HighwayEnv("parking")
    env.reset(seed=0)
    s = env.scene()
    with pytest.raises(
        ValueError, match="needs a goal per controlled vehicle"
    ):  # the goal made solid: no Landmark left
        env.reset(options={"scene": dataclasses.replace(s, flags=s.flags | st.SOLID)})
    x = s.x.copy()
    x[1] = 80.0
    with pytest.raises(ValueError, match="outside"):
        env.reset(options={"scene": dataclasses.replace(s, x=x)})
    with pytest.raises(ValueError, match="shape"):
        env.step(np.zeros(3, np.float32))
    with pytest.raises(ValueError, match="no goals"):
        GoalHighwayEnv("racetrack")
    assert not hasattr(HighwayEnv("racetrack"), "compute_reward")  # SB3 takes an env with one for a GoalEnv


highway_env = pytest.importorskip("highway_env")
from envs.highway.fidelity import WORLD_CONFIGS, compare_steps  # noqa: E402


@pytest.mark.parametrize("policy", ["idle", "faster", "random"])
@pytest.mark.parametrize("seed", range(10))
def test_parking_matches_highway_env(seed: int, policy: str) -> None:
    """parking-v0 from its own scenes: zero commands (the goal observation and reward at rest), full
    throttle into a wall or a spot (the crash), random commands for 40 steps (8 s of driving), with
    the default lot and with parked vehicles and other reward weights."""
    for config in (None, WORLD_CONFIGS["parking"]):
        worst = compare_steps("parking", seed, policy, 40, config=config)
        assert worst["mismatch"] is None, worst
        assert worst["obs"] <= 1e-5 and worst["reward"] <= 1e-5, worst


def test_reaching_the_goal_matches_highway_env(highway_env_env) -> None:
    """highway-env's ego put next to its goal: both report success and terminate at the same step."""
    from envs.highway.compat import scene_from_highway_env

    he = highway_env_env("parking-v0")
    he.reset(seed=3)
    ego = he.controlled_vehicles[0]
    ego.position = ego.goal.position - np.array([0.0, 1.5 * np.sign(ego.goal.position[1])])
    ego.heading = ego.goal.heading
    ours = HighwayEnv("parking")
    ours.reset(options={"scene": scene_from_highway_env(he)})
    for _ in range(5):
        action = np.array([0.3, 0.0], np.float32)
        _, he_r, he_term, _, he_info = he.step(action)
        _, r, term, _, info = ours.step(action)
        assert abs(he_r - r) < 1e-6 and (term, info["is_success"]) == (he_term, he_info["is_success"])
        if term:
            break
    assert term and info["is_success"]
