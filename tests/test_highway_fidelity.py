"""Step-by-step fidelity against highway-env: import a highway-env scene, drive both with the same actions.

For seeded highway-env scenes of each preset (advanced 0-2 IDLE steps first, so that lane changes,
timers and IDM state are mid-flight), both simulators run 10 policy steps of IDLE-only and of random
actions. Observations must agree within 1e-3, rewards within 1e-4, crash/terminated flags exactly.

Measured (this file, all scenes): the single env is bit-identical to highway-env: 0.0 maximal
observation and reward differences. It uses float64 and highway-env's operation order. The remaining
known differences cannot show here: (1) exact ties in x between two vehicles (neighbour search
tie-breaks) and (2) chained MOBIL aborts of three vehicles merging into one lane in the same sub-step
(``dynamics.abort_lane_changes``). The float32 CPU batch is checked against the single env below
within the same tolerances.

The default run checks all 20 highway-fast scenes and 2 highway-v0 scenes (highway-env's highway-v0
steps ~6 times a second); ``-m slow`` runs all 20 highway-v0 scenes.
"""

from __future__ import annotations

import numpy as np
import pytest

highway_env = pytest.importorskip("highway_env")
import gymnasium as gym  # noqa: E402

from envs.highway.compat import scene_from_highway_env  # noqa: E402
from envs.highway.env import HighwayEnv  # noqa: E402
from envs.highway.vector import HighwayVectorEnv  # noqa: E402

HIGHWAY_ENV_IDS = {"highway": "highway-v0", "highway-fast": "highway-fast-v0"}
STEPS = 10
OBS_TOL = 1e-3
REWARD_TOL = 1e-4


def _he_scene(preset: str, seed: int):
    he = gym.make(HIGHWAY_ENV_IDS[preset]).unwrapped
    he.reset(seed=seed)
    for _ in range(seed % 3):  # start some scenes mid-flight
        he.step(1)
    return he


def _actions(policy: str, seed: int) -> list[int]:
    rng = np.random.default_rng(1000 + seed)
    return [1] * STEPS if policy == "idle" else [int(a) for a in rng.integers(5, size=STEPS)]


def compare(preset: str, seed: int, policy: str) -> dict:
    """Drive highway-env and ours from the same scene; return the worst differences seen."""
    he = _he_scene(preset, seed)
    ours = HighwayEnv(preset)
    obs, _ = ours.reset(options={"scene": scene_from_highway_env(he)})
    worst = {"obs": float(np.abs(he.observation_type.observe() - obs).max()), "reward": 0.0, "steps": 0}
    for action in _actions(policy, seed):
        he_obs, he_r, he_term, he_trunc, he_info = he.step(action)
        obs, r, term, trunc, info = ours.step(action)
        worst["obs"] = max(worst["obs"], float(np.abs(he_obs - obs).max()))
        worst["reward"] = max(worst["reward"], abs(he_r - r))
        worst["steps"] += 1
        assert (term, trunc, info["crashed"]) == (he_term, he_trunc, he_info["crashed"]), (
            seed,
            worst["steps"],
        )
        assert info["rewards"].keys() == he_info["rewards"].keys()
        for name, value in he_info["rewards"].items():
            assert abs(info["rewards"][name] - value) <= REWARD_TOL, (name, seed)
        assert worst["obs"] <= OBS_TOL and worst["reward"] <= REWARD_TOL, (seed, worst)
        if he_term or he_trunc:
            break
    return worst


@pytest.mark.parametrize("policy", ["idle", "random"])
@pytest.mark.parametrize("seed", range(20))
def test_highway_fast_matches_highway_env(seed: int, policy: str) -> None:
    compare("highway-fast", seed, policy)


@pytest.mark.parametrize("policy", ["idle", "random"])
@pytest.mark.parametrize("seed", range(2))
def test_highway_matches_highway_env(seed: int, policy: str) -> None:
    compare("highway", seed, policy)


@pytest.mark.slow
@pytest.mark.parametrize("policy", ["idle", "random"])
@pytest.mark.parametrize("seed", range(2, 20))
def test_highway_matches_highway_env_full(seed: int, policy: str) -> None:
    compare("highway", seed, policy)


@pytest.mark.parametrize("preset", ["highway", "highway-fast"])
def test_float32_batch_matches_single_env(preset: str) -> None:
    """The fast CPU batch (float32) tracks the float64 single env on the same scenes."""
    scenes, actions = [], []
    for seed in range(8):
        single = HighwayEnv(preset)
        single.reset(seed=seed)
        scenes.append(single.scene())
        actions.append(_actions("random", seed))
    vec = HighwayVectorEnv(len(scenes), preset=preset)
    vec_obs, _ = vec.reset(options={"scene": scenes})
    singles = [HighwayEnv(preset) for _ in scenes]
    done = np.zeros(len(scenes), dtype=bool)
    for k, env in enumerate(singles):
        obs, _ = env.reset(options={"scene": scenes[k]})
        np.testing.assert_allclose(vec_obs[k], obs, atol=OBS_TOL)
    for t in range(STEPS):
        vec_obs, vec_r, vec_term, vec_trunc, vec_info = vec.step(np.array([a[t] for a in actions]))
        for k, env in enumerate(singles):
            if done[k]:
                continue
            obs, r, term, trunc, info = env.step(actions[k][t])
            np.testing.assert_allclose(vec_obs[k], obs, atol=OBS_TOL)
            assert abs(vec_r[k] - r) <= REWARD_TOL
            assert (bool(vec_term[k]), bool(vec_info["crashed"][k])) == (term, info["crashed"])
            done[k] = term or trunc


@pytest.mark.parametrize("preset, seeds", [("highway-fast", range(6)), ("highway", range(1))])
def test_occupancy_grid_matches_highway_env(preset: str, seeds) -> None:
    """highway-env's default OccupancyGrid (4 x 11 x 11) from the same scenes, step by step."""
    for seed in seeds:
        he = gym.make(HIGHWAY_ENV_IDS[preset], config={"observation": {"type": "OccupancyGrid"}}).unwrapped
        he.reset(seed=seed)
        ours = HighwayEnv(preset, observation="occupancy_grid")
        obs, _ = ours.reset(options={"scene": scene_from_highway_env(he)})
        np.testing.assert_allclose(obs, he.observation_type.observe(), atol=OBS_TOL)
        for action in _actions("random", seed)[:4]:
            he_obs, *_ = he.step(action)
            obs, *_ = ours.step(action)
            np.testing.assert_allclose(obs, he_obs, atol=OBS_TOL)
