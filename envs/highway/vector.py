"""The batched highway env: ``gym.make_vec(id, num_envs=N, vectorization_mode="vector_entry_point")``.

One ``VectorEnv`` over one :class:`~envs.physics.engine.Simulator`: every step is one fused kernel launch
per CPU thread (two on a 2-core machine) or one CUDA launch. ``device="cpu"`` (default) takes and returns
NumPy arrays; ``backend="torch"`` or a ``cuda*`` device returns torch tensors on that device (obs float32,
reward float32, terminated/truncated bool; actions any integer dtype, shape (N,)). On CUDA nothing is
copied to the host: actions are copied into the kernel's array on the device and outputs are views of
the kernel's arrays (``wp.to_torch``), cloned.

Autoreset follows Gymnasium's default ``NEXT_STEP`` mode, inside the kernel: an env that finished at step
t is reset on step t+1, whose action it ignores, returning reward 0, terminated = truncated = False and
the reset observation. ``info`` is a dict of batched arrays: ``speed``, ``crashed``, ``action`` and
``rewards`` (term -> array); at the step where an env terminates or truncates, ``info["crashed"]`` is
that final step's value.

Several controlled vehicles (``controlled_vehicles=k``): the agents fold into the batch, so ``num_envs``
is k times the number of envs made (``num_worlds``) and row ``e * k + j`` is env e's vehicle j, with its
own observation, reward (``info["rewards"]`` and ``crashed`` per row too), terminated once it is done
(crashed, arrived, parked) or its env's episode has ended, and its env's truncation. A row that is done
stays done until its env resets, so the training loops treat its later steps as not live. Scenes and
``reset_mask`` are per env (a mask sets all of an env's rows or none).

Random streams: ``reset(seed=s)`` gives env k the 32-bit word k of ``SeedSequence(s)``; its episode m is
drawn from Warp's PCG stream ``rand_init(word, m)``, so results do not depend on the batch's threads,
and the same seed gives the same episodes.

Bad input: actions of the wrong shape, dtype or device raise at once; out-of-range actions raise at once
on CPU and, on CUDA, when the kernel's error flags are next read (every 64 steps: reading them every
step would synchronise the device).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from envs.highway.backend import make_ops
from envs.highway.config import HighwayConfig, make_config
from envs.highway.observation import OBSERVATIONS
from envs.highway.sim import IDLE, action_space, check_commands, goal_reward, make_simulator, state_view
from envs.highway.state import Scene, TrafficState
from envs.physics.device import warp_device


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
        precision: str = "float32",
        threads: int | None = None,
        **overrides: Any,
    ) -> None:
        self.config = make_config(preset, config, **overrides)
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode={render_mode!r}: the vector env renders env 0 as 'rgb_array' only")
        self.render_mode = render_mode
        warp_device(str(device))  # a clear error for devices the kernels cannot run on
        self.xp = make_ops(device, backend)  # the arrays users get: NumPy, or torch on ``device``
        self.device = self.xp.device
        # several controlled vehicles: each is a row of the batch (the agent axis folds into it), so one
        # shared policy acts for every agent of every env
        self.agents = self.config.controlled_vehicles
        self.num_worlds = int(num_envs)
        self.num_envs = self.num_worlds * self.agents
        self.sim = make_simulator(self.config, self.num_worlds, str(device), precision, True, threads)
        kind = self._kind = OBSERVATIONS[self.config.observation]
        self._camera = kind.array_observer()
        self.single_observation_space = kind.space(self.config)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self._actions = self.config.action_names
        self._continuous = self.config.continuous_control is not None
        self.single_action_space = action_space(self.config)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.metadata = {**self.metadata, "render_fps": 2 * self.config.policy_frequency}
        self._torch = self.xp.name == "torch"
        self._seeded = False
        self._started = False
        self._renderer = None

    @property
    def camera_pose(self) -> np.ndarray:
        """(num_envs, 3) float64: the latest camera frame's pose, the ego's x, y [m] and the view's heading
        [rad] (the heading of the ego's lane at the ego), as a car's GPS and map would give it."""
        if self._camera is None:
            raise RuntimeError(
                f"observation={self.config.observation!r} has no camera; make the env with observation='camera'"
            )
        return self._camera.pose

    @property
    def state(self) -> TrafficState:
        """Views (no copy) of the traffic arrays, shaped (num_envs, slots)."""
        return state_view(self.sim, as_torch=self._torch)

    def reset(self, *, seed: int | list[int] | None = None, options: dict | None = None) -> tuple[Any, dict]:
        """Reset every env. ``seed`` seeds the whole batch; ``options={"scene": s}`` loads a Scene into
        every env (or a list of ``num_worlds`` scenes, one per env); ``options={"reset_mask": m}`` (bool,
        shape (num_envs,)) resets only the envs where ``m`` is set, as Gymnasium's vector envs do."""
        if isinstance(seed, list | tuple):
            seed = [s for s in seed if s is not None] or None
        if seed is not None or not self._seeded:
            self.sim.seed(seed)
            self._seeded = True
        options = dict(options or {})
        scene = options.pop("scene", None)
        mask = options.pop("reset_mask", None)
        if options:
            raise ValueError(f"unknown reset options {sorted(options)}; supported: 'scene', 'reset_mask'")
        if mask is not None:
            mask = np.asarray(mask.cpu() if hasattr(mask, "cpu") else mask)
            if mask.dtype != np.bool_ or mask.shape != (self.num_envs,):
                raise ValueError(f"reset_mask must be a bool array of shape ({self.num_envs},)")
            if scene is not None:
                raise ValueError("give either 'scene' or 'reset_mask', not both")
            worlds = mask.reshape(self.num_worlds, self.agents)
            if (worlds != worlds[:, :1]).any():
                raise ValueError(
                    f"reset_mask: the {self.agents} agents of an env share its episode; set all of an env's "
                    "rows or none"
                )
            mask = worlds[:, 0]
        if mask is None or not self._started:
            self.sim.torch("commands").zero_() if self._torch else self.sim.host["commands"].fill(0.0)
            if not self._continuous:
                self._write_actions(np.full(self.num_envs, IDLE, np.int32))
        if scene is not None:
            self.sim.load_scenes(scene)
        else:
            self.sim.reset(mask if self._started else None)
        self._started = True
        return self._observation(), self._info()

    def _range_message(self) -> str:
        return f"actions must be in [0, {len(self._actions) - 1}] ({', '.join(self._actions)})"

    def step(self, actions: Any) -> tuple[Any, Any, Any, Any, dict]:
        if not self._started:
            raise RuntimeError("call reset() before step()")
        self._write_actions(actions)
        self.sim.step()
        out = self._out
        if self.agents == 1:
            return self._observation(), out("reward"), out("terminated"), out("truncated"), self._info()
        # each agent's row: its own reward; terminated once it is done (crashed, arrived, ...) or the env's
        # episode has ended; truncated with its env
        ended, truncated = self._per_agent(out("terminated")), self._per_agent(out("truncated"))
        return self._observation(), out("rewards"), out("dones") | ended, truncated, self._info()

    def _per_agent(self, values: Any) -> Any:
        """A per-env array repeated for each of its agents' rows."""
        if self._torch:
            return values.repeat_interleave(self.agents)
        return np.repeat(values, self.agents)

    # arrays in and out ----------------------------------------------------------------------------
    def _write_actions(self, actions: Any) -> None:
        """Check the batch of actions and copy it into the kernel's action array (on its device)."""
        n = self.num_envs
        if self._continuous:
            self._write_commands(actions)
            return
        if self._torch:
            torch = self.xp.torch
            if not isinstance(actions, torch.Tensor):
                actions = torch.as_tensor(np.asarray(actions), device=self.device)
            if actions.dtype.is_floating_point or actions.dtype in (
                torch.bool,
                torch.complex64,
                torch.complex128,
            ):
                raise TypeError(f"actions must be an integer tensor, got dtype {actions.dtype}")
            if actions.device != self.device:
                raise ValueError(f"actions are on {actions.device}, the env runs on {self.device}")
            if tuple(actions.shape) != (n,):
                raise ValueError(f"actions must have shape ({n},), got {tuple(actions.shape)}")
            if actions.device.type == "cpu" and bool(((actions < 0) | (actions >= len(self._actions))).any()):
                raise ValueError(self._range_message())
            self.sim.torch("action").copy_(actions)
            return
        actions = np.asarray(actions)
        if actions.dtype.kind not in "iu":
            raise TypeError(f"actions must be integers, got dtype {actions.dtype}")
        if actions.shape != (n,):
            raise ValueError(f"actions must have shape ({n},), got {actions.shape}")
        if actions.min(initial=0) < 0 or actions.max(initial=0) >= len(self._actions):
            raise ValueError(self._range_message())
        np.copyto(self.sim.host["action"], actions, casting="unsafe")

    def _write_commands(self, commands: Any) -> None:
        """ContinuousAction: a (num_envs, size) float batch into the kernel's command array."""
        size = self.config.action_size
        if self._torch:
            torch = self.xp.torch
            if not isinstance(commands, torch.Tensor):
                commands = torch.as_tensor(np.asarray(commands), device=self.device)
            if not commands.dtype.is_floating_point:
                raise TypeError(f"continuous actions must be a float tensor, got dtype {commands.dtype}")
            if commands.device != self.device:
                raise ValueError(f"actions are on {commands.device}, the env runs on {self.device}")
            if tuple(commands.shape) != (self.num_envs, size):
                raise ValueError(
                    f"continuous actions must have shape {(self.num_envs, size)}, got {tuple(commands.shape)}"
                )
            if commands.device.type == "cpu":
                check_commands(commands.numpy(), self.config, self.num_envs)
            self.sim.torch("commands")[:, :size].copy_(commands)
            return
        self.sim.host["commands"][:, :size] = check_commands(commands, self.config, self.num_envs)

    def _out(self, name: str) -> Any:
        """A copy of output array ``name``: NumPy, or a torch tensor on the env's device."""
        if not self._torch:
            return self.sim.host[name].copy()
        return self.sim.torch(name).clone()

    def _observation(self) -> Any:
        if self._camera is not None:
            return self._camera.observe(self.xp, self.sim, self.config)
        obs = self._out("obs")
        return self._kind.output(obs.reshape(self.num_envs, *self.sim.obs_shape))

    def _info(self) -> dict:
        terms = self._out("terms")
        rewards = {name: terms[:, k] for k, name in enumerate(self.sim.world.reward_terms)}
        info = {
            "speed": self._out("ego_speed"),
            "crashed": self._out("ego_crashed"),
            "action": self._out("commands")[:, : self.config.action_size]
            if self._continuous
            else self._out("action"),
            "rewards": rewards,
        }
        for key, term in getattr(self.sim.world, "info_flags", {}).items():  # e.g. exit's is_success
            info[key] = rewards[term] > 0
        return info

    def scene(self, env_index: int = 0) -> Scene:
        """Env ``env_index``'s state (with several controlled vehicles: of the env, not of a row)."""
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
        self.sim.close()


class GoalHighwayVectorEnv(HighwayVectorEnv):
    """The batch of a goal-conditioned world (``autodrive/Parking-v0``): dict observations and
    ``compute_reward`` for batches of goals (NumPy). Its step rewards are the kernel's."""

    def compute_reward(self, achieved_goal: Any, desired_goal: Any, info: Any = None) -> np.ndarray | float:
        """The goal part of the reward for batches of achieved and desired goals."""
        return goal_reward(self.sim.world, achieved_goal, desired_goal, info)
