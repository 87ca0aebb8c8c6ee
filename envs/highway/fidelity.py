"""Measuring fidelity to highway-env: the same scene in both simulators, step by step, and statistics.

Used by ``tests/test_highway_fidelity.py``, ``tests/test_highway_statistics.py`` and
``scripts/fidelity.py`` (which records the figures in ``docs/results/fidelity-highway.json``).
highway-env is imported lazily: nothing here needs it at import time.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from envs.highway.compat import scene_from_highway_env
from envs.highway.env import GoalHighwayEnv, HighwayEnv
from envs.highway.vector import HighwayVectorEnv
from envs.physics.traffic import IDM_DEFAULTS

HIGHWAY_ENV_IDS = {
    "highway": "highway-v0",
    "highway-fast": "highway-fast-v0",
    "merge": "merge-v0",
    "exit": "exit-v0",
    "roundabout": "roundabout-v0",
    "racetrack": "racetrack-v0",
    "parking": "parking-v0",
    "intersection": "intersection-v0",
    "intersection-multi-agent": "intersection-multi-agent-v0",
}
HIGHWAY_ENV_OBSERVATIONS = {
    "kinematics": "Kinematics",
    "occupancy_grid": "OccupancyGrid",
    "exit": "ExitObservation",
    "time_to_collision": "TimeToCollision",
    "kinematics_goal": "KinematicsGoal",
    "lidar": "LidarObservation",
}
#: fixed meta-action, or None: uniformly random; under ContinuousAction "idle" is zero commands, "faster"
#: full acceleration straight ahead, "random" uniform commands
POLICIES = {"idle": "IDLE", "slower": "SLOWER", "right": "LANE_RIGHT", "faster": "FASTER", "random": None}
#: DiscreteMetaAction's default action set (lateral and longitudinal), in highway-env's index order
META_ACTION_NAMES = ("LANE_LEFT", "IDLE", "LANE_RIGHT", "FASTER", "SLOWER")


def policy_action(policy: str, action_names: tuple[str, ...] = META_ACTION_NAMES) -> int | None:
    """The action index of a fixed policy in an action set (None: random), or a clear error when the set
    lacks it (intersection-v0 has no LANE_RIGHT)."""
    name = POLICIES[policy]
    if name is None:
        return None
    if name not in action_names:
        raise ValueError(
            f"policy {policy!r} needs the {name} action; this env's actions are {list(action_names)}"
        )
    return list(action_names).index(name)


def restore_highway_env_idm() -> None:
    """Put back highway-env's IDMVehicle class defaults: intersection-v0's reset sets its
    ``DISTANCE_WANTED``, ``COMFORT_ACC_MAX`` and ``COMFORT_ACC_MIN`` on the class, which changes the traffic
    of every highway-env env made after it in the process."""
    from highway_env.vehicle.behavior import IDMVehicle

    for name, value in IDM_DEFAULTS.items():
        setattr(IDMVehicle, name, value)


#: highway-env observation configs with non-default options, compared step by step like the defaults
OBSERVATION_CONFIGS = {
    "kinematics-rich": {
        "type": "Kinematics",
        "vehicles_count": 7,
        "features": [
            "presence",
            "x",
            "y",
            "vx",
            "vy",
            "heading",
            "cos_h",
            "sin_h",
            "cos_d",
            "sin_d",
            "long_off",
            "lat_off",
            "ang_off",
        ],  # fmt: skip
        "absolute": True,
        "see_behind": True,
    },
    "kinematics-raw": {
        "type": "Kinematics",
        "normalize": False,
        "clip": False,
        "order": "sorted",
        "observe_intentions": True,
        "features_range": {"x": [-100, 100], "y": [-12, 12], "vx": [-20, 20], "vy": [-20, 20]},
    },
    "kinematics-ranged": {
        "type": "Kinematics",
        "features": ["presence", "x", "y", "vx", "vy", "heading"],
        "features_range": {"x": [-100, 100], "y": [-12, 12], "vx": [-20, 20], "vy": [-20, 20]},
        "include_obstacles": False,
    },
    "grid-aligned": {
        "type": "OccupancyGrid",
        "features": ["presence", "on_road", "vx", "vy", "x", "y", "heading", "cos_h", "sin_h"],
        # cell edges off the on_road waypoints' lattice: highway-env places a waypoint every min(grid_step)
        # metres from 100 m behind the observer, so with a grid edge on that lattice (e.g. x from -20 in
        # steps of 4, or a lane centre on a y edge) a cell is decided by 1e-15 rounding in either simulator
        "grid_size": [[-22, 22], [-13.5, 13.5]],
        "grid_step": [4, 3],
        "align_to_vehicle_axes": True,
        "clip": False,
    },
}


#: the config of a world's step-by-step comparisons: intersection-v0's new vehicles come from each
#: simulator's own random stream, so both run with only the scene's vehicles (statistics cover spawning)
STEP_CONFIGS = {
    "intersection": {"spawn_probability": 0.0},
    "intersection-multi-agent": {"spawn_probability": 0.0},
}

#: non-default world configs (highway-env keys, given to both simulators), compared step by step
WORLD_CONFIGS = {
    "merge": {
        "collision_reward": -2.0,
        "right_lane_reward": 0.3,
        "high_speed_reward": 0.5,
        "reward_speed_range": [15, 35],
        "merging_speed_reward": -1.0,
        "lane_change_reward": -0.2,
        "simulation_frequency": 10,
        "policy_frequency": 2,
    },
    "exit": {
        "lanes_count": 4,
        "vehicles_count": 12,
        "vehicles_density": 1.0,
        "collision_reward": -1.0,
        "goal_reward": 2.0,
        "high_speed_reward": 0.3,
        "right_lane_reward": 0.05,
        "reward_speed_range": [18, 28],
        "duration": 10,
    },
    "roundabout": {
        "incoming_vehicle_destination": 1,
        "collision_reward": -2.0,
        "high_speed_reward": 0.5,
        "lane_change_reward": -0.2,
        "duration": 8,
        "normalize_reward": False,
        "simulation_frequency": 10,
    },
    "highway-fast": {
        "lanes_count": 4,
        "vehicles_count": 12,
        "collision_reward": -2.0,
        "right_lane_reward": 0.2,
        "reward_speed_range": [22, 28],
        "vehicles_density": 1.5,
        "duration": 12,
    },
    "racetrack": {
        "other_vehicles": 4,
        "lane_centering_cost": 2.0,
        "lane_centering_reward": 0.5,
        "action_reward": -0.5,
        "collision_reward": -2.0,
        "terminate_off_road": False,
        "duration": 20,
        "policy_frequency": 3,
    },
    "intersection": {  # no spawns during the episode: each simulator draws them from its own stream
        "destination": "o3",
        "initial_vehicle_count": 14,
        "spawn_probability": 0.0,
        "collision_reward": -3.0,
        "high_speed_reward": 0.5,
        "arrived_reward": 2.0,
        "reward_speed_range": [4.0, 8.0],
        "normalize_reward": True,
        "duration": 10,
    },
    "parking": {
        "vehicles_count": 8,
        "reward_weights": [1, 0.5, 0.1, 0.1, 0.05, 0.05],
        "success_goal_reward": 0.2,
        "collision_reward": -3,
        "duration": 30,
        "policy_frequency": 3,
    },
}


def _tuple_api(action: dict, observation: dict, agents: int) -> dict:
    return {
        "controlled_vehicles": agents,
        "action": {"type": "MultiAgentAction", "action_config": action},
        "observation": {"type": "MultiAgentObservation", "observation_config": observation},
    }


#: several controlled vehicles with highway-env's tuple API (MultiAgentAction, MultiAgentObservation),
#: compared step by step: three on the highway (each leading its share of the traffic), two on the exit
#: road and on the racetrack, three in the parking lot (each with its own goal); the racetrack's grid with presence only, because for vehicles on its
#: diagonal lanes the road layer's waypoints fall on cell edges, where rounding decides the cell, and
#: under zero steering only: highway-env's multi-agent racetrack charges each vehicle the norm of the
#: joint action in action_reward, ours its own command
MULTI_AGENT_CONFIGS = {
    "highway-fast": _tuple_api({"type": "DiscreteMetaAction"}, {"type": "Kinematics"}, 3),
    "highway": _tuple_api({"type": "DiscreteMetaAction"}, {"type": "Kinematics"}, 3),
    "exit": _tuple_api({"type": "DiscreteMetaAction"}, {"type": "ExitObservation"}, 2),
    "racetrack": _tuple_api(
        {"type": "ContinuousAction", "longitudinal": False},
        {
            "type": "OccupancyGrid",
            "features": ["presence"],
            "grid_size": [[-18, 18], [-18, 18]],
            "grid_step": [3, 3],
            "as_image": False,
            "align_to_vehicle_axes": True,
        },
        2,
    ),  # fmt: skip
    "parking": _tuple_api(
        {"type": "ContinuousAction"},
        {
            "type": "KinematicsGoal",
            "features": ["x", "y", "vx", "vy", "cos_h", "sin_h"],
            "scales": [100, 100, 5, 5, 1, 1],
            "normalize": False,
        },
        3,
    ),  # fmt: skip
}

#: highway-env DiscreteMetaAction options (any world), compared step by step under random actions
ACTION_CONFIGS = {
    "lateral-only": {"action": {"type": "DiscreteMetaAction", "longitudinal": False}},
    "longitudinal-4-speeds": {
        "action": {"type": "DiscreteMetaAction", "lateral": False, "target_speeds": [15, 20, 25, 30]}
    },
}


def highway_env_observation(observation: str | dict) -> dict:
    """highway-env's observation config: ours by name, or a highway-env dict as it is."""
    return (
        dict(observation)
        if isinstance(observation, dict)
        else {"type": HIGHWAY_ENV_OBSERVATIONS[observation]}
    )


