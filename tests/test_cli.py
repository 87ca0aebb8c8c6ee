"""The front doors: scripts/train.py and scripts/enjoy.py end to end, and their errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from agents import load_policy
from agents.common.io import read_json

ROOT = Path(__file__).resolve().parents[1]


def run_script(*args, check=True):
    proc = subprocess.run(
        [sys.executable, *map(str, args)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
        env={
            "SDL_VIDEODRIVER": "dummy",
            "SDL_AUDIODRIVER": "dummy",
            "MPLBACKEND": "Agg",
            "PATH": "/usr/bin:/bin",
        },
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"{args} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture(scope="module")
def qrun(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "q"
    run_script(
        ROOT / "scripts/train.py",
        "--algo",
        "qlearning",
        "--env",
        "autodrive/GridWorld-v0",
        "--env-kwargs",
        "map_name=cliff",
        "slip=0.0",
        "--steps",
        "200000",
        "--seed",
        "1",
        "--num-envs",
        "64",
        "--out",
        out,
        "--eval-episodes",
        "20",
        "--no-progress",
        "--hp",
        "eps_fraction=0.8",
    )
    return out


def test_train_writes_a_complete_run_directory(qrun):
    for name in (
        "config.yaml",
        "q_table.safetensors",
        "metrics.csv",
        "eval.json",
        "learning_curve.png",
        "episode.gif",
    ):
        assert (qrun / name).is_file(), name
    config = yaml.safe_load((qrun / "config.yaml").read_text())
    assert config["algo"] == "qlearning" and config["env_kwargs"] == {"map_name": "cliff", "slip": 0.0}
    assert config["hyperparams"]["total_steps"] == config["steps"]  # --steps and total_steps: one setting
    assert config["hyperparams"]["eps_fraction"] == 0.8 and config["num_envs"] == 64 and config["seed"] == 1
    result = read_json(qrun / "eval.json")
    assert {"mean_return", "std_return", "episodes"} <= set(result) and result["episodes"] == 20
    # deterministic cliff: the optimal path along the cliff edge is 13 steps: 12 * -0.01 + 1
    assert result["mean_return"] == pytest.approx(0.88, abs=1e-9)
    assert result["optimal_mean_return"] == pytest.approx(0.88, abs=1e-9)
    header = (qrun / "metrics.csv").read_text().splitlines()[0].split(",")
    assert header[:5] == ["step", "time_s", "steps_per_s", "episodes", "return_mean"]
    assert not list(qrun.glob(".*.tmp")), "temp files left behind"


def test_load_policy_predicts_single_and_batched(qrun):
    policy = load_policy(qrun)
    action, state = policy.predict(0, deterministic=True)
    assert state is None and int(action) in range(4)
    actions, _ = policy.predict(np.array([0, 1, 2]), deterministic=True)
    assert actions.shape == (3,)


def test_enjoy_records_a_gif_headless(qrun, tmp_path):
    out = tmp_path / "ep.gif"
    proc = run_script(ROOT / "scripts/enjoy.py", qrun, "--episodes", "2", "--record", out)
    assert out.stat().st_size > 0 and "recorded 2 episode" in proc.stdout
    import imageio.v3 as iio

    frames = iio.imread(out)
    assert frames.ndim == 4 and frames.shape[-1] == 3 and len(frames) >= 2 * 14


def test_enjoy_plays_in_a_window_with_the_dummy_driver(qrun):
    proc = run_script(ROOT / "scripts/enjoy.py", qrun)
    assert "returns: 0.880" in proc.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["--algo", "dqm"], "unknown algorithm 'dqm' (did you mean 'dqn'?)"),
        (["--algo", "qlearning", "--env", "autodrive/GridWorld-v1"], "did you mean 'autodrive/GridWorld-v0'"),
        (
            ["--algo", "qlearning", "--env", "autodrive/GridWorld-v0", "--hp", "gama=0.9"],
            "did you mean 'gamma'",
        ),
        (
            ["--algo", "qlearning", "--env", "autodrive/GridWorld-v0", "--hp", "gamma=high"],
            "gamma expects a number",
        ),
        (
            ["--algo", "qlearning", "--env", "autodrive/GridWorld-v0", "--env-kwargs", "slipp=0.1"],
            "did you mean 'slip'",
        ),
        (
            ["--algo", "qlearning", "--env", "autodrive/GridWorld-v0", "--env-kwargs", "slip"],
            "expected key=value",
        ),
        (["--algo", "qlearning", "--env", "autodrive/GridWorld-v0", "--device", "tpu"], "unknown device"),
        (
            [
                "--algo",
                "qlearning",
                "--env",
                "autodrive/GridWorld-v0",
                "--steps",
                "100",
                "--hp",
                "total_steps=200",
            ],
            "they are one setting",
        ),
        (
            ["--algo", "dqn", "--env", "autodrive/Merge-v0", "--env-kwargs", "lanes_count=3"],
            "unknown merge config key 'lanes_count'",
        ),
        (
            ["--algo", "dqn", "--env", "autodrive/Roundabout-v0", "--env-kwargs", "duration=-1"],
            "duration=-1.0",
        ),
    ],
)
def test_train_bad_input_is_a_clear_error(args, message, tmp_path):
    proc = run_script(ROOT / "scripts/train.py", *args, "--out", tmp_path / "r", "--no-progress", check=False)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "r" / "config.yaml").exists()  # nothing written before the error


def test_train_refuses_to_overwrite_a_run(qrun):
    proc = run_script(
        ROOT / "scripts/train.py",
        "--algo",
        "qlearning",
        "--env",
        "autodrive/GridWorld-v0",
        "--out",
        qrun,
        check=False,
    )
    assert proc.returncode == 2 and "already holds a run" in proc.stderr


def test_enjoy_rejects_bad_paths(tmp_path, qrun):
    assert "not a run directory" in run_script(ROOT / "scripts/enjoy.py", tmp_path, check=False).stderr
    proc = run_script(ROOT / "scripts/enjoy.py", qrun, "--record", tmp_path / "x.avi", check=False)
    assert proc.returncode == 2 and ".gif or .mp4" in proc.stderr
