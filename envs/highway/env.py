"""The single highway env (``gym.make("autodrive/Highway-v0")``), the batched simulator with one env."""

from __future__ import annotations

import numbers
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from envs.highway.backend import NumpyOps, TorchOps
from envs.highway.config import HighwayConfig, make_config
from envs.highway.sim import IDLE, NUM_ACTIONS, HighwaySim
from envs.highway.spawn import spawn
from envs.highway.state import Scene

_HOST = NumpyOps()  # float64


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

    ``reset(options={"scene": scene})`` loads a :class:`~envs.highway.state.Scene`, e.g. one read from a
    running highway-env env by ``envs.highway.compat.scene_from_highway_env``.

    **Speed.** ``compile=True`` runs the same physics in float64 torch, dense, with each step (all its
    sub-steps, observation and reward) fused into one graph by ``torch.compile``. ``HighwayFast`` steps
    run ~3x faster on a 2-core CPU, but the first step of a new configuration compiles for minutes
    (cached on disk for later processes). A seed gives the same episode as without it, to float64
    rounding (tested within 1e-9). It needs ``check_npc_collisions=False``: compiled, collisions are
    tested for every vehicle pair, far slower than NumPy's sorted sweep when NPC pairs count.
    """

    metadata = {"render_modes": ["human", "rgb_array"], "render_fps": 2}

    def __init__(
        self,
        preset: str = "highway",
        config: HighwayConfig | dict | None = None,
        render_mode: str | None = None,
        compile: bool = False,
        **overrides: Any,
    ) -> None:
        self.config = make_config(preset, config, **overrides)
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode={render_mode!r}: choose one of {self.metadata['render_modes']} or None"
            )
        self.render_mode = render_mode
        self.metadata = {**self.metadata, "render_fps": 2 * self.config.policy_frequency}
        if compile and self.config.check_npc_collisions:
            raise ValueError(
                "compile=True needs check_npc_collisions=False (the HighwayFast preset): compiled, every "
                "vehicle pair is tested for collisions, and Highway-v0 ran ~10x slower than NumPy (13 vs "
                "128 steps/s)"
            )
        self.sim = HighwaySim(
            self.config, 1, TorchOps("cpu", "float64", compile=True) if compile else NumpyOps()
        )
        self.observation_space = self.sim.observation.space(self.config)
        self.action_space = spaces.Discrete(NUM_ACTIONS)
        self._renderer = None

    @property
    def state(self):
        return self.sim.state

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        options = dict(options or {})
        scene = options.pop("scene", None)
        if options:
            raise ValueError(f"unknown reset options {sorted(options)}; supported: 'scene'")
        if scene is None:  # spawned by NumPy from the env's generator: a seed gives one episode either way
            scene = Scene.from_state(_HOST, spawn(_HOST, self.np_random, self.config, 1), self.config)
        self.sim.state = self.sim.load_scenes(scene)
        obs, _, _, _, info = self.sim.evaluate(self.sim.state, self._action(IDLE))
        if self.render_mode == "human":
            self.render()
        return self.sim.xp.to_numpy(obs)[0], self._info(info)

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        if self.sim.state is None:
            raise RuntimeError("call reset() before step()")
        a = self._action(_check_action(action))
        self.sim.state, (obs, reward, terminated, truncated, info) = self.sim.advance(self.sim.state, a)
        if self.render_mode == "human":
            self.render()
        obs = self.sim.xp.to_numpy(obs)[0]
        return obs, float(reward[0]), bool(terminated[0]), bool(truncated[0]), self._info(info)

    def _action(self, a: int) -> Any:
        return self.sim.xp.asarray(np.array([a], dtype=np.int64))

    def scene(self) -> Scene:
        """The current state as a :class:`Scene` (to save, or to load into another env)."""
        return self.sim.scene(0)

    @staticmethod
    def _info(info: dict) -> dict:
        return {
            "speed": float(info["speed"][0]),
            "crashed": bool(info["crashed"][0]),
            "action": int(info["action"][0]),
            "rewards": {name: float(v[0]) for name, v in info["rewards"].items()},
        }

    def render(self) -> np.ndarray | None:
        if self.render_mode is None:
            gym.logger.warn("render() called without a render_mode; pass render_mode='rgb_array' or 'human'")
            return None
        if self._renderer is None:
            from envs.highway.render import HighwayRenderer

            self._renderer = HighwayRenderer(self.config, self.render_mode)
        return self._renderer.render(self.sim.scene(0))

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None


def _check_action(action: Any) -> int:
    """A Discrete(5) action as int, or a clear error (no silent casting of floats or arrays)."""
    if isinstance(action, np.ndarray):
        if action.shape != ():
            raise ValueError(
                f"action must be a scalar integer in [0, {NUM_ACTIONS - 1}], got an array of shape {action.shape}"
            )
        action = action[()]
    if isinstance(action, bool | np.bool_) or not isinstance(action, numbers.Integral):
        raise TypeError(
            f"action must be an integer in [0, {NUM_ACTIONS - 1}], got {type(action).__name__} {action!r}"
        )
    if not 0 <= int(action) < NUM_ACTIONS:
        raise ValueError(f"action {action} out of range: must be in [0, {NUM_ACTIONS - 1}]")
    return int(action)
