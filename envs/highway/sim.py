"""What the highway envs share: the simulator for a config, action checks, and state views.

The physics is the fused kernel of ``envs/physics`` running the highway world (``envs/worlds``); the single
env and the vector env are Gymnasium wrappers around one :class:`~envs.physics.engine.Simulator`.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from envs.highway.config import DrivingConfig
from envs.highway.observation import OBSERVATIONS
from envs.highway.state import TrafficState
from envs.physics.engine import ACTION_NAMES, Simulator
from envs.worlds import WORLDS

NUM_ACTIONS = len(ACTION_NAMES)  # DiscreteMetaAction: LANE_LEFT, IDLE, LANE_RIGHT, FASTER, SLOWER
IDLE = ACTION_NAMES.index("IDLE")  # 1 in every action set of DiscreteMetaAction (all, longitudinal, lateral)

__all__ = ["ACTION_NAMES", "IDLE", "NUM_ACTIONS", "check_action", "make_simulator", "state_view"]


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
