"""Rendering: rgb_array frames, a headless human window, and Gymnasium's RecordVideo."""

from __future__ import annotations

import os

import gymnasium as gym
import numpy as np
import pytest

import envs  # noqa: F401

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
IDS = [
    "autodrive/Highway-v0",
    "autodrive/HighwayFast-v0",
    "autodrive/Merge-v0",
    "autodrive/Exit-v0",
    "autodrive/Roundabout-v0",
]


@pytest.mark.parametrize("env_id", IDS)
def test_rgb_array_follows_the_ego(env_id: str) -> None:
    env = gym.make(env_id, render_mode="rgb_array")
    cfg = env.unwrapped.config
    env.reset(seed=0)
    first = env.render()
    assert first.shape == (cfg.screen_height, cfg.screen_width, 3) and first.dtype == np.uint8
    for _ in range(3):
        env.step(3)
    frame = env.render()
    ego_green = np.all(frame == (50, 200, 0), axis=-1)
    assert ego_green.any()
    rows, cols = (np.nonzero(ego_green.any(axis=a))[0] for a in (1, 0))
    cx, cy = cfg.centering_position  # the ego is kept there (0.3, 0.5 on the highway)
    assert abs(cols.mean() / cfg.screen_width - cx) < 0.1 and abs(rows.mean() / cfg.screen_height - cy) < 0.1
    env.close()


@pytest.mark.parametrize("env_id", ["autodrive/Highway-v0", "autodrive/Merge-v0"])
def test_frames_at_the_simulation_frequency(env_id: str) -> None:
    """render_frames() draws every physics sub-step of the last step, the last one being render()'s frame;
    recording them changes nothing in the physics."""
    env = gym.make(env_id, render_mode="rgb_array")
    plain = gym.make(env_id)
    cfg = env.unwrapped.config
    assert env.metadata["render_fps"] == cfg.simulation_frequency
    env.reset(seed=3)
    plain.reset(seed=3)
    assert len(env.unwrapped.render_frames()) == 1  # after a reset: the new scene
    for action in (3, 0, 1):
        obs, *_ = env.step(action)
        assert np.array_equal(obs, plain.step(action)[0])
        frames = env.unwrapped.render_frames()
        assert len(frames) == cfg.simulation_frequency // cfg.policy_frequency
        assert np.array_equal(frames[-1], env.render())
        assert not np.array_equal(frames[0], frames[-1])  # the traffic moves between sub-steps
    env.close()
    plain.close()


def test_sub_step_scenes_need_a_trace() -> None:
    env = gym.make("autodrive/HighwayFast-v0")
    env.reset(seed=0)
    with pytest.raises(RuntimeError, match="trace=True"):
        env.unwrapped.sim.sub_step_scenes(0)


def test_human_mode_headless() -> None:
    env = gym.make("autodrive/HighwayFast-v0", render_mode="human")
    env.reset(seed=0)
    env.step(1)
    assert env.render() is None
    env.close()


def test_render_without_mode_warns() -> None:
    env = gym.make("autodrive/HighwayFast-v0")
    env.reset(seed=0)
    with pytest.warns(UserWarning):
        assert env.render() is None


def test_vector_env_renders_env_zero() -> None:
    venv = gym.make_vec(
        "autodrive/HighwayFast-v0",
        num_envs=2,
        vectorization_mode="vector_entry_point",
        render_mode="rgb_array",
    )
    venv.reset(seed=0)
    assert venv.render().shape == (150, 600, 3)


def test_record_video(tmp_path) -> None:
    pytest.importorskip("moviepy")
    env = gym.wrappers.RecordVideo(
        gym.make("autodrive/HighwayFast-v0", render_mode="rgb_array"),
        str(tmp_path),
        episode_trigger=lambda e: True,
    )
    env.reset(seed=0)
    for _ in range(3):
        env.step(1)
    env.close()
    assert list(tmp_path.glob("*.mp4"))
