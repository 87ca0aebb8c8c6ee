"""Tabular control: value iteration on a known model (the exact optimum) and batched Q-learning.

Value iteration reads any FrozenLake-format model ``P[s][a] = [(prob, next_state, reward, terminated)]``;
:func:`finite_horizon_values` gives the exact best expected return within an episode's step limit (the
yardstick a trained policy is compared with). Q-learning learns from any vector env with ``Discrete``
observations and actions (ours natively batched, or Gymnasium's SyncVectorEnv over e.g. FrozenLake);
with many envs per step it applies the mean TD error of all transitions that share a (state, action)
pair, so the step size means the same whatever the batch size.

Defaults scale with the env: the training length is ``steps_per_pair`` transitions per (state, action)
pair, and the Q table starts optimistic (at the largest one-step reward of the env's model, when it has
one), so that sparse-reward envs are explored systematically rather than by chance.
"""

from __future__ import annotations

import dataclasses
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


def finite_horizon_values(P, horizon: int, policy: np.ndarray | None = None) -> np.ndarray:
    """Expected (undiscounted) return within ``horizon`` steps from every state, by backward induction.

    Without ``policy``: the optimum over all policies, which may depend on the steps left (the best any
    agent can do under the env's step limit). With ``policy[s] -> a``: that stationary policy's value.
    """
    if horizon < 1:
        raise ValueError(f"horizon must be >= 1, got {horizon}")
    n_states, n_actions, s, a, p, nxt, r, done = model_arrays(P)
    v = np.zeros(n_states)
    for _ in range(int(horizon)):
        q = np.zeros((n_states, n_actions))
        np.add.at(q, (s, a), p * (r + np.where(done, 0.0, v[nxt])))
        v = q.max(axis=1) if policy is None else q[np.arange(n_states), policy]
    return v


def start_distribution(env: gym.Env) -> np.ndarray:
    """The env's initial state distribution (FrozenLake's ``initial_state_distrib`` convention)."""
    dist = getattr(env.unwrapped, "initial_state_distrib", None)
    if dist is None:
        raise ValueError(f"{env.unwrapped.__class__.__name__} has no initial_state_distrib")
    return np.asarray(dist, dtype=np.float64)


def step_limit(env: gym.Env) -> int | None:
    """Steps before truncation: the registered ``max_episode_steps``, or the env config's ``max_steps``."""
    limit = env.spec.max_episode_steps if env.spec is not None else None
    return limit or getattr(getattr(env.unwrapped, "config", None), "max_steps", None)


def within_limit_reference(env: gym.Env, policy: TabularPolicy | None = None) -> dict:
    """Exact returns within the step limit from the start distribution: the optimum, and ``policy``'s.

    Empty when the env has no model ``P``, no start distribution or no step limit.
    """
    P, limit = getattr(env.unwrapped, "P", None), step_limit(env)
    if P is None or not limit or getattr(env.unwrapped, "initial_state_distrib", None) is None:
        return {}
    start = start_distribution(env)
    out = {
        "step_limit": int(limit),
        "optimal_return_within_limit": float(start @ finite_horizon_values(P, limit)),
    }
    if policy is not None and policy.q.shape[0] == len(start):
        greedy = policy.q.argmax(axis=1)
        out["return_within_limit"] = float(start @ finite_horizon_values(P, limit, greedy))
    return out


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
    q_init: float | None = None  # initial Q values; None: optimistic, the env model's largest reward (else 0)
    num_envs: int = 256
    total_steps: int = 0  # environment transitions, summed over envs; 0: steps_per_pair per (s, a) pair
    steps_per_pair: int = 2_000  # training length per (state, action) pair when total_steps is 0
    log_interval: int = 50_000  # [transitions]

    def __post_init__(self) -> None:
        for name in ("gamma", "lr_start", "lr_end", "eps_start", "eps_end", "lr_fraction", "eps_fraction"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {value}")
        if self.num_envs < 1 or self.log_interval < 1 or self.steps_per_pair < 1:
            raise ValueError("num_envs, steps_per_pair and log_interval must be >= 1")
        if self.total_steps < 0:
            raise ValueError(f"total_steps must be >= 0 (0: scaled with the env), got {self.total_steps}")


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
    q = np.full((n_s, n_a), 0.0 if hp.q_init is None else hp.q_init, dtype=np.float64)
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


def _resolve_q_learning(env_id: str, env_kwargs: dict, hp: QLearningConfig) -> QLearningConfig:
    """Fill the env-dependent defaults: the training length from the table size, the optimistic start
    at the largest one-step reward of the env's model ``P`` (0 without a model)."""
    if hp.q_init is not None and hp.total_steps:
        return hp
    env = gym.make(env_id, **env_kwargs)
    try:
        obs_space, act_space, P = env.observation_space, env.action_space, getattr(env.unwrapped, "P", None)
    finally:
        env.close()
    if not isinstance(obs_space, gym.spaces.Discrete) or not isinstance(act_space, gym.spaces.Discrete):
        raise ValueError(
            "Q-learning needs Discrete observations and actions, got "
            f"{obs_space} and {act_space} (for the gridworld use observation='index')"
        )
    changes: dict = {}
    if hp.q_init is None:
        changes["q_init"] = 0.0 if P is None else float(model_arrays(P)[6].max())
    if hp.total_steps == 0:
        changes["total_steps"] = hp.steps_per_pair * int(obs_space.n) * int(act_space.n)
    return dataclasses.replace(hp, **changes)


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
    resolve=_resolve_q_learning,
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
