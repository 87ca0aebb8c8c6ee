"""Several controlled vehicles: highway-env's tuple API, the PettingZoo parallel env of every world, the
batched form with the agents folded into the batch, per-agent rewards and flags, and bad input."""

from __future__ import annotations

import dataclasses
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from pettingzoo.test import parallel_api_test

import envs
from agents.common.evaluation import evaluate_joint, traffic_metrics
from envs.highway.env import HighwayEnv
from envs.highway.parallel import parallel_env
from envs.highway.vector import HighwayVectorEnv
from envs.physics import structs as st

TUPLE_API = {
    "action": {"type": "MultiAgentAction", "action_config": {"type": "DiscreteMetaAction"}},
    "observation": {"type": "MultiAgentObservation", "observation_config": {"type": "Kinematics"}},
}


def test_check_env_multi_agent_intersection() -> None:
    env = gym.make("autodrive/IntersectionMultiAgent-v0").unwrapped
    assert env.observation_space == gym.spaces.Tuple(
        [gym.spaces.Box(-np.inf, np.inf, (15, 7), np.float32)] * 2
    )
    assert env.action_space == gym.spaces.Tuple([gym.spaces.Discrete(3)] * 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # unbounded Box warnings, as for every Kinematics env
        check_env(env, skip_render_check=True)


def test_check_env_self_play() -> None:
    """The self-play id through Gymnasium's single-env API drives the first of its 21 vehicles."""
    env = gym.make("autodrive/HighwaySelfPlay-v0").unwrapped
    assert env.config.controlled_vehicles == 21 and env.config.vehicles_count == 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        check_env(env, skip_render_check=True)


def test_tuple_api_on_the_highway() -> None:
    env = HighwayEnv("highway-fast", controlled_vehicles=3, vehicles_count=9, **TUPLE_API)
    obs, info = env.reset(seed=4)
    assert isinstance(obs, tuple) and len(obs) == 3 and all(o.shape == (5, 5) for o in obs)
    scene = env.scene()
    assert list(scene.kind[:3]) == [st.CONTROLLED] * 3 and (scene.kind[3:] == st.IDM).all()
    # highway-env's near_split: each controlled vehicle leads 3 NPCs; list order = born
    assert list(scene.born) == [0, 4, 8, 1, 2, 3, 5, 6, 7, 9, 10, 11]
    for k in range(3):  # each agent observes from its own vehicle: its row 0 is itself
        assert obs[k][0, 0] == 1.0
        assert np.isclose(obs[k][0, 2], scene.y[k] / 12.0, atol=1e-6)  # y normalised by 3 lanes * 4 m
    obs, reward, terminated, truncated, info = env.step((3, 4, 1))
    assert info["action"] == (3, 4, 1)
    assert len(info["agents_rewards"]) == 3 and reward == info["agents_rewards"][0]  # the first's reward
    assert info["agents_crashed"] == (False, False, False)
    again = HighwayEnv("highway-fast", controlled_vehicles=3, vehicles_count=9, **TUPLE_API)
    again.reset(seed=4)
    np.testing.assert_array_equal(again.scene().x, scene.x)  # the same seed, the same episode


def test_without_tuple_api_the_others_hold() -> None:
    """controlled_vehicles > 1 without MultiAgentAction: the policy drives the first vehicle, the others
    keep their set-points (highway-env's MDPVehicles that no action reaches)."""
    env = HighwayEnv("highway-fast", controlled_vehicles=2)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (5, 5) and env.action_space == gym.spaces.Discrete(5)
    speeds = env.scene().target_speed[:2].copy()
    env.step(3)  # FASTER for the first
    target = env.scene().target_speed
    assert target[0] == speeds[0] + 5.0 and target[1] == speeds[1]


def test_cooperative_intersection_reward_is_the_mean() -> None:
    env = gym.make("autodrive/IntersectionMultiAgent-v0")
    env.reset(seed=1)
    for _ in range(4):
        _, reward, terminated, truncated, info = env.step((2, 0))
        assert reward == pytest.approx(np.mean(info["agents_rewards"]), abs=1e-6)
        if terminated or truncated:
            break


@pytest.mark.parametrize("env_id", [*envs.DRIVING_IDS, "several"])
def test_parallel_api_for_every_world(env_id: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the API test's unknown reset option, space bounds
        if env_id == "several":
            env = parallel_env("autodrive/Highway-v0", controlled_vehicles=3, vehicles_count=6)
        else:
            env = parallel_env(env_id)
        parallel_api_test(env, num_cycles=40)
    env.close()


def test_parallel_env_removes_done_agents_and_keeps_their_vehicles() -> None:
    """Self-play traffic: 4 agents, no IDM traffic; a crashed agent leaves ``agents`` but its vehicle
    stays on the road as an obstacle, and the episode goes on for the others."""
    env = parallel_env("autodrive/HighwayFast-v0", controlled_vehicles=4, vehicles_count=0, initial_lane_id=0)
    obs, infos = env.reset(seed=0)
    assert sorted(obs) == env.possible_agents == [f"agent_{k}" for k in range(4)]
    gone: set[str] = set()
    for _ in range(30):
        # the leader brakes hard, the others speed up behind it in the same lane
        actions = {a: (4 if a == "agent_3" else 3) for a in env.agents}
        obs, rewards, terminations, truncations, infos = env.step(actions)
        assert set(rewards) == set(actions)
        for agent, done in terminations.items():
            if done:
                gone.add(agent)
                assert infos[agent]["crashed"]
                assert rewards[agent] == pytest.approx(0.0, abs=1e-6)  # the collision reward, normalised
        assert not gone & set(env.agents)
        if not env.agents:
            break
    assert gone, "expected a rear-end crash"
    scene = env.env.scene()
    assert (scene.kind[:4] == st.CONTROLLED).all()  # crashed vehicles are still on the road
    if env.agents:
        absent = sorted(gone)[0]
        with pytest.raises(ValueError, match="absent agents"):
            env.step({**{a: 1 for a in env.agents}, absent: 1})


def test_vector_env_folds_agents_into_the_batch() -> None:
    """B envs of k agents: k * B rows; row e * k + j is env e's agent j, with its own reward, its
    termination when it is done, and the env's truncation; the rows match the single env's agents."""
    scenes = []
    for seed in range(3):
        single = HighwayEnv("intersection-multi-agent", spawn_probability=0.0)
        single.reset(seed=seed)
        scenes.append(single.scene())
    vec = HighwayVectorEnv(3, preset="intersection-multi-agent", spawn_probability=0.0, precision="float64")
    assert vec.num_envs == 6 and vec.single_action_space == gym.spaces.Discrete(3)
    obs, _ = vec.reset(options={"scene": scenes})
    singles = [HighwayEnv("intersection-multi-agent", spawn_probability=0.0) for _ in scenes]
    for env, scene in zip(singles, scenes):
        env.reset(options={"scene": scene})
    rng = np.random.default_rng(0)
    live = np.ones(3, bool)
    for _ in range(12):
        actions = rng.integers(3, size=6)
        obs, reward, terminated, truncated, info = vec.step(actions)
        for e, env in enumerate(singles):
            if not live[e]:
                continue
            o, r, term, trunc, i = env.step(tuple(actions[2 * e : 2 * e + 2]))
            for j in range(2):
                row = 2 * e + j
                np.testing.assert_allclose(obs[row], o[j], atol=1e-6)
                assert reward[row] == pytest.approx(i["agents_rewards"][j], abs=1e-6)
                assert terminated[row] == (i["agents_terminated"][j] or term)
                assert truncated[row] == trunc and info["crashed"][row] == i["agents_crashed"][j]
            live[e] = not (term or trunc)
    with pytest.raises(ValueError, match="share its episode"):
        vec.reset(options={"reset_mask": np.array([True, False, False, False, False, False])})


def test_bad_multi_agent_input_raises() -> None:
    env = gym.make("autodrive/IntersectionMultiAgent-v0")
    env.reset(seed=0)
    with pytest.raises(ValueError, match="takes 2 actions"):
        env.step((1, 1, 1))
    with pytest.raises(TypeError, match="tuple of 2 actions"):
        env.step(1)
    with pytest.raises(ValueError, match=r"out of range"):
        env.step((1, 3))
    with pytest.raises(ValueError, match="at most 4 controlled vehicles"):
        gym.make("autodrive/IntersectionMultiAgent-v0", controlled_vehicles=5)
    with pytest.raises(ValueError, match="at most 1 controlled vehicle"):
        gym.make("autodrive/Merge-v0", controlled_vehicles=2)
    with pytest.raises(ValueError, match="may not fit"):
        gym.make("autodrive/Highway-v0", controlled_vehicles=400)
    with pytest.raises(ValueError, match="camera observes one vehicle"):
        gym.make("autodrive/HighwayFast-v0", controlled_vehicles=2, observation="camera")
    with pytest.raises(ValueError, match="only 'action_config'"):
        gym.make("autodrive/HighwayFast-v0", action={"type": "MultiAgentAction", "configs": {}})
    with pytest.raises(ValueError, match="unknown driving env id"):
        parallel_env("autodrive/GridWorld-v0")


def test_scene_must_put_the_controlled_vehicles_first() -> None:
    env = HighwayEnv("highway-fast", controlled_vehicles=2)
    env.reset(seed=0)
    scene = env.scene()
    swapped = dataclasses.replace(scene, kind=np.roll(scene.kind, 1))
    with pytest.raises(ValueError, match=r"slots 0..1 must be the 2 controlled vehicle"):
        env.reset(options={"scene": swapped})


def test_traffic_metrics_count_every_vehicle_of_the_road() -> None:
    """IDLE self-play traffic: 21 vehicles at 25 m/s for 30 s, nobody crashes; each drives 0.75 km."""
    m = traffic_metrics(1, "autodrive/HighwaySelfPlay-v0", episodes=4)
    assert m["vehicles"] == 84 and m["crashes"] == 0
    assert m["mean_speed"] == pytest.approx(25.0, abs=1e-3)
    assert m["vehicle_km"] == pytest.approx(84 * 25 * 30 / 1000, rel=1e-3)
    idm = traffic_metrics(4, "autodrive/HighwayFast-v0", episodes=4, count="idm")
    assert idm["vehicles"] == 80 and idm["vehicle_km"] > 0
    with pytest.raises(ValueError, match="count="):
        traffic_metrics(1, "autodrive/HighwayFast-v0", episodes=1, count="npc")


def test_evaluate_joint_scores_both_vehicles() -> None:
    class Stop:  # SLOWER: both vehicles stop short of the junction, nobody arrives or crashes
        def predict(self, obs, deterministic=True):
            return np.zeros(len(obs), np.int64), None

    m = evaluate_joint(Stop(), "autodrive/IntersectionMultiAgent-v0", episodes=3)
    assert m["joint_success_rate"] == 0.0 and m["any_crash_rate"] == 0.0
    with pytest.raises(ValueError, match="not a multi-agent env"):
        evaluate_joint(Stop(), "autodrive/Intersection-v0", episodes=1)


def test_replay_drives_every_vehicle_of_a_tuple_env() -> None:
    """``autodrive enjoy`` / recording: the policy takes the vehicles' observations as a batch and its
    actions go back as a tuple."""
    from agents.replay import _env_action, _policy_input

    env = gym.make("autodrive/IntersectionMultiAgent-v0")
    obs, _ = env.reset(seed=0)
    assert _policy_input(obs).shape == (2, 15, 7)
    assert _env_action(env, np.array([2, 0])) == (2, 0)
