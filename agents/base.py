"""What every algorithm provides: its hyperparameters, ``train`` and ``load``.

An algorithm module (``agents/tabular.py``, ``agents/dqn.py``, ...) exposes an :class:`Algorithm`;
``agents/registry.py`` is the closed table of them. A trained policy answers stable-baselines3's
``predict(obs, deterministic=True) -> (action, state)`` for one observation or a batch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from agents.common.logger import RunLogger


class Policy(Protocol):
    def predict(
        self, observation, state=None, episode_start=None, deterministic: bool = True
    ) -> tuple[Any, None]:
        """Actions for one observation or a batch (``state`` is always None: no recurrent policies)."""

    def save(self, run_dir: Path) -> None:
        """Write the learned parameters into ``run_dir`` atomically (safetensors/npz, never pickle)."""


@dataclass(frozen=True)
class TrainSpec:
    """Everything an algorithm's ``train`` needs, resolved and validated by ``agents.run``."""

    env_id: str
    hp: Any  # the algorithm's frozen hyperparameter dataclass
    total_steps: int
    seed: int
    num_envs: int
    device: str
    run_dir: Path
    logger: RunLogger
    env_kwargs: dict = field(default_factory=dict)
    resume: bool = False


@dataclass(frozen=True)
class Algorithm:
    name: str
    hyperparams: type  # frozen dataclass; its fields are the valid ``--hp`` keys
    train: Callable[[TrainSpec], Policy]
    load: Callable[[Path, str], Policy]  # (run_dir, device) -> Policy
    description: str = ""
    default_steps: int = 100_000
    extra_metrics: tuple[str, ...] = ()  # scalars the algorithm logs besides the standard ones
    # (env_id, env_kwargs, hp) -> hp with env-dependent defaults filled in (e.g. a length that scales
    # with the env), before the run's config is written
    resolve: Callable[[str, dict, Any], Any] | None = None
