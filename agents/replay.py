"""Watch a trained agent: play episodes in a pygame window, or record them to a GIF/MP4 file."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np

from agents.common.envs import check_env_id
from agents.common.io import atomic_path
from agents.run import load_policy, read_run_config

VIDEO_SUFFIXES = (".gif", ".mp4")


def _env_action(env: gym.Env, action, space: gym.Space | None = None) -> int | np.ndarray | tuple:
    """A policy's action for one env's ``step``: an int, or one command vector whatever batch axis the
    policy added; for a tuple env (several controlled vehicles) one per vehicle, from the policy's batch."""
    space = space or env.action_space
    action = np.asarray(action)
    if isinstance(space, gym.spaces.Tuple):
        return tuple(_env_action(env, a, s) for a, s in zip(action.reshape(len(space), -1), space))
    if isinstance(space, gym.spaces.Discrete):
        return action.item()
    return action.reshape(space.shape)


def _policy_input(obs):
    """The observation as the policy takes it: a tuple env's observations (one per vehicle) as a batch."""
    return np.stack(obs) if isinstance(obs, tuple) else obs


def _episode_frames(env: gym.Env, policy, seed: int, max_frames: int) -> tuple[list[np.ndarray], float]:
    """Frames of one greedy episode: every physics sub-step where the env draws them (the driving envs'
    ``render_frames``, played at ``render_fps`` = the simulation frequency), else one per step."""
    sub_steps = getattr(env.unwrapped, "render_frames", None)
    obs, _ = env.reset(seed=seed)
    frames, total = [env.render()], 0.0
    while len(frames) < max_frames:
        action, _ = policy.predict(_policy_input(obs), deterministic=True)
        obs, reward, terminated, truncated, _ = env.step(_env_action(env, action))
        total += float(reward)
        frames.extend(sub_steps() if sub_steps is not None else [env.render()])
        if terminated or truncated:
            break
    return frames, total


def record_episodes(
    run_dir: str | Path,
    path: str | Path,
    episodes: int = 1,
    seed: int = 0,
    fps: int | None = None,
    env_id: str | None = None,
) -> Path:
    """Render ``episodes`` greedy episodes of the run's agent into ``path`` (.gif or .mp4), atomically."""
    path = Path(path)
    if path.suffix.lower() not in VIDEO_SUFFIXES:
        raise ValueError(f"--record needs a .gif or .mp4 path, got {path}")
    config = read_run_config(run_dir)
    env_id = env_id or config["env_id"]
    check_env_id(env_id)
    policy = load_policy(run_dir)
    env = gym.make(env_id, render_mode="rgb_array", **config["env_kwargs"])
    try:
        frames: list[np.ndarray] = []
        for i in range(episodes):
            ep_frames, _ = _episode_frames(env, policy, seed + i, max_frames=2000)
            frames.extend(ep_frames)
        fps = fps or env.metadata.get("render_fps", 15)
    finally:
        env.close()
    write_video(path, frames, fps)
    return path


def write_video(path: str | Path, frames: list[np.ndarray], fps: int) -> Path:
    """GIF (Pillow via imageio) or MP4 (imageio-ffmpeg, the ``video`` extra), via a temp file and rename."""
    import imageio.v3 as iio

    with atomic_path(path) as tmp:
        if Path(path).suffix.lower() == ".gif":
            iio.imwrite(tmp, np.stack(frames), extension=".gif", duration=1000 / fps, loop=0)
        else:
            iio.imwrite(tmp, np.stack(frames), extension=".mp4", fps=fps)
    return Path(path)


def play(run_dir: str | Path, episodes: int = 1, seed: int = 0, env_id: str | None = None) -> list[float]:
    """Play greedy episodes in a pygame window; returns their returns."""
    config = read_run_config(run_dir)
    env_id = env_id or config["env_id"]
    check_env_id(env_id)
    policy = load_policy(run_dir)
    env = gym.make(env_id, render_mode="human", **config["env_kwargs"])
    returns = []
    try:
        for i in range(episodes):
            obs, _ = env.reset(seed=seed + i)
            total, done = 0.0, False
            while not done:
                action, _ = policy.predict(_policy_input(obs), deterministic=True)
                obs, reward, terminated, truncated, _ = env.step(_env_action(env, action))
                total += float(reward)
                done = terminated or truncated
            returns.append(total)
    finally:
        env.close()
    return returns
