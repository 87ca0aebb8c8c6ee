"""The batched simulator shared by the single env and the vector env: one step as a named pipeline.

``HighwaySim.step`` reads as dynamics -> observation -> reward terms -> terminated/truncated -> info, on
arrays of the chosen backend. It knows nothing of Gymnasium's API; ``env.py`` and ``vector.py`` wrap it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from envs.highway import reward as rewards
from envs.highway.backend import NumpyOps, TorchOps
from envs.highway.config import HighwayConfig
from envs.highway.dynamics import policy_step
from envs.highway.observation import get_observation
from envs.highway.spawn import spawn
from envs.highway.state import EGO, FLOAT_FIELDS, VEHICLE_FIELDS, Scene, TrafficState

#: NumPy batches are stepped by this many threads once each thread gets MIN_WORK_PER_THREAD vehicle
#: sub-steps per policy step. Below that the threads lose: NumPy holds the GIL between its loops. On 2 cores,
#: HighwayFast (20 vehicles x 5 sub-steps per env): 1,024 envs at 39k env-steps/s on one thread against
#: 30k on two, 4,096 envs at 35k against 51k; Highway-v0 (50 x 15): 1,024 envs at 4.8k against 7.3k.
DEFAULT_THREADS = int(os.environ.get("AUTODRIVE_HIGHWAY_THREADS", "2"))
MIN_WORK_PER_THREAD = 150_000
NUM_ACTIONS = 5  # DiscreteMetaAction: LANE_LEFT, IDLE, LANE_RIGHT, FASTER, SLOWER
ACTION_NAMES = ("LANE_LEFT", "IDLE", "LANE_RIGHT", "FASTER", "SLOWER")
IDLE = 1


class HighwaySim:
    """``num_envs`` highway episodes advanced together; state is a :class:`TrafficState` of ``xp`` arrays."""

    def __init__(self, cfg: HighwayConfig, num_envs: int, xp: NumpyOps | TorchOps) -> None:
        if num_envs < 1:
            raise ValueError(f"num_envs={num_envs}: need at least one env")
        self.cfg = cfg
        self.num_envs = num_envs
        self.xp = xp
        self.observation = get_observation(cfg.observation)
        self.state: TrafficState | None = None
        self.threads = min(DEFAULT_THREADS, os.cpu_count() or 1)
        self._pool: ThreadPoolExecutor | None = None
        # one fused graph for step + evaluate when the backend compiles (``TorchOps(compile=True)``)
        self._advance = xp.jit(self._advance_fields)

    # state ----------------------------------------------------------------------------------------
    def spawn(self, rng: Any, num_envs: int | None = None) -> TrafficState:
        return spawn(self.xp, rng, self.cfg, num_envs or self.num_envs)

    def load_scenes(self, scenes: Scene | Sequence[Scene]) -> TrafficState:
        """A state from one scene (copied to every env) or one scene per env; validates each scene."""
        if isinstance(scenes, Scene):
            scenes = [scenes] * self.num_envs
        if not isinstance(scenes, Sequence) or not all(isinstance(sc, Scene) for sc in scenes):
            raise TypeError("options['scene'] must be a Scene (see envs.highway.compat) or a list of them")
        if len(scenes) != self.num_envs:
            raise ValueError(f"got {len(scenes)} scenes for {self.num_envs} envs")
        for scene in scenes:
            scene.check_compatible(self.cfg)
        xp = self.xp
        parts = [scene.to_state(xp) for scene in scenes]
        if len(parts) == 1:
            return parts[0]
        fields = {
            name: xp.concatenate([getattr(p, name) for p in parts], 0) for name in (*VEHICLE_FIELDS, "time")
        }
        return TrafficState(**fields)

    def scene(self, env_index: int = 0) -> Scene:
        return Scene.from_state(self.xp, self.state, self.cfg, env_index)

    def replace_envs(self, state: TrafficState, index: Any, fresh: TrafficState) -> TrafficState:
        """``state`` with envs ``index`` (1-D) replaced by the rows of ``fresh`` (masks, not loops)."""
        xp = self.xp
        fields = {}
        for name in (*VEHICLE_FIELDS, "time"):
            arr = xp.copy(getattr(state, name))
            arr[index] = getattr(fresh, name)
            fields[name] = arr
        return TrafficState(**fields)

    # pipeline -------------------------------------------------------------------------------------
    def observe(self, s: TrafficState) -> Any:
        return self.observation.observe(self.xp, s, self.cfg)

    def evaluate(self, s: TrafficState, action: Any) -> tuple[Any, Any, Any, Any, dict[str, Any]]:
        """observation -> reward terms -> terminated/truncated -> info, for the state after a step."""
        xp, cfg = self.xp, self.cfg
        obs = self.observe(s)
        terms = rewards.reward_terms(xp, s, cfg)
        reward = rewards.combine(terms, cfg)
        info = {"speed": s.speed[:, EGO], "crashed": s.crashed[:, EGO], "action": action, "rewards": terms}
        return obs, reward, rewards.terminated(xp, s, cfg), rewards.truncated(xp, s, cfg), info

    def step(self, state: TrafficState, action: Any) -> TrafficState:
        """Advance every env by one policy step. On NumPy, large batches are cut into ``threads`` slices
        stepped in parallel threads (NumPy releases the GIL inside its loops); envs are independent, so
        the result does not depend on the slicing."""
        work = self.num_envs * self.cfg.num_vehicles * self.cfg.frames_per_action
        if self.threads <= 1 or self.xp.name != "numpy" or work < 2 * MIN_WORK_PER_THREAD:
            return policy_step(self.xp, state, action, self.cfg)
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="highway")
        bounds = np.linspace(0, state.num_envs, self.threads + 1).astype(int)
        parts = list(
            self._pool.map(
                lambda lo_hi: policy_step(
                    self.xp, _slice(state, *lo_hi), action[lo_hi[0] : lo_hi[1]], self.cfg
                ),
                zip(bounds[:-1], bounds[1:]),
            )
        )
        return _state([np.concatenate(column) for column in zip(*map(_fields, parts))])

    def advance(self, state: TrafficState, action: Any) -> tuple[TrafficState, tuple]:
        """``step`` then ``evaluate``: (next state, (obs, reward, terminated, truncated, info)). With a
        compiling backend the two are one compiled call (the single env's ``compile=True``)."""
        if not self.xp.dense:
            state = self.step(state, action)
            return state, self.evaluate(state, action)
        fields, result = self._advance(action, *_fields(state))
        return _state(fields), result

    def _advance_fields(self, action: Any, *fields: Any) -> tuple[tuple, tuple]:
        state = policy_step(self.xp, _state(fields), action, self.cfg)
        return _fields(state), self.evaluate(state, action)

    def check_state(self, s: TrafficState) -> None:
        """Raise if the physics produced non-finite numbers (never return a silently wrong step)."""
        xp = self.xp
        bad = [name for name in FLOAT_FIELDS if not bool(xp.scalar(xp.all(xp.isfinite(getattr(s, name)))))]
        if bad:
            raise FloatingPointError(f"highway state became non-finite in {bad}; please report the scene")


_NAMES = (*VEHICLE_FIELDS, "time")


def _fields(s: TrafficState) -> tuple:
    return tuple(getattr(s, name) for name in _NAMES)


def _state(fields: Sequence[Any]) -> TrafficState:
    return TrafficState(**dict(zip(_NAMES, fields, strict=True)))


def _slice(s: TrafficState, lo: int, hi: int) -> TrafficState:
    return _state([f[lo:hi] for f in _fields(s)])


def validate_actions(xp: NumpyOps | TorchOps, actions: Any, num_envs: int) -> Any:
    """Batched actions -> (num_envs,) int array of the backend, or a clear error."""
    if xp.name == "torch":
        torch = xp.torch
        if not isinstance(actions, torch.Tensor):
            actions = torch.as_tensor(np.asarray(actions), device=xp.device)
        if actions.dtype.is_floating_point or actions.dtype == torch.bool or actions.dtype.is_complex:
            raise TypeError(f"actions must be an integer tensor, got dtype {actions.dtype}")
        if actions.device != xp.device:
            raise ValueError(f"actions are on {actions.device}, the env runs on {xp.device}")
        actions = actions.to(torch.int64)
    else:
        actions = np.asarray(actions)
        if actions.dtype.kind not in "iu":
            raise TypeError(f"actions must be integers, got dtype {actions.dtype}")
        actions = actions.astype(np.int64, copy=False)
    if tuple(actions.shape) != (num_envs,):
        raise ValueError(f"actions must have shape ({num_envs},), got {tuple(actions.shape)}")
    if bool(xp.scalar(xp.any((actions < 0) | (actions >= NUM_ACTIONS)))):
        raise ValueError(f"actions must be in [0, {NUM_ACTIONS - 1}] ({', '.join(ACTION_NAMES)})")
    return actions
