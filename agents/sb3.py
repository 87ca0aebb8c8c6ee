"""stable-baselines3's DQN, PPO and SAC on any of our envs, with our run directory, logging and checkpoints.

``--algo sb3-dqn|sb3-ppo|sb3-sac`` trains SB3's own algorithm (SAC on ``Box`` actions, such as a world
with ``{"action": {"type": "ContinuousAction"}}``); ``--algo sb3-sac-her`` is SAC with SB3's
``HerReplayBuffer`` on a goal-conditioned env (dict observations ``observation`` / ``achieved_goal`` /
``desired_goal`` and ``compute_reward``, such as ``autodrive/Parking-v0`` or highway-env's ``parking-v0``). Our natively batched envs reach SB3 through
:class:`SB3VecEnv`, an SB3 ``VecEnv`` over a Gymnasium vector env, so SB3 users get the batched
simulator's speed; other ids use SB3's ``DummyVecEnv``. Weights and checkpoints are safetensors (SB3's
``.zip`` pickles parts of the model, so it is not used). Checkpoints hold the policy and its optimizers
(SAC's actor, critic and entropy coefficient); SB3's replay buffer is not checkpointed (a resumed sb3-dqn
or sb3-sac refills it while it keeps learning).
"""

from __future__ import annotations

import json
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from agents.base import Algorithm, TrainSpec
from agents.common.checkpoint import load_checkpoint, save_checkpoint
from agents.common.envs import check_env_id, is_torch, to_numpy
from agents.common.io import load_arrays, load_metadata, save_arrays
from agents.common.nets import activation
from agents.common.schedules import crossed
from agents.common.torch_utils import (
    load_module_arrays,
    load_optimizer_arrays,
    module_arrays,
    optimizer_arrays,
    rng_arrays,
    set_rng_arrays,
)

# --- configs (fields are SB3's constructor arguments, plus our run settings) -----------------------


@dataclass(frozen=True)
class SB3DQNConfig:
    total_steps: int = 100_000
    num_envs: int = 1
    learning_rate: float = 1e-4
    buffer_size: int = 1_000_000
    learning_starts: int = 100
    batch_size: int = 32
    tau: float = 1.0
    gamma: float = 0.99
    train_freq: int = 4  # env steps (per env) between training phases
    gradient_steps: int = 1
    target_update_interval: int = 10_000
    exploration_fraction: float = 0.1
    exploration_initial_eps: float = 1.0
    exploration_final_eps: float = 0.05
    max_grad_norm: float = 10.0
    net_arch: tuple[int, ...] = (64, 64)
    activation: str = "relu"
    log_interval: int = 5_000
    checkpoint_interval: int = 50_000
    cpu_threads: int = 1  # torch intra-op threads on CPU: small MLPs run fastest on one

    def __post_init__(self) -> None:
        activation(self.activation)
        if self.train_freq < 1 or self.batch_size < 1:
            raise ValueError("train_freq and batch_size must be >= 1")


@dataclass(frozen=True)
class SB3PPOConfig:
    total_steps: int = 100_000
    num_envs: int = 1
    learning_rate: float = 3e-4
    n_steps: int = 2048
    batch_size: int = 64
    n_epochs: int = 10
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip_range: float = 0.2
    ent_coef: float = 0.0
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    net_arch: tuple[int, ...] = (64, 64)
    activation: str = "tanh"
    log_interval: int = 5_000
    checkpoint_interval: int = 50_000
    cpu_threads: int = 1  # torch intra-op threads on CPU: small MLPs run fastest on one

    def __post_init__(self) -> None:
        activation(self.activation)
        if self.n_steps < 1 or self.batch_size < 1:
            raise ValueError("n_steps and batch_size must be >= 1")


