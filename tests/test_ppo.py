"""PPO: config validation, a short run end to end, determinism, the torch-backend (GPU) path, CartPole/highway."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from agents import load_policy, train_run
from agents.common.buffers import Rollout
from agents.common.envs import make_vec_env
from agents.common.hparams import resolve_hyperparams
from agents.common.io import read_json
from agents.common.plots import read_metrics
from agents.common.torch_utils import EpisodeStats, TorchVecEnv
from agents.ppo import PPOConfig, build_actor_critic, collect

SHORT = {
    "num_steps": 32,
    "update_epochs": 2,
    "log_interval": 256,
    "checkpoint_interval": 512,
    "hidden": [16, 16],
}


def _short_run(tmp_path, name: str, env_id: str = "CartPole-v1", env_kwargs=None, device: str = "cpu"):
    return train_run(
        "ppo", env_id, env_kwargs=env_kwargs, steps=1024, seed=0, num_envs=4, device=device,
        out=tmp_path / name, hp_overrides=SHORT, eval_episodes=3, progress=False, tensorboard=False,
    )  # fmt: skip


def test_unknown_hyperparameter_names_the_valid_ones():
    with pytest.raises(ValueError, match="clip_coef"):
        resolve_hyperparams("ppo", PPOConfig, "CartPole-v1", {"clip_coeff": 0.1})
    with pytest.raises(ValueError, match="gae_lambda"):
        PPOConfig(gae_lambda=1.5)
    assert resolve_hyperparams("ppo", PPOConfig, "CartPole-v1", {"target_kl": 0.02}).target_kl == 0.02


def test_short_run_writes_a_loadable_policy(tmp_path):
    run = _short_run(tmp_path, "a")
    assert (run / "ppo.safetensors").exists() and (run / "checkpoints" / "last.safetensors").exists()
    policy = load_policy(run)
    action, state = policy.predict(np.zeros(4, dtype=np.float32))
    assert state is None and np.shape(action) == () and int(action) in (0, 1)
    actions, _ = policy.predict(np.zeros((5, 4), dtype=np.float32), deterministic=False)
    assert actions.shape == (5,)
    cols = read_metrics(run / "metrics.csv")
    assert cols["step"][-1] == 1024
    assert cols["learning_rate"][-1] < cols["learning_rate"][0]  # annealed


def test_same_seed_same_training_curve(tmp_path):
    a, b = _short_run(tmp_path, "a"), _short_run(tmp_path, "b")
    ma, mb = read_metrics(a / "metrics.csv"), read_metrics(b / "metrics.csv")
    for key in ("return_mean", "pg_loss", "v_loss", "approx_kl", "episodes"):
        np.testing.assert_array_equal(ma[key], mb[key])


def test_torch_backend_rollout_stays_on_device():
    """The GPU path, run on CPU: our highway env with backend='torch' is stepped with no host copy."""
    venv = make_vec_env("autodrive/HighwayFast-v0", 8, seed=0, env_kwargs={"backend": "torch"})
    env = TorchVecEnv(venv, torch.device("cpu"))
    try:
        obs = env.reset(seed=0)
        assert env.native and obs.shape == (8, 5, 5)
        agent = build_actor_critic(env.obs_shape, env.n_actions, {"hidden": [16], "activation": "tanh"})
        ro = Rollout.empty(40, 8, env.obs_shape, torch.device("cpu"))
        stats = EpisodeStats(8, torch.device("cpu"))
        collect(agent, env, obs, ro, stats, torch.Generator().manual_seed(0))
    finally:
        env.close()
    assert env.host_copies == 0
    assert (~ro.valid).any()  # episodes ended (30 s each) and the reset steps were marked
    assert stats.reports_crashes


def test_crash_penalty_changes_only_the_learning_reward_of_crash_steps():
    """crash_penalty is subtracted from the stored reward of the steps that end in a crash; every other
    reward, and the episode returns logged (the env's own reward), are unchanged."""

    def rollout(penalty: float):
        env = TorchVecEnv(make_vec_env("autodrive/HighwayFast-v0", 16, seed=0), torch.device("cpu"))
        torch.manual_seed(0)
        agent = build_actor_critic(env.obs_shape, env.n_actions, {"hidden": [16], "activation": "tanh"})
        ro = Rollout.empty(30, 16, env.obs_shape, torch.device("cpu"))
        stats = EpisodeStats(16, torch.device("cpu"))
        logged = {}

        class Logger:
            def add_episodes(self, returns, lengths, crashed):
                logged.update(returns=returns, crashed=crashed)

        try:
            collect(agent, env, env.reset(seed=0), ro, stats, torch.Generator().manual_seed(0), penalty)
        finally:
            env.close()
        stats.flush(Logger())
        return ro, logged

    plain, logged = rollout(0.0)
    penalised, logged_again = rollout(5.0)
    crashes = int(logged["crashed"].sum())
    assert crashes > 0 and np.array_equal(logged["crashed"], logged_again["crashed"])
    np.testing.assert_array_equal(logged["returns"], logged_again["returns"])  # the env's reward
    crash_steps = (plain.terminated & plain.valid).float()  # a highway episode terminates only in a crash
    assert crash_steps.sum() == crashes
    torch.testing.assert_close(plain.rewards - penalised.rewards, 5.0 * crash_steps)


@pytest.mark.parametrize("algo", ["ppo", "dqn"])
def test_torch_backend_trains_end_to_end(tmp_path, algo):
    """Both agents train on highway's torch backend (tensors in, tensors out) and the policy evaluates on it."""
    from agents.base import TrainSpec
    from agents.common.evaluation import evaluate_policy
    from agents.common.hparams import build_dataclass
    from agents.common.logger import RunLogger
    from agents.registry import get_algorithm

    algorithm = get_algorithm(algo)
    hp = build_dataclass(
        algorithm.hyperparams, SHORT if algo == "ppo" else {"learning_starts": 256, "hidden": [16]}
    )
    logger = RunLogger(
        tmp_path, 1024, extra_fields=algorithm.extra_metrics, tensorboard=False, progress=False
    )
    kwargs = {"backend": "torch"}
    spec = TrainSpec("autodrive/HighwayFast-v0", hp, 1024, 0, 16, "cpu", tmp_path, logger, env_kwargs=kwargs)
    try:
        policy = algorithm.train(spec)
    finally:
        logger.close()
    result = evaluate_policy(policy, "autodrive/HighwayFast-v0", episodes=4, env_kwargs=kwargs)
    assert result["episodes"] == 4 and 0.0 <= result["crash_rate"] <= 1.0


@pytest.mark.gpu
@pytest.mark.parametrize("algo", ["ppo", "dqn"])
def test_cuda_highway_trains_end_to_end(tmp_path, algo):
    hp = SHORT if algo == "ppo" else {"learning_starts": 256, "log_interval": 256, "hidden": [16, 16]}
    run = train_run(
        algo, "autodrive/HighwayFast-v0", steps=1024, num_envs=64, device="cuda", out=tmp_path / algo,
        hp_overrides=hp, eval_episodes=3, progress=False, tensorboard=False,
    )  # fmt: skip
    assert read_json(run / "eval.json")["episodes"] == 3
    assert load_policy(run).device.type == "cpu"
