"""The ego-attention network (``--hp net=ego_attention``): order-invariant over the other vehicles, blind
to absent rows, and trained end to end by DQN and PPO with weights that save and load."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from agents import load_policy, train_run
from agents.common.nets import ActorCritic, QNetwork


def table(batch: int = 6, vehicles: int = 5, present: int = 3, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, vehicles, 5, generator=gen)
    x[..., 0] = (torch.arange(vehicles) < present).float()  # presence: ego + two others
    return x


@pytest.mark.parametrize("obs_norm", [False, True])
def test_q_values_ignore_the_order_of_other_vehicles_and_absent_rows(obs_norm: bool) -> None:
    torch.manual_seed(0)
    net = QNetwork(25, 5, (64, 64), "relu", True, obs_norm, obs_shape=(5, 5), net="ego_attention")
    x = table()
    if obs_norm:
        net.norm.update(x + 3.0)  # statistics per feature, shared by every row
        assert net.norm.mean.shape == (5,)
    q = net(x)  # (B, A)
    assert q.shape == (6, 5)
    assert torch.allclose(q, net(x[:, [0, 2, 1, 4, 3]]), atol=1e-5)  # the others as a set
    moved = x.clone()
    moved[:, 3:, 1:] = 123.0  # what an absent row holds changes nothing
    assert torch.allclose(q, net(moved), atol=1e-5)
    swapped_ego = x[:, [1, 0, 2, 3, 4]]  # but the ego row is the query: it is not interchangeable
    assert not torch.allclose(q, net(swapped_ego), atol=1e-3)


def test_actor_and_critic_each_attend() -> None:
    ac = ActorCritic(25, 5, (32, 32), "tanh", obs_shape=(5, 5), net="ego_attention")
    x = table()
    assert ac.logits(x).shape == (6, 5) and ac.value(x).shape == (6,)
    assert ac.actor_attention is not ac.critic_attention
    assert torch.allclose(ac.value(x), ac.value(x[:, [0, 2, 1, 3, 4]]), atol=1e-5)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"net": "transformer"}, "unknown net 'transformer'"),
        ({"net": "ego_attention", "attention": {"embed": 30, "heads": 4}}, "multiple of attention_heads"),
        ({"net": "ego_attention", "obs_shape": (25,)}, r"shape \(vehicles, features\)"),
    ],
)
def test_bad_attention_settings_are_clear_errors(kwargs: dict, message: str) -> None:
    kwargs = {"obs_shape": (5, 5), **kwargs}
    with pytest.raises(ValueError, match=message):
        QNetwork(25, 5, (64, 64), "relu", True, **kwargs)


@pytest.mark.parametrize("algo", ["dqn", "ppo"])
def test_dqn_and_ppo_train_an_attention_policy_that_loads(algo: str, tmp_path: Path) -> None:
    hp = {"net": "ego_attention", "attention_embed": 32, "hidden": [64, 64], "num_envs": 4}
    hp |= {"learning_starts": 256, "checkpoint_interval": 0} if algo == "dqn" else {"num_steps": 64}
    run = train_run(
        algo, "autodrive/HighwayFast-v0", steps=1024, out=tmp_path / algo, hp_overrides=hp,
        eval_episodes=2, progress=False, tensorboard=False,
    )  # fmt: skip
    policy = load_policy(run)
    obs = np.zeros((3, 5, 5), dtype=np.float32)
    obs[:, 0, 0] = 1.0
    actions, _ = policy.predict(obs, deterministic=True)
    assert actions.shape == (3,)
    assert any("attention" in k for k in policy.net.state_dict()) and policy.arch["net"] == "ego_attention"
