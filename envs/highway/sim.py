"""What the highway envs share: the simulator for a config, action checks, and state views.

The physics is the fused kernel of ``envs/physics`` running the highway world (``envs/worlds``); the single
env and the vector env are Gymnasium wrappers around one :class:`~envs.physics.engine.Simulator`.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np
from gymnasium import spaces

from envs.highway.config import DrivingConfig
from envs.highway.observation import OBSERVATIONS
from envs.highway.state import TrafficState
from envs.physics.engine import ACTION_NAMES, Simulator
from envs.worlds import WORLDS

NUM_ACTIONS = len(ACTION_NAMES)  # DiscreteMetaAction: LANE_LEFT, IDLE, LANE_RIGHT, FASTER, SLOWER
IDLE = ACTION_NAMES.index("IDLE")  # 1 in every action set of DiscreteMetaAction (all, longitudinal, lateral)

__all__ = [
    "ACTION_NAMES", "IDLE", "NUM_ACTIONS", "action_space", "check_action", "check_agent_actions", "check_commands",
    "goal_reward",
    "make_simulator", "state_view",
]  # fmt: skip


def make_simulator(
    cfg: DrivingConfig,
    num_envs: int,
    device: str = "cpu",
    precision: str = "float32",
    autoreset: bool = True,
    threads: int | None = None,
    trace: bool = False,
) -> Simulator:
    """``num_envs`` episodes of ``cfg``'s world on ``device``, observed as ``cfg.observation`` says
    (``trace``: keep every sub-step's poses, for rendering at the simulation frequency)."""
    observation = OBSERVATIONS[cfg.observation].kernel(cfg)
    world = WORLDS[cfg.world](cfg)
    return Simulator(
        world, observation, num_envs, device, precision, autoreset, threads, cfg.action_names, trace=trace
    )


def state_view(sim: Simulator, as_torch: bool = False) -> TrafficState:
    """The batch's positions, headings, speeds and times without copies: NumPy on CPU unless
    ``as_torch``, torch tensors on CUDA."""
    get = sim.torch if as_torch or not sim.host else sim.host.__getitem__
    return TrafficState(x=get("x"), y=get("y"), heading=get("heading"), speed=get("speed"), time=get("time"))


def action_space(cfg: DrivingConfig) -> spaces.Space:
    """highway-env's action space of the config: Discrete meta-actions, or ContinuousAction's
    ``Box(-1, 1, (size,))`` of (acceleration, steering) commands."""
    if cfg.continuous_control is None:
        return spaces.Discrete(len(cfg.action_names))
    return spaces.Box(-1.0, 1.0, shape=(cfg.action_size,), dtype=np.float32)


def check_commands(commands: Any, cfg: DrivingConfig, batch: int | None = None) -> np.ndarray:
    """ContinuousAction commands as float32 ``(size,)`` (or ``(batch, size)``), or a clear error: the
    shape, NaN or inf, and, with ``clip=False``, values outside [-1, 1] (highway-env clips when
    ``clip`` is set)."""
    size = cfg.action_size
    shape = (size,) if batch is None else (batch, size)
    arr = np.asarray(commands)
    if arr.dtype.kind not in "fiu" or arr.dtype == np.bool_:
        raise TypeError(f"continuous actions must be numbers, got dtype {arr.dtype}")
    arr = arr if arr.dtype == np.float32 else arr.astype(np.float32)  # callers copy it into the kernel's
    if arr.shape != shape:
        raise ValueError(f"continuous actions must have shape {shape}, got {arr.shape}")
    if arr.size <= 16:  # a single env's commands (every step): Python floats beat NumPy's reductions
        values = arr.ravel().tolist()
        finite = all(map(math.isfinite, values))
        largest = max(map(abs, values), default=0.0) if finite else math.inf
    else:
        largest = float(np.abs(arr).max(initial=0.0))  # NaN or inf if any is
        finite = math.isfinite(largest)
    if not finite:
        raise ValueError(
            f"continuous actions must be finite, got {arr.tolist() if arr.size < 16 else 'NaN/inf'}"
        )
    if not cfg.clip and largest > 1.0:
        raise ValueError("continuous actions must be in [-1, 1] (the env was made with clip=False)")
    return arr


def check_agent_actions(actions: Any, agents: int) -> tuple:
    """highway-env's ``MultiAgentAction``: one action per controlled vehicle, as a tuple or list (or an
    array whose first axis is the agents), or a clear error."""
    if isinstance(actions, np.ndarray) and actions.ndim >= 1:
        actions = tuple(actions)
    if not isinstance(actions, tuple | list):
        raise TypeError(
            f"MultiAgentAction takes a tuple of {agents} actions (one per controlled vehicle), "
            f"got {type(actions).__name__} {actions!r}"
        )
    if len(actions) != agents:
        raise ValueError(
            f"MultiAgentAction takes {agents} actions (one per controlled vehicle), got {len(actions)}"
        )
    return tuple(actions)


def check_action(action: Any, names: tuple[str, ...] = ACTION_NAMES) -> int:
    """A Discrete(len(names)) action as int, or a clear error (no silent casting of floats or arrays)."""
    n = len(names)
    if isinstance(action, np.ndarray):
        if action.shape != ():
            raise ValueError(
                f"action must be a scalar integer in [0, {n - 1}], got an array of shape {action.shape}"
            )
        action = action[()]
    if isinstance(action, bool | np.bool_) or not isinstance(action, numbers.Integral):
        raise TypeError(f"action must be an integer in [0, {n - 1}], got {type(action).__name__} {action!r}")
    if not 0 <= int(action) < n:
        raise ValueError(f"action {action} out of range: must be in [0, {n - 1}] ({', '.join(names)})")
    return int(action)


def goal_reward(world: Any, achieved_goal: Any, desired_goal: Any, info: Any = None) -> np.ndarray | float:
    """A goal-conditioned world's reward for (batches of) achieved and desired goals, NumPy in and out
    (a float for one pair), or a clear error for a world without goals."""
    if not hasattr(world, "compute_reward"):
        raise AttributeError(
            f"the {world.name} world has no goals: compute_reward is for goal-conditioned worlds "
            "(autodrive/Parking-v0)"
        )
    achieved = np.asarray(achieved_goal.cpu() if hasattr(achieved_goal, "cpu") else achieved_goal)
    desired = np.asarray(desired_goal.cpu() if hasattr(desired_goal, "cpu") else desired_goal)
    if achieved.shape != desired.shape:
        raise ValueError(
            f"achieved_goal {achieved.shape} and desired_goal {desired.shape} must have one shape"
        )
    reward = world.compute_reward(achieved, desired, info)
    return float(reward) if np.ndim(reward) == 0 else reward
