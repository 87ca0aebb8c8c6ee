"""highway-env's ContinuousAction on every world: the action space, the checks, the vector env on both
backends, and PPO through it. Step fidelity against highway-env is in tests/test_highway_fidelity.py."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import envs  # noqa: F401
from envs.highway.config import make_config
from envs.highway.vector import HighwayVectorEnv

CONTINUOUS = {"action": {"type": "ContinuousAction"}}
WORLD_IDS = ["autodrive/HighwayFast-v0", "autodrive/Merge-v0", "autodrive/Exit-v0", "autodrive/Roundabout-v0"]


@pytest.mark.parametrize("env_id", WORLD_IDS)
def test_check_env_on_every_world(env_id: str) -> None:
    env = gym.make(env_id, config=CONTINUOUS)
    assert env.action_space == gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
    check_env(env.unwrapped, skip_render_check=True)
    obs, info = env.reset(seed=3)
    speed = info["speed"]
    for _ in range(2):  # full throttle, straight: the ego speeds up by 5 m/s2 for a second each step
        obs, _, term, _, info = env.step(np.array([1.0, 0.0], np.float32))
        if term:
            break
        assert info["speed"] > speed
        speed = info["speed"]
    np.testing.assert_array_equal(info["action"], [1.0, 0.0])


def test_config_reads_like_highway_env() -> None:
    cfg = make_config(
        "highway-fast", {"action": {"type": "ContinuousAction", "lateral": False, "speed_range": [0, 30]}}
    )
    assert cfg["action"]["type"] == "ContinuousAction" and cfg["action"]["speed_range"] == [0.0, 30.0]
    assert cfg.action_size == 1 and cfg.continuous_control.speed_range == (0.0, 30.0)
    with pytest.raises(ValueError, match=r"options \['dynamical'\] are not supported"):
        make_config("highway-fast", {"action": {"type": "ContinuousAction", "dynamical": True}})
    with pytest.raises(ValueError, match="supported types"):
        make_config("highway-fast", {"action": {"type": "DiscreteAction"}})
    with pytest.raises(ValueError, match="supported types"):  # MultiAgentAction of an unknown action type
        make_config(
            "highway-fast", {"action": {"type": "MultiAgentAction", "action_config": {"type": "Steer"}}}
        )
    with pytest.raises(ValueError, match="low < high"):
        make_config("highway-fast", {"action": {"type": "ContinuousAction", "steering_range": [0.2, -0.2]}})


def test_speed_range_bounds_the_ego() -> None:
    """Full throttle for 4 s: +/-40 m/s bounds let the ego reach 40; speed_range [0, 27] holds it near 27
    (highway-env's Vehicle.clip_actions pulls the speed back once it is over, so it may overshoot a little)."""
    speeds = {}
    for bounds in (None, [0, 27]):
        env = gym.make(
            "autodrive/HighwayFast-v0", config={"action": {"type": "ContinuousAction", "speed_range": bounds}}
        )
        env.reset(seed=0)
        for _ in range(4):
            _, _, term, _, info = env.step(np.array([1.0, 0.0], np.float32))
            assert not term
        speeds[str(bounds)] = info["speed"]
    assert speeds["None"] > 39.0 and 26.0 < speeds["[0, 27]"] < 28.5, speeds


@pytest.mark.parametrize(
    ("action", "error", "message"),
    [
        (np.array([np.nan, 0.0], np.float32), ValueError, "finite"),
        (np.array([0.5], np.float32), ValueError, r"shape \(2,\)"),
        (np.array([True, False]), TypeError, "numbers"),
    ],
)
def test_bad_continuous_actions_raise(action, error, message) -> None:
    env = gym.make("autodrive/HighwayFast-v0", config=CONTINUOUS).unwrapped
    env.reset(seed=0)
    with pytest.raises(error, match=message):
        env.step(action)


def test_out_of_range_commands_clip_or_raise() -> None:
    clipped = gym.make("autodrive/HighwayFast-v0", config=CONTINUOUS).unwrapped
    strict = gym.make(
        "autodrive/HighwayFast-v0", config={"action": {"type": "ContinuousAction", "clip": False}}
    )
    strict = strict.unwrapped
    a, b = clipped.reset(seed=1)[0], strict.reset(seed=1)[0]
    np.testing.assert_array_equal(a, b)
    obs_big = clipped.step(np.array([3.0, 0.0], np.float32))[0]
    with pytest.raises(ValueError, match=r"in \[-1, 1\]"):
        strict.step(np.array([3.0, 0.0], np.float32))
    obs_one = strict.step(np.array([1.0, 0.0], np.float32))[0]
    np.testing.assert_allclose(obs_big, obs_one)  # clip=True: 3.0 acts as 1.0, as in highway-env


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_vector_env_takes_a_batch_of_commands(backend: str) -> None:
    env = HighwayVectorEnv(4, preset="highway-fast", config=CONTINUOUS, backend=backend)
    assert env.single_action_space.shape == (2,) and env.action_space.shape == (4, 2)
    env.reset(seed=0)
    commands = np.array([[1, 0], [-1, 0], [0, 0.2], [0, -0.2]], np.float32)
    if backend == "torch":
        import torch

        commands = torch.as_tensor(commands)
    _, _, _, _, info = env.step(commands)
    speed = np.asarray(info["speed"])
    assert speed[0] > speed[2] > speed[1]  # throttle, coast, brake
    with pytest.raises(ValueError, match=r"shape \(4, 2\)"):
        env.step(commands[:2])
    env.close()


def test_ppo_drives_with_continuous_actions(tmp_path) -> None:
    from agents import load_policy, train_run

    hp = {"num_envs": 4, "num_steps": 32, "update_epochs": 1, "log_interval": 128}
    run = train_run(
        "ppo", "autodrive/HighwayFast-v0", env_kwargs={"config": CONTINUOUS}, steps=256, out=tmp_path / "r",
        hp_overrides=hp, eval_episodes=2, progress=False, tensorboard=False,
    )  # fmt: skip
    actions, _ = load_policy(run).predict(np.zeros((3, 5, 5), np.float32))
    assert actions.shape == (3, 2) and (np.abs(actions) <= 1.0).all()