@dataclass(frozen=True)
class SB3SACConfig:
    total_steps: int = 100_000
    num_envs: int = 1
    learning_rate: float = 3e-4
    buffer_size: int = 1_000_000
    learning_starts: int = 100
    batch_size: int = 256
    tau: float = 0.005
    gamma: float = 0.99
    train_freq: int = 1  # env steps (per env) between training phases
    gradient_steps: int = 1
    ent_coef: str | float = "auto"  # "auto" learns it (initial value "auto_0.1" style), or a fixed float
    target_update_interval: int = 1
    target_entropy: str | float = "auto"  # "auto": -dim(action space)
    use_sde: bool = False
    net_arch: tuple[int, ...] = (256, 256)
    activation: str = "relu"
    # learning_rate decays linearly to this by the end of training (None: constant); a decaying step
    # size settles the final policy where a constant one keeps it jittering around the goal
    learning_rate_end: float | None = None
    # torch's fused Adam kernel (one call per step instead of one per tensor): ~17% faster SAC updates
    # on CPU, where SB3's small MLPs spend much of each update in the optimizer
    fused_adam: bool = False
    log_interval: int = 5_000
    checkpoint_interval: int = 50_000
    cpu_threads: int = 1  # torch intra-op threads on CPU: small MLPs run fastest on one

    def __post_init__(self) -> None:
        activation(self.activation)
        if self.train_freq < 1 or self.batch_size < 1:
            raise ValueError("train_freq and batch_size must be >= 1")
        if self.learning_rate_end is not None and not 0.0 <= self.learning_rate_end <= self.learning_rate:
            raise ValueError(
                f"learning_rate_end must lie in [0, learning_rate={self.learning_rate}], got "
                f"{self.learning_rate_end}"
            )
        for name in ("ent_coef", "target_entropy"):
            value = getattr(self, name)
            if isinstance(value, str) and not value.startswith("auto"):
                raise ValueError(
                    f"{name} must be a number or 'auto' (ent_coef also 'auto_<init>'), got {value!r}"
                )


@dataclass(frozen=True)
class SB3SACHERConfig(SB3SACConfig):
    """SAC with hindsight experience replay: each stored transition is also replayed with
    ``n_sampled_goal`` goals achieved later in its episode (``goal_selection_strategy``)."""

    n_sampled_goal: int = 4
    goal_selection_strategy: str = "future"  # "future", "final" or "episode"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.n_sampled_goal < 1:
            raise ValueError(f"n_sampled_goal must be >= 1, got {self.n_sampled_goal}")
        if self.goal_selection_strategy not in ("future", "final", "episode"):
            raise ValueError(
                f"goal_selection_strategy must be 'future', 'final' or 'episode', got "
                f"{self.goal_selection_strategy!r}"
            )


#: the keys of a goal-conditioned observation (Gymnasium-Robotics' GoalEnv, highway-env's parking-v0)
GOAL_KEYS = ("observation", "achieved_goal", "desired_goal")

RUN_FIELDS = (
    "total_steps",
    "num_envs",
    "log_interval",
    "checkpoint_interval",
    "cpu_threads",
    "net_arch",
    "activation",
)


# --- a stable-baselines3 VecEnv over a Gymnasium vector env -----------------------------------------


def _vec_env_base():
    from stable_baselines3.common.vec_env import VecEnv

    return VecEnv


class SB3VecEnv(_vec_env_base()):
    """SB3's ``VecEnv`` API over a Gymnasium vector env that supports ``reset(options={"reset_mask": m})``.

    SB3 expects envs that finished to be reset within the same ``step`` (returning the reset observation,
    with the final one in ``info["terminal_observation"]`` and ``TimeLimit.truncated`` for time limits);
    Gymnasium's NEXT_STEP vector envs reset on the following step, so finished envs are reset here with
    a masked partial reset. Tensors from a torch-backend env are converted to NumPy for SB3.
    """

    def __init__(self, venv: gym.vector.VectorEnv) -> None:
        self.venv = venv
        super().__init__(venv.num_envs, venv.single_observation_space, venv.single_action_space)
        self._actions: np.ndarray | None = None
        self._seed: int | None = None

    def reset(self) -> np.ndarray | dict[str, np.ndarray]:
        obs, _ = self.venv.reset(seed=self._seed)
        self._seed = None
        return host_obs(obs)

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions, dtype=self.action_space.dtype)

    def step_wait(self):
        obs, reward, terminated, truncated, infos = self.venv.step(self._actions)
        obs, reward = host_obs(obs), to_numpy(reward).astype(np.float32)
        terminated, truncated = to_numpy(terminated).astype(bool), to_numpy(truncated).astype(bool)
        done = terminated | truncated
        info_list = per_env_infos(infos, self.num_envs)
        if done.any():
            for i in np.flatnonzero(done):
                info_list[i]["terminal_observation"] = _index_obs(obs, i)
                info_list[i]["TimeLimit.truncated"] = bool(truncated[i] and not terminated[i])
            reset_obs = host_obs(self.venv.reset(options={"reset_mask": done})[0])
            if isinstance(obs, dict):
                for key in obs:
                    obs[key][done] = reset_obs[key][done]
            else:
                obs[done] = reset_obs[done]
        return obs, reward, done, info_list

    def close(self) -> None:
        self.venv.close()

    # Per-env attributes and methods. A Gymnasium Sync/Async vector env answers per env (``get_attr``,
    # ``call``, ``set_attr``). A natively batched env holds one object for all its envs: a value with one
    # entry per env (a state array) is split per env, any other value (its config, render_mode) is the
    # value of every env, and setting an attribute sets it for all of them.
    def get_attr(self, attr_name: str, indices=None) -> list[Any]:
        if hasattr(self.venv, "get_attr"):
            values = self.venv.get_attr(attr_name)
        else:
            values = self._per_env(getattr(self.venv, attr_name))
        return [values[i] for i in self._get_indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices=None) -> None:
        if hasattr(self.venv, "set_attr"):
            current = list(self.venv.get_attr(attr_name))
            for i in self._get_indices(indices):
                current[i] = value
            self.venv.set_attr(attr_name, current)
        else:
            setattr(self.venv, attr_name, value)

    def env_method(self, method_name: str, *args, indices=None, **kwargs) -> list[Any]:
        if hasattr(self.venv, "call"):
            results = self.venv.call(method_name, *args, **kwargs)
            return [results[i] for i in self._get_indices(indices)]
        # a batched env's method answers for the whole batch (e.g. HER's compute_reward over a batch of
        # relabelled transitions, whose length may equal num_envs by chance): every env gets that answer
        result = getattr(self.venv, method_name)(*args, **kwargs)
        return [result for _ in self._get_indices(indices)]

    def _per_env(self, value: Any) -> list[Any]:
        if hasattr(value, "shape") and tuple(value.shape[:1]) == (self.num_envs,):
            return list(to_numpy(value))
        return [value] * self.num_envs

    def env_is_wrapped(self, wrapper_class, indices=None) -> list[bool]:
        return [False] * len(self._get_indices(indices))

    def seed(self, seed: int | None = None):
        self._seed = seed
        return [seed] * self.num_envs


