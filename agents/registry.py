"""The closed table of algorithms: ``--algo NAME`` looks a name up here and nowhere else."""

from __future__ import annotations

import importlib

from agents.base import Algorithm
from agents.common.hparams import suggest

# name -> (module, attribute). Modules are imported on first use so that tabular runs never import torch.
_ALGOS: dict[str, tuple[str, str]] = {
    "qlearning": ("agents.tabular", "QLEARNING"),
    "value-iteration": ("agents.tabular", "VALUE_ITERATION"),
    "dqn": ("agents.dqn", "DQN"),
    "ppo": ("agents.ppo", "PPO"),
    "sb3-dqn": ("agents.sb3", "SB3_DQN"),
    "sb3-ppo": ("agents.sb3", "SB3_PPO"),
}


def algo_names() -> list[str]:
    return list(_ALGOS)


def get_algorithm(name: str) -> Algorithm:
    """The :class:`Algorithm` called ``name``; an unknown name lists the known ones and the nearest."""
    if name not in _ALGOS:
        raise ValueError(
            f"unknown algorithm {name!r}{suggest(name, list(_ALGOS))}; known: {', '.join(_ALGOS)}"
        )
    module, attr = _ALGOS[name]
    return getattr(importlib.import_module(module), attr)
