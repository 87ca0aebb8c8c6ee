"""A trained torch network behind stable-baselines3's ``predict`` interface, saved as safetensors.

``predict`` accepts one observation (``obs_shape``) or a batch (``(B, *obs_shape)``), as NumPy or a
tensor, and answers in kind: a NumPy observation gets NumPy actions (an int64 scalar array for a
single one), a tensor gets a tensor on its own device.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

from agents.common.envs import is_torch
from agents.common.io import load_arrays, load_metadata, save_arrays


class TorchPolicy:
    """``scores(obs) -> (B, A)`` picks actions: ``greedy(scores)`` when deterministic (the argmax by
    default; a continuous policy's mean, mapped to the action bounds), else ``explore(scores)``."""

    def __init__(
        self,
        net: nn.Module,
        scores: Callable[[torch.Tensor], torch.Tensor],
        obs_shape: tuple[int, ...],
        n_actions: int,
        filename: str,
        arch: dict,
        explore: Callable[[torch.Tensor], torch.Tensor],
        greedy: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> None:
        self.net = net
        self.scores = scores
        self.obs_shape = tuple(obs_shape)
        self.n_actions = n_actions
        self.filename = filename
        self.arch = arch
        self.explore = explore
        self.greedy = greedy or (lambda scores: scores.argmax(dim=1))
        self.device = next(net.parameters()).device

    @torch.no_grad()
    def predict(self, observation, state=None, episode_start=None, deterministic: bool = True):
        as_tensor = is_torch(observation)
        obs = observation if as_tensor else torch.as_tensor(np.asarray(observation, dtype=np.float32))
        obs = obs.to(self.device, torch.float32)
        single = tuple(obs.shape) == self.obs_shape
        if not single and tuple(obs.shape[1:]) != self.obs_shape:
            raise ValueError(
                f"expected an observation of shape {self.obs_shape} or a batch of them, got {tuple(obs.shape)}"
            )
        batch = obs[None] if single else obs  # (B, *obs_shape)
        scores = self.scores(batch)  # (B, A)
        actions = self.greedy(scores) if deterministic else self.explore(scores)  # (B,) or (B, action_dim)
        if single:
            actions = actions[0]
        if as_tensor:
            return actions.to(observation.device), None
        return actions.cpu().numpy(), None

    def save(self, run_dir: str | Path) -> Path:
        meta = {
            "obs_shape": json.dumps(list(self.obs_shape)),
            "n_actions": str(self.n_actions),
            "arch": json.dumps(self.arch),
        }
        return save_arrays(Path(run_dir) / self.filename, self.net.state_dict(), meta)


def read_policy_file(
    run_dir: str | Path, filename: str
) -> tuple[dict[str, np.ndarray], tuple[int, ...], int, dict]:
    """``(state_dict arrays, obs_shape, n_actions, arch)`` of a saved :class:`TorchPolicy`."""
    path = Path(run_dir) / filename
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: the run did not finish (try --resume)")
    meta = load_metadata(path)
    return (
        load_arrays(path),
        tuple(json.loads(meta["obs_shape"])),
        int(meta["n_actions"]),
        json.loads(meta["arch"]),
    )


def load_state(net: nn.Module, arrays: dict[str, np.ndarray], device: str | torch.device) -> nn.Module:
    net.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in arrays.items()})
    return net.to(device).eval()
