"""The closed table of algorithms: ``--algo NAME`` looks a name up here and nowhere else."""

from __future__ import annotations

import dataclasses
import importlib
from typing import Any

from agents.base import Algorithm
from agents.common.hparams import resolve_hyperparams, suggest

# name -> (module, attribute). Modules are imported on first use so that tabular runs never import torch.
_ALGOS: dict[str, tuple[str, str]] = {
    "qlearning": ("agents.tabular", "QLEARNING"),
    "value-iteration": ("agents.tabular", "VALUE_ITERATION"),
    "dqn": ("agents.dqn", "DQN"),
    "ppo": ("agents.ppo", "PPO"),
    "sb3-dqn": ("agents.sb3", "SB3_DQN"),
    "sb3-ppo": ("agents.sb3", "SB3_PPO"),
    "sb3-sac": ("agents.sb3", "SB3_SAC"),
    "sb3-sac-her": ("agents.sb3", "SB3_SAC_HER"),
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


def default_hyperparams(name: str, env_id: str) -> dict[str, Any]:
    """Algorithm ``name``'s ``--hp`` keys with the values a run on ``env_id`` gets without ``--hp``:
    its config dataclass's defaults, over them ``agents/hyperparams/<name>.yaml``'s ``default`` block,
    then that file's block for ``env_id`` (the resolution ``train_run`` uses)."""
    cls = get_algorithm(name).hyperparams
    hp = resolve_hyperparams(name, cls, env_id)
    return {f.name: getattr(hp, f.name) for f in dataclasses.fields(cls) if f.init}
