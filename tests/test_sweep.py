"""Sweeps and multi-seed runs on Ray Tune: search spaces, a tiny sweep on a local Ray, a sweep through
``--address`` on a Ray head started here, resuming after the driver is killed, and rliable aggregates."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("ray")
pytest.importorskip("optuna")
pytest.importorskip("rliable")

from agents import aggregate, sweep  # noqa: E402
from agents.common.checkpoint import checkpoint_step  # noqa: E402
from agents.common.hparams import read_hyperparams_file, resolve_hyperparams  # noqa: E402
from agents.common.io import read_json, read_yaml  # noqa: E402
from agents.ppo import PPOConfig  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
# A CartPole PPO trial of a few seconds that evaluates greedily twice during training.
TINY = ["--algo", "ppo", "--env", "CartPole-v1", "--steps", "8192", "--eval-episodes", "5"]
TINY_HP = ["--hp", "eval_interval=4096", "eval_episodes=5", "num_envs=4", "log_interval=4096"]


def run_tune(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "tune.py"), *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env=env,
    )


def test_shipped_search_spaces_load_and_contain_their_recipes() -> None:
    for algo in ("ppo", "dqn"):
        for env_id in ("CartPole-v1", "autodrive/HighwayFast-v0"):
            space = sweep.load_search_space(algo, env_id)
            assert space.params and set(space.to_tune()) == set(space.params)
            setup = sweep.Setup(algo=algo, env_id=env_id, out="/nonexistent", space=space.params)
            if env_id == "autodrive/HighwayFast-v0":  # the sweep's first trial is the shipped recipe
                assert sweep._recipe_point(setup) is not None, (algo, env_id)
    assert sweep.load_search_space("ppo", "autodrive/HighwayFast-v0").crash_cost == 50.0
    assert sweep.load_search_space("ppo", "CartPole-v1").crash_cost == 0.0


def test_int_ranges_are_inclusive() -> None:
    space = sweep.load_search_space("ppo", "x", {"default": {"space": {"update_epochs": {"int": [3, 4]}}}})
    domain = space.to_tune()["update_epochs"]
    assert {domain.sample() for _ in range(200)} == {3, 4}


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ({"space": {"learning_rat": {"uniform": [0.1, 0.2]}}}, "did you mean 'learning_rate'"),
        ({"space": {"learning_rate": {"uniform": [0.2, 0.1]}}}, "low < high"),
        ({"space": {"learning_rate": {"loguniform": [0.0, 0.1]}}}, "positive low bound"),
        ({"space": {"learning_rate": {"gaussian": [0.0, 0.1]}}}, "expected one of"),
        ({"space": {"gamma": {"choice": []}}}, "non-empty list"),
        ({"spaces": {}}, "did you mean 'space'"),
        ({"crash_cost": 1.0}, "empty"),
    ],
)
def test_a_bad_search_space_is_one_clear_error(block: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        sweep.load_search_space("ppo", "CartPole-v1", {"CartPole-v1": block})


def test_a_sweep_needs_evaluations_during_training(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="eval_interval"):
        sweep.sweep("ppo", "CartPole-v1", tmp_path / "s", trials=2, steps=1024)
    assert not (tmp_path / "s").exists()  # nothing written before the check


def test_tiny_sweep_on_a_local_ray(tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    proc = run_tune(*TINY, *TINY_HP, "--trials", "2", "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "2 trials" in proc.stdout
    rows = (out / "trials.csv").read_text().splitlines()
    assert len(rows) == 3  # header + two trials
    runs = sorted((out / "runs").iterdir())
    assert len(runs) == 2
    for run in runs:  # each trial is an ordinary run directory
        assert (run / "eval.json").exists() and (run / "ppo.safetensors").exists()
    recipe = resolve_hyperparams("ppo", PPOConfig, "CartPole-v1")
    first = read_yaml(out / "sweep.yaml")
    assert first["algo"] == "ppo" and first["space"]["learning_rate"] == {"loguniform": [0.0001, 0.003]}
    rates = sorted(read_yaml(r / "config.yaml")["hyperparams"]["learning_rate"] for r in runs)
    assert recipe.learning_rate in rates  # the current recipe is one of the trials
    # best.yaml is a hyperparameter file that train takes as is, and it reproduces the best trial
    table = read_hyperparams_file(out / "best.yaml")
    best = resolve_hyperparams("ppo", PPOConfig, "CartPole-v1", table=table)
    finals = {r.name: read_json(r / "eval.json")["mean_return"] for r in runs}
    best_run = out / "runs" / max(finals, key=finals.get)
    assert best.learning_rate == read_yaml(best_run / "config.yaml")["hyperparams"]["learning_rate"]
    assert best.total_steps == 8192 and best.cpu_threads == 1  # torch threads follow the trial's CPUs


def test_train_seeds_in_parallel_then_aggregate(tmp_path: Path) -> None:
    out = tmp_path / "seeds"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "train.py"), *TINY, *TINY_HP, "--seeds", "0", "1", "2"]
        + ["--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = read_json(out / "seeds.json")
    assert [r["seed"] for r in summary["runs"]] == [0, 1, 2] and summary["missing"] == []
    returns = [r["mean_return"] for r in summary["runs"]]
    point, low, high = summary["return_iqm"]
    assert min(returns) <= low <= point <= high <= max(returns)
    assert all(len(r["curve_steps"]) == 2 for r in summary["runs"])  # greedy evaluations at 4096, 8192
    assert "IQM return" in proc.stdout


def stop_ray() -> None:
    subprocess.run(
        [str(Path(sys.executable).with_name("ray")), "stop", "--force"], capture_output=True, timeout=120
    )


def port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_sweep_through_address_on_a_ray_head_started_here(tmp_path: Path) -> None:
    ray_bin = Path(sys.executable).with_name("ray")
    port = free_port()
    # Ray's token authentication, set alike on the head and the driver as Ray asks (its local heads enable
    # it by default); Ray maps a loopback --node-ip-address to this machine's own address.
    env = {**os.environ, "RAY_ADDRESS": "", "RAY_AUTH_MODE": "token"}
    temp = tempfile.mkdtemp(prefix="ray-", dir="/tmp")  # short: Ray's socket paths have a length limit
    head = [str(ray_bin), "start", "--head", "--block", "--node-ip-address=127.0.0.1", f"--port={port}"]
    head += ["--num-cpus=2", "--include-dashboard=false", f"--temp-dir={temp}"]
    # --block keeps the head in a process group of its own, so that stopping it stops only this head
    # (``ray stop`` would stop every Ray on the machine)
    server = subprocess.Popen(
        head, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 120
        while not port_open(port):  # --block returns at once; the head listens a few seconds later
            assert server.poll() is None and time.monotonic() < deadline, "the Ray head did not start"
            time.sleep(0.5)
        out = tmp_path / "sweep"
        proc = run_tune(
            *TINY, *TINY_HP, "--trials", "2", "--out", str(out), "--address", f"127.0.0.1:{port}", env=env
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert len(list((out / "runs").glob("*/eval.json"))) == 2
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        shutil.rmtree(temp, ignore_errors=True)


def test_killing_the_driver_loses_only_the_work_since_the_last_checkpoint(tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    args = [
        "--algo",
        "ppo",
        "--env",
        "CartPole-v1",
        "--steps",
        "32768",
        "--eval-episodes",
        "5",
        "--trials",
        "1",
    ]
    args += ["--hp", "eval_interval=4096", "eval_episodes=5", "num_envs=4", "log_interval=4096"]
    args += ["checkpoint_interval=4096", "--out", str(out)]
    driver = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "tune.py"), *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 240
        run_dir = None
        while time.monotonic() < deadline:
            found = list((out / "runs").glob("*/checkpoints"))
            if found and checkpoint_step(found[0].parent) >= 8192:
                run_dir = found[0].parent
                break
            time.sleep(0.5)
        assert run_dir is not None, "no checkpoint within 4 minutes"
    finally:
        os.killpg(driver.pid, signal.SIGKILL)  # the driver and the local Ray it started, at once
        driver.wait()
    killed_at = checkpoint_step(run_dir)
    assert not (run_dir / "eval.json").exists()
    time.sleep(2)
    proc = run_tune("--resume", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (run_dir / "eval.json").exists()  # the same trial, in the same run directory, finished
    steps = [int(line.split(",")[0]) for line in (run_dir / "metrics.csv").read_text().splitlines()[1:]]
    # rows up to the checkpoint were written once: the resumed trial went on from it, not from zero
    assert [s for s in steps if s < killed_at] == list(range(4096, killed_at, 4096))
    assert steps[-1] == 32768


def test_rliable_intervals() -> None:
    point, low, high = aggregate.interval([1.0, 1.0, 1.0, 1.0])
    assert point == low == high == 1.0
    scores = np.arange(20, dtype=float)
    point, low, high = aggregate.interval(scores, "iqm")
    assert point == pytest.approx(np.mean(scores[5:15])) and low < point < high
    assert aggregate.interval(scores, "mean")[0] == pytest.approx(scores.mean())


def test_eval_curve_keeps_one_evaluation_per_step(tmp_path: Path) -> None:
    """A resumed run logs again the evaluations after its checkpoint: the curve keeps the last of each."""
    rows = ["step,eval_return", "100,1.0", "200,2.0", "300,", "200,2.5", "400,4.0"]
    (tmp_path / "metrics.csv").write_text("\n".join(rows) + "\n")
    assert aggregate.eval_curve(tmp_path) == ([100, 200, 400], [1.0, 2.5, 4.0])


def test_compare_and_plot(tmp_path: Path) -> None:
    def fake_run(name: str, seed: int, ret: float) -> Path:
        run = tmp_path / name / f"seed-{seed}"
        run.mkdir(parents=True)
        (run / "config.yaml").write_text(f"seed: {seed}\n")
        (run / "eval.json").write_text(f'{{"mean_return": {ret}, "episodes": 1000, "crash_rate": 0.02}}')
        rows = ["step,eval_return"] + [f"{s},{ret * s / 3000}" for s in (1000, 2000, 3000)]
        (run / "metrics.csv").write_text("\n".join(rows) + "\n")
        return run

    groups = {
        "a": [fake_run("a", s, 25.0 + 0.1 * s) for s in range(5)],
        "b": [fake_run("b", s, 20.0 + 0.1 * s) for s in range(5)],
    }
    comparison = aggregate.compare(groups)
    assert comparison["probability_of_improvement"]["a > b"][0] == 1.0
    assert comparison["groups"]["a"]["crash_rate_mean"][0] == pytest.approx(0.02)
    png = aggregate.plot_comparison(comparison, tmp_path / "cmp.png", "test")
    assert png.stat().st_size > 10_000
