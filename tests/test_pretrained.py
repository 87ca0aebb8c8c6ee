"""The pretrained drivers shipped in agents/pretrained/ still load (safetensors, no pickle) and drive."""

from __future__ import annotations

from pathlib import Path

import pytest

from agents import load_policy
from agents.common.evaluation import evaluate_policy
from agents.common.io import read_yaml

PRETRAINED = Path(__file__).resolve().parents[1] / "agents" / "pretrained"
# driver -> the mean return it must keep over 20 greedy episodes of its env (eval seed 10000)
BARS = {
    "highway-fast-dqn": 24.0,
    "highway-fast-ppo": 24.0,
    "merge-dqn": 14.0,
    "exit-dqn": 2.5,
    "roundabout-dqn": 9.3,
}


def test_every_shipped_driver_has_a_bar() -> None:
    assert sorted(p.name for p in PRETRAINED.iterdir() if p.is_dir()) == sorted(BARS)


@pytest.mark.parametrize("name", sorted(BARS))
def test_pretrained_driver_loads_and_drives(name: str) -> None:
    run_dir = PRETRAINED / name
    env_id = read_yaml(run_dir / "config.yaml")["env_id"]
    result = evaluate_policy(load_policy(run_dir), env_id, episodes=20, seed=10_000)
    assert result["episodes"] == 20 and result["mean_return"] >= BARS[name], result
