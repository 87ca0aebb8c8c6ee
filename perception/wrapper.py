"""Driving from pixels: wrappers that turn a camera-observation highway env into a Kinematics env.

``PerceptionWrapper(env, model)`` (one env) and ``PerceptionVectorWrapper(venv, model)`` (the batched
env) run the perception CNN on each camera observation and return the Kinematics rows the simulator's
own function computes from the perceived scene, so a policy trained on ground-truth Kinematics drives
unchanged. Importing :mod:`perception` also registers ``autodrive/HighwayFastPerceived-v0`` and
``autodrive/HighwayPerceived-v0`` (kwarg ``model_dir``), so agents' evaluation code can run them by id.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import VectorEnv, VectorObservationWrapper

from envs.highway.camera import CameraSpec
from envs.highway.observation import OBSERVATIONS
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


class Perceiver:
    """Stacked camera frames (B, S*C, H, W) -> Kinematics (B, 5, 5) float32, via the CNN and the simulator."""

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
        self.device = next(model.parameters()).device

    @torch.inference_mode()
    def __call__(self, frames: Any) -> np.ndarray:
        x = torch.as_tensor(frames, device=self.device)
        dense, ego = self.model(x)
        det = dec.decode(dense, ego, self.model.cfg)
        return dec.observe(det, self.env_config, ("kinematics",))["kinematics"]


def _kinematics_space(env_config: Any) -> gym.spaces.Box:
    return OBSERVATIONS["kinematics"].space(env_config)


class PerceptionWrapper(gym.ObservationWrapper):
    """One camera env -> a Kinematics env whose rows come from the perception CNN."""

    def __init__(self, env: gym.Env, model: PerceptionCNN) -> None:
        super().__init__(env)
        self.perceiver = Perceiver(model, env.unwrapped.config)
        self.observation_space = _kinematics_space(env.unwrapped.config)

    def observation(self, observation: np.ndarray) -> np.ndarray:
        return self.perceiver(np.asarray(observation)[None])[0]


class PerceptionVectorWrapper(VectorObservationWrapper):
    """The batched camera env -> batched Kinematics; tensors stay tensors (on the env's device)."""

    def __init__(self, env: VectorEnv, model: PerceptionCNN) -> None:
        super().__init__(env)
        self.perceiver = Perceiver(model, env.unwrapped.config)
        self.single_observation_space = _kinematics_space(env.unwrapped.config)
        self.observation_space = gym.vector.utils.batch_space(self.single_observation_space, env.num_envs)

    def observations(self, observations: Any) -> Any:
        kin = self.perceiver(observations)
        if isinstance(observations, torch.Tensor):
            return torch.as_tensor(kin, device=observations.device)
        return kin


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
