"""Agent training throughput on the batched highway (``pytest -m benchmark``; env steps/s in extra_info).

Each case is one short training run (collection + updates at the shipped hyperparameters), so the
figure includes everything a user's run pays for. ``scripts/benchmark.py agents`` compares with SB3.
"""

from __future__ import annotations

import pytest

from agents import train_run
from agents.common.io import read_json

pytestmark = pytest.mark.benchmark

NO_EVALS = {"eval_interval": 0, "keep_best": False}  # the greedy evaluations are not training throughput
CASES = {  # algo -> (env steps, hyperparameter overrides that keep the case short)
    "dqn": (6_000, {"learning_starts": 1_000, "checkpoint_interval": 0, "log_interval": 2_000, **NO_EVALS}),
    "ppo": (16_384, {"checkpoint_interval": 0, "log_interval": 4_096, **NO_EVALS}),
}


@pytest.mark.parametrize("algo", sorted(CASES))
def test_training_throughput_highway_fast(benchmark, algo, tmp_path):
    steps, hp = CASES[algo]
    runs = iter(range(100))

    def train():
        out = tmp_path / f"{algo}-{next(runs)}"
        train_run(
            algo, "autodrive/HighwayFast-v0", steps=steps, device="cpu", out=out, hp_overrides=hp,
            eval_episodes=1, progress=False, tensorboard=False,
        )  # fmt: skip
        return read_json(out / "eval.json")["train_seconds"]

    seconds = benchmark.pedantic(train, rounds=1, iterations=1)
    benchmark.extra_info["env_steps"] = steps
    benchmark.extra_info["training_env_steps_per_s"] = steps / seconds
