"""``--resume``: SIGKILL a training subprocess after its first checkpoint, resume, and finish cleanly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from agents import load_policy, resume_run
from agents.common.checkpoint import load_checkpoint
from agents.common.io import read_json
from agents.common.plots import read_metrics

ROOT = Path(__file__).resolve().parents[1]
STEPS = 12_000
HP = {
    "dqn": {
        "hidden": [16],
        "replay_ratio": 0.05,
        "learning_starts": 500,
        "log_interval": 1000,
        "checkpoint_interval": 2000,
        "eval_interval": 3000,  # the kept best weights and the evaluation schedule survive the kill
        "eval_episodes": 2,
        "keep_best": True,
        "per_alpha": 0.6,  # the priorities survive too
    },
    "ppo": {
        "hidden": [16],
        "num_steps": 64,
        "update_epochs": 1,
        "log_interval": 1024,
        "checkpoint_interval": 2048,
        "eval_interval": 3072,
        "eval_episodes": 2,
        "keep_best": True,
    },
}

TRAIN = """
import json
import sys
from agents import train_run
train_run(sys.argv[1], "CartPole-v1", steps=int(sys.argv[3]), num_envs=4, device="cpu", out=sys.argv[2],
          hp_overrides=json.loads(sys.argv[4]), eval_episodes=2, progress=False, tensorboard=True)
"""


def _kill_after_first_checkpoint(algo: str, run: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [sys.executable, "-c", TRAIN, algo, str(run), str(STEPS), json.dumps(HP[algo])], env=env, cwd=ROOT
    )
    ckpt = run / "checkpoints" / "last.safetensors"
    deadline = time.monotonic() + 120
    try:
        while not ckpt.exists():
            assert proc.poll() is None, f"training exited ({proc.returncode}) before its first checkpoint"
            assert time.monotonic() < deadline, "no checkpoint within 120 s"
            time.sleep(0.02)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()


@pytest.mark.parametrize("algo", ["dqn", "ppo"])
def test_resume_after_sigkill_continues_from_the_checkpoint(tmp_path, algo):
    run = tmp_path / algo
    _kill_after_first_checkpoint(algo, run)
    assert not (run / "eval.json").exists()
    step, arrays, state = load_checkpoint(run)  # the killed run's checkpoint is whole
    assert 0 < step < STEPS
    logged = read_metrics(run / "metrics.csv")["step"]

    resume_run(run, progress=False)

    final_step, arrays, _ = load_checkpoint(run)
    assert final_step >= STEPS
    steps = read_metrics(run / "metrics.csv")["step"]
    resumed = steps[len(logged) :]
    assert resumed and resumed[0] > step and resumed[-1] >= STEPS  # continues, does not restart at 0
    assert np.all(np.diff(resumed) > 0)
    assert read_json(run / "eval.json")["episodes"] == 2
    assert read_json(run / "eval.json")["selected_step"] > 0  # the kept weights are named
    action, _ = load_policy(run).predict(np.zeros(4, dtype=np.float32))
    assert int(action) in (0, 1)
    assert not list((run / "checkpoints").glob("*.tmp"))