def highway_env_scene(
    preset: str, seed: int, observation: str | dict | None = None, config: dict | None = None
) -> Any:
    """A seeded highway-env env of ``preset``, advanced ``seed % 3`` IDLE steps (so that lane changes,
    timers and IDM state are mid-flight when the scene is read). ``observation``: our observation name
    or a highway-env observation config (``{"type": "Kinematics", "absolute": True, ...}``), None for
    the world's default (exit-v0's is its ExitObservation); ``config``:
    more highway-env config keys (the world's, e.g. reward weights)."""
    import gymnasium as gym
    import highway_env  # noqa: F401  (registers highway-v0, highway-fast-v0, merge-v0)

    config = dict(config or {})
    if observation is not None:
        config["observation"] = highway_env_observation(observation)
    with warnings.catch_warnings():  # merge-v0 is "out of date" for merge-v1, a variant we do not model
        warnings.simplefilter("ignore", DeprecationWarning)
        he = gym.make(HIGHWAY_ENV_IDS[preset], config=config).unwrapped
    restore_highway_env_idm()  # an earlier intersection-v0 in this process must not change this one
    he.reset(seed=seed)

    def idle_action(space: Any) -> Any:  # continuous: zeros; MultiAgentAction: one per vehicle
        if isinstance(space, gym.spaces.Tuple):
            return tuple(idle_action(s) for s in space)
        return np.zeros(space.shape, np.float32) if space.shape else 1

    idle = idle_action(he.action_space)
    for _ in range(seed % 3):
        he.step(idle)
    return he


