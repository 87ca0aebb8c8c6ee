"""API, config, determinism and bad-input checks of the highway envs (single and batched)."""

from __future__ import annotations

import dataclasses

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import envs  # noqa: F401  (registers the ids)
from envs.highway.config import PRESETS, HighwayConfig, make_config
from envs.highway.env import HighwayEnv
from envs.highway.vector import HighwayVectorEnv

IDS = [
    "autodrive/Highway-v0",
    "autodrive/HighwayFast-v0",
    "autodrive/Merge-v0",
    "autodrive/Exit-v0",
    "autodrive/Roundabout-v0",
]


@pytest.mark.parametrize("env_id", IDS)
def test_gymnasium_check_env(env_id: str) -> None:
    env = gym.make(env_id)
    check_env(env.unwrapped, skip_render_check=True)


@pytest.mark.parametrize("env_id", IDS)
def test_sb3_check_env(env_id: str) -> None:
    sb3_env_checker = pytest.importorskip("stable_baselines3.common.env_checker")
    sb3_env_checker.check_env(gym.make(env_id).unwrapped, warn=True)


@pytest.mark.parametrize("env_id", IDS)
@pytest.mark.parametrize("observation", ["kinematics", "occupancy_grid"])
def test_same_seed_same_episode(env_id: str, observation: str) -> None:
    def rollout(seed: int) -> list:
        env = gym.make(env_id, observation=observation)
        obs, _ = env.reset(seed=seed)
        out = [obs]
        rng = np.random.default_rng(0)
        for _ in range(8):
            obs, r, term, trunc, info = env.step(int(rng.integers(5)))
            out += [obs, r, term, trunc, info["speed"]]
            if term or trunc:
                break
        return out

    a, b, c = rollout(3), rollout(3), rollout(4)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(a[0], c[0])


def test_presets_match_highway_env_defaults() -> None:
    hw, fast = PRESETS["highway"], PRESETS["highway-fast"]
    assert (hw.lanes_count, hw.vehicles_count, hw.duration, hw.simulation_frequency, hw.policy_frequency) == (
        4,
        50,
        40,
        15,
        1,
    )
    assert (fast.lanes_count, fast.vehicles_count, fast.duration, fast.simulation_frequency) == (3, 20, 30, 5)
    assert hw.check_npc_collisions and not fast.check_npc_collisions
    assert fast.frames_per_action == 5 and hw.frames_per_action == 15


