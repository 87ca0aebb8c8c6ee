"""The front doors: the ``autodrive`` command, scripts/train.py and scripts/enjoy.py end to end, and
their errors."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from agents import algo_names, load_policy
from agents.common.io import read_json
from agents.registry import default_hyperparams
from scripts import cli, train

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "agents" / "pretrained" / "highway-fast-dqn"  # a driver that ships: no training needed


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


# --- the autodrive command (scripts/cli.py), called in-process -------------------------------------


def test_autodrive_help_lists_every_command(capsys):
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: autodrive <command>")
    for name in ("train", "evaluate", "enjoy", "benchmark", "perception", "report", *cli.COMMANDS):
        assert f"\n  {name} " in out, name


@pytest.mark.parametrize("argv", [["trian"], []])
def test_autodrive_without_a_known_command_is_a_clear_error(argv, capsys):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert ("unknown command 'trian' (did you mean 'train'?)" if argv else "no command given") in err
    assert "commands: " + ", ".join(cli.COMMANDS) in err


@pytest.mark.parametrize("name", list(cli.COMMANDS))
def test_every_command_shows_its_own_help(name, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main([name, "--help"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: autodrive {name} ")


def test_train_help_lists_every_hyperparameter_with_its_default(capsys):
    with pytest.raises(SystemExit):
        cli.main(["train", "--help"])
    out = capsys.readouterr().out
    words = set(out.split())
    for name in algo_names():
        assert f"  {name}:\n" in out
        for key, value in default_hyperparams(name, train.DEFAULT_ENV).items():
            assert f"{key}={train.hp_text(value)}" in words, (name, key)
    # the default env's block of dqn.yaml over the config's defaults (gamma 0.99, huber)
    assert {"gamma=0.9", "loss=mse", "hidden=[256,256]", "keep_best=true"} <= words


def test_train_help_for_one_algorithm_and_env(capsys):
    with pytest.raises(SystemExit):
        cli.main(["train", "--algo", "qlearning", "--env", "autodrive/GridWorld-v0", "--help"])
    out = capsys.readouterr().out
    assert "defaults on --env autodrive/GridWorld-v0" in out and "  dqn:" not in out
    assert "num_envs=1024" in out.split()  # qlearning.yaml's GridWorld block


def test_train_help_from_a_checkout_lists_hyperparameters():
    out = run_script(ROOT / "scripts/train.py", "--help").stdout
    assert out.startswith("usage: train.py") and "  ppo:\n" in out and "learning_rate=0.001" in out.split()


@pytest.mark.parametrize("env_id", ["highway-fast-v0", "autodrive/HighwayFast-v0"])
def test_autodrive_evaluate_a_shipped_driver(env_id, tmp_path, capsys):
    if not env_id.startswith("autodrive/"):
        pytest.importorskip("highway_env")
    out = tmp_path / "eval.json"
    argv = ["evaluate", str(SHIPPED), "--env", env_id, "--episodes", "2", "--out", str(out)]
    assert cli.main(argv) == 0
    result = read_json(out)
    assert result["env_id"] == env_id and result["trained_on"] == "autodrive/HighwayFast-v0"
    assert result["episodes"] == 2 and result["mean_return"] > 0 and "crash_rate" in result
    assert f"wrote {out}" in capsys.readouterr().out


@pytest.mark.parametrize(
    "env_id, message",
    [
        ("highway-fast-v9", "unknown env id 'highway-fast-v9' (did you mean 'highway-fast-v0'?)"),
        ("CartPole-v1", "CartPole-v1 has observations (4,) and actions Discrete(2); the policy expects"),
    ],
)
def test_autodrive_evaluate_on_a_wrong_env_is_a_clear_error(env_id, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["evaluate", str(SHIPPED), "--env", env_id, "--out", str(tmp_path / "e.json")])
    assert exc.value.code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "e.json").exists()


def test_autodrive_enjoy_records_a_shipped_driver(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    out = tmp_path / "x.gif"
    assert cli.main(["enjoy", str(SHIPPED), "--record", str(out)]) == 0
    assert "recorded 1 episode(s)" in capsys.readouterr().out
    import imageio.v3 as iio

    frames = iio.imread(out)
    assert frames.ndim == 4 and frames.shape[-1] == 3 and len(frames) > 1


def test_autodrive_report_without_results_is_a_clear_error(tmp_path, capsys):
    argv = ["report", "--results", str(tmp_path / "none"), "--out", str(tmp_path / "R.md"), "--readme", ""]
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 2 and "is not a directory" in capsys.readouterr().err
    assert not (tmp_path / "R.md").exists()


@pytest.mark.skipif(
    shutil.which("autodrive") is None, reason="not installed: pip install -e . puts it on PATH"
)
def test_the_installed_autodrive_command_runs():
    proc = subprocess.run(
        [shutil.which("autodrive"), "evaluate", "--help"], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage: autodrive evaluate") and "highway-fast-v0" in proc.stdout
