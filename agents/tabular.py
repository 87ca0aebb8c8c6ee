"""Tabular control: value iteration on a known model (the exact optimum) and batched Q-learning.

Value iteration reads any FrozenLake-format model ``P[s][a] = [(prob, next_state, reward, terminated)]``.
Q-learning learns from any vector env with ``Discrete`` observations and actions (ours natively
batched, or Gymnasium's SyncVectorEnv over e.g. FrozenLake); with many envs per step it applies the
mean TD error of all transitions that share a (state, action) pair, so the step size means the same
whatever the batch size.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import gymnasium as gym
import numpy as np

from agents.base import Algorithm, TrainSpec
from agents.common.envs import check_env_id, make_vec_env
from agents.common.io import load_arrays, save_arrays
from agents.common.logger import EpisodeTracker

Q_FILE = "q_table.safetensors"


# ----------------------------------------------------------------------------- policy


class TabularPolicy:
    """Greedy (or ε-greedy) policy of a Q table; ``predict`` takes a state id or an array of ids."""

    def __init__(self, q: np.ndarray) -> None:
        self.q = np.asarray(q, dtype=np.float64)

    def predict(self, observation, state=None, episode_start=None, deterministic: bool = True):
        obs = np.asarray(observation)
        if not np.issubdtype(obs.dtype, np.integer):
            raise ValueError(
                f"tabular policy expects integer state ids, got {obs.dtype} of shape {obs.shape}"
            )
        if obs.size and (obs.min() < 0 or obs.max() >= len(self.q)):
            raise ValueError(f"state ids must be in 0..{len(self.q) - 1}, got {obs.min()}..{obs.max()}")
        return np.argmax(self.q[obs], axis=-1), None

    def save(self, run_dir: Path) -> None:
        save_arrays(Path(run_dir) / Q_FILE, {"q": self.q})


def load(run_dir: Path, device: str = "cpu") -> TabularPolicy:
    return TabularPolicy(load_arrays(Path(run_dir) / Q_FILE)["q"])


# ----------------------------------------------------------------------------- value iteration


def model_arrays(
    P,
) -> tuple[int, int, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Flatten a FrozenLake-format model into outcome arrays (s, a, prob, next, reward, terminated)."""
    rows = [(s, a, p, n, r, d) for s in P for a in P[s] for (p, n, r, d) in P[s][a]]
    s, a, p, n, r, d = (np.array(col) for col in zip(*rows, strict=True))
    n_states = len(P)
    n_actions = len(P[0])
    return (
        n_states,
        n_actions,
        s.astype(int),
        a.astype(int),
        p.astype(float),
        n.astype(int),
        r.astype(float),
        d.astype(bool),
    )


def value_iteration(
    P, gamma: float = 0.99, tol: float = 1e-10, max_iter: int = 100_000
) -> tuple[np.ndarray, np.ndarray]:
    """Optimal ``(V, Q)`` of a FrozenLake-format model by synchronous Bellman optimality backups.

    ``Q(s,a) = Σ p · (r + γ · (1 - terminated) · V(s'))``; stops when the largest change is below ``tol``.
    """
    if not 0.0 <= gamma <= 1.0:
        raise ValueError(f"gamma must be in [0, 1], got {gamma}")
    n_states, n_actions, s, a, p, nxt, r, done = model_arrays(P)
    v = np.zeros(n_states)
    for _ in range(max_iter):
        q = np.zeros((n_states, n_actions))
        np.add.at(q, (s, a), p * (r + gamma * np.where(done, 0.0, v[nxt])))
        v_new = q.max(axis=1)
        delta = np.max(np.abs(v_new - v))
        v = v_new
        if delta < tol:
            break
    else:
        raise RuntimeError(f"value iteration did not converge in {max_iter} sweeps (gamma={gamma})")
    return v, q


def policy_evaluation(
    P, policy: np.ndarray, gamma: float = 0.99, tol: float = 1e-10, max_iter: int = 100_000
) -> np.ndarray:
    """Exact value of a deterministic policy ``policy[s] -> a`` on a FrozenLake-format model."""
    n_states, _, s, a, p, nxt, r, done = model_arrays(P)
    chosen = policy[s] == a
    v = np.zeros(n_states)
    for _ in range(max_iter):
        v_new = np.zeros(n_states)
        np.add.at(v_new, s[chosen], (p * (r + gamma * np.where(done, 0.0, v[nxt])))[chosen])
        if np.max(np.abs(v_new - v)) < tol:
            return v_new
        v = v_new
    return v


@dataclass(frozen=True)
class ValueIterationConfig:
    gamma: float = 0.99
    tol: float = 1e-10

    def __post_init__(self) -> None:
        if not 0.0 <= self.gamma <= 1.0:
            raise ValueError(f"gamma must be in [0, 1], got {self.gamma}")


def _train_value_iteration(spec: TrainSpec) -> TabularPolicy:
    env = gym.make(spec.env_id, **spec.env_kwargs)
    try:
        if not hasattr(env.unwrapped, "P"):
            raise ValueError(
                f"value-iteration needs a transition model env.unwrapped.P; {spec.env_id} has none"
            )
        v, q = value_iteration(env.unwrapped.P, gamma=spec.hp.gamma, tol=spec.hp.tol)
        start, _ = env.reset(seed=spec.seed)
    finally:
        env.close()
    spec.logger.log(0, optimal_value=float(v[start]))
    return TabularPolicy(q)


