"""Step-by-step fidelity against highway-env: import a highway-env scene, drive both with the same actions.

For seeded highway-env scenes of each preset (highway, highway-fast, merge, exit, roundabout,
racetrack, intersection) (advanced 0-2 IDLE steps first, so that lane changes,
timers and IDM state are mid-flight), both simulators run 10 policy steps of IDLE-only and of random
actions. Observations must agree within 1e-3, rewards within 1e-4, crash/terminated flags exactly.

Measured (``scripts/fidelity.py``, all scenes): the single env (float64) stays within 3e-8 of
highway-env in observations and rewards, with identical flags; the float32 batch within 6e-5. The
comparison itself lives in ``envs/highway/fidelity.py``.

The default run checks all 20 highway-fast scenes and 2 highway-v0 scenes (highway-env's highway-v0
steps ~6 times a second); ``-m slow`` runs all 20 highway-v0 scenes.
"""

from __future__ import annotations

import numpy as np
import pytest

highway_env = pytest.importorskip("highway_env")

from envs.highway.env import HighwayEnv  # noqa: E402
from envs.highway.fidelity import (  # noqa: E402
    ACTION_CONFIGS,
    CONTINUOUS_CONFIGS,
    MULTI_AGENT_CONFIGS,
    OBSERVATION_CONFIGS,
    STEP_CONFIGS,
    WORLD_CONFIGS,
    compare_steps,
    policy_actions,
)
from envs.highway.vector import HighwayVectorEnv  # noqa: E402

STEPS = 10
OBS_TOL = 1e-3
REWARD_TOL = 1e-4


def compare(
    preset: str, seed: int, policy: str, observation: str | dict | None = None, config: dict | None = None
) -> None:
    worst = compare_steps(preset, seed, policy, STEPS, observation, config=config)
    assert worst["mismatch"] is None, f"crash/terminated flags differ at step {worst['mismatch']}: {worst}"
    assert worst["obs"] <= OBS_TOL and worst["reward"] <= REWARD_TOL, (seed, worst)


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


@pytest.mark.parametrize("policy", ["idle", "random"])
@pytest.mark.parametrize("seed", range(20))
def test_merge_matches_highway_env(seed: int, policy: str) -> None:
    compare("merge", seed, policy)


@pytest.mark.parametrize("policy", ["idle", "random", "right"])
@pytest.mark.parametrize("seed", range(20))
def test_exit_matches_highway_env(seed: int, policy: str) -> None:
    """exit-v0 with its ExitObservation; always-LANE_RIGHT reaches the exit lane (the goal) or crashes."""
    compare("exit", seed, policy)


@pytest.mark.parametrize("policy", ["idle", "random", "slower"])
@pytest.mark.parametrize("seed", range(20))
def test_roundabout_matches_highway_env(seed: int, policy: str) -> None:
    """roundabout-v0: circular and sine lanes, routes to random exits, absolute Kinematics."""
    compare("roundabout", seed, policy)


@pytest.mark.parametrize("policy", ["idle", "random"])
@pytest.mark.parametrize("seed", range(20))
def test_racetrack_matches_highway_env(seed: int, policy: str) -> None:
    """racetrack-v0: the circuit of straight and circular lanes, steering-only ContinuousAction (zero and
    random commands), the aligned presence / on-road OccupancyGrid, lane-centring and action rewards,
    off-road termination."""
    compare("racetrack", seed, policy)


@pytest.mark.parametrize("policy", ["idle", "random", "slower", "faster"])
@pytest.mark.parametrize("seed", range(20))
def test_intersection_matches_highway_env(seed: int, policy: str) -> None:
    """intersection-v0: the four-way junction's turns and priorities, IDM traffic that gives way (its
    conflict predictions every 7 sub-steps), longitudinal-only meta-actions, the arrival reward. New
    vehicles spawn from each simulator's own random stream, so both run without them
    (``spawn_probability`` 0: the scene's vehicles only); the statistical test covers spawning."""
    compare("intersection", seed, policy, config=STEP_CONFIGS["intersection"])


@pytest.mark.parametrize("policy", ["idle", "slower", "faster", "random"])
@pytest.mark.parametrize("seed", range(20))
def test_intersection_multi_agent_matches_highway_env(seed: int, policy: str) -> None:
    """intersection-multi-agent-v0: two controlled vehicles (south and west), a tuple of actions and of
    observations, each agent's reward and termination (``agents_rewards``, ``agents_terminated``), the
    mean reward, the episode ending on any crash or when both have arrived; random actions are drawn
    per agent. Without spawns, as for intersection-v0."""
    compare("intersection-multi-agent", seed, policy, config=STEP_CONFIGS["intersection-multi-agent"])