def host_obs(obs: Any) -> np.ndarray | dict[str, np.ndarray]:
    """A host copy of a batched observation: an array, or a dict of arrays (goal-conditioned envs)."""
    if isinstance(obs, dict):
        return {key: to_numpy(value).copy() for key, value in obs.items()}
    return to_numpy(obs).copy()


def _index_obs(obs: np.ndarray | dict[str, np.ndarray], i: int) -> np.ndarray | dict[str, np.ndarray]:
    if isinstance(obs, dict):
        return {key: value[i].copy() for key, value in obs.items()}
    return obs[i].copy()


def per_env_infos(infos: dict, num_envs: int) -> list[dict[str, Any]]:
    """Gymnasium's batched ``info`` (arrays of one entry per env, ``_key`` masks, nested dicts such as
    ``rewards``) as SB3's list of per-env dicts: ``crashed``, ``is_success`` (SB3 logs its success rate),
    ``speed``, ``rewards``, ..."""
    out: list[dict[str, Any]] = [{} for _ in range(num_envs)]

    def fill(target: list[dict], key: str, values: Any, mask: Any) -> None:
        arr = to_numpy(values)
        if arr.shape[:1] != (num_envs,):
            return
        items = arr.tolist() if arr.ndim == 1 else list(arr)  # one conversion per key, not per env
        if mask is None:
            for d, value in zip(target, items):
                d[key] = value
        else:
            for d, value, m in zip(target, items, mask.tolist()):
                if m:
                    d[key] = value

    for key, values in infos.items():
        if key.startswith("_"):
            continue
        mask = infos.get(f"_{key}")
        mask = to_numpy(mask) if mask is not None else None
        if isinstance(values, dict):
            nested: list[dict] = [{} for _ in range(num_envs)]
            for sub, sub_values in values.items():
                if not sub.startswith("_"):
                    fill(nested, sub, sub_values, mask)
            for i in range(num_envs):
                if nested[i]:
                    out[i][key] = nested[i]
        elif values is not None:
            fill(out, key, values, mask)
    return out


def supports_reset_mask(venv: gym.vector.VectorEnv) -> bool:
    """Whether ``venv`` can reset a subset of its envs (Gymnasium's ``reset_mask`` option)."""
    venv.reset(seed=0)
    mask = np.zeros(venv.num_envs, dtype=bool)
    mask[0] = True
    try:
        venv.reset(options={"reset_mask": mask})
    except (ValueError, TypeError, KeyError):
        return False
    return True