# ----------------------------------------------------------------------------- Q-learning


@dataclass(frozen=True)
class QLearningConfig:
    gamma: float = 0.99
    lr_start: float = 0.5  # step size at the start, decayed linearly to lr_end over lr_fraction of training
    lr_end: float = 0.05
    lr_fraction: float = 1.0
    eps_start: float = 1.0  # ε-greedy exploration, decayed linearly to eps_end over eps_fraction
    eps_end: float = 0.05
    eps_fraction: float = 0.5
    q_init: float = 0.0
    num_envs: int = 256
    total_steps: int = 1_000_000  # environment transitions, summed over envs
    log_interval: int = 50_000  # [transitions]

    def __post_init__(self) -> None:
        for name in ("gamma", "lr_start", "lr_end", "eps_start", "eps_end", "lr_fraction", "eps_fraction"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {value}")
        if self.num_envs < 1 or self.total_steps < 1 or self.log_interval < 1:
            raise ValueError("num_envs, total_steps and log_interval must be >= 1")


def linear_schedule(start: float, end: float, fraction: float, progress: float) -> float:
    """Linear from ``start`` to ``end`` over the first ``fraction`` of training, then constant."""
    if fraction <= 0:
        return end
    return start + (end - start) * min(progress / fraction, 1.0)


def q_learning(
    venv: gym.vector.VectorEnv,
    hp: QLearningConfig,
    total_steps: int,
    seed: int,
    logger=None,
) -> np.ndarray:
    """Learn a Q table from a vector env with Discrete observations/actions (NEXT_STEP autoreset)."""
    obs_space, act_space = venv.single_observation_space, venv.single_action_space
    if not isinstance(obs_space, gym.spaces.Discrete) or not isinstance(act_space, gym.spaces.Discrete):
        raise ValueError(
            "Q-learning needs Discrete observations and actions, got "
            f"{obs_space} and {act_space} (for the gridworld use observation='index')"
        )
    n_s, n_a, n = int(obs_space.n), int(act_space.n), venv.num_envs
    rng = np.random.default_rng(seed)
    q = np.full((n_s, n_a), hp.q_init, dtype=np.float64)
    obs, _ = venv.reset(seed=seed)
    obs = np.asarray(obs, dtype=np.int64)
    tracker = EpisodeTracker(n)
    steps, next_log = 0, hp.log_interval
    while steps < total_steps:
        progress = steps / total_steps
        eps = linear_schedule(hp.eps_start, hp.eps_end, hp.eps_fraction, progress)
        lr = linear_schedule(hp.lr_start, hp.lr_end, hp.lr_fraction, progress)
        greedy = np.argmax(q[obs] + 1e-9 * rng.random((n, n_a)), axis=1)  # random tie-breaking
        explore = rng.random(n) < eps
        actions = np.where(explore, rng.integers(n_a, size=n), greedy)
        next_obs, rewards, terminated, truncated, _ = venv.step(actions)
        next_obs = np.asarray(next_obs, dtype=np.int64)
        valid = ~tracker.prev_done  # NEXT_STEP: the step after a done is a reset, not a transition
        done = np.asarray(terminated) | np.asarray(truncated)
        target = rewards + hp.gamma * np.where(
            terminated, 0.0, q[next_obs].max(axis=1)
        )  # bootstraps on truncation
        flat = (obs * n_a + actions)[valid]
        td = (target - q[obs, actions])[valid]
        sums = np.bincount(flat, weights=td, minlength=n_s * n_a)
        counts = np.bincount(flat, minlength=n_s * n_a)
        touched = counts > 0
        q.reshape(-1)[touched] += lr * sums[touched] / counts[touched]
        finished_r, finished_l, _ = tracker.update(rewards, done)
        if logger is not None and len(finished_r):
            logger.add_episodes(finished_r, finished_l)
        obs = next_obs
        steps += int(valid.sum())
        if logger is not None and steps >= next_log:
            logger.log(steps, epsilon=eps, learning_rate=lr)
            next_log += hp.log_interval
    return q


def _train_q_learning(spec: TrainSpec) -> TabularPolicy:
    check_env_id(spec.env_id)
    venv = make_vec_env(spec.env_id, spec.num_envs, seed=spec.seed, env_kwargs=spec.env_kwargs)
    try:
        q = q_learning(venv, spec.hp, spec.total_steps, spec.seed, spec.logger)
    finally:
        venv.close()
    return TabularPolicy(q)


QLEARNING = Algorithm(
    name="qlearning",
    hyperparams=QLearningConfig,
    train=_train_q_learning,
    load=load,
    description="tabular Q-learning with ε and step-size schedules over a batched vector env",
    default_steps=1_000_000,
    extra_metrics=("epsilon", "learning_rate"),
)

VALUE_ITERATION = Algorithm(
    name="value-iteration",
    hyperparams=ValueIterationConfig,
    train=_train_value_iteration,
    load=load,
    description="exact optimal policy by value iteration on env.unwrapped.P",
    default_steps=1,
    extra_metrics=("optimal_value",),
)