#: highway-env ContinuousAction configs, compared step by step under zero and random commands (merge-v0
#: and roundabout-v0 cannot take them in highway-env: their lane-change reward and route planning
#: expect meta-actions)
CONTINUOUS_CONFIGS = {
    "continuous": {"action": {"type": "ContinuousAction"}},
    "continuous-ranges": {
        "action": {
            "type": "ContinuousAction",
            "acceleration_range": [-3, 2],
            "steering_range": [-0.2, 0.3],
            "speed_range": [10, 30],
        }
    },
    "continuous-steering": {"action": {"type": "ContinuousAction", "longitudinal": False}},
    "continuous-unclipped": {"action": {"type": "ContinuousAction", "clip": False}},
}


def policy_actions(
    policy: str, seed: int, steps: int, action_names: tuple[str, ...] = META_ACTION_NAMES, continuous: int = 0
) -> list[Any]:
    """The action sequence of a scene: ``policy`` from :data:`POLICIES`, random ones seeded by ``seed``.
    ``continuous``: the size of ContinuousAction commands (then "idle" is zeros and "random" uniform in
    [-1, 1], with some beyond it to exercise the clip)."""
    fixed = POLICIES[policy] if continuous else policy_action(policy, action_names)
    rng = np.random.default_rng(1000 + seed)
    if continuous:
        if fixed is not None:
            command = np.zeros(continuous, np.float32)
            command[0] = 1.0 if policy == "faster" else 0.0
            return [command] * steps
        return [rng.uniform(-1.1, 1.1, size=continuous).astype(np.float32) for _ in range(steps)]
    return (
        [fixed] * steps
        if fixed is not None
        else [int(a) for a in rng.integers(len(action_names), size=steps)]
    )


