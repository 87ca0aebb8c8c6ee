"""PPO with continuous (Box) actions: a Gaussian over [-1, 1] units with a state-independent log std,
clipped onto the env's bounds; log-probabilities of the unclipped samples; DQN refuses Box actions."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from agents import load_policy, train_run
from agents.common.nets import ActorCritic


def agent(low=(-2.0, 0.0), high=(2.0, 1.0), log_std=-0.5) -> ActorCritic:
    torch.manual_seed(0)
    return ActorCritic(3, 2, (16, 16), "tanh", action_bounds=(low, high), log_std_init=log_std)


def test_samples_and_their_log_probabilities() -> None:
    ac = agent()
    obs = torch.randn(4096, 3)
    action, logp, value = ac.act(obs, torch.Generator().manual_seed(0))
    assert action.shape == (4096, 2) and logp.shape == (4096,) and value.shape == (4096,)
    std = math.exp(-0.5)
    mean = ac.logits(obs)
    assert (action - mean).std().item() == pytest.approx(std, rel=0.05)  # the learned log std
    expected = (-((action - mean) ** 2) / (2 * std**2) - math.log(std) - 0.5 * math.log(2 * math.pi)).sum(-1)
    assert torch.allclose(logp, expected, atol=1e-4)
    again, entropy, _ = ac.evaluate(obs, action)  # the update scores the same, unclipped samples
    assert torch.allclose(again, logp, atol=1e-5)
    assert torch.allclose(entropy, torch.full_like(entropy, 2 * (0.5 + 0.5 * math.log(2 * math.pi) - 0.5)))


def test_actions_are_clipped_onto_the_bounds() -> None:
    ac = agent()
    unit = torch.tensor([[-3.0, -1.0], [0.0, 0.0], [1.0, 5.0]])
    assert torch.allclose(ac.to_env(unit), torch.tensor([[-2.0, 0.0], [0.0, 0.5], [2.0, 1.0]]))


def test_dqn_refuses_continuous_actions(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="DQN needs Discrete actions.*use --algo ppo"):
        train_run("dqn", "Pendulum-v1", steps=64, out=tmp_path / "r", progress=False, tensorboard=False)


def test_ppo_trains_on_pendulum_and_its_policy_acts_within_bounds(tmp_path: Path) -> None:
    hp = {"num_envs": 2, "num_steps": 128, "update_epochs": 2, "log_interval": 512, "obs_norm": True}
    run = train_run(
        "ppo", "Pendulum-v1", steps=1024, out=tmp_path / "p", hp_overrides=hp, eval_episodes=2,
        progress=False, tensorboard=False,
    )  # fmt: skip
    policy = load_policy(run)
    obs = np.random.default_rng(0).normal(size=(64, 3)).astype(np.float32)
    greedy, _ = policy.predict(obs, deterministic=True)
    sampled, _ = policy.predict(obs, deterministic=False)
    for actions in (greedy, sampled):
        assert actions.shape == (64, 1) and actions.dtype == np.float32
        assert (np.abs(actions) <= 2.0).all()  # Pendulum's torque bound
    single, _ = policy.predict(obs[0], deterministic=True)
    assert single.shape == (1,)


def test_reward_scale_divides_by_the_running_std_of_the_discounted_return() -> None:
    from agents.ppo import RewardScale

    scale = RewardScale(num_envs=2, gamma=0.5, clip=100.0)
    valid = torch.tensor([True, True])
    done = torch.tensor([False, False])
    first = scale(torch.tensor([2.0, 4.0]), done, valid)  # returns 2, 4: variance 1
    assert torch.allclose(first, torch.tensor([2.0, 4.0]), atol=1e-4)
    second = scale(torch.tensor([2.0, 4.0]), torch.tensor([True, False]), valid)  # returns 3, 6 merged in
    var = np.var([2.0, 4.0, 3.0, 6.0])
    assert torch.allclose(second, torch.tensor([2.0, 4.0]) / math.sqrt(var), atol=1e-4)
    assert scale.ret.tolist() == [0.0, 6.0]  # a finished episode's return starts over
    skipped = scale(torch.tensor([0.0, 0.0]), done, torch.tensor([False, False]))  # reset steps: no update
    assert scale.stats.count.item() == 4 and skipped.abs().sum() == 0
