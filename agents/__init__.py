"""Agents that learn: tabular Q-learning and value iteration, DQN, PPO, stable-baselines3 adapters.

>>> from agents import load_policy
>>> policy = load_policy("runs/my-run")           # doctest: +SKIP
>>> action, _ = policy.predict(obs, deterministic=True)  # doctest: +SKIP
"""

from agents.registry import algo_names, get_algorithm
from agents.run import load_policy, resume_run, train_run

__all__ = ["algo_names", "get_algorithm", "load_policy", "resume_run", "train_run"]