def agent_actions(
    policy: str, seed: int, steps: int, agents: int, action_names: tuple[str, ...], continuous: int = 0
) -> list:
    """MultiAgentAction sequences: each step a tuple of one action per controlled vehicle, agent k's from
    :func:`policy_actions` with its own seed."""
    per_agent = [
        policy_actions(policy, seed + 7919 * k, steps, action_names, continuous) for k in range(agents)
    ]
    return list(zip(*per_agent))


def observation_gap(theirs: Any, ours: Any) -> float:
    """The largest absolute difference of two observations: arrays, dicts of arrays by key, or tuples of
    them (MultiAgentObservation)."""
    if isinstance(theirs, tuple):
        if len(theirs) != len(ours):
            raise ValueError(f"{len(theirs)} observations from highway-env, {len(ours)} from ours")
        return max(observation_gap(a, b) for a, b in zip(theirs, ours))
    if isinstance(theirs, dict):
        if set(theirs) != set(ours):
            raise ValueError(f"observation keys differ: highway-env {sorted(theirs)}, ours {sorted(ours)}")
        return max(observation_gap(theirs[k], ours[k]) for k in theirs)
    return float(np.abs(np.asarray(theirs) - np.asarray(ours)).max())


def compare_steps(
    preset: str,
    seed: int,
    policy: str,
    steps: int = 10,
    observation: str | dict | None = None,
    precision: str = "float64",
    config: dict | None = None,
) -> dict[str, Any]:
    """Drive highway-env and our single env from the same scene with the same actions (``config``: world
    config keys given to both, e.g. from :data:`WORLD_CONFIGS`).

    Returns the largest observation and reward differences (every reward term included), the steps
    compared, and ``mismatch``: the first step whose (terminated, truncated, crashed, and where
    highway-env reports it, is_success) flags differ, or None.
    """
    he = highway_env_scene(preset, seed, observation, config)
    chosen = {} if observation is None else {"observation": highway_env_observation(observation)}
    # parking-v0 with its goal observation is a GoalEnv: the reward of its goals (and every crash) too
    single = GoalHighwayEnv if preset == "parking" and observation is None else HighwayEnv
    ours = single(preset, config, precision=precision, **chosen)
    obs, _ = ours.reset(options={"scene": scene_from_highway_env(he)})
    out = {"obs": observation_gap(he.observation_type.observe(), obs), "reward": 0.0, "steps": 0}
    out["mismatch"] = None
    size = ours.config.action_size if ours.config.continuous_control is not None else 0
    if ours.config.multi_agent_action:
        names = tuple(ours.config.action_names)
        policy_list = agent_actions(policy, seed, steps, ours.config.controlled_vehicles, names, size)
    elif size and not ours.config.clip:
        policy_list = [np.clip(a, -1, 1) for a in policy_actions(policy, seed, steps, continuous=size)]
    else:
        policy_list = policy_actions(policy, seed, steps, tuple(ours.config.action_names), size)
    for action in policy_list:
        he_obs, he_r, he_term, he_trunc, he_info = he.step(action)
        obs, r, term, trunc, info = ours.step(action)
        out["steps"] += 1
        out["obs"] = max(out["obs"], observation_gap(he_obs, obs))
        # parking-v0's info has no reward terms: its reward, is_success and flags are compared
        terms = [abs(info["rewards"][k] - v) for k, v in he_info.get("rewards", {}).items()]
        terms += [
            abs(a - b) for a, b in zip(he_info.get("agents_rewards", ()), info.get("agents_rewards", ()))
        ]
        out["reward"] = max(out["reward"], abs(he_r - r), *terms)
        # per-agent flags where both report them (ours only with several controlled vehicles)
        flags = ("crashed", *(k for k in ("is_success", "agents_terminated") if k in he_info and k in info))
        if (term, trunc, *(info[k] for k in flags)) != (he_term, he_trunc, *(he_info[k] for k in flags)):
            out["mismatch"] = out["steps"]
            break
        if he_term or he_trunc:
            break
    ours.close()
    return out