def make_sb3_env(env_id: str, num_envs: int, seed: int, env_kwargs: dict):
    """Our batched env through :class:`SB3VecEnv` when it supports partial resets, else SB3's DummyVecEnv."""
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import VecMonitor

    spec = check_env_id(env_id)
    if spec.vector_entry_point is not None:
        venv = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="vector_entry_point", **env_kwargs)
        if supports_reset_mask(venv):
            env = SB3VecEnv(venv)
            env.seed(seed)
            return VecMonitor(env)
        venv.close()
        warnings.warn(
            f"{env_id}'s batched env cannot reset a subset of its envs (Gymnasium's reset_mask), so SB3 "
            "steps it one env at a time through DummyVecEnv",
            stacklevel=2,
        )
    from envs.highway.compat import highway_env_wrapper  # e.g. intersection-v0's arrival flag

    wrapper = highway_env_wrapper(spec)
    return make_vec_env(env_id, n_envs=num_envs, seed=seed, env_kwargs=env_kwargs, wrapper_class=wrapper)


# --- training ---------------------------------------------------------------------------------------


def _sb3_kwargs(hp) -> dict[str, Any]:
    kwargs = {k: v for k, v in asdict(hp).items() if k not in RUN_FIELDS}
    kwargs["policy_kwargs"] = {"net_arch": list(hp.net_arch), "activation_fn": activation(hp.activation)}
    if kwargs.pop("fused_adam", False):
        kwargs["policy_kwargs"]["optimizer_kwargs"] = {"fused": True}
    end = kwargs.pop("learning_rate_end", None)
    if end is not None:
        start = hp.learning_rate
        # SB3 calls a schedule with the fraction of training left (1 at the start, 0 at the end)
        kwargs["learning_rate"] = lambda remaining: end + remaining * (start - end)
    return kwargs


def _logging_callback(spec: TrainSpec, log_interval: int, checkpoint_interval: int, checkpoint):
    from stable_baselines3.common.callbacks import BaseCallback

    class RunLoggerCallback(BaseCallback):
        """Finished episodes and scalars into our RunLogger; periodic safetensors checkpoints."""

        def _on_step(self) -> bool:
            finished = [(i["episode"], i.get("crashed")) for i in self.locals["infos"] if "episode" in i]
            if finished:
                crashed = [bool(c) for _, c in finished] if finished[0][1] is not None else None
                spec.logger.add_episodes(
                    [e["r"] for e, _ in finished], [e["l"] for e, _ in finished], crashed
                )
            step, prev = self.num_timesteps, self.num_timesteps - self.training_env.num_envs
            if crossed(prev, step, log_interval):
                scalars = {
                    k.split("/")[-1]: v
                    for k, v in self.logger.name_to_value.items()
                    if k.startswith("train/")
                }
                spec.logger.log(step, **scalars)
            if crossed(prev, step, checkpoint_interval):
                checkpoint(self.model)
            return True

    return RunLoggerCallback()


def _sb3_class(kind: str):
    import stable_baselines3

    return getattr(stable_baselines3, kind.split("-")[0].upper())  # sac-her: SAC with HerReplayBuffer


def _optimizers(model) -> dict[str, torch.optim.Optimizer]:
    """Every optimizer an SB3 model trains with, by name: DQN's and PPO's one, SAC's actor, critic and
    (when learnt) entropy coefficient."""
    if hasattr(model, "actor"):  # SAC
        opts = {"actor_optimizer": model.actor.optimizer, "critic_optimizer": model.critic.optimizer}
        if model.ent_coef_optimizer is not None:
            opts["ent_coef_optimizer"] = model.ent_coef_optimizer
        return opts
    return {"optimizer": model.policy.optimizer}


def _extra_params(model) -> dict[str, torch.Tensor]:
    """Learnt tensors outside the policy module: SAC's log entropy coefficient."""
    log_ent = getattr(model, "log_ent_coef", None)
    return {"log_ent_coef": log_ent} if isinstance(log_ent, torch.Tensor) else {}


