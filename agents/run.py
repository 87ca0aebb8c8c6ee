"""A training run, start to finish: resolve config → train → save → evaluate → plot.

Run directory (the contract every script and ``load_policy`` relies on)::

    RUN_DIR/
      config.yaml            fully resolved: algo, env id + kwargs, steps, seed, hyperparameters, versions
      <params>.safetensors   learned parameters (the algorithm picks the name; never pickle)
      checkpoints/last.safetensors   periodic checkpoint for --resume (deep agents)
      metrics.csv            one row per log interval (step, return_mean, crash_rate, algorithm scalars)
      tb/                    TensorBoard events
      eval.json              mean_return, std_return, episodes[, crash_rate] of the final greedy evaluation;
                             for envs with a model P, the value-iteration yardstick and the exact
                             optimum within the step limit (with a tabular policy's own exact value)
      learning_curve.png
"""

from __future__ import annotations

import dataclasses
import platform
import random
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from agents.base import TrainSpec
from agents.common.checkpoint import checkpoint_step
from agents.common.envs import check_env_kwargs
from agents.common.evaluation import SELECTION_FILE, evaluate_policy
from agents.common.hparams import resolve_hyperparams
from agents.common.io import read_json, read_yaml, write_json, write_yaml
from agents.common.logger import RunLogger
from agents.common.plots import plot_learning_curve
from agents.registry import get_algorithm


def resolve_device(device: str) -> str:
    """``auto`` → ``cuda`` when a GPU is visible, else ``cpu``; ``cuda`` without a GPU is an error."""
    if device not in ("auto", "cpu") and not device.startswith("cuda"):
        raise ValueError(f"unknown device {device!r}; expected auto, cpu or cuda[:N]")
    if device == "cpu":
        return device
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available; use --device cpu or auto")
    return device


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 - third-party code (SB3, highway-env) draws from the global RNG
    try:
        import torch
    except ImportError:
        return
    torch.manual_seed(seed)


