"""The LiDAR observation (highway-env ``LidarObservation``): geometry on hand-built scenes, spaces, the
float32 batch against the float64 single env, bad options, and step fidelity against highway-env on every
world."""

from __future__ import annotations

import dataclasses

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import envs  # noqa: F401  (registers the ids)
from envs.highway.env import HighwayEnv
from envs.highway.vector import HighwayVectorEnv
from envs.physics import structs as st

LIDAR = {"type": "LidarObservation"}


def _ego_and_one(env: HighwayEnv, dx: float, dy: float, heading: float = 0.0, speed: float = 20.0):
    """The env's scene with the ego at rest-free straight driving, one vehicle at (dx, dy) from it, and
    every other slot emptied."""
    s = env.scene()
    kind = np.full_like(s.kind, st.ABSENT)
    kind[0], kind[1] = s.kind[0], st.IDM
    x, y, h, v = s.x.copy(), s.y.copy(), s.heading.copy(), s.speed.copy()
    x[1], y[1], h[0], h[1], v[0], v[1] = x[0] + dx, y[0] + dy, 0.0, heading, 25.0, speed
    return dataclasses.replace(s, kind=kind, x=x, y=y, heading=h, speed=v)


def test_rays_measure_distance_to_the_nearest_face_and_closing_speed() -> None:
    env = HighwayEnv("highway-fast", observation=LIDAR, vehicles_count=3)
    env.reset(seed=0)
    obs, _ = env.reset(options={"scene": _ego_and_one(env, 20.0, 0.0)})
    assert obs.shape == (16, 2) and obs.dtype == np.float32
    # straight ahead: the rear face 2.5 m before the centre; 5 m/s slower than the ego
    np.testing.assert_allclose(obs[0] * 60, [17.5, -5.0], atol=1e-5)
    np.testing.assert_allclose(np.delete(obs, 0, axis=0), 1.0)  # every other ray meets nothing
    # to the left (+y, highway-env's frame), 8 m away: ray 4 (90 degrees) sees the side face
    obs, _ = env.reset(options={"scene": _ego_and_one(env, 0.0, 8.0)})
    np.testing.assert_allclose(obs[4, 0] * 60, 7.0, atol=1e-5)
    assert abs(obs[4, 1]) < 1e-6  # moving in parallel: no speed along the ray
    # beyond maximum_range: nothing
    obs, _ = env.reset(options={"scene": _ego_and_one(env, 70.0, 0.0)})
    np.testing.assert_array_equal(obs, 1.0)


def test_road_edges_stop_rays_where_the_road_ends() -> None:
    """An autodrive option (highway-env's rays see vehicles only): on highway-fast's 3 lanes (y from -2 to
    10 m), an ego in the rightmost lane's centre sees the edges 2 m to its right and 10 m to its left."""
    env = HighwayEnv(
        "highway-fast", observation={**LIDAR, "normalize": False, "road_edges": True}, vehicles_count=3
    )
    env.reset(seed=0)
    obs, _ = env.reset(options={"scene": _ego_and_one(env, 20.0, 0.0)})
    a = np.arange(16) * (2 * np.pi / 16)
    np.testing.assert_allclose(obs[0], [17.5, -5.0], atol=1e-5)  # the vehicle ahead, as without edges
    np.testing.assert_allclose(obs[4, 0], 10.0, atol=3e-3)  # left edge
    np.testing.assert_allclose(obs[12, 0], 2.0, atol=3e-3)  # right edge
    # slanted rays meet the edges farther away; an edge is static: minus the ego's 25 m/s along the ray
    for k in (2, 3, 5, 6):
        np.testing.assert_allclose(obs[k], [10.0 / np.sin(a[k]), -25.0 * np.cos(a[k])], atol=3e-3)
    for k in (10, 11, 13, 14):
        np.testing.assert_allclose(obs[k], [-2.0 / np.sin(a[k]), -25.0 * np.cos(a[k])], atol=3e-3)
    assert obs[8, 0] == 60.0  # straight back along the road: nothing within range
    assert obs[:, 0].max() <= 60.0 and env.observation_space.contains(obs)


