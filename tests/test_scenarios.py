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


def test_experiment_scenarios_run_their_function_and_check_criteria(monkeypatch, tmp_path):
    from agents import experiments
    from agents.scenarios import Experiment

    calls = []

    def fake(work_dir, seed):
        calls.append((work_dir.name, seed))
        return {"score": 1.0 + seed, "details": {"seed": seed}}

    monkeypatch.setattr(experiments, "fake", fake, raising=False)
    exp = Experiment(
        name="fake-exp", function="fake", algo="x", env_id="y", seeds=(0, 1), criteria={"score": (">=", 1.5)}
    )
    result = run_scenario(exp, tmp_path / "runs", tmp_path / "results")
    assert calls == [("fake-exp-s0", 0), ("fake-exp-s1", 1)]
    assert result["criteria"]["score"] == {"op": ">=", "threshold": 1.5, "value": 1.5, "passed": True}
    assert result["passed"] and result["details"] == [{"seed": 0}, {"seed": 1}]
    assert result["returns"] == [] and result["kind"] == "experiment"
    failing = Experiment(name="f2", function="fake", algo="x", env_id="y", criteria={"score": (">", 1.0)})
    assert not run_scenario(failing, tmp_path / "runs2")["passed"]


def test_every_registered_scenario_names_a_runnable_target():
    import perception  # noqa: F401  registers the perceived env ids
    from agents import experiments
    from agents.common.envs import check_env_id
    from agents.registry import algo_names
    from agents.scenarios import Experiment

    for scenario in SCENARIOS.values():
        check_env_id(scenario.env_id)
        if isinstance(scenario, Experiment):
            assert callable(getattr(experiments, scenario.function)), scenario.name
        else:
            assert scenario.algo in algo_names(), scenario.name
            assert scenario.peer_of is None or scenario.peer_of in SCENARIOS, scenario.name


def test_peer_evaluation_adds_peer_metrics(tmp_path):
    from agents.scenarios import Scenario

    scenario = Scenario(
        name="tiny-peer",
        algo="dqn",
        env_id="CartPole-v1",
        steps=300,
        hp={"learning_starts": 100, "log_interval": 100, "checkpoint_interval": 0},
        eval_episodes=2,
        peer_env_id="CartPole-v1",
        peer_episodes=3,
        criteria={"peer_mean_return": (">", 0.0)},
    )
    result = run_scenario(scenario, tmp_path / "runs")
    run = result["runs"][0]
    assert run["peer_env_id"] == "CartPole-v1" and run["peer_episodes"] == 3
    assert result["criteria"]["peer_mean_return"]["value"] == run["peer_mean_return"] > 0
