"""Throughput of the gridworld and tabular Q-learning (``pytest -m benchmark``; pytest-benchmark).

Run with ``pytest -m benchmark --benchmark-json=bench.json``; steps/s are in each entry's extra_info.
Peer comparisons with ratios are made by ``scripts/benchmark.py gridworld``.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import envs  # noqa: F401
from agents.tabular import QLearningConfig, q_learning

pytestmark = pytest.mark.benchmark


def test_gridworld_single_env_step(benchmark):
    env = gym.make("autodrive/GridWorld-v0", map_name="empty")
    env.reset(seed=0)
    actions = np.random.default_rng(0).integers(4, size=1000).tolist()

    def thousand_steps():
        for a in actions:
            _, _, term, trunc, _ = env.step(a)
            if term or trunc:
                env.reset()

    benchmark(thousand_steps)
    benchmark.extra_info["steps_per_s"] = 1000 / benchmark.stats.stats.mean


@pytest.mark.parametrize("num_envs", [1024, 16384])
def test_gridworld_batched_step(benchmark, num_envs):
    venv = gym.make_vec("autodrive/GridWorld-v0", num_envs=num_envs, vectorization_mode="vector_entry_point")
    venv.reset(seed=0)
    actions = np.random.default_rng(0).integers(4, size=num_envs)
    benchmark(venv.step, actions)
    benchmark.extra_info["steps_per_s"] = num_envs / benchmark.stats.stats.mean


def test_qlearning_transitions(benchmark):
    venv = gym.make_vec("autodrive/GridWorld-v0", num_envs=4096, vectorization_mode="vector_entry_point")
    steps = 4096 * 50
    benchmark.pedantic(
        q_learning, args=(venv, QLearningConfig(log_interval=10**12), steps, 0), rounds=3, iterations=1
    )
    benchmark.extra_info["transitions_per_s"] = steps / benchmark.stats.stats.mean
