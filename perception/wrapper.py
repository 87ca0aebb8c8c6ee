"""Driving from pixels: wrappers that turn a camera-observation driving env into the env its policy knows.

``PerceptionWrapper(env, model)`` (one env) and ``PerceptionVectorWrapper(venv, model)`` (the batched
env) run the perception CNN on each camera observation, place the detections in the world with the
camera's pose (the ego's position and the view's heading, as a car's GPS and map give them), and return
the observation the simulator's own function computes from the perceived scene: the world's own planner
observation (Kinematics with the world's options, or exit-v0's ExitObservation), so a policy trained on
ground truth drives unchanged, on every world. Importing :mod:`perception` also registers
``autodrive/<World>Perceived-v0`` (kwarg ``model_dir``), so agents' evaluation code can run them by id.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import VectorEnv, VectorObservationWrapper

from envs.highway.camera import CameraSpec
from envs.highway.observation import OBSERVATIONS, STATE_OBSERVATIONS
from perception import decode as dec
from perception.model import PerceptionCNN, load_model


def camera_kwargs(model: PerceptionCNN) -> dict[str, Any]:
    """Highway config overrides that make an env's camera match the one ``model`` was trained on."""
    cam = model.cfg.camera
    return {
        "observation": "camera",
        "camera_width": cam.width,
        "camera_height": cam.height,
        "camera_channels": cam.channels,
        "camera_stack": cam.stack,
        "camera_scale": cam.scale,
        "camera_behind": cam.behind,
        "camera_near": cam.near,
        "camera_far_scale": cam.far_scale,
    }


def planner_config(env_config: Any) -> Any:
    """``env_config`` as its driving policy sees the world: the world's own observation type and options
    (e.g. the roundabout's absolute Kinematics, exit-v0's ExitObservation) instead of the camera."""
    world = type(env_config)()
    if world.observation not in STATE_OBSERVATIONS:
        raise ValueError(f"a perceived scene cannot give the {world.observation!r} observation")
    return dataclasses.replace(
        env_config, observation=world.observation, observation_options=world.observation_options
    )


class Perceiver:
    """Stacked camera frames (B, S*C, H, W) and the camera's poses (B, 3) -> the planner's observation
    (float32), via the CNN and the simulator."""

    def __init__(self, model: PerceptionCNN, env_config: Any) -> None:
        if env_config.observation != "camera":
            raise ValueError(
                f"the env has observation={env_config.observation!r}; make it with observation='camera'"
            )
        if CameraSpec.from_config(env_config) != model.cfg.camera:
            raise ValueError(
                "the env's camera differs from the one the model was trained on; "
                f"make the env with {camera_kwargs(model)}"
            )
        self.model = model.eval()
        self.env_config = env_config
        self.planner = planner_config(env_config)
        self.space = OBSERVATIONS[self.planner.observation].space(self.planner)
        self.device = next(model.parameters()).device

    @torch.inference_mode()
    def __call__(self, frames: Any, pose: np.ndarray) -> np.ndarray:
        x = torch.as_tensor(frames, device=self.device)
        dense, ego = self.model(x)
        det = dec.decode(dense, ego, self.model.cfg)
        name = {"occupancy_grid": "occupancy"}.get(self.planner.observation, self.planner.observation)
        return dec.observe(det, self.planner, (name,), pose)[name]


class PerceptionWrapper(gym.ObservationWrapper):
    """One camera env -> an env observed as its world's planner observation, from the perception CNN."""

    def __init__(self, env: gym.Env, model: PerceptionCNN) -> None:
        super().__init__(env)
        self.perceiver = Perceiver(model, env.unwrapped.config)
        self.observation_space = self.perceiver.space

    def observation(self, observation: np.ndarray) -> np.ndarray:
        pose = self.env.unwrapped.camera_pose[None]
        return self.perceiver(np.asarray(observation)[None], pose)[0]


class PerceptionVectorWrapper(VectorObservationWrapper):
    """The batched camera env -> batched planner observations; tensors stay tensors (on the env's device)."""

    def __init__(self, env: VectorEnv, model: PerceptionCNN) -> None:
        super().__init__(env)
        self.perceiver = Perceiver(model, env.unwrapped.config)
        self.single_observation_space = self.perceiver.space
        self.observation_space = gym.vector.utils.batch_space(self.single_observation_space, env.num_envs)

    def observations(self, observations: Any) -> Any:
        obs = self.perceiver(observations, self.env.unwrapped.camera_pose)
        if isinstance(observations, torch.Tensor):
            return torch.as_tensor(obs, device=observations.device)
        return obs


def make_perceived_env(model_dir: str | Path, preset: str = "highway-fast", **overrides: Any) -> gym.Env:
    from envs.highway.env import HighwayEnv

    model = load_model(model_dir)
    return PerceptionWrapper(HighwayEnv(preset, **{**overrides, **camera_kwargs(model)}), model)


def make_perceived_vec(
    num_envs: int, model_dir: str | Path, preset: str = "highway-fast", **overrides: Any
) -> VectorEnv:
    from envs.highway.vector import HighwayVectorEnv

    device = overrides.pop("device", "cpu")
    model = load_model(model_dir, device=device if str(device).startswith("cuda") else "cpu")
    venv = HighwayVectorEnv(num_envs, preset, device=device, **{**overrides, **camera_kwargs(model)})
    return PerceptionVectorWrapper(venv, model)
