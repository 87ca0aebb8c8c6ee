"""The natively batched gridworld: one NumPy array of robot states over ``num_envs``."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from envs.gridworld.config import GridWorldConfig, make_config
from envs.gridworld.dynamics import transition
from envs.gridworld.env import build_world


class GridWorldVectorEnv(VectorEnv):
    """``num_envs`` gridworlds stepped together with the same dynamics as :class:`GridWorldEnv`.

    Autoreset follows Gymnasium's NEXT_STEP mode: an env that terminated or truncated at step t is
    reset at step t+1 (its action is ignored; reward 0, terminated=truncated=False, the reset obs).
    """

    metadata = {"autoreset_mode": AutoresetMode.NEXT_STEP, "render_modes": []}

    def __init__(
        self,
        num_envs: int,
        config: GridWorldConfig | dict | None = None,
        render_mode: str | None = None,
        **overrides: Any,
    ) -> None:
        if num_envs < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        if render_mode is not None:
            raise ValueError("the batched gridworld does not render; use gym.make for render_mode")
        self.num_envs = int(num_envs)
        self.config = make_config(config, **overrides)
        self.layout, self.tables, self.observer = build_world(self.config)
        self.single_observation_space = self.observer.space
        self.single_action_space = spaces.Discrete(4)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.render_mode = None
        self._np_random, _ = seeding.np_random(None)
        self.states = np.full(self.num_envs, self.tables.start, dtype=np.int64)
        self.elapsed = np.zeros(self.num_envs, dtype=np.int64)
        self._needs_reset = np.zeros(self.num_envs, dtype=bool)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """Reset every env, or with ``options={"reset_mask": m}`` (bool, shape (num_envs,)) only the envs
        where ``m`` is set, as Gymnasium's vector envs do; the others keep their state."""
        options = dict(options or {})
        mask = options.pop("reset_mask", None)
        if options:
            raise ValueError(f"unknown reset options {sorted(options)}; supported: 'reset_mask'")
        if mask is None:
            mask = np.ones(self.num_envs, dtype=bool)
        else:
            mask = np.asarray(mask)
            if mask.dtype != np.bool_ or mask.shape != (self.num_envs,):
                raise ValueError(f"reset_mask must be a bool array of shape ({self.num_envs},)")
        if seed is not None:
            self._np_random, _ = seeding.np_random(seed)
        self.states[mask] = self.tables.start
        self.elapsed[mask] = 0
        self._needs_reset[mask] = False
        return self.observer.batch(self.states), {}

    def step(self, actions):
        actions = np.asarray(actions)
        if actions.shape != (self.num_envs,) or not np.issubdtype(actions.dtype, np.integer):
            raise ValueError(
                f"actions must be an integer array of shape ({self.num_envs},), got {actions.dtype} {actions.shape}"
            )
        if actions.min() < 0 or actions.max() > 3:
            raise ValueError(f"actions must be in 0..3, got values in [{actions.min()}, {actions.max()}]")
        u = self._np_random.random(self.num_envs)
        nxt, reward, terminated = transition(self.tables, self.states, actions, u)
        self.elapsed += 1
        truncated = ~terminated & (self.elapsed >= self.config.max_steps)
        # NEXT_STEP autoreset: envs that finished on the previous step start over now.
        reset = self._needs_reset
        if reset.any():
            nxt = np.where(reset, self.tables.start, nxt)
            reward = np.where(reset, 0.0, reward)
            terminated = terminated & ~reset
            truncated = truncated & ~reset
            self.elapsed[reset] = 0
        self.states = nxt
        self._needs_reset = terminated | truncated
        goal = self.layout.goals[self.tables.cells[nxt, 0], self.tables.cells[nxt, 1]]
        return self.observer.batch(nxt), reward, terminated, truncated, {"is_success": terminated & goal}
