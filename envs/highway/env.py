"""The single highway env (``gym.make("autodrive/Highway-v0")``), the batched simulator with one env."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from envs.highway.backend import NumpyOps
from envs.highway.config import HighwayConfig, make_config
from envs.highway.observation import OBSERVATIONS
from envs.highway.sim import (
    IDLE,
    action_space,
    check_action,
    check_agent_actions,
    check_commands,
    goal_reward,
    make_simulator,
    state_view,
)
from envs.highway.state import Scene, TrafficState

_HOST = NumpyOps()


class HighwayEnv(gym.Env):
    """A straight multi-lane highway with IDM/MOBIL traffic, faithful to highway-env's ``highway-v0``.

    **Description.** The ego vehicle drives among ``vehicles_count`` NPCs on ``lanes_count`` straight
    4 m lanes (speed limit 30 m/s). NPCs follow IDM (longitudinal) and MOBIL (lane changes) with
    highway-env's parameters; the ego follows meta-actions through highway-env's speed and steering
    controllers on a kinematic bicycle model. Each action lasts ``simulation_frequency //
    policy_frequency`` physics sub-steps.

    **Observation.** ``observation="kinematics"`` (default): float32 (5, 5), rows ego + 4 nearest
    vehicles ahead, columns (presence, x, y, vx, vy) normalised to [-1, 1]; ``"occupancy_grid"``: float32
    (4, 11, 11). See ``envs/highway/observation.py``.

    **Actions.** ``Discrete(5)``: 0 LANE_LEFT, 1 IDLE, 2 LANE_RIGHT, 3 FASTER, 4 SLOWER (cruise
    set-points ``target_speeds`` = 20/25/30 m/s).

    **Rewards.** Named terms ``collision_reward``, ``right_lane_reward``, ``high_speed_reward``,
    ``on_road_reward`` (in ``info["rewards"]``), weighted by the config and normalised to [0, 1] as
    highway-env does (``envs/highway/reward.py``).

    **Termination/Truncation.** Terminated when the ego crashes (or leaves the road with
    ``offroad_terminal``); truncated when ``duration`` seconds have elapsed.

    **Registered ids.** ``autodrive/Highway-v0`` (highway-v0 defaults: 4 lanes, 50 vehicles, 40 s,
    15 Hz simulation, 1 Hz policy) and ``autodrive/HighwayFast-v0`` (highway-fast-v0: 3 lanes, 20
    vehicles, 30 s, 5 Hz, no NPC-NPC collision checks). Batched: ``gym.make_vec(id, num_envs=N,
    vectorization_mode="vector_entry_point")`` (``envs/highway/vector.py``).

    **Other worlds.** The same class runs every world of ``envs/worlds`` through its preset:
    ``autodrive/Merge-v0`` (``preset="merge"``, highway-env ``merge-v0``) is a two-lane highway with an
    access ramp; its config (:class:`~envs.highway.config.MergeConfig`), reward terms and termination
    are the merge world's (``envs/worlds/merge.py``).

    ``reset(options={"scene": scene})`` loads a :class:`~envs.highway.state.Scene`, e.g. one read from a
    running highway-env env by ``envs.highway.compat.scene_from_highway_env``.

    **Speed and precision.** The physics runs as one fused kernel per step (``envs/physics``), in
    float64 by default (``precision="float64"``: highway-env's own precision, so a scene loaded from
    highway-env evolves identically to ~1e-8); ``precision="float32"`` is faster still.

    **Random streams.** ``reset(seed=s)`` seeds the env's generator (``self.np_random``); each reset draws
    one 32-bit word from it, and the episode (lanes, speeds, gaps, IDM exponents, in slot order) is drawn
    from Warp's PCG stream ``rand_init(word, 0)``. The same seed gives the same episode.
    """

    metadata = {"render_modes": ["human", "rgb_array"], "render_fps": 15}

    def __init__(
        self,
        preset: str = "highway",
        config: HighwayConfig | dict | None = None,
        render_mode: str | None = None,
        precision: str = "float64",
        **overrides: Any,
    ) -> None:
        self.config = make_config(preset, config, **overrides)
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode={render_mode!r}: choose one of {self.metadata['render_modes']} or None"
            )
        self.render_mode = render_mode
        # frames come at the simulation frequency (every physics sub-step), as highway-env's viewer draws them
        self.metadata = {**self.metadata, "render_fps": self.config.simulation_frequency}
        self.sim = make_simulator(
            self.config, 1, precision=precision, autoreset=False, threads=1, trace=render_mode is not None
        )
        kind = self._kind = OBSERVATIONS[self.config.observation]
        self._camera = kind.array_observer()
        self._agents = agents = self.config.controlled_vehicles
        self._tuple_obs = self.config.multi_agent_observation
        self._tuple_action = self.config.multi_agent_action
        single_obs, single_action = kind.space(self.config), action_space(self.config)
        self.observation_space = spaces.Tuple([single_obs] * agents) if self._tuple_obs else single_obs
        self.action_space = spaces.Tuple([single_action] * agents) if self._tuple_action else single_action
        self._continuous = self.config.continuous_control is not None
        self._obs = None if self._camera else self.sim.host["obs"].reshape((agents, *self.sim.obs_shape))
        self._shared = self.sim.world.shared_reward
        self._started = False
        self._stepped = False  # the last call was step(): its sub-steps can be drawn
        self._renderer = None
        self._terms = self.sim.world.reward_terms
        self._info_flags = tuple(getattr(self.sim.world, "info_flags", {}).items())  # e.g. exit's is_success

    @property
    def camera_pose(self) -> np.ndarray:
        """(3,) float64: the latest camera frame's pose, the ego's x, y [m] and the view's heading
        [rad] (the heading of the ego's lane at the ego), as a car's GPS and map would give it."""
        if self._camera is None:
            raise RuntimeError(
                f"observation={self.config.observation!r} has no camera; make the env with observation='camera'"
            )
        return self._camera.pose[0]

    @property
    def state(self) -> TrafficState:
        """Views (no copy) of the traffic arrays, shaped (1, slots)."""
        return state_view(self.sim)

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        options = dict(options or {})
        scene = options.pop("scene", None)
        if options:
            raise ValueError(f"unknown reset options {sorted(options)}; supported: 'scene'")
        self.sim.host["action"][:] = IDLE
        self.sim.host["commands"][:] = 0.0
        if scene is None:
            self.sim.respawn_seeded(self.np_random.integers(0, 2**32, size=1, dtype=np.uint64))
        else:
            self.sim.load_scenes(scene)
        self._started, self._stepped = True, False
        if self.render_mode == "human":
            self.render()
        return self._observation(), self._info()

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        if not self._started:
            raise RuntimeError("call reset() before step()")
        host = self.sim.host
        # without the tuple API the policy drives the first vehicle; the others keep their set-points
        if self._tuple_action:
            for k, a in enumerate(check_agent_actions(action, self._agents)):
                if self._continuous:
                    host["commands"][k, : self.config.action_size] = check_commands(a, self.config)
                else:
                    host["action"][k] = check_action(a, self.config.action_names)
        elif self._continuous:
            host["commands"][0, : self.config.action_size] = check_commands(action, self.config)
        else:
            host["action"][0] = check_action(action, self.config.action_names)
        self.sim.step()
        self._stepped = True
        if self.render_mode == "human":
            self.render_frames()
        terminated, truncated = bool(host["terminated"][0]), bool(host["truncated"][0])
        return self._observation(), float(host["reward"][0]), terminated, truncated, self._info()

    def _observation(self) -> Any:
        if self._camera is not None:
            return self._camera.observe(_HOST, self.sim, self.config)[0]
        if self._tuple_obs:  # one observation per controlled vehicle, from its own point of view
            return tuple(self._kind.output(obs) for obs in self._obs.copy())
        return self._kind.output(self._obs[0].copy())

    def scene(self) -> Scene:
        """The current state as a :class:`Scene` (to save, or to load into another env)."""
        return self.sim.scene(0)

    def _info(self) -> dict:
        host, terms = self.sim.host, self._terms
        # a cooperative world reports its agents' mean terms (highway-env ``_rewards``), others the first's
        values = host["terms"][0, : len(terms)]
        if self._shared and self._agents > 1:
            values = host["terms"][:, : len(terms)].mean(axis=0)
        rewards = dict(zip(terms, values.tolist()))  # Python floats
        if self._tuple_action:
            if self._continuous:
                action = tuple(
                    host["commands"][k, : self.config.action_size].copy() for k in range(self._agents)
                )
            else:
                action = tuple(host["action"].tolist())
        elif self._continuous:
            action = host["commands"][0, : self.config.action_size].copy()
        else:
            action = int(host["action"][0])
        info = {
            "speed": float(host["ego_speed"][0]),
            "crashed": bool(host["ego_crashed"][0]),
            "action": action,
            "rewards": rewards,
        }
        for key, term in self._info_flags:
            info[key] = rewards[term] > 0
        if self._agents > 1:  # per controlled vehicle (highway-env's intersection reports the first two)
            info["agents_rewards"] = tuple(host["rewards"].tolist())
            info["agents_terminated"] = tuple(host["dones"].tolist())
            info["agents_crashed"] = tuple(host["ego_crashed"].tolist())
            for key, term in self._info_flags:  # e.g. agents_is_success: each one has arrived
                info[f"agents_{key}"] = tuple((host["terms"][:, self._terms.index(term)] > 0).tolist())
                if self._tuple_obs and self.sim.world.flags_per_agent:  # parking-v0's is_success
                    info[key] = info[f"agents_{key}"]
        return info

    def render(self) -> np.ndarray | None:
        if self.render_mode is None:
            gym.logger.warn("render() called without a render_mode; pass render_mode='rgb_array' or 'human'")
            return None
        if self._renderer is None:
            from envs.highway.render import HighwayRenderer

            self._renderer = HighwayRenderer(self.config, self.render_mode)
        return self._renderer.render(self.sim.scene(0))

    def render_frames(self) -> list[np.ndarray | None]:
        """One frame per physics sub-step of the last ``step()`` (``simulation_frequency //
        policy_frequency`` of them, the last one what :meth:`render` draws), so a video or window follows
        the traffic at the simulation frequency as highway-env's viewer does; after ``reset()``, the one
        frame of the new scene."""
        if self.render_mode is None or not self._stepped:
            return [self.render()]
        if self._renderer is None:
            self.render()
        return [self._renderer.render(scene) for scene in self.sim.sub_step_scenes(0)]

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
        self.sim.close()


class GoalHighwayEnv(HighwayEnv):
    """A goal-conditioned world (``autodrive/Parking-v0``, highway-env's ``GoalEnv``): the same env with a
    dict observation (``observation``, ``achieved_goal``, ``desired_goal``) and ``compute_reward``, which
    HER calls to relabel transitions with other goals.

    The step reward is the world's reward of the float32 goals the step returns, so that
    ``reward == compute_reward(achieved_goal, desired_goal, info)`` holds exactly (plus the collision
    penalty after a crash), as goal-conditioned agents and SB3's env checker expect; the kernel's reward
    (float64 state) differs from it by float32 rounding of the goals."""

    def __init__(self, preset: str = "parking", *args: Any, **kwargs: Any) -> None:
        super().__init__(preset, *args, **kwargs)
        if not hasattr(self.sim.world, "compute_reward"):
            raise ValueError(f"the {self.sim.world.name} world has no goals: use HighwayEnv for it")

    def step(self, action: Any) -> tuple[dict, float, bool, bool, dict]:
        obs, _, terminated, truncated, info = super().step(action)
        # with several controlled vehicles, as highway-env's ParkingEnv: the first one's goal reward and
        # the collision penalty of every one that crashed
        first = obs[0] if isinstance(obs, tuple) else obs
        crashes = sum(info["agents_crashed"]) if self._agents > 1 else info["crashed"]
        reward = self.sim.world.step_reward(first["achieved_goal"], first["desired_goal"], crashes)
        return obs, reward, terminated, truncated, info

    def compute_reward(self, achieved_goal: Any, desired_goal: Any, info: Any = None) -> np.ndarray | float:
        """The goal part of the reward for (batches of) achieved and desired goals."""
        return goal_reward(self.sim.world, achieved_goal, desired_goal, info)
