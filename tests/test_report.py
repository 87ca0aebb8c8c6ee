"""scripts/report.py builds RESULTS.md and the README block from result files alone."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _report():
    spec = importlib.util.spec_from_file_location("report", ROOT / "scripts" / "report.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _scenario(name, env_id, returns, wall, **extra):
    last = returns[0] if returns else 0.0
    return {
        "scenario": name,
        "algo": "sb3-dqn",
        "env_id": env_id,
        "steps": 20_000,
        "seeds": [0],
        "returns": returns,
        "crash_rates": [0.1],
        "criteria": {"mean_return": {"op": ">=", "threshold": 19.0, "value": last, "passed": True}},
        "passed": True,
        "wall_clock_s": [wall],
        "curves": [{"step": [0, 10_000, 20_000], "return_mean": [5.0, 15.0, last]}],
        "machine": {"processor": "test cpu", "cpus": 2, "platform": "linux", "python": "3.11"},
        **extra,
    }


def test_report_renders_training_experiment_and_peer_rows(tmp_path):
    report = _report()
    results = tmp_path / "results"
    (results / "scenarios").mkdir(parents=True)
    ours = _scenario("sb3-ours", "autodrive/HighwayFast-v0", [21.0], 60.0)
    peer = _scenario("sb3-peer", "highway-fast-v0", [22.0], 450.0, peer_of="sb3-ours")
    experiment = {
        **_scenario("exp", "autodrive/HighwayFastPerceived-v0", [], 300.0),
        "algo": "cnn+dqn",
        "steps": None,
        "crash_rates": None,
        "curves": [],
        "criteria": {"return_kept": {"op": ">=", "threshold": 0.9, "value": 0.95, "passed": True}},
    }
    for r in (ours, peer, experiment):
        (results / "scenarios" / f"{r['scenario']}.json").write_text(json.dumps(r))
    md, headline = report.build(results, tmp_path / "RESULTS.md", tmp_path / "img")
    assert (
        "| exp | cnn+dqn | `autodrive/HighwayFastPerceived-v0` | – | 1 | – | – | return_kept >= 0.9 (0.950)"
        in md
    )
    assert "| sb3-ours | sb3-dqn |" in md and "21.000" in md
    assert "7.5×" in md and "7.5×" in headline  # peer wall-clock / ours
    assert (tmp_path / "img" / "learning_curves.png").exists()
    assert (tmp_path / "RESULTS.md").read_text() == md


def test_pairs_evaluated_in_the_peer_env_are_set_side_by_side():
    """An agent trained on our simulator and evaluated in highway-env's env sits beside the peer trained
    there, by the metrics both report in that env."""
    report = _report()
    ours = _scenario("ppo-ours", "autodrive/Racetrack-v0", [700.0], 320.0)
    ours["runs"] = [{"peer_env_id": "racetrack-v0", "peer_mean_return": 678.0, "peer_crash_rate": 0.56,
                     "peer_off_road_rate": 0.0, "peer_episodes": 100}]  # fmt: skip
    peer = _scenario("sb3-peer", "racetrack-v0", [300.0], 600.0, peer_of="ppo-ours")
    peer["runs"] = [{"mean_return": 300.0, "crash_rate": 0.2, "off_road_rate": 0.3, "episodes": 100}]
    lines = report.same_env_table([ours, peer])
    assert len(lines) == 4 and all(line.startswith("| `racetrack-v0` |") for line in lines[2:])
    assert "| 678.000 | 0.560 | 0.000 | – | 100 |" in lines[2]
    assert "| 300.000 | 0.200 | 0.300 | – | 100 |" in lines[3]
    assert report.same_env_table([_scenario("a", "x", [1.0], 1.0)]) == []


def test_report_renders_agent_peer_and_pytest_benchmark_files(tmp_path):
    report = _report()
    results = tmp_path / "results"
    results.mkdir()
    ev = {"mean_return": 21.4, "std_return": 2.5, "crash_rate": 0.04, "episodes": 100}
    peer = {
        "steps": 20_000,
        "seed": 0,
        "peer": {
            "what": "SB3 DQN, recipe, trained on highway-fast-v0",
            "train_seconds": 490.0,
            "eval_highway-fast-v0": ev,
        },
        "ours": {
            "what": "agents.dqn trained on autodrive/HighwayFast-v0",
            "train_seconds": 21.0,
            "eval_highway-fast-v0": ev,
        },
        "wall_clock_ratio_peer_over_ours": 23.3,
    }
    (results / "agents-peer.json").write_text(json.dumps(peer))
    bench = {
        "benchmarks": [
            {"name": "test_x", "stats": {"mean": 0.02}, "extra_info": {"env_steps_per_s": 51200.0}}
        ]
    }
    (results / "pytest-benchmark.json").write_text(json.dumps(bench))
    md, _ = report.build(results, tmp_path / "RESULTS.md", tmp_path / "img")
    assert "| SB3 DQN, recipe | `highway-fast-v0` | 490 s | `highway-fast-v0` | 21.40 ± 2.50 | 4% |" in md
    assert "(peer / ours): 23.3×" in md
    assert "| `test_x` | 20.0 ms | env_steps_per_s 51,200 |" in md


def test_scaling_curves_keep_the_presets_apart():
    """The benchmark's Highway-v0 batch cases form their own curve, not points on HighwayFast's."""

    def case(name, n, rate, peer, **extra):
        return {"case": name, "env_steps_per_s": rate, "num_envs": n, "peer": peer, **extra}

    b = {
        "cases": [
            case("ours autodrive/HighwayFast-v0 (CPU batch, 1024 envs)", 1024, 30e3, "highway-fast"),
            case("ours autodrive/Highway-v0 (CPU batch, 1024 envs)", 1024, 5e3, "highway"),
            case("ours HighwayFast (CPU batch, 4096 envs)", 4096, 45e3, "highway-fast"),
            case("ours Highway (CPU batch, 4096 envs)", 4096, 9e3, "highway"),
            case(
                "ours HighwayFast vehicles_count=50 (CPU batch, 256 envs)",
                256,
                1e4,
                "highway-fast",
                vehicles_count=50,
            ),  # fmt: skip
            case(
                "ours HighwayFast (torch CPU, 1 thread, 1024 envs)",
                1024,
                2e4,
                "highway-fast",
                backend="torch",
            ),
        ]
    }
    curves = _report().scaling_curves(b)
    assert {k: [(p["num_envs"], p["steps_per_s"]) for p in v] for k, v in curves.items()} == {
        "HighwayFast": [(1024, 30e3), (4096, 45e3)],
        "Highway": [(1024, 5e3), (4096, 9e3)],
    }


def test_compare_over_seeds_writes_a_result_file_and_a_section(tmp_path):
    """``report --compare``: two sets of runs over seeds -> docs/results/seeds/<name>.json -> a section
    with rliable's intervals and the probability of improvement, and its figure."""
    import pytest

    pytest.importorskip("rliable")

    def run(group: str, seed: int, ret: float, crash: float) -> None:
        d = tmp_path / group / "runs" / f"seed-{seed}"
        d.mkdir(parents=True)
        (d / "config.yaml").write_text(f"algo: ppo\nenv_id: autodrive/HighwayFast-v0\nseed: {seed}\n")
        (d / "eval.json").write_text(json.dumps({"mean_return": ret, "episodes": 1000, "crash_rate": crash}))
        (d / "metrics.csv").write_text(f"step,eval_return\n100000,20.0\n200000,{ret}\n")

    for seed in range(5):
        run("best", seed, 26.0 + 0.1 * seed, 0.01)
        run("recipe", seed, 25.0 + 0.1 * seed, 0.03)
    report, results = _report(), tmp_path / "results"
    pairs = [f"best={tmp_path / 'best'}", f"recipe={tmp_path / 'recipe'}"]
    assert report.main(["--results", str(results), "--out", str(tmp_path / "R.md"), "--readme", ""]
                       + ["--compare", *pairs, "--compare-name", "hf"]) == 0  # fmt: skip
    saved = json.loads((results / "seeds" / "hf.json").read_text())
    assert saved["groups"]["best"]["seeds"] == 5
    assert saved["probability_of_improvement"]["best > recipe"][0] == 1.0
    text = (tmp_path / "R.md").read_text()
    assert "ppo on autodrive/HighwayFast-v0: best, recipe over training seeds" in text
    assert "| best | 5 | 1,000 | 26.20 [" in text and "| 1.0% [1.0%, 1.0%] |" in text
    assert (tmp_path / "img" / "seeds-hf.png").exists()