@pytest.mark.parametrize("policy", ["idle", "random"])
@pytest.mark.parametrize(  # highway-v0 steps slowly in highway-env: 4 of its scenes, 20 of highway-fast's
    "preset, seed", [*(("highway-fast", k) for k in range(20)), *(("highway", k) for k in range(4))]
)
def test_many_controlled_vehicles_match_highway_env(preset: str, seed: int, policy: str) -> None:
    """``controlled_vehicles=3`` with MultiAgentAction / MultiAgentObservation: every agent's observation
    from its own vehicle, the first vehicle's reward and termination (highway-env's), scene by scene."""
    compare(preset, seed, policy, config=MULTI_AGENT_CONFIGS[preset])


@pytest.mark.parametrize("seed", range(10))
@pytest.mark.parametrize("preset", ["exit", "racetrack", "parking"])
def test_many_controlled_vehicles_in_other_worlds_match_highway_env(preset: str, seed: int) -> None:
    """exit-v0 (random meta-actions) and racetrack-v0 (zero steering: highway-env's multi-agent racetrack
    charges each agent the norm of the joint action, ours its own command) with two controlled vehicles,
    parking-v0 (random commands) with three, each with its own goal: highway-env's reward (the first
    one's goal, every crashed one's penalty) and is_success per vehicle."""
    compare(preset, seed, "idle" if preset == "racetrack" else "random", config=MULTI_AGENT_CONFIGS[preset])


@pytest.mark.parametrize("policy", ["idle", "random"])
@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("preset", list(WORLD_CONFIGS))
def test_world_configs_match_highway_env(preset: str, seed: int, policy: str) -> None:
    """Ported configs: non-default reward weights, frequencies and traffic, scene by scene."""
    compare(preset, seed, policy, config=WORLD_CONFIGS[preset])


@pytest.mark.parametrize("name", list(ACTION_CONFIGS))
@pytest.mark.parametrize("preset", ["highway-fast", "merge", "exit", "roundabout"])
def test_action_options_match_highway_env(preset: str, name: str) -> None:
    """DiscreteMetaAction's longitudinal / lateral / target_speeds options: the same action sets."""
    for seed in range(3):
        compare(preset, seed, "random", config=ACTION_CONFIGS[name])


@pytest.mark.parametrize("name", list(CONTINUOUS_CONFIGS))
@pytest.mark.parametrize("preset", ["highway-fast", "exit"])
@pytest.mark.parametrize("policy", ["idle", "random"])
def test_continuous_actions_match_highway_env(preset: str, name: str, policy: str) -> None:
    """ContinuousAction (acceleration and steering commands held by a plain Vehicle), its ranges,
    speed_range, a steering-only variant and clip=False, scene by scene."""
    for seed in range(5):
        compare(preset, seed, policy, config=CONTINUOUS_CONFIGS[name])


@pytest.mark.parametrize("preset", ["highway", "highway-fast", "merge", "exit", "roundabout", "racetrack"])
def test_float32_batch_matches_single_env(preset: str) -> None:
    """The fast CPU batch (float32) tracks the float64 single env on the same scenes."""
    scenes, actions = [], []
    for seed in range(8):
        single = HighwayEnv(preset)
        single.reset(seed=seed)
        scenes.append(single.scene())
        size = single.config.action_size if single.config.continuous_control is not None else 0
        actions.append(policy_actions("random", seed, STEPS, continuous=size))
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


@pytest.mark.parametrize(
    "preset, seeds",
    [
        ("highway-fast", range(6)),
        ("highway", range(1)),
        ("merge", range(4)),
        ("exit", range(3)),
        ("roundabout", range(3)),
    ],
)
def test_occupancy_grid_matches_highway_env(preset: str, seeds) -> None:
    """highway-env's default OccupancyGrid (4 x 11 x 11) from the same scenes, step by step."""
    for seed in seeds:
        compare(preset, seed, "random", "occupancy_grid")


@pytest.mark.parametrize("preset", ["highway-fast", "merge", "exit", "roundabout"])
def test_time_to_collision_matches_highway_env(preset: str) -> None:
    """highway-env's TimeToCollision grid (3 x 3 x 10), and with a 5 s horizon at 2 Hz (3 x 3 x 10)."""
    for seed in range(4):
        compare(preset, seed, "random", "time_to_collision")
    ttc = {"type": "TimeToCollision", "horizon": 5}
    compare(preset, 5, "random", ttc, config={"policy_frequency": 2})


@pytest.mark.parametrize("name", list(OBSERVATION_CONFIGS))
@pytest.mark.parametrize(
    "preset, seeds",
    [
        ("highway-fast", range(5)),
        ("highway", range(1)),
        ("merge", range(3)),
        ("exit", range(3)),
        ("roundabout", range(3)),
    ],
)
def test_observation_options_match_highway_env(name: str, preset: str, seeds) -> None:
    """Ported configs: non-default Kinematics and OccupancyGrid options, scene by scene."""
    for seed in seeds:
        compare(preset, seed, "random", OBSERVATION_CONFIGS[name])
