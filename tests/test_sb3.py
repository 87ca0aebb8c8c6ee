"""stable-baselines3 adapters: the VecEnv adapter's reset semantics, short runs, loading without pickle."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from agents import load_policy, train_run
from agents.common.io import read_json
from agents.sb3 import SB3VecEnv, supports_reset_mask


def _sync_cartpole(n: int) -> gym.vector.VectorEnv:
    return gym.make_vec("CartPole-v1", num_envs=n, vectorization_mode="sync")


def test_vec_env_adapter_resets_finished_envs_in_the_same_step():
    venv = _sync_cartpole(3)
    assert supports_reset_mask(venv)
    env = SB3VecEnv(venv)
    env.seed(0)
    obs = env.reset()
    assert obs.shape == (3, 4)
    seen_done = False
    for _ in range(200):
        env.step_async(np.zeros(3, dtype=np.int64))  # always left: episodes end fast
        obs, reward, done, infos = env.step_wait()
        assert obs.shape == (3, 4) and reward.shape == (3,) and len(infos) == 3
        for i in np.flatnonzero(done):
            seen_done = True
            final = infos[i]["terminal_observation"]
            assert abs(final[2]) > 0.2 or abs(final[0]) > 2.4  # the pole fell: a real final state
            assert np.all(np.abs(obs[i]) <= 0.05)  # the returned obs is a fresh reset
            assert infos[i]["TimeLimit.truncated"] is False
    assert seen_done
    env.close()


def test_vec_env_adapter_passes_sb3_env_checker():
    from stable_baselines3.common.vec_env import VecEnv

    env = SB3VecEnv(_sync_cartpole(2))
    assert isinstance(env, VecEnv)
    assert env.observation_space.shape == (4,) and env.action_space.n == 2
    env.close()


@pytest.mark.parametrize("algo", ["sb3-dqn", "sb3-ppo"])
def test_short_sb3_run_is_loadable_without_pickle(tmp_path, algo):
    hp = (
        {"learning_starts": 100, "log_interval": 256}
        if algo == "sb3-dqn"
        else {"n_steps": 128, "log_interval": 256}
    )
    run = train_run(
        algo, "CartPole-v1", steps=512, num_envs=2, device="cpu", out=tmp_path / algo,
        hp_overrides=hp, eval_episodes=2, progress=False, tensorboard=False,
    )  # fmt: skip
    assert not list(run.glob("*.zip")) and (run / f"{algo}.safetensors").exists()
    assert read_json(run / "eval.json")["episodes"] == 2
    policy = load_policy(run)
    action, state = policy.predict(np.zeros(4, dtype=np.float32))
    assert state is None and np.shape(action) == () and int(action) in (0, 1)
    actions, _ = policy.predict(np.zeros((6, 4), dtype=np.float32))
    assert actions.shape == (6,)


def test_unknown_sb3_hyperparameter_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="n_epochs"):
        train_run("sb3-ppo", "CartPole-v1", steps=64, out=tmp_path / "x", hp_overrides={"n_epoch": 3})


@pytest.mark.parametrize(
    "env_id, kwargs",
    [
        ("autodrive/HighwayFast-v0", {}),
        ("autodrive/Merge-v0", {}),
        ("autodrive/Exit-v0", {}),
        ("autodrive/GridWorld-v0", {"map_text": "######\n#S..G#\n######", "max_steps": 40}),
    ],
)
def test_adapter_resets_only_the_envs_that_finished(env_id: str, kwargs: dict) -> None:
    """Our batched envs through SB3VecEnv: a finished env gets a fresh episode in the same step (its final
    observation in terminal_observation), the others keep theirs; infos come per env."""
    import envs  # noqa: F401

    venv = gym.make_vec(env_id, num_envs=6, vectorization_mode="vector_entry_point", **kwargs)
    assert supports_reset_mask(venv)
    env = SB3VecEnv(venv)
    env.seed(0)
    env.reset()
    inner = venv.unwrapped
    clock = (
        (lambda: inner.sim.host["time"].copy()) if hasattr(inner, "sim") else (lambda: inner.elapsed.copy())
    )
    rng = np.random.default_rng(0)
    checked = False
    for _ in range(200):
        before = clock()
        env.step_async(rng.integers(venv.single_action_space.n, size=6))
        obs, _, done, infos = env.step_wait()
        after = clock()
        assert len(infos) == 6 and all(isinstance(i, dict) for i in infos)
        if "crashed" in infos[0]:
            assert all(isinstance(i["crashed"], bool) and "rewards" in i for i in infos)
        if env_id == "autodrive/Exit-v0":
            assert all("is_success" in i for i in infos)
        if done.any() and not done.all():
            assert np.all(after[done] == 0) and np.all(after[~done] > before[~done])
            for i in np.flatnonzero(done):
                assert not np.array_equal(infos[i]["terminal_observation"], obs[i])
                assert isinstance(infos[i]["TimeLimit.truncated"], bool)
            checked = True
            break
    assert checked, "no step finished some envs but not all"
    assert env.get_attr("render_mode") == [None] * 6
    env.close()


def test_sb3_sac_trains_resumes_and_loads_on_box_actions(tmp_path):
    """SAC on Pendulum: weights without pickle, every optimizer and the entropy coefficient in the
    checkpoint, a resume that reloads them, and a loaded policy whose actions lie within the bounds."""
    from agents import resume_run
    from agents.common.checkpoint import load_checkpoint

    hp = {"learning_starts": 50, "batch_size": 32, "net_arch": [16], "log_interval": 100}
    run = train_run(
        "sb3-sac", "Pendulum-v1", steps=200, num_envs=1, device="cpu", out=tmp_path / "sac",
        hp_overrides=hp, eval_episodes=1, progress=False, tensorboard=False,
    )  # fmt: skip
    step, arrays, state = load_checkpoint(run)
    assert step == 200 and set(state) == {"actor_optimizer", "critic_optimizer", "ent_coef_optimizer"}
    assert "extra/log_ent_coef" in arrays
    resume_run(run, progress=False, tensorboard=False)  # nothing left to train: loads every state
    policy = load_policy(run)
    actions, _ = policy.predict(np.random.default_rng(0).normal(size=(7, 3)).astype(np.float32))
    assert actions.shape == (7, 1) and actions.dtype == np.float32
    assert np.all(np.abs(actions) <= 2.0)  # Pendulum's torque bound


def test_sb3_sac_drives_a_batched_world_with_continuous_actions(tmp_path):
    run = train_run(
        "sb3-sac", "autodrive/HighwayFast-v0", env_kwargs={"action": {"type": "ContinuousAction"}},
        steps=64, num_envs=4, device="cpu", out=tmp_path / "sac",
        hp_overrides={"learning_starts": 32, "batch_size": 16, "net_arch": [16], "log_interval": 32},
        eval_episodes=1, progress=False, tensorboard=False,
    )  # fmt: skip
    assert read_json(run / "eval.json")["episodes"] == 1
    actions, _ = load_policy(run).predict(np.zeros((2, 5, 5), dtype=np.float32))
    assert actions.shape == (2, 2) and np.all(np.abs(actions) <= 1.0)


def test_sb3_sac_refuses_discrete_actions(tmp_path):
    with pytest.raises(ValueError, match="ContinuousAction"):
        train_run("sb3-sac", "CartPole-v1", steps=64, out=tmp_path / "x", progress=False, tensorboard=False)


def test_adapter_passes_dict_observations_and_batched_compute_reward() -> None:
    """A goal-conditioned batch: dict observations, dict terminal observations, and compute_reward
    answered for a whole batch of relabelled transitions (even one as long as num_envs)."""
    venv = gym.make_vec("autodrive/Parking-v0", num_envs=3, vectorization_mode="vector_entry_point")
    env = SB3VecEnv(venv)
    env.seed(0)
    obs = env.reset()
    assert set(obs) == {"observation", "achieved_goal", "desired_goal"} and obs["observation"].shape == (3, 6)
    finished = False
    for _ in range(40):  # full throttle: every ego ends in a wall or a spot
        env.step_async(np.tile([1.0, 0.0], (3, 1)).astype(np.float32))
        obs, reward, done, infos = env.step_wait()
        for i in np.flatnonzero(done):
            finished = True
            assert set(infos[i]["terminal_observation"]) == set(obs) and infos[i]["crashed"]
            assert np.all(obs["observation"][i][:4] == 0.0)  # a fresh episode: at rest at the origin
    assert finished
    a, d = np.zeros((3, 6)), np.ones((3, 6))
    (rewards,) = env.env_method("compute_reward", a, d, [{}] * 3, indices=[0])
    assert rewards.shape == (3,) and np.allclose(rewards, -np.sqrt(1.34))  # sum of the weights
    env.close()


def test_sb3_sac_her_trains_and_loads_on_a_goal_conditioned_env(tmp_path):
    run = train_run(
        "sb3-sac-her", "autodrive/Parking-v0", steps=300, num_envs=1, device="cpu", out=tmp_path / "her",
        hp_overrides={
            "learning_starts": 100, "batch_size": 32, "net_arch": [16], "log_interval": 100,
            "fused_adam": True, "learning_rate_end": 1e-4,
        },
        eval_episodes=2, progress=False, tensorboard=False,
    )  # fmt: skip
    result = read_json(run / "eval.json")
    assert result["episodes"] == 2 and "success_rate" in result
    policy = load_policy(run)
    obs = {k: np.zeros((4, 6), np.float32) for k in ("observation", "achieved_goal", "desired_goal")}
    actions, _ = policy.predict(obs)
    assert actions.shape == (4, 2) and np.all(np.abs(actions) <= 1.0)


def test_sb3_sac_her_refuses_envs_without_goals(tmp_path):
    with pytest.raises(ValueError, match="goal-conditioned"):
        train_run(
            "sb3-sac-her", "autodrive/Racetrack-v0", steps=64, out=tmp_path / "x", progress=False,
            tensorboard=False,
        )  # fmt: skip


def test_sac_fused_adam_and_decaying_learning_rate_reach_sb3():
    from agents.sb3 import SB3SACConfig, _sb3_kwargs

    kwargs = _sb3_kwargs(SB3SACConfig(learning_rate=1e-3, learning_rate_end=1e-4, fused_adam=True))
    assert kwargs["policy_kwargs"]["optimizer_kwargs"] == {"fused": True}
    schedule = kwargs["learning_rate"]  # SB3 calls it with the fraction of training left
    assert schedule(1.0) == pytest.approx(1e-3) and schedule(0.0) == pytest.approx(1e-4)
    assert schedule(0.5) == pytest.approx(5.5e-4)
    assert _sb3_kwargs(SB3SACConfig())["learning_rate"] == 3e-4  # constant unless an end is given
    with pytest.raises(ValueError, match="learning_rate_end"):
        SB3SACConfig(learning_rate=1e-3, learning_rate_end=1e-2)
