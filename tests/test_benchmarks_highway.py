"""Throughput of the highway simulator (``pytest -m benchmark``; pytest-benchmark, steps/s in extra_info).

Peer comparisons with ratios (highway-env in the same run) are made by ``scripts/benchmark.py highway``.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import envs  # noqa: F401

pytestmark = pytest.mark.benchmark


@pytest.mark.parametrize("env_id", ["autodrive/HighwayFast-v0", "autodrive/Highway-v0"])
def test_highway_single_env_step(benchmark, env_id):
    env = gym.make(env_id)
    env.reset(seed=0)
    actions = np.random.default_rng(0).integers(5, size=50).tolist()

    def fifty_steps():
        for a in actions:
            _, _, term, trunc, _ = env.step(a)
            if term or trunc:
                env.reset()

    benchmark.pedantic(fifty_steps, rounds=3, iterations=1, warmup_rounds=1)
    benchmark.extra_info["steps_per_s"] = 50 / benchmark.stats.stats.mean


@pytest.mark.parametrize("env_id", ["autodrive/HighwayFast-v0", "autodrive/Highway-v0"])
def test_highway_batched_step(benchmark, env_id):
    num_envs = 1024
    venv = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="vector_entry_point")
    venv.reset(seed=0)
    actions = np.random.default_rng(0).integers(5, size=num_envs)
    benchmark.pedantic(venv.step, args=(actions,), rounds=5, iterations=1, warmup_rounds=1)
    benchmark.extra_info["num_envs"] = num_envs
    benchmark.extra_info["env_steps_per_s"] = num_envs / benchmark.stats.stats.mean