def test_options_cells_range_and_raw_units() -> None:
    env = HighwayEnv(
        "highway-fast",
        observation={**LIDAR, "cells": 8, "maximum_range": 30, "normalize": False},
        vehicles_count=3,
    )
    assert env.observation_space.shape == (8, 2) and env.observation_space.high.max() == 30
    env.reset(seed=0)
    obs, _ = env.reset(options={"scene": _ego_and_one(env, -12.0, 0.0, speed=30.0)})
    # behind: ray 4 of 8 (180 degrees); the front face 2.5 m behind the centre; closing at 5 m/s along -x
    np.testing.assert_allclose(obs[4], [9.5, -5.0], atol=1e-5)
    assert (np.delete(obs, 4, axis=0) == 30).all()


@pytest.mark.parametrize(
    "env_id", ["autodrive/HighwayFast-v0", "autodrive/Roundabout-v0", "autodrive/Racetrack-v0"]
)
def test_check_env_and_same_seed_same_episode(env_id: str) -> None:
    env = gym.make(env_id, observation=LIDAR)
    check_env(env.unwrapped, skip_render_check=True)
    assert env.unwrapped.config["observation"]["type"] == "LidarObservation"
    runs = []
    for _ in range(2):
        obs, _ = env.reset(seed=3)
        frames = [obs]
        env.action_space.seed(3)
        for _ in range(5):
            frames.append(env.step(env.action_space.sample())[0])
        runs.append(np.stack(frames))
    np.testing.assert_array_equal(*runs)
    assert env.observation_space.contains(runs[0][-1])


def test_float32_batch_matches_the_float64_single_env() -> None:
    scenes = []
    for seed in range(4):
        env = HighwayEnv("merge", observation=LIDAR)
        env.reset(seed=seed)
        scenes.append(env.scene())
    vec = HighwayVectorEnv(4, preset="merge", observation=LIDAR)
    obs, _ = vec.reset(options={"scene": scenes})
    singles = [HighwayEnv("merge", observation=LIDAR) for _ in scenes]
    for k, env in enumerate(singles):
        np.testing.assert_allclose(obs[k], env.reset(options={"scene": scenes[k]})[0], atol=1e-4)
    done = np.zeros(4, bool)
    for t in range(8):
        actions = np.full(4, t % 5)
        obs, _, term, trunc, _ = vec.step(actions)
        for k, env in enumerate(singles):
            if not done[k]:
                np.testing.assert_allclose(obs[k], env.step(int(actions[k]))[0], atol=1e-4)
        done |= term | trunc


highway_env = pytest.importorskip("highway_env")

from envs.highway.fidelity import WORLD_CONFIGS, compare_steps  # noqa: E402

OPTIONS = {
    "default": LIDAR,
    "raw-7": {**LIDAR, "cells": 7, "maximum_range": 30, "normalize": False},
    "fine-64": {**LIDAR, "cells": 64},
}


@pytest.mark.parametrize("options", list(OPTIONS))
@pytest.mark.parametrize(
    "preset, seeds, config",
    [
        ("highway-fast", range(4), None),
        ("highway", range(1), None),
        ("merge", range(3), None),
        ("exit", range(2), None),
        ("roundabout", range(3), None),
        ("racetrack", range(2), None),
        ("parking", range(3), WORLD_CONFIGS["parking"]),  # parked vehicles and walls
    ],
)
def test_lidar_matches_highway_env(preset: str, seeds, config, options: str) -> None:
    """The same scenes in highway-env and ours, random actions, 10 steps: rays within 1e-3 (of the
    normalised or raw reading), flags identical."""
    for seed in seeds:
        worst = compare_steps(preset, seed, "random", 10, OPTIONS[options], config=config)
        assert worst["mismatch"] is None, worst
        assert worst["obs"] <= 1e-3 and worst["reward"] <= 1e-4, (seed, worst)
