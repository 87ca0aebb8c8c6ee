"""The torch side of every deep agent: a vector env that speaks tensors, episode stats, state ↔ arrays.

``TorchVecEnv`` is the only place where host arrays meet tensors. Our natively batched envs with
``backend="torch"`` or a CUDA device already return tensors on the training device, and pass through
untouched (no per-step copy to the host); any other Gymnasium vector env (NumPy) is converted with
``torch.from_numpy`` (zero-copy on CPU).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch

from agents.common.envs import is_torch


def check_spaces(venv: gym.vector.VectorEnv) -> tuple[tuple[int, ...], int]:
    """``(obs_shape, n_actions)`` of a vector env (``n_actions``: the Discrete count, or the size of a
    1-D Box of continuous actions), or a clear error for unsupported spaces."""
    obs_space, act_space = venv.single_observation_space, venv.single_action_space
    if not isinstance(obs_space, gym.spaces.Box):
        raise ValueError(f"deep agents need a Box observation space, got {obs_space}")
    if isinstance(act_space, gym.spaces.Discrete):
        return tuple(obs_space.shape), int(act_space.n)
    if isinstance(act_space, gym.spaces.Box) and len(act_space.shape) == 1 and act_space.is_bounded():
        return tuple(obs_space.shape), int(act_space.shape[0])
    raise ValueError(f"deep agents need Discrete or bounded 1-D Box actions, got {act_space}")


def action_bounds(venv: gym.vector.VectorEnv) -> tuple[np.ndarray, np.ndarray] | None:
    """``(low, high)`` of a continuous (Box) action space; None for Discrete actions."""
    space = venv.single_action_space
    if not isinstance(space, gym.spaces.Box):
        return None
    return space.low.astype(np.float32), space.high.astype(np.float32)


class TorchVecEnv:
    """A Gymnasium vector env (NEXT_STEP autoreset) whose inputs and outputs are tensors on ``device``.

    ``step`` also returns ``valid``: False for the reset step that follows a done under NEXT_STEP
    autoreset (its action is ignored and its transition is not a real one), and ``crashed`` from
    ``info["crashed"]`` (False where the env does not report it).
    """

    def __init__(self, venv: gym.vector.VectorEnv, device: torch.device) -> None:
        mode = venv.metadata.get("autoreset_mode", gym.vector.AutoresetMode.NEXT_STEP)
        if str(getattr(mode, "value", mode)) != "NextStep":
            raise ValueError(f"expected a NEXT_STEP autoreset vector env, got {mode}")
        self.venv = venv
        self.device = device
        self.num_envs = venv.num_envs
        self.obs_shape, self.n_actions = check_spaces(venv)
        self.bounds = action_bounds(venv)  # continuous actions: (low, high); None: Discrete
        self.continuous = self.bounds is not None
        self.host_copies = 0  # conversions between host arrays and tensors (0 for a native torch env)
        self.native = False
        self._prev_done = torch.zeros(self.num_envs, dtype=torch.bool, device=device)

    def _tensor(self, x, dtype: torch.dtype) -> torch.Tensor:
        if is_torch(x):
            return x.to(device=self.device, dtype=dtype)
        self.host_copies += 1
        return torch.as_tensor(np.asarray(x), dtype=dtype).to(self.device)

    def reset(self, seed: int | None = None) -> torch.Tensor:
        obs, _ = self.venv.reset(seed=seed)
        self.native = is_torch(obs)  # our batched envs with the torch backend take and return tensors
        self._prev_done.zero_()
        return self._tensor(obs, torch.float32)

    def step(self, actions: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """``(obs, reward, terminated, truncated, valid, crashed)``, each with leading dim num_envs.

        ``crashed`` is None when the env does not report ``info["crashed"]``.
        """
        if self.native:
            env_actions = actions
        else:
            self.host_copies += 1
            env_actions = actions.cpu().numpy()
        obs, reward, terminated, truncated, infos = self.venv.step(env_actions)
        obs = self._tensor(obs, torch.float32)  # (N, *obs_shape)
        reward = self._tensor(reward, torch.float32)  # (N,)
        terminated = self._tensor(terminated, torch.bool)
        truncated = self._tensor(truncated, torch.bool)
        crashed = _info_tensor(infos, "crashed", self)
        valid = ~self._prev_done
        self._prev_done = terminated | truncated
        return obs, reward, terminated, truncated, valid, crashed

    def close(self) -> None:
        self.venv.close()


def _info_tensor(infos: dict, key: str, env: TorchVecEnv) -> torch.Tensor | None:
    """Batched ``infos[key]`` as a bool tensor (None when the env does not report it)."""
    n = env.num_envs
    if key not in infos:
        return None
    value = infos[key]
    mask = infos.get(f"_{key}")
    out = env._tensor(value, torch.bool)
    if out.shape != (n,):
        return None
    if mask is not None:
        out = out & env._tensor(mask, torch.bool)
    return out


class EpisodeStats:
    """Per-env returns/lengths on the training device; finished episodes reach the host only in ``flush``.

    ``update`` is called every step with the tensors from :meth:`TorchVecEnv.step`; it never syncs
    with the device. ``flush(logger)`` copies the finished episodes since the last flush in one go.
    """

    def __init__(self, num_envs: int, device: torch.device) -> None:
        self.returns = torch.zeros(num_envs, dtype=torch.float64, device=device)
        self.lengths = torch.zeros(num_envs, dtype=torch.int64, device=device)
        self._pending: list[tuple[torch.Tensor, ...]] = []
        self.reports_crashes = False

    def update(self, reward, terminated, truncated, valid, crashed) -> None:
        self.returns += torch.where(valid, reward.double(), 0.0)
        self.lengths += valid.long()
        finished = (terminated | truncated) & valid
        if crashed is None:
            crashed = torch.zeros_like(finished)
        else:
            self.reports_crashes = True
        self._pending.append((finished, self.returns.clone(), self.lengths.clone(), crashed))
        self.returns.masked_fill_(finished, 0.0)
        self.lengths.masked_fill_(finished, 0)

    def flush(self, logger) -> None:
        if not self._pending:
            return
        finished, returns, lengths, crashed = (torch.stack(x).cpu().numpy() for x in zip(*self._pending))
        self._pending.clear()
        crashed = crashed[finished] if self.reports_crashes else None
        logger.add_episodes(returns[finished], lengths[finished], crashed)


# --- state <-> flat arrays (for safetensors checkpoints) -------------------------------------------


def module_arrays(prefix: str, module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {f"{prefix}/{k}": v for k, v in module.state_dict().items()}


def load_module_arrays(prefix: str, module: torch.nn.Module, arrays: dict[str, np.ndarray]) -> None:
    device = next(module.parameters()).device
    state = {
        k[len(prefix) + 1 :]: torch.from_numpy(v).to(device)
        for k, v in arrays.items()
        if k.startswith(prefix + "/")
    }
    module.load_state_dict(state)


def optimizer_arrays(prefix: str, optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    """Optimizer tensors as flat arrays, and its param-group settings as JSON-able state."""
    sd = optimizer.state_dict()
    arrays = {}
    for pid, pstate in sd["state"].items():
        for key, value in pstate.items():
            arrays[f"{prefix}/{pid}/{key}"] = torch.as_tensor(value)
    groups = [
        {k: v for k, v in g.items() if k != "params"} | {"params": list(g["params"])}
        for g in sd["param_groups"]
    ]
    return arrays, {"param_groups": groups}


def load_optimizer_arrays(
    prefix: str, optimizer: torch.optim.Optimizer, arrays: dict[str, np.ndarray], state: dict
) -> None:
    pstate: dict[int, dict[str, torch.Tensor]] = {}
    for name, value in arrays.items():
        if not name.startswith(prefix + "/"):
            continue
        pid, key = name[len(prefix) + 1 :].split("/", 1)
        pstate.setdefault(int(pid), {})[key] = torch.from_numpy(np.array(value))
    groups = [dict(g, betas=tuple(g["betas"])) if "betas" in g else g for g in state["param_groups"]]
    optimizer.load_state_dict({"state": pstate, "param_groups": groups})


def rng_arrays() -> dict[str, Any]:
    """The torch CPU RNG state (the agents draw every other random number from their own generator)."""
    return {"rng/torch": torch.get_rng_state()}


def set_rng_arrays(arrays: dict[str, np.ndarray]) -> None:
    if "rng/torch" in arrays:
        torch.set_rng_state(torch.from_numpy(np.array(arrays["rng/torch"])))


def generator_arrays(name: str, gen: torch.Generator) -> dict[str, torch.Tensor]:
    return {f"rng/{name}": gen.get_state()}


def set_generator(name: str, gen: torch.Generator, arrays: dict[str, np.ndarray]) -> None:
    if f"rng/{name}" in arrays:
        gen.set_state(torch.from_numpy(np.array(arrays[f"rng/{name}"])))


def make_generator(seed: int, device: torch.device) -> torch.Generator:
    gen = torch.Generator(device=device)
    gen.manual_seed(seed)
    return gen


def training_arrays(
    modules: dict[str, torch.nn.Module], optimizer: torch.optim.Optimizer, generator: torch.Generator
) -> tuple[dict[str, Any], dict]:
    """Networks, optimizer, and RNG states as ``(arrays, json_state)`` for :func:`save_checkpoint`."""
    arrays: dict[str, Any] = {}
    for name, module in modules.items():
        arrays.update(module_arrays(name, module))
    opt_arrays, opt_state = optimizer_arrays("optimizer", optimizer)
    arrays.update(opt_arrays)
    arrays.update(rng_arrays())
    arrays.update(generator_arrays("generator", generator))
    return arrays, {"optimizer": opt_state}


def restore_training(
    arrays: dict[str, np.ndarray],
    state: dict,
    modules: dict[str, torch.nn.Module],
    optimizer: torch.optim.Optimizer,
    generator: torch.Generator,
) -> None:
    """Inverse of :func:`training_arrays`."""
    for name, module in modules.items():
        load_module_arrays(name, module, arrays)
    load_optimizer_arrays("optimizer", optimizer, arrays, state["optimizer"])
    set_rng_arrays(arrays)
    set_generator("generator", generator, arrays)
