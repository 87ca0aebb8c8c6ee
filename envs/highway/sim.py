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
IDLE = ACTION_NAMES.index("IDLE")

__all__ = ["ACTION_NAMES", "IDLE", "NUM_ACTIONS", "check_action", "make_simulator", "state_view"]


def make_simulator(
    cfg: DrivingConfig,
    num_envs: int,
    device: str = "cpu",
    precision: str = "float32",
    autoreset: bool = True,
    threads: int | None = None,
) -> Simulator:
    """``num_envs`` episodes of ``cfg``'s world on ``device``, observed as ``cfg.observation`` says."""
    observation = OBSERVATIONS[cfg.observation].kernel(cfg)
    return Simulator(WORLDS[cfg.world](cfg), observation, num_envs, device, precision, autoreset, threads)


def state_view(sim: Simulator, as_torch: bool = False) -> TrafficState:
    """The batch's positions, headings, speeds and times without copies: NumPy on CPU unless
    ``as_torch``, torch tensors on CUDA."""
    get = sim.torch if as_torch or not sim.host else sim.host.__getitem__
    return TrafficState(x=get("x"), y=get("y"), heading=get("heading"), speed=get("speed"), time=get("time"))


def check_action(action: Any) -> int:
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
        raise ValueError(
            f"action {action} out of range: must be in [0, {NUM_ACTIONS - 1}] ({', '.join(ACTION_NAMES)})"
        )
    return int(action)
