"""Shared agent plumbing: typed hyperparameters, atomic files, episode bookkeeping, the registry."""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import pytest

from agents.common.hparams import build_dataclass, parse_key_values, resolve_hyperparams
from agents.common.io import atomic_write_bytes, load_arrays, read_json, save_arrays, write_json
from agents.common.logger import EpisodeTracker
from agents.registry import algo_names, get_algorithm


@dataclass(frozen=True)
class HP:
    lr: float = 0.1
    n: int = 3
    name: str = "x"
    flag: bool = False
    sizes: tuple[int, ...] = (64, 64)
    maybe: float | None = None


def test_parse_key_values_types():
    assert parse_key_values(["a=1", "b=1e-3", "c=true", "d=[1, 2]", "e=abc", "f=null"]) == {
        "a": 1,
        "b": 1e-3,
        "c": True,
        "d": [1, 2],
        "e": "abc",
        "f": None,
    }


def test_build_dataclass_coerces_and_validates():
    hp = build_dataclass(HP, {"lr": 1, "n": 4.0, "sizes": [32], "maybe": 2})
    assert hp == HP(lr=1.0, n=4, sizes=(32,), maybe=2.0)
    with pytest.raises(ValueError, match="did you mean 'lr'"):
        build_dataclass(HP, {"lrr": 1})
    with pytest.raises(ValueError, match="n expects an integer"):
        build_dataclass(HP, {"n": 2.5})
    with pytest.raises(ValueError, match="flag expects true/false"):
        build_dataclass(HP, {"flag": "yes"})


def test_yaml_resolution_order():
    from agents.tabular import QLearningConfig

    base = resolve_hyperparams("qlearning", QLearningConfig, "SomethingElse-v0")
    grid = resolve_hyperparams("qlearning", QLearningConfig, "autodrive/GridWorld-v0")
    over = resolve_hyperparams("qlearning", QLearningConfig, "autodrive/GridWorld-v0", {"num_envs": 7})
    assert base.num_envs == 256 and grid.num_envs == 1024 and over.num_envs == 7


def test_registry_is_closed_and_suggests():
    assert {"qlearning", "value-iteration", "dqn", "ppo", "sb3-dqn", "sb3-ppo"} <= set(algo_names())
    with pytest.raises(ValueError, match="did you mean 'qlearning'"):
        get_algorithm("q-learning")


def test_atomic_write_never_leaves_a_torn_file(tmp_path, monkeypatch):
    path = tmp_path / "f.json"
    write_json(path, {"a": 1})

    def boom(fd):
        raise OSError("disk died mid-write")

    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(OSError):
        atomic_write_bytes(path, b"{broken")
    assert read_json(path) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["f.json"]


def test_safetensors_roundtrip(tmp_path):
    save_arrays(tmp_path / "w.safetensors", {"q": np.eye(3), "i": np.arange(4)})
    out = load_arrays(tmp_path / "w.safetensors")
    assert np.array_equal(out["q"], np.eye(3)) and out["i"].tolist() == [0, 1, 2, 3]


def test_episode_tracker_next_step_autoreset():
    tracker = EpisodeTracker(2)
    r, ln, _ = tracker.update(np.array([1.0, 2.0]), np.array([False, True]))
    assert r.tolist() == [2.0] and ln.tolist() == [1]
    r, ln, _ = tracker.update(np.array([1.0, 5.0]), np.array([True, False]))  # env 1's reset step is ignored
    assert r.tolist() == [2.0] and ln.tolist() == [2]
    r, _, _ = tracker.update(np.array([0.0, 3.0]), np.array([False, True]))
    assert r.tolist() == [3.0]


def test_obs_norm_merges_batches_like_one_and_travels_with_the_policy(tmp_path):
    import torch

    from agents import load_policy, train_run
    from agents.common.nets import ObsNorm

    gen = torch.Generator().manual_seed(0)
    x = torch.randn(300, 2, 3, generator=gen) * torch.tensor([0.01, 1.0, 5.0]) + 2.0
    norm = ObsNorm(6)
    raw = x.flatten(1)
    torch.testing.assert_close(norm(raw), raw.clamp(-10, 10))  # the identity (clipped) before any data
    for chunk in x.split((1, 120, 179)):
        norm.update(chunk)
    flat = x.flatten(1).double()
    torch.testing.assert_close(norm.mean, flat.mean(0).float())
    torch.testing.assert_close(norm.var, flat.var(0, unbiased=False).float(), rtol=1e-4, atol=1e-8)
    z = norm(x.flatten(1))
    torch.testing.assert_close(z.mean(0), torch.zeros(6), atol=1e-4, rtol=0)
    torch.testing.assert_close(z.std(0, unbiased=False), torch.ones(6), atol=1e-3, rtol=0)

    hp = {"ppo": {"num_steps": 32, "hidden": [16], "obs_norm": True},
          "dqn": {"learning_starts": 200, "hidden": [16], "obs_norm": True}}  # fmt: skip
    for algo in ("ppo", "dqn"):
        run = train_run(
            algo, "CartPole-v1", steps=512, seed=0, num_envs=4, device="cpu", out=tmp_path / algo,
            hp_overrides=hp[algo], eval_episodes=2, progress=False, tensorboard=False,
        )  # fmt: skip
        loaded = load_policy(run).net.norm
        assert isinstance(loaded, ObsNorm) and loaded.count > 100, algo  # statistics were fitted, saved
        assert (loaded.var > 0).all() and not torch.equal(loaded.mean, torch.zeros(4)), algo


