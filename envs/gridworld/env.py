"""The gridworld robot-navigation environment (single instance)."""

from __future__ import annotations

from functools import cached_property
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from envs.gridworld.config import GridWorldConfig, make_config
from envs.gridworld.dynamics import ACTION_NAMES, Tables, compile_tables, transition, transition_model
from envs.gridworld.maps import Layout, resolve_map
from envs.gridworld.observation import Observer


def build_world(config: GridWorldConfig) -> tuple[Layout, Tables, Observer]:
    """Layout, dynamics tables and observer of a config: shared by the single and the vector env."""
    layout = resolve_map(config.map_name, config.map_text, config.maze_size, config.maze_seed)
    tables = compile_tables(layout, config)
    return layout, tables, Observer(config.observation, layout, tables, config.cell_pixels)


class GridWorldEnv(gym.Env):
    """A robot navigates a grid of walls to a goal, avoiding hazards; moves may slip.

    **Description.** Maps come from text (``#`` wall, ``.`` free, ``S`` start, ``G`` goal, ``~`` hazard),
    the built-in maps ``empty``, ``four_rooms``, ``cliff``, ``maze16``, or a seeded ``random_maze``.
    The exact transition model is ``env.unwrapped.P`` in FrozenLake's format.

    **Observation.** ``observation="index"``: ``Discrete(n_states)``, the robot's cell id (row-major over
    non-wall cells). ``"grid"``: ``Box(0, 1, (4, H, W), float32)`` planes wall, goal, hazard, robot.
    ``"rgb"``: ``Box(0, 255, (H*cell_pixels, W*cell_pixels, 3), uint8)`` top-down pixels.

    **Actions.** ``Discrete(4)``: 0 LEFT, 1 DOWN, 2 RIGHT, 3 UP (FrozenLake's order). With probability
    ``slip`` the move goes to one of the two perpendicular directions instead (each ``slip/2``).
    Moving into a wall leaves the robot in place.

    **Rewards.** ``goal_reward`` for entering a goal, ``hazard_reward`` for entering a hazard,
    ``step_reward`` for every other step.

    **Termination/Truncation.** Terminated on entering a goal or a hazard; truncated after ``max_steps``.
    ``info["is_success"]`` is True on the step that reaches a goal.

    **Registered ids.** ``autodrive/GridWorld-v0`` (vector entry point: ``GridWorldVectorEnv``).
    """

    metadata = {"render_modes": ["human", "rgb_array"], "render_fps": 8}

    def __init__(
        self, config: GridWorldConfig | dict | None = None, render_mode: str | None = None, **overrides: Any
    ) -> None:
        self.config = make_config(config, **overrides)
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"unknown render_mode {render_mode!r}; expected one of {self.metadata['render_modes']}"
            )
        self.render_mode = render_mode
        self.layout, self.tables, self.observer = build_world(self.config)
        self.observation_space = self.observer.space
        self.action_space = spaces.Discrete(4)
        self.state = self.tables.start
        self.elapsed = 0
        self._painter = None
        self._window = None

    @cached_property
    def P(self) -> dict[int, dict[int, list[tuple[float, int, float, bool]]]]:  # noqa: N802 - FrozenLake's name
        return transition_model(self.tables)

    @property
    def initial_state_distrib(self) -> np.ndarray:
        """(states,) probability of each start state (FrozenLake's name): all mass on the map's ``S``."""
        dist = np.zeros(self.tables.n_states)
        dist[self.tables.start] = 1.0
        return dist

    @property
    def n_states(self) -> int:
        return self.tables.n_states

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.state = self.tables.start
        self.elapsed = 0
        if self.render_mode == "human":
            self.render()
        return self.observer.single(self.state), self._info(False)

    def step(self, action):
        if not self.action_space.contains(action):
            raise ValueError(f"action must be an int in 0..3 ({', '.join(ACTION_NAMES)}), got {action!r}")
        nxt, reward, terminated = transition(self.tables, self.state, int(action), self.np_random.random())
        self.state = int(nxt)
        self.elapsed += 1
        terminated = bool(terminated)
        truncated = not terminated and self.elapsed >= self.config.max_steps
        if self.render_mode == "human":
            self.render()
        return self.observer.single(self.state), float(reward), terminated, truncated, self._info(terminated)

    def _info(self, terminated: bool) -> dict:
        row, col = self.tables.cells[self.state]
        return {"cell": (int(row), int(col)), "is_success": bool(terminated and self.layout.goals[row, col])}

    def render(self):
        if self.render_mode is None:
            gym.logger.warn("render() called without a render_mode; pass render_mode='rgb_array' or 'human'")
            return None
        if self._painter is None:
            from envs.gridworld.render import GridPainter

            self._painter = GridPainter(self.layout, cell_px=32, grid_lines=True)
        frame = self._painter.frame(self.tables.cells[self.state])
        if self.render_mode == "rgb_array":
            return frame
        if self._window is None:
            from envs.gridworld.render import PygameWindow

            self._window = PygameWindow("autodrive GridWorld", fps=self.metadata["render_fps"])
        self._window.show(frame)
        return None

    def close(self) -> None:
        if self._window is not None:
            self._window.close()
            self._window = None