def package_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for pkg in ("numpy", "gymnasium", "torch", "stable-baselines3", "highway-env"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    return out


def default_run_dir(algo: str, env_id: str, seed: int) -> Path:
    env = env_id.split("/")[-1]
    return Path("runs") / f"{algo}-{env}-s{seed}-{time.strftime('%Y%m%d-%H%M%S')}"


def optimal_reference(
    env_id: str, env_kwargs: dict, episodes: int, seed: int, gamma: float = 0.99, trained=None
) -> dict | None:
    """For any env with an exact transition model ``P`` (ours, FrozenLake, CliffWalking, Taxi, ...), the
    yardsticks: the value-iteration policy's greedy evaluation, and, computed exactly, the best expected
    return any policy reaches within the step limit (and the ``trained`` tabular policy's own).

    The optimum is a property of the dynamics, not of the view: it is evaluated on the state-id
    observation (``observation="index"``) of the same env, so agents that see pixels or planes compare
    against the same number.
    """
    import gymnasium as gym

    from agents.tabular import TabularPolicy, value_iteration, within_limit_reference

    env = gym.make(env_id, **env_kwargs)
    try:
        if not hasattr(env.unwrapped, "P"):
            return None
        _, q = value_iteration(env.unwrapped.P, gamma=gamma)
        policy = TabularPolicy(q)
        exact = within_limit_reference(env, trained if isinstance(trained, TabularPolicy) else None)
    finally:
        env.close()
    if "observation" in env_kwargs:
        env_kwargs = {**env_kwargs, "observation": "index"}
    result = evaluate_policy(policy, env_id, episodes=episodes, seed=seed, env_kwargs=env_kwargs)
    return {"optimal_mean_return": result["mean_return"], "optimal_std_return": result["std_return"], **exact}


def train_run(
    algo: str,
    env_id: str,
    *,
    env_kwargs: dict | None = None,
    steps: int | None = None,
    seed: int = 0,
    num_envs: int | None = None,
    device: str = "auto",
    out: str | Path | None = None,
    hp_overrides: dict | None = None,
    eval_episodes: int = 100,
    progress: bool = True,
    tensorboard: bool = True,
    hyperparams_table: dict | None = None,
    on_log: Callable[[dict], None] | None = None,
) -> Path:
    """Train ``algo`` on ``env_id`` and write a complete run directory; returns its path.

    ``hyperparams_table`` replaces the shipped ``agents/hyperparams/<algo>.yaml`` (the same shape: a
    ``default`` block and env-id blocks; a sweep's ``best.yaml`` is one). ``on_log`` is called with every
    metrics row as it is written.
    """
    algorithm = get_algorithm(algo)
    env_kwargs = dict(env_kwargs or {})
    check_env_kwargs(env_id, env_kwargs)  # a bad key is one error line, before the run dir exists
    hp = resolve_hyperparams(algo, algorithm.hyperparams, env_id, hp_overrides, table=hyperparams_table)
    if algorithm.resolve is not None:  # env-dependent defaults, recorded in config.yaml as resolved
        hp = algorithm.resolve(env_id, env_kwargs, hp)
    given = (hp_overrides or {}).get("total_steps")
    if steps is not None and given is not None and int(given) != int(steps):
        raise ValueError(
            f"--steps {steps} and --hp total_steps={given} disagree: they are one setting, give one"
        )
    total_steps = int(
        steps if steps is not None else getattr(hp, "total_steps", None) or algorithm.default_steps
    )
    if total_steps < 1:
        raise ValueError(f"--steps must be >= 1, got {total_steps}")
    if hasattr(hp, "total_steps"):  # one setting: the recorded hyperparameters say what the run did
        hp = dataclasses.replace(hp, total_steps=total_steps)
    num_envs = int(num_envs if num_envs is not None else getattr(hp, "num_envs", 1))
    if num_envs < 1:
        raise ValueError(f"--num-envs must be >= 1, got {num_envs}")
    if eval_episodes < 1:
        raise ValueError(f"eval episodes must be >= 1, got {eval_episodes}")
    run_dir = Path(out) if out is not None else default_run_dir(algo, env_id, seed)
    if (run_dir / "config.yaml").exists():
        raise FileExistsError(f"{run_dir} already holds a run; pick another --out or use --resume {run_dir}")
    config = {
        "algo": algo,
        "env_id": env_id,
        "env_kwargs": env_kwargs,
        "steps": total_steps,
        "seed": int(seed),
        "num_envs": num_envs,
        "device": resolve_device(device),
        "eval_episodes": int(eval_episodes),
        "hyperparams": dataclasses.asdict(hp),
        "versions": package_versions(),
    }
    run_dir.mkdir(parents=True, exist_ok=True)
    write_yaml(run_dir / "config.yaml", config)
    return _execute(run_dir, config, False, progress, tensorboard, on_log)


def resume_run(
    run_dir: str | Path,
    progress: bool = True,
    tensorboard: bool = True,
    on_log: Callable[[dict], None] | None = None,
) -> Path:
    """Continue a run from its last checkpoint (the same config, the same run directory)."""
    config = read_run_config(run_dir)
    return _execute(Path(run_dir), config, True, progress, tensorboard, on_log)


def _execute(
    run_dir: Path, config: dict, resume: bool, progress: bool, tensorboard: bool, on_log=None
) -> Path:
    from agents.common.hparams import build_dataclass

    algorithm = get_algorithm(config["algo"])
    hp = build_dataclass(algorithm.hyperparams, config["hyperparams"])
    start = checkpoint_step(run_dir) if resume else 0
    seed_everything(config["seed"])
    logger = RunLogger(
        run_dir,
        config["steps"],
        extra_fields=algorithm.extra_metrics,
        tensorboard=tensorboard,
        progress=progress,
        start_step=start,
        on_row=on_log,
    )
    spec = TrainSpec(
        env_id=config["env_id"],
        env_kwargs=dict(config["env_kwargs"]),
        hp=hp,
        total_steps=config["steps"],
        seed=config["seed"],
        num_envs=config["num_envs"],
        device=config["device"],
        run_dir=run_dir,
        logger=logger,
        resume=resume and start > 0,
    )
    t0 = time.perf_counter()
    try:
        policy = algorithm.train(spec)
    finally:
        logger.close()
    train_seconds = time.perf_counter() - t0
    policy.save(run_dir)
    finish_run(run_dir, policy, config, train_seconds)
    return run_dir


def finish_run(run_dir: Path, policy, config: dict, train_seconds: float | None = None) -> dict:
    """Greedy evaluation → eval.json, and the learning curve PNG."""
    result = evaluate_policy(
        policy, config["env_id"], episodes=config["eval_episodes"], env_kwargs=config["env_kwargs"]
    )
    reference = optimal_reference(
        config["env_id"], config["env_kwargs"], config["eval_episodes"], result["seed"], trained=policy
    )
    if reference:
        result.update(reference)
    selection = Path(run_dir) / SELECTION_FILE  # keep_best: the step whose weights were kept
    if selection.exists():
        result.update(read_json(selection))
    if train_seconds is not None:
        result["train_seconds"] = round(train_seconds, 2)
    result["algo"] = config["algo"]
    write_json(run_dir / "eval.json", result)
    ref_lines = {"value-iteration optimum (eval)": reference["optimal_mean_return"]} if reference else None
    plot_learning_curve(
        run_dir / "metrics.csv",
        run_dir / "learning_curve.png",
        f"{config['algo']} on {config['env_id']}",
        reference=ref_lines,
    )
    return result


def read_run_config(run_dir: str | Path) -> dict:
    """The resolved config of a run directory, or a clear error when ``run_dir`` is not one."""
    path = Path(run_dir) / "config.yaml"
    if not path.exists():
        raise FileNotFoundError(f"{run_dir} has no config.yaml: not a run directory")
    return read_yaml(path)


def load_policy(run_dir: str | Path, device: str = "cpu"):
    """The trained policy of ``run_dir`` with ``predict(obs, deterministic=True) -> (action, None)``."""
    config = read_run_config(run_dir)
    return get_algorithm(config["algo"]).load(Path(run_dir), resolve_device(device))
