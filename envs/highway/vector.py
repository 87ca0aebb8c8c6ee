"""The batched highway env: ``gym.make_vec(id, num_envs=N, vectorization_mode="vector_entry_point")``.

One ``VectorEnv`` whose state is arrays over (envs, vehicles). ``device="cpu"`` (default) runs NumPy and
takes/returns NumPy arrays; ``backend="torch"`` (any torch device) or a ``cuda*`` device runs the same
physics in torch and takes/returns tensors on that device (obs float32, reward float32,
terminated/truncated bool, actions int64 of shape (N,)).

Autoreset follows Gymnasium's default ``NEXT_STEP`` mode: an env that finished at step t is reset on step
t+1, whose action it ignores, returning reward 0, terminated = truncated = False and the reset
observation. ``info`` is a dict of batched arrays: ``speed``, ``crashed``, ``action`` and ``rewards``
(term -> array); at the step where an env terminates or truncates, ``info["crashed"]`` is that final
step's value.

Host synchronisation per step on CUDA: a few scalar reads (action range check, "any env to reset?",
compaction sizes of the sparse MOBIL/collision work); no array is copied to the host.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from envs.highway.backend import make_ops
from envs.highway.config import HighwayConfig, make_config
from envs.highway.sim import IDLE, NUM_ACTIONS, HighwaySim, validate_actions
from envs.highway.state import Scene


class HighwayVectorEnv(VectorEnv):
    """``num_envs`` highway episodes stepped together; see ``envs.highway.env.HighwayEnv`` for the task."""

    metadata = {"render_modes": ["rgb_array"], "autoreset_mode": AutoresetMode.NEXT_STEP, "render_fps": 2}

    def __init__(
        self,
        num_envs: int,
        preset: str = "highway",
        config: HighwayConfig | dict | None = None,
        device: Any = "cpu",
        backend: str | None = None,
        render_mode: str | None = None,
        **overrides: Any,
    ) -> None:
        self.config = make_config(preset, config, **overrides)
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode={render_mode!r}: the vector env renders env 0 as 'rgb_array' only")
        self.render_mode = render_mode
        self.xp = make_ops(device, backend)
        self.device = self.xp.device
        self.num_envs = int(num_envs)
        self.sim = HighwaySim(self.config, self.num_envs, self.xp)
        self.single_observation_space = self.sim.observation.space(self.config)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.single_action_space = spaces.Discrete(NUM_ACTIONS)
        self.action_space = spaces.MultiDiscrete(np.full(self.num_envs, NUM_ACTIONS))
        self.metadata = {**self.metadata, "render_fps": 2 * self.config.policy_frequency}
        self._rng = None
        self._needs_reset = self.xp.zeros((self.num_envs,), dtype=self.xp.bool)
        self._renderer = None

    @property
    def state(self):
        return self.sim.state

    def reset(self, *, seed: int | list[int] | None = None, options: dict | None = None) -> tuple[Any, dict]:
        """Reset every env. ``seed`` seeds the whole batch; ``options={"scene": s}`` loads a Scene into
        every env (or a list of ``num_envs`` scenes, one per env)."""
        if isinstance(seed, list | tuple):
            seed = int(np.random.SeedSequence([s for s in seed if s is not None]).generate_state(1)[0])
        if seed is not None or self._rng is None:
            self._rng = self.xp.make_rng(seed)
        options = dict(options or {})
        scene = options.pop("scene", None)
        if options:
            raise ValueError(f"unknown reset options {sorted(options)}; supported: 'scene'")
        xp = self.xp
        if scene is not None:
            self.sim.state = self.sim.load_scenes(scene)
        else:
            self.sim.state = self.sim.spawn(self._rng)
        self._needs_reset = xp.zeros((self.num_envs,), dtype=xp.bool)
        idle = xp.full((self.num_envs,), IDLE, dtype=xp.int)
        obs, _, _, _, info = self.sim.evaluate(self.sim.state, idle)
        return obs, info

    def step(self, actions: Any) -> tuple[Any, Any, Any, Any, dict]:
        if self.sim.state is None:
            raise RuntimeError("call reset() before step()")
        xp = self.xp
        actions = validate_actions(xp, actions, self.num_envs)
        state = self.sim.step(self.sim.state, actions)
        resetting = self._needs_reset
        (index,) = xp.nonzero(resetting)
        if index.shape[0] > 0:
            state = self.sim.replace_envs(state, index, self.sim.spawn(self._rng, int(index.shape[0])))
        self.sim.state = state
        obs, reward, terminated, truncated, info = self.sim.evaluate(state, actions)
        reward = xp.astype(
            xp.where(resetting, 0.0, reward), np.float32 if xp.name == "numpy" else xp.torch.float32
        )
        terminated = terminated & ~resetting
        truncated = truncated & ~resetting
        self._needs_reset = terminated | truncated
        return obs, reward, terminated, truncated, info

    def scene(self, env_index: int = 0) -> Scene:
        return self.sim.scene(env_index)

    def render(self) -> np.ndarray | None:
        """env 0's view as an RGB array."""
        if self.render_mode is None:
            return None
        if self._renderer is None:
            from envs.highway.render import HighwayRenderer

            self._renderer = HighwayRenderer(self.config, "rgb_array")
        return self._renderer.render(self.sim.scene(0))

    def close_extras(self, **kwargs: Any) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