def _train(kind: str, spec: TrainSpec):
    hp = spec.hp
    if spec.device == "cpu":
        torch.set_num_threads(hp.cpu_threads)
    env = make_sb3_env(spec.env_id, spec.num_envs, spec.seed, spec.env_kwargs)
    her = kind == "sac-her"
    if kind.startswith("sac") and not isinstance(env.action_space, gym.spaces.Box):
        env.close()
        raise ValueError(
            f"sb3-{kind} needs Box (continuous) actions; {spec.env_id} has {env.action_space} (for a "
            'driving world pass --env-kwargs \'action={"type": "ContinuousAction"}\')'
        )
    kwargs = _sb3_kwargs(hp)
    if her:
        from stable_baselines3 import HerReplayBuffer

        space = env.observation_space
        if not (isinstance(space, gym.spaces.Dict) and set(GOAL_KEYS) <= set(space.spaces)):
            env.close()
            raise ValueError(
                f"sb3-sac-her needs a goal-conditioned env (dict observations {list(GOAL_KEYS)} and "
                f"compute_reward, e.g. autodrive/Parking-v0); {spec.env_id} observes {space}"
            )
        strategy = {k: kwargs.pop(k) for k in ("n_sampled_goal", "goal_selection_strategy")}
        kwargs |= {"replay_buffer_class": HerReplayBuffer, "replay_buffer_kwargs": strategy}
    policy_name = "MultiInputPolicy" if isinstance(env.observation_space, gym.spaces.Dict) else "MlpPolicy"
    model = _sb3_class(kind)(policy_name, env, seed=spec.seed, device=spec.device, verbose=0, **kwargs)

    def checkpoint(model) -> None:
        arrays = module_arrays("policy", model.policy) | rng_arrays()
        arrays |= {f"extra/{k}": v.detach().cpu() for k, v in _extra_params(model).items()}
        states = {}
        for name, opt in _optimizers(model).items():
            opt_arrays, states[name] = optimizer_arrays(name, opt)
            arrays |= opt_arrays
        save_checkpoint(spec.run_dir, model.num_timesteps, arrays, states)

    ckpt = load_checkpoint(spec.run_dir) if spec.resume else None
    if ckpt is not None:
        step, arrays, state = ckpt
        load_module_arrays("policy", model.policy, arrays)
        with torch.no_grad():
            for k, v in _extra_params(model).items():
                v.copy_(torch.as_tensor(np.asarray(arrays[f"extra/{k}"])))
        for name, opt in _optimizers(model).items():
            load_optimizer_arrays(name, opt, arrays, state[name])
        set_rng_arrays(arrays)
        model.num_timesteps = step
    remaining = spec.total_steps - model.num_timesteps
    if remaining > 0:
        callback = _logging_callback(spec, hp.log_interval, hp.checkpoint_interval, checkpoint)
        model.learn(total_timesteps=remaining, callback=callback, reset_num_timesteps=ckpt is None)
    spec.logger.log(model.num_timesteps)
    checkpoint(model)
    env.close()
    return SB3Policy(model.policy, kind, env.observation_space, env.action_space, hp)


# --- policy -----------------------------------------------------------------------------------------


def _action_space_meta(space: gym.Space) -> dict[str, Any]:
    if isinstance(space, gym.spaces.Discrete):
        return {"n": int(space.n)}
    if isinstance(space, gym.spaces.Box):
        return {"low": space.low.tolist(), "high": space.high.tolist()}
    raise ValueError(f"SB3 policies here take Discrete or Box actions, got {space}")


def _action_space(meta: dict[str, Any]) -> gym.Space:
    if "n" in meta:
        return gym.spaces.Discrete(meta["n"])
    return gym.spaces.Box(np.array(meta["low"], np.float32), np.array(meta["high"], np.float32))


def _obs_space_meta(space: gym.Space) -> Any:
    """An observation space as JSON: a shape, or a dict of shapes."""
    if isinstance(space, gym.spaces.Dict):
        return {key: list(sub.shape) for key, sub in space.spaces.items()}
    return list(space.shape)


def _obs_space(meta: Any) -> gym.Space:
    if isinstance(meta, dict):
        return gym.spaces.Dict({key: _obs_space(shape) for key, shape in meta.items()})
    return gym.spaces.Box(-np.inf, np.inf, tuple(meta), np.float32)