def test_config_dict_and_overrides_merge() -> None:
    cfg = make_config(
        "highway", {"lanes_count": 3, "duration": 20}, duration="25", observation="occupancy_grid"
    )
    assert (cfg.lanes_count, cfg.duration, cfg.observation) == (3, 25.0, "occupancy_grid")
    ported = make_config(
        "highway", {"observation": {"type": "OccupancyGrid"}, "reward_speed_range": [15, 30]}
    )
    assert ported.observation == "occupancy_grid" and ported.reward_speed_range == (15.0, 30.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.lanes_count = 2  # type: ignore[misc]
    env = gym.make("autodrive/Highway-v0", config={"lanes_count": 2}, vehicles_count=5)
    assert env.unwrapped.config.lanes_count == 2 and env.unwrapped.config.vehicles_count == 5


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_config_reads_like_highway_envs_dict(preset: str) -> None:
    """``env.unwrapped.config["key"]`` as in highway-env (nested observation/action dicts), frozen, and
    a round trip through that dict gives the same config."""
    cfg = PRESETS[preset]
    assert cfg["simulation_frequency"] == cfg.simulation_frequency and "action" in cfg
    # racetrack-v0 and parking-v0 drive with ContinuousAction, the others take meta-actions
    continuous = preset in ("racetrack", "parking")
    action, observation = cfg["action"], cfg["observation"]
    if cfg.multi_agent_action:  # intersection-multi-agent-v0: one DiscreteMetaAction per vehicle
        assert action["type"] == "MultiAgentAction" and observation["type"] == "MultiAgentObservation"
        action, observation = action["action_config"], observation["observation_config"]
    assert action["type"] == ("ContinuousAction" if continuous else "DiscreteMetaAction")
    assert observation["type"] in (
        "Kinematics", "ExitObservation", "OccupancyGrid", "TimeToCollision", "KinematicsGoal",
        "LidarObservation", "camera",
    )  # fmt: skip
    assert make_config(preset, cfg.to_dict()) == cfg
    with pytest.raises(KeyError, match="Did you mean 'simulation_frequency'"):
        cfg["simulation_frequence"]
    with pytest.raises(TypeError):
        cfg["duration"] = 3  # type: ignore[index]


def test_unknown_key_suggests_nearest() -> None:
    with pytest.raises(KeyError, match="lanes_count"):
        make_config("highway", {"lane_count": 3})
    with pytest.raises(KeyError, match="vehicles_density"):
        gym.make("autodrive/Highway-v0", vehicle_density=2)


@pytest.mark.parametrize(
    "change, reason",
    [
        ({"lanes_count": 0}, "lanes_count"),
        ({"duration": -1}, "duration"),
        ({"policy_frequency": 30}, "simulation_frequency"),
        ({"reward_speed_range": (30, 20)}, "reward_speed_range"),
        ({"observation": "pixels"}, "observation"),
        ({"lanes_count": "three"}, "lanes_count"),
        ({"initial_lane_id": 7}, "initial_lane_id"),
        ({"controlled_vehicles": 0}, "controlled_vehicles"),
        ({"controlled_vehicles": 400}, "may not fit on the 10 km road"),
        (
            {"observation": {"type": "Kinematics", "vehicle_count": 7}},
            r"\['vehicle_count'\] are not supported",
        ),
        ({"observation": {"type": "Kinematics", "order": "shuffled"}}, "order='shuffled'"),
        ({"observation": {"type": "Kinematics", "features": ["x", "speed"]}}, "speed"),
        ({"observation": {"type": "OccupancyGrid", "as_image": True}}, "as_image"),
        ({"observation": {"type": "LidarObservation", "cells": 0}}, "cells"),
        ({"observation": {"type": "LidarObservation", "maximum_range": -5}}, "maximum_range"),
        ({"observation": {"type": "LidarObservation", "range": 30}}, r"\['range'\] are not supported"),
        ({"observation": {"type": "Lidar"}}, "LidarObservation"),
        ({"observation": {"type": "TimeToCollision", "horizon": 0}}, "horizon"),
        ({"observation": {"type": "TimeToCollision", "frequency": 2}}, r"\['frequency'\] are not supported"),
        ({"observation": {"type": "camera", "width": 64}}, "camera_"),
    ],
)
def test_invalid_values_raise_with_reason(change: dict, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        make_config("highway", change)


def test_highway_env_action_configs_are_ported() -> None:
    """DiscreteMetaAction's options set the action space (highway-env's index order) and set-points."""
    env = HighwayEnv("highway-fast", action={"type": "DiscreteMetaAction", "longitudinal": False})
    assert env.action_space == gym.spaces.Discrete(3) and env.config.action_names == (
        "LANE_LEFT",
        "IDLE",
        "LANE_RIGHT",
    )
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"\[0, 2\]"):
        env.step(3)
    cfg = make_config(
        "highway", {"action": {"type": "DiscreteMetaAction", "lateral": False, "target_speeds": [10, 20]}}
    )
    assert cfg.action_names == ("SLOWER", "IDLE", "FASTER") and cfg.target_speeds == (10.0, 20.0)
    vec = HighwayVectorEnv(3, preset="merge", lateral=False)
    assert vec.single_action_space == gym.spaces.Discrete(3)
    with pytest.raises(ValueError, match="actions_per_axis"):
        make_config("highway", {"action": {"type": "DiscreteMetaAction", "actions_per_axis": 3}})
    with pytest.raises(ValueError, match=r"supported types are \['DiscreteMetaAction', 'ContinuousAction'\]"):
        make_config("highway", {"action": {"type": "DiscreteAction"}})
    with pytest.raises(ValueError, match="or MultiAgentAction of one of them"):
        make_config(
            "highway", {"action": {"type": "MultiAgentAction", "action_config": {"type": "Steering"}}}
        )
    with pytest.raises(ValueError, match="at least one"):
        make_config("merge", longitudinal=False, lateral=False)


def test_highway_env_observation_configs_are_ported() -> None:
    """highway-env's nested observation config sets the type and its options; shapes follow them."""
    env = HighwayEnv(
        "highway-fast", observation={"type": "Kinematics", "vehicles_count": 7, "features": ["x", "y"]}
    )
    assert env.observation_space.shape == (7, 2) and env.reset(seed=0)[0].shape == (7, 2)
    grid = {"type": "OccupancyGrid", "grid_size": [[-20, 20], [-10, 10]], "grid_step": [4, 5]}
    env = HighwayEnv("highway-fast", config={"observation": grid})
    assert env.observation_space.shape == (4, 10, 4) and env.reset(seed=0)[0].shape == (4, 10, 4)
    ttc = HighwayEnv("merge", observation={"type": "TimeToCollision", "horizon": 4}, policy_frequency=2)
    assert ttc.observation_space == gym.spaces.Box(0.0, 1.0, (3, 3, 8), np.float32)
    assert ttc.reset(seed=0)[0].shape == (3, 3, 8)
    # a new observation type drops the previous type's options
    assert (
        make_config(
            "highway", {"observation": {"type": "Kinematics", "absolute": True}}, observation="camera"
        ).observation_options
        == ()
    )


def test_info_has_highway_env_keys() -> None:
    env = HighwayEnv("highway-fast")
    _, info = env.reset(seed=0)
    _, reward, _, _, info = env.step(3)
    assert set(info) == {"speed", "crashed", "action", "rewards"}
    assert set(info["rewards"]) == {
        "collision_reward",
        "right_lane_reward",
        "high_speed_reward",
        "on_road_reward",
    }
    assert isinstance(info["speed"], float) and isinstance(info["crashed"], bool) and info["action"] == 3
    assert isinstance(reward, float) and 0.0 <= reward <= 1.0


@pytest.mark.parametrize(
    "bad, error",
    [
        (1.0, TypeError),
        (5, ValueError),
        (-1, ValueError),
        (np.array([1, 2]), ValueError),
        ("IDLE", TypeError),
        (True, TypeError),
    ],
)
def test_bad_single_action(bad, error) -> None:
    env = HighwayEnv("highway-fast")
    env.reset(seed=0)
    with pytest.raises(error):
        env.step(bad)


def test_bad_vector_actions() -> None:
    env = HighwayVectorEnv(4, preset="highway-fast")
    env.reset(seed=0)
    with pytest.raises(TypeError):
        env.step(np.ones(4))
    with pytest.raises(ValueError, match="shape"):
        env.step(np.ones(3, dtype=np.int64))
    with pytest.raises(ValueError, match=r"\[0, 4\]"):
        env.step(np.array([0, 1, 2, 5]))


def test_bad_scenes_raise() -> None:
    fast = HighwayEnv("highway-fast")
    fast.reset(seed=0)
    scene = fast.scene()
    with pytest.raises(ValueError, match="another preset"):
        HighwayEnv("highway").reset(options={"scene": scene})
    broken = dataclasses.replace(scene, speed=np.where(np.arange(scene.speed.size) == 3, np.nan, scene.speed))
    with pytest.raises(ValueError, match="non-finite"):
        HighwayEnv("highway-fast").reset(options={"scene": broken})
    with pytest.raises(ValueError, match="unknown reset options"):
        fast.reset(options={"scenery": scene})
    unknown_lane = dataclasses.replace(scene, lane=(("a", "z", 0), *scene.lane[1:]))
    with pytest.raises(ValueError, match=r"vehicle 0 lane: .*no road \('a', 'z'\)"):
        HighwayEnv("highway-fast").reset(options={"scene": unknown_lane})
    no_such_lane = dataclasses.replace(scene, target_lane=(("0", "1", 7), *scene.target_lane[1:]))
    with pytest.raises(ValueError, match="target_lane"):
        HighwayEnv("highway-fast").reset(options={"scene": no_such_lane})
    off_network = dataclasses.replace(scene, route=((("1", "2", None),), *scene.route[1:]))
    with pytest.raises(ValueError, match="not a road of the network"):
        HighwayEnv("highway-fast").reset(options={"scene": off_network})


def test_scene_round_trip() -> None:
    env = HighwayEnv("highway-fast")
    env.reset(seed=5)
    env.step(2)
    scene = env.scene()
    other = HighwayEnv("highway-fast")
    other.reset(options={"scene": scene})
    for _ in range(3):
        a, b = env.step(3), other.step(3)
        np.testing.assert_array_equal(a[0], b[0])


def test_vector_env_api_and_autoreset() -> None:
    env = gym.make_vec(
        "autodrive/HighwayFast-v0", num_envs=6, vectorization_mode="vector_entry_point", duration=3
    )
    assert isinstance(env.unwrapped, HighwayVectorEnv)
    assert env.metadata["autoreset_mode"] == gym.vector.AutoresetMode.NEXT_STEP
    assert env.single_action_space == gym.spaces.Discrete(5)
    obs, info = env.reset(seed=1)
    assert obs.shape == (6, 5, 5) and obs.dtype == np.float32
    assert set(info) == {"speed", "crashed", "action", "rewards"}
    done_prev = np.zeros(6, dtype=bool)
    finished = np.zeros(6, dtype=bool)
    for _ in range(5):
        obs, reward, term, trunc, info = env.step(np.full(6, 4, dtype=np.int64))
        assert reward.shape == (6,) and reward.dtype == np.float32 and term.dtype == bool
        # envs that finished last step were reset now: reward 0, not done, fresh obs
        assert np.all(reward[done_prev] == 0) and not np.any((term | trunc)[done_prev])
        done_prev = term | trunc
        finished |= done_prev
    assert finished.all()  # duration=3 s at 1 Hz: every env ends by step 3


def test_vector_env_seeding_is_deterministic() -> None:
    def rollout() -> list:
        env = HighwayVectorEnv(5, preset="highway-fast")
        out = [env.reset(seed=11)[0]]
        rng = np.random.default_rng(0)
        for _ in range(40):
            obs, r, term, trunc, info = env.step(rng.integers(5, size=5))
            out += [obs, r, term, info["crashed"]]
        return out

    assert all(np.array_equal(x, y) for x, y in zip(rollout(), rollout()))


def test_reset_mask_resets_only_the_masked_envs() -> None:
    """Gymnasium's partial reset: masked envs start new episodes, the others keep theirs, and an env
    waiting for its NEXT_STEP autoreset still gets it at its next step."""
    env = HighwayVectorEnv(4, preset="highway-fast", duration=2)
    env.reset(seed=0)
    env.step(np.ones(4, dtype=np.int64))
    _, _, term, trunc, _ = env.step(np.ones(4, dtype=np.int64))
    assert (term | trunc).all()  # every env waits for its autoreset now
    x_before = env.state.x.copy()
    mask = np.array([True, False, False, False])
    obs, info = env.reset(options={"reset_mask": mask})
    assert env.sim.host["time"][0] == 0 and (env.sim.host["time"][1:] == 2).all()
    np.testing.assert_array_equal(env.state.x[1:], x_before[1:])
    _, reward, term, trunc, _ = env.step(np.ones(4, dtype=np.int64))
    assert reward[0] != 0 and (reward[1:] == 0).all()  # env 0 stepped; envs 1-3 autoreset now
    assert (env.sim.host["time"][1:] == 0).all() and env.sim.host["time"][0] == 1
    with pytest.raises(ValueError, match="reset_mask"):
        env.reset(options={"reset_mask": np.ones(3, dtype=bool)})


def test_crashed_at_final_step_is_reported() -> None:
    env = HighwayVectorEnv(16, preset="highway-fast")
    env.reset(seed=2)
    for _ in range(30):
        _, _, term, trunc, info = env.step(np.ones(16, dtype=np.int64))
        assert np.array_equal(info["crashed"][term], np.ones(term.sum(), dtype=bool))


def test_config_object_accepted() -> None:
    cfg = HighwayConfig(lanes_count=2, vehicles_count=3)
    env = HighwayEnv(config=cfg)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (5, 5)
    assert obs[4, 0] == 0.0 or obs[:, 0].sum() <= 4  # only 3 other vehicles exist
