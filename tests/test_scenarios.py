"""Benchmark scenarios (``pytest -m scenario``): train, evaluate, assert each success criterion.

Results go to ``$AUTODRIVE_RESULTS`` (default: a temp dir) as JSON for ``scripts/report.py``.
"""

from __future__ import annotations

import os
from pathlib import Path

import gymnasium as gym
import pytest

from agents.scenarios import SCENARIOS, run_scenario


def _params():
    for name, scenario in SCENARIOS.items():
        marks = [pytest.mark.scenario] + ([pytest.mark.slow] if scenario.slow else [])
        yield pytest.param(scenario, id=name, marks=marks)


@pytest.mark.parametrize("scenario", list(_params()))
def test_scenario(scenario, tmp_path):
    results_dir = os.environ.get("AUTODRIVE_RESULTS") or tmp_path / "results"
    result = run_scenario(scenario, tmp_path / "runs", results_dir)
    failed = {m: c for m, c in result["criteria"].items() if not c["passed"]}
    assert not failed, f"{scenario.name} missed its criteria: {failed}"
    assert Path(results_dir, f"{scenario.name}.json").exists()


@pytest.mark.scenario
def test_qlearning_policy_is_near_optimal_exactly(tmp_path):
    """The same four-rooms criterion by exact policy evaluation on P, not by sampling."""
    import envs  # noqa: F401
    from agents import load_policy
    from agents.tabular import policy_evaluation, value_iteration

    scenario = SCENARIOS["gridworld-qlearning-four-rooms"]
    from dataclasses import replace

    result = run_scenario(replace(scenario, seeds=(0,), eval_episodes=1000), tmp_path / "runs")
    model = gym.make(scenario.env_id, **scenario.env_kwargs).unwrapped
    v_star, _ = value_iteration(model.P, gamma=0.99)
    policy = load_policy(tmp_path / "runs" / f"{scenario.name}-s0")
    v_pi = policy_evaluation(model.P, policy.q.argmax(axis=1), gamma=0.99)
    start = model.tables.start
    assert v_pi[start] >= 0.99 * v_star[start], (v_pi[start], v_star[start])
    assert result["passed"]