class SB3Policy:
    """An SB3 policy with our ``predict``/``save``: NumPy or tensor, one observation or a batch (a dict
    of them for a goal-conditioned env)."""

    def __init__(self, policy, kind: str, obs_space: gym.Space, action_space: gym.Space, hp) -> None:
        self.policy, self.kind = policy.eval(), kind
        self.obs_space, self.action_space = obs_space, action_space
        self.obs_shape = None if isinstance(obs_space, gym.spaces.Dict) else tuple(obs_space.shape)
        self.n_actions = int(action_space.n) if isinstance(action_space, gym.spaces.Discrete) else None
        self.arch = {"net_arch": list(hp.net_arch), "activation": hp.activation}
        self.device = policy.device

    def predict(self, observation, state=None, episode_start=None, deterministic: bool = True):
        if isinstance(observation, dict):
            obs = {key: to_numpy(observation[key]).astype(np.float32) for key in self.obs_space.spaces}
            sample = next(iter(observation.values()))
        else:
            obs, sample = to_numpy(observation).astype(np.float32), observation
        actions, _ = self.policy.predict(obs, deterministic=deterministic)
        actions = np.asarray(actions, dtype=self.action_space.dtype)
        if is_torch(sample):
            return torch.as_tensor(actions, device=sample.device), None
        return actions, None

    def save(self, run_dir: str | Path) -> Path:
        meta = {
            "obs_shape": json.dumps(_obs_space_meta(self.obs_space)),
            "action_space": json.dumps(_action_space_meta(self.action_space)),
            "arch": json.dumps(self.arch),
        }
        return save_arrays(Path(run_dir) / f"sb3-{self.kind}.safetensors", self.policy.state_dict(), meta)


def _load(kind: str, run_dir: Path, device: str = "cpu") -> SB3Policy:
    from stable_baselines3.common.policies import ActorCriticPolicy
    from stable_baselines3.dqn.policies import DQNPolicy
    from stable_baselines3.sac.policies import MultiInputPolicy, SACPolicy

    path = Path(run_dir) / f"sb3-{kind}.safetensors"
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: the run did not finish (try --resume)")
    meta = load_metadata(path)
    obs_space, arch = _obs_space(json.loads(meta["obs_shape"])), json.loads(meta["arch"])
    if "action_space" in meta:
        act_space = _action_space(json.loads(meta["action_space"]))
    else:  # files written before continuous actions: Discrete only
        act_space = gym.spaces.Discrete(int(meta["n_actions"]))
    cls = {"dqn": DQNPolicy, "ppo": ActorCriticPolicy, "sac": SACPolicy, "sac-her": MultiInputPolicy}[kind]
    policy = cls(
        obs_space,
        act_space,
        lambda _: 0.0,
        net_arch=arch["net_arch"],
        activation_fn=activation(arch["activation"]),
    )
    policy.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in load_arrays(path).items()})
    hp = SB3DQNConfig(net_arch=tuple(arch["net_arch"]), activation=arch["activation"])
    return SB3Policy(policy.to(device), kind, obs_space, act_space, hp)


SB3_DQN = Algorithm(
    name="sb3-dqn",
    hyperparams=SB3DQNConfig,
    train=lambda spec: _train("dqn", spec),
    load=lambda run_dir, device="cpu": _load("dqn", run_dir, device),
    description="stable-baselines3's DQN on our envs (batched through an SB3 VecEnv adapter)",
    default_steps=SB3DQNConfig.total_steps,
    extra_metrics=("loss", "learning_rate", "n_updates"),
)
SB3_PPO = Algorithm(
    name="sb3-ppo",
    hyperparams=SB3PPOConfig,
    train=lambda spec: _train("ppo", spec),
    load=lambda run_dir, device="cpu": _load("ppo", run_dir, device),
    description="stable-baselines3's PPO on our envs (batched through an SB3 VecEnv adapter)",
    default_steps=SB3PPOConfig.total_steps,
    extra_metrics=(
        "loss", "learning_rate", "n_updates", "policy_gradient_loss", "value_loss", "entropy_loss",
        "approx_kl", "clip_fraction", "explained_variance",
    ),
)  # fmt: skip
SB3_SAC = Algorithm(
    name="sb3-sac",
    hyperparams=SB3SACConfig,
    train=lambda spec: _train("sac", spec),
    load=lambda run_dir, device="cpu": _load("sac", run_dir, device),
    description="stable-baselines3's SAC on our envs with Box actions (batched through an SB3 VecEnv adapter)",
    default_steps=SB3SACConfig.total_steps,
    extra_metrics=("actor_loss", "critic_loss", "ent_coef", "ent_coef_loss", "learning_rate", "n_updates"),
)
SB3_SAC_HER = Algorithm(
    name="sb3-sac-her",
    hyperparams=SB3SACHERConfig,
    train=lambda spec: _train("sac-her", spec),
    load=lambda run_dir, device="cpu": _load("sac-her", run_dir, device),
    description="stable-baselines3's SAC with hindsight experience replay on goal-conditioned envs",
    default_steps=SB3SACHERConfig.total_steps,
    extra_metrics=("actor_loss", "critic_loss", "ent_coef", "ent_coef_loss", "learning_rate", "n_updates"),
)