def test_keep_best_prefers_the_fastest_evaluation_within_the_crash_limit(monkeypatch):
    """With a crash-rate limit, the kept weights are the best return among evaluations under it; while
    none is under it, the one crashing least. With the limit at 1.0 the best return wins, as before."""
    import torch

    from agents.common import evaluation

    scripted = [(22.0, 0.08), (26.0, 0.06), (24.0, 0.02), (25.5, 0.03), (27.0, 0.10), (25.0, 0.01)]

    def run_all(limit: float) -> list[int]:
        results = iter(scripted)

        def fake_evaluation(*args, **kwargs) -> dict:
            mean_return, crash_rate = next(results)
            return {"mean_return": mean_return, "crash_rate": crash_rate}

        monkeypatch.setattr(evaluation, "evaluate_policy", fake_evaluation)
        ev = evaluation.PeriodicEval("autodrive/HighwayFast-v0", {}, 10, 5, max_crash_rate=limit)
        net, best = torch.nn.Linear(1, 1), torch.nn.Linear(1, 1)
        kept = []
        for i in range(len(scripted)):
            torch.nn.init.constant_(net.weight, float(i))
            ev.run(10 * (i + 1), policy=None, net=net, best=best)
            kept.append(int(best.weight.item()))
            ev.load_state(ev.state())  # the choice survives a resume
        return kept

    assert run_all(0.03) == [0, 1, 2, 3, 3, 3]  # 6% beats 8% while none is within 3%
    assert run_all(1.0) == [0, 1, 1, 1, 4, 4]
    with pytest.raises(ValueError, match="max crash rate"):
        evaluation.PeriodicEval("CartPole-v1", {}, 10, 5, max_crash_rate=1.5)


def test_layer_norm_trains_and_travels_with_the_policy(tmp_path):
    """layer_norm puts a LayerNorm before each hidden activation (DQN: torso and both dueling heads;
    PPO: both layers of actor and critic); the trained gains are saved and load back with the policy."""
    import torch

    from agents import load_policy, train_run

    hp = {"ppo": {"num_steps": 32, "hidden": [16, 16], "layer_norm": True},
          "dqn": {"learning_starts": 200, "hidden": [16, 16], "layer_norm": True}}  # fmt: skip
    for algo, count in (("ppo", 4), ("dqn", 3)):
        run = train_run(
            algo, "CartPole-v1", steps=512, seed=0, num_envs=4, device="cpu", out=tmp_path / algo,
            hp_overrides=hp[algo], eval_episodes=2, progress=False, tensorboard=False,
        )  # fmt: skip
        norms = [m for m in load_policy(run).net.modules() if isinstance(m, torch.nn.LayerNorm)]
        assert len(norms) == count, algo
        assert any(not torch.equal(m.weight, torch.ones_like(m.weight)) for m in norms), algo


KEEP_BEST_SHORT = {
    "dqn": {"learning_starts": 200, "log_interval": 400, "hidden": [32, 32]},
    "ppo": {"num_steps": 50, "update_epochs": 2, "log_interval": 400, "hidden": [16, 16]},
}


@pytest.mark.parametrize("algo", ["dqn", "ppo"])
def test_keep_best_ends_with_the_best_evaluated_weights(tmp_path, algo):
    """keep_best: greedy evaluations during training are logged, the best one's weights are the policy,
    eval.json names the step they come from, and the learning curve is unchanged by the evaluations."""
    from agents import load_policy, train_run
    from agents.common.evaluation import SELECTION_SEED, EvalConfig, evaluate_policy
    from agents.common.io import read_json
    from agents.common.plots import read_metrics

    def short_run(name: str, **hp):
        return train_run(
            algo, "CartPole-v1", steps=2000, seed=0, num_envs=4, device="cpu", out=tmp_path / name,
            hp_overrides={**KEEP_BEST_SHORT[algo], **hp}, eval_episodes=3, progress=False, tensorboard=False,
        )  # fmt: skip

    run = short_run("kb", eval_interval=400, eval_episodes=4, keep_best=True)
    metrics = read_metrics(run / "metrics.csv")
    evaluated = ~np.isnan(metrics["eval_return"])
    assert evaluated.sum() >= 4 and evaluated[-1]  # every 400 steps, and at the end
    result = read_json(run / "eval.json")
    best = int(np.argmax(np.where(evaluated, metrics["eval_return"], -np.inf)))
    assert result["selected_step"] == metrics["step"][best]
    assert result["selection_mean_return"] == metrics["eval_return"][best]
    again = evaluate_policy(load_policy(run), "CartPole-v1", episodes=4, seed=SELECTION_SEED)
    assert again["mean_return"] == result["selection_mean_return"]  # the kept weights are the policy
    plain = read_metrics(short_run("plain") / "metrics.csv")
    np.testing.assert_array_equal(plain["return_mean"], metrics["return_mean"])
    with pytest.raises(ValueError, match="eval_interval"):
        EvalConfig(keep_best=True)
