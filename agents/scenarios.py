"""Benchmark scenarios: named, reproducible experiments with success criteria.

A scenario fixes env id + config, algorithm + hyperparameters, step budget, seeds, and criteria on the
final greedy evaluation. ``run_scenario`` trains one run per seed through ``agents.run.train_run``
(the same path as ``scripts/train.py``), checks the criteria, and writes a result JSON that
``scripts/report.py`` aggregates. ``pytest -m scenario`` runs every entry of ``SCENARIOS``.
"""

from __future__ import annotations

import operator
import os
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from agents.common.io import read_json, write_json
from agents.run import package_versions, train_run

OPS = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt}


@dataclass(frozen=True)
class Scenario:
    name: str
    algo: str
    env_id: str
    steps: int
    seeds: tuple[int, ...] = (0,)
    env_kwargs: dict = field(default_factory=dict)
    hp: dict = field(default_factory=dict)
    num_envs: int | None = None
    eval_episodes: int = 100
    # metric -> (op, threshold), checked on the mean over seeds of each run's eval.json metric;
    # "optimality_ratio" is mean_return / optimal_mean_return (envs with an exact model)
    criteria: dict = field(default_factory=dict)
    slow: bool = False
    description: str = ""

    def __post_init__(self) -> None:
        for metric, (op, _) in self.criteria.items():
            if op not in OPS:
                raise ValueError(f"scenario {self.name}: criterion {metric} has unknown operator {op!r}")


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in [
        Scenario(
            name="gridworld-qlearning-four-rooms",
            algo="qlearning",
            env_id="autodrive/GridWorld-v0",
            env_kwargs={"map_name": "four_rooms", "slip": 0.1},
            steps=4_000_000,
            seeds=(0, 1, 2),
            eval_episodes=1000,
            criteria={"optimality_ratio": (">=", 0.99)},
            description="Q-learning's greedy policy vs the value-iteration optimum, four rooms, slip 0.1",
        ),
        Scenario(
            name="gridworld-value-iteration-maze16",
            algo="value-iteration",
            env_id="autodrive/GridWorld-v0",
            env_kwargs={"map_name": "maze16", "slip": 0.1},
            steps=1,
            eval_episodes=1000,
            criteria={"optimality_ratio": (">=", 0.999)},
            description="value iteration is the yardstick: its greedy policy evaluates to the optimum",
        ),
        Scenario(
            name="cartpole-dqn",
            algo="dqn",
            env_id="CartPole-v1",
            steps=50_000,
            criteria={"mean_return": (">=", 475.0)},
            slow=True,
            description="DQN on a foreign Box/Discrete env, the shipped CartPole hyperparameters",
        ),
        Scenario(
            name="cartpole-ppo",
            algo="ppo",
            env_id="CartPole-v1",
            steps=100_000,
            criteria={"mean_return": (">=", 475.0)},
            slow=True,
            description="PPO on a foreign Box/Discrete env, the shipped CartPole hyperparameters",
        ),
        Scenario(
            name="highway-fast-dqn",
            algo="dqn",
            env_id="autodrive/HighwayFast-v0",
            steps=400_000,
            criteria={"mean_return": (">=", 25.0), "crash_rate": ("<=", 0.05)},
            slow=True,
            description="the main job: DQN learns to drive on the batched HighwayFast (issue target 25, 5%)",
        ),
        Scenario(
            name="highway-fast-ppo",
            algo="ppo",
            env_id="autodrive/HighwayFast-v0",
            steps=500_000,
            criteria={"mean_return": (">=", 25.0), "crash_rate": ("<=", 0.05)},
            slow=True,
            description="PPO learns to drive on the batched HighwayFast (issue target 25, 5%)",
        ),
    ]
}


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict:
    """A description of the machine a result was measured on."""
    return {
        "platform": platform.platform(),
        "processor": _cpu_model(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
    }


def _metric(eval_result: dict, name: str) -> float:
    if name == "optimality_ratio":
        return eval_result["mean_return"] / eval_result["optimal_mean_return"]
    return float(eval_result[name])


def _curve(metrics_csv: Path) -> dict:
    """The learning curve (step, recent mean return) of a run, kept in the result so plots need no run dir."""
    from agents.common.plots import read_metrics

    cols = read_metrics(metrics_csv)
    keep = [i for i, v in enumerate(cols.get("return_mean", [])) if v == v]  # drop NaN rows
    return {"step": [cols["step"][i] for i in keep], "return_mean": [cols["return_mean"][i] for i in keep]}


def run_scenario(scenario: Scenario, out_dir: str | Path, results_dir: str | Path | None = None) -> dict:
    """Train every seed, evaluate, check the criteria; write ``<results_dir>/<name>.json``."""
    out_dir = Path(out_dir)
    runs = []
    for seed in scenario.seeds:
        t0 = time.perf_counter()
        run_dir = train_run(
            scenario.algo,
            scenario.env_id,
            env_kwargs=dict(scenario.env_kwargs),
            steps=scenario.steps,
            seed=seed,
            num_envs=scenario.num_envs,
            device="cpu",
            out=out_dir / f"{scenario.name}-s{seed}",
            hp_overrides=dict(scenario.hp),
            eval_episodes=scenario.eval_episodes,
            progress=False,
            tensorboard=False,
        )
        wall = time.perf_counter() - t0
        ev = read_json(run_dir / "eval.json")
        runs.append(
            {
                **ev,
                "eval_seed": ev["seed"],
                "seed": seed,
                "wall_clock_s": round(wall, 2),
                "steps_per_s": scenario.steps / max(ev.get("train_seconds", wall), 1e-9),
            }
        )
    metrics = {m: [_metric(r, m) for r in runs] for m in scenario.criteria}
    checks = {
        m: {
            "op": op,
            "threshold": thr,
            "value": float(np.mean(metrics[m])),
            "passed": bool(OPS[op](np.mean(metrics[m]), thr)),
        }
        for m, (op, thr) in scenario.criteria.items()
    }
    result = {
        "scenario": scenario.name,
        "description": scenario.description,
        "algo": scenario.algo,
        "env_id": scenario.env_id,
        "env_kwargs": scenario.env_kwargs,
        "steps": scenario.steps,
        "seeds": list(scenario.seeds),
        "returns": [r["mean_return"] for r in runs],
        "crash_rates": [r["crash_rate"] for r in runs if "crash_rate" in r] or None,
        "mean_return": float(np.mean([r["mean_return"] for r in runs])),
        "std_return_over_seeds": float(np.std([r["mean_return"] for r in runs])),
        "wall_clock_s": [r["wall_clock_s"] for r in runs],
        "steps_per_s": [round(r["steps_per_s"], 1) for r in runs],
        "criteria": checks,
        "passed": all(c["passed"] for c in checks.values()),
        "runs": runs,
        "machine": machine(),
        "versions": package_versions(),
        "curves": [_curve(out_dir / f"{scenario.name}-s{r['seed']}" / "metrics.csv") for r in runs],
    }
    if results_dir is not None:
        write_json(Path(results_dir) / f"{scenario.name}.json", result)
    return result