def run_episodes(
    preset: str, policy: str, episodes: int = 200, seed: int = 0, agents_crashed: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """One episode in each of ``episodes`` batched envs (float32): (returns, crashed at the final step).

    With several controlled vehicles the episode is the env's (its reward, termination and the first
    vehicle's crash flag, as highway-env reports them), each vehicle taking the policy's action;
    ``agents_crashed``: return every vehicle's final crash flag, (episodes, agents), instead."""
    env = HighwayVectorEnv(episodes, preset=preset)
    env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    returns = np.zeros(episodes)
    agents = env.agents
    crashed = np.zeros((episodes, agents), dtype=bool)
    live = np.ones(episodes, dtype=bool)
    host = env.sim.host  # per env: the env's reward and flags (the vector env's rows are agents)
    shape = env.single_action_space.shape  # () for meta-actions, (size,) for ContinuousAction
    if shape and policy not in ("idle", "faster", "random"):
        raise ValueError(
            f"policy {policy!r} is a meta-action; a ContinuousAction world takes idle, faster or random"
        )
    names = tuple(env.config.action_names)
    fixed = POLICIES[policy] if shape else policy_action(policy, names)
    limit = 100 * env.config.max_episode_steps if hasattr(env.config, "max_episode_steps") else 10_000
    steps = 0
    while live.any():
        steps += 1
        if steps > limit:  # an episode that never ends is a bug of its world, not a long episode
            raise RuntimeError(
                f"{preset}/{policy}: {int(live.sum())} episodes still running after {limit} steps"
            )
        rows = env.num_envs
        if shape:  # idle: zero commands; faster: full acceleration; random: uniform in [-1, 1]
            if fixed is None:
                actions = rng.uniform(-1, 1, (rows, *shape))
            else:
                actions = np.zeros((rows, *shape))
                actions[:, 0] = 1.0 if policy == "faster" else 0.0
            actions = actions.astype(np.float32)
        else:
            actions = rng.integers(len(names), size=rows) if fixed is None else np.full(rows, fixed)
        env.step(actions)
        reward, term, trunc = host["reward"], host["terminated"], host["truncated"]
        returns[live] += reward[live]
        done = live & (term | trunc)
        crashed[done] = host["ego_crashed"].reshape(episodes, agents)[done]
        live &= ~done
    env.close()
    return returns, (crashed if agents_crashed else crashed[:, 0])


SE_FLOOR = 1e-5  # [return units] below any real standard error of 200 episodes, above float32 rounding


def standard_error(a: np.ndarray) -> float:
    return float(a.std(ddof=1) / np.sqrt(len(a)))


def compare_statistics(ours: np.ndarray, theirs: np.ndarray) -> dict[str, float]:
    """Means, their standard errors and ``z``: the gap over the standard error of the difference."""
    # floored at float32 rounding of a return: a deterministic outcome (every episode the same, e.g.
    # always-IDLE in exit-v0) has no spread, and the two means then differ only by rounding
    se = max(float(np.hypot(standard_error(ours), standard_error(theirs))), SE_FLOOR)
    gap = float(ours.mean() - theirs.mean())
    return {
        "ours": float(ours.mean()), "ours_se": standard_error(ours), "ours_n": len(ours),
        "theirs": float(theirs.mean()), "theirs_se": standard_error(theirs), "theirs_n": len(theirs),
        "z": gap / se,
    }  # fmt: skip
