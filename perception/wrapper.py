"""Driving from pixels: wrappers that turn a camera-observation driving env into the env its policy knows.

``PerceptionWrapper(env, model)`` (one env) and ``PerceptionVectorWrapper(venv, model)`` (the batched
env) run the perception CNN on each camera observation, place the detections in the world with the
camera's pose (the ego's position and the view's heading, as a car's GPS and map give them), and return
the observation the simulator's own function computes from the perceived scene: the world's own planner
observation (Kinematics with the world's options, or exit-v0's ExitObservation), so a policy trained on
ground truth drives unchanged, on every world. Importing :mod:`perception` also registers
``autodrive/<World>Perceived-v0`` (kwarg ``model_dir``), so agents' evaluation code can run them by id.

A model that reads LiDAR (``sensors="lidar"`` or ``"fused"``) also gets a scan of the env's state each
step (:func:`perception.lidar.env_scan`); ``degradation`` (a :class:`~perception.lidar.Degradation` or a
name of ``perception.lidar.DEGRADATIONS``) damages the sensors before perception, and ``attack`` (a
:class:`~perception.attacks.Attack` or its spelling, e.g. ``"pgd:4"``) perturbs each camera frame against
the CNN, with the CNN's own clean detections as the targets (an attacker in the loop, without labels).
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
from envs.highway.observation import OBSERVATIONS, STATE_OBSERVATIONS, observe_state
from perception import decode as dec
from perception.attacks import Attack, attack_frames, attack_of
from perception.lidar import DEGRADATIONS, Degradation, ScanHistory, env_scan, project_stack
from perception.model import PerceptionCNN, load_model
from perception.tracking import Tracker, fuse_lidar_objects


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


def degradation_of(degradation: Degradation | str | None) -> Degradation:
    if degradation is None or isinstance(degradation, Degradation):
        return degradation or Degradation()
    if degradation not in DEGRADATIONS:
        raise ValueError(f"unknown degradation {degradation!r}; choose one of {sorted(DEGRADATIONS)}")
    return DEGRADATIONS[degradation]


class Perceiver:
    """Stacked camera frames (B, S*C, H, W), the camera's poses (B, 3) and, for a model that reads one,
    LiDAR scans (B, cells, 2) -> the planner's observation (float32), via the CNN and the simulator. A
    model that reads several scans gets this step's and the previous ones (kept here; ``fresh`` (B,) marks
    the envs whose episode has just begun)."""

    def __init__(
        self,
        model: PerceptionCNN,
        env_config: Any,
        degradation: Degradation | str | None = None,
        seed: int = 0,
        attack: Attack | str | None = None,
        coast_steps: int = 0,
        lidar_objects: bool = False,
    ) -> None:
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
        self.degradation = degradation_of(degradation)
        self.rng = np.random.default_rng(seed)
        self.attack = attack_of(attack)
        self.generator = torch.Generator(self.device).manual_seed(seed)
        self.scans = ScanHistory(model.cfg.lidar_stack)
        if lidar_objects and not model.cfg.uses_lidar:
            raise ValueError(
                f"lidar_objects needs a model that reads LiDAR, not sensors={model.cfg.sensors!r}"
            )
        self.lidar_objects = lidar_objects
        self.tracker = Tracker(coast_steps, 1.0 / env_config.policy_frequency) if coast_steps else None

    @property
    def reads_lidar(self) -> bool:
        return self.model.cfg.uses_lidar

    def __call__(
        self, frames: Any, pose: np.ndarray, scans: np.ndarray | None = None, fresh: Any = None
    ) -> np.ndarray:
        if self.reads_lidar and scans is None:
            raise ValueError(f"a sensors={self.model.cfg.sensors!r} model needs LiDAR scans")
        if fresh is None and (
            self.tracker is not None or self.reads_lidar and self.model.cfg.lidar_stack > 1
        ):
            raise ValueError(
                "tracking, or a model that reads several LiDAR scans, needs `fresh`: which episodes just began"
            )
        if self.degradation != Degradation():
            frames, scans = self.degradation.apply(
                torch.as_tensor(frames).cpu().numpy(), scans, self.rng, self.model.cfg.lidar
            )
        x = (torch.as_tensor(frames, device=self.device),)
        if self.reads_lidar:
            cfg = self.model.cfg
            fresh = np.ones(len(scans), bool) if fresh is None else np.asarray(fresh, bool)
            stacks, headings = self.scans.push(scans, np.asarray(pose)[:, 2], fresh)
            lidar = project_stack(stacks, headings, cfg.lidar, cfg.camera)
            x += (torch.as_tensor(lidar, device=self.device),)
        if self.attack is not None:
            x = (attack_frames(self.model, *x[:1], self.attack, lidar=x[1] if len(x) > 1 else None,
                               generator=self.generator), *x[1:])  # fmt: skip
        with torch.inference_mode():
            dense, ego = self.model(*x)
        det = dec.decode(dense, ego, self.model.cfg)
        state, present = dec.pseudo_state(det, pose)
        if self.lidar_objects:
            state, present = fuse_lidar_objects(state, present, scans, np.asarray(pose), self.model.cfg.lidar)
        if self.tracker is not None:
            spec = self.model.cfg.lidar
            lidar = (scans, spec.angles, spec.maximum_range) if self.reads_lidar else ()
            state, present = self.tracker.update(state, present, fresh, *lidar)
        return observe_state(self.planner.observation, state, self.planner, present)


def fresh_episodes(env: Any) -> np.ndarray:
    """(B,) bool: the envs of a driving env (``unwrapped``) whose episode has just begun (time 0)."""
    return np.asarray(env.state.time).reshape(-1) == 0


class PerceptionWrapper(gym.ObservationWrapper):
    """One camera env -> an env observed as its world's planner observation, from the perception CNN."""

    def __init__(
        self,
        env: gym.Env,
        model: PerceptionCNN,
        degradation: Degradation | str | None = None,
        seed: int = 0,
        attack: Attack | str | None = None,
        coast_steps: int = 0,
        lidar_objects: bool = False,
    ) -> None:
        super().__init__(env)
        self.perceiver = Perceiver(
            model, env.unwrapped.config, degradation, seed, attack, coast_steps, lidar_objects
        )
        self.observation_space = self.perceiver.space

    def observation(self, observation: np.ndarray) -> np.ndarray:
        env = self.env.unwrapped
        scans = env_scan(env, self.perceiver.model.cfg.lidar) if self.perceiver.reads_lidar else None
        obs = self.perceiver(np.asarray(observation)[None], env.camera_pose[None], scans, fresh_episodes(env))
        return obs[0]


class PerceptionVectorWrapper(VectorObservationWrapper):
    """The batched camera env -> batched planner observations; tensors stay tensors (on the env's device)."""

    def __init__(
        self,
        env: VectorEnv,
        model: PerceptionCNN,
        degradation: Degradation | str | None = None,
        seed: int = 0,
        attack: Attack | str | None = None,
        coast_steps: int = 0,
        lidar_objects: bool = False,
    ) -> None:
        super().__init__(env)
        self.perceiver = Perceiver(
            model, env.unwrapped.config, degradation, seed, attack, coast_steps, lidar_objects
        )
        self.single_observation_space = self.perceiver.space
        self.observation_space = gym.vector.utils.batch_space(self.single_observation_space, env.num_envs)

    def observations(self, observations: Any) -> Any:
        env = self.env.unwrapped
        scans = env_scan(env, self.perceiver.model.cfg.lidar) if self.perceiver.reads_lidar else None
        obs = self.perceiver(observations, env.camera_pose, scans, fresh_episodes(env))
        if isinstance(observations, torch.Tensor):
            return torch.as_tensor(obs, device=observations.device)
        return obs


def make_perceived_env(
    model_dir: str | Path,
    preset: str = "highway-fast",
    degradation: Degradation | str | None = None,
    attack: Attack | str | None = None,
    coast_steps: int = 0,
    lidar_objects: bool = False,
    **overrides: Any,
) -> gym.Env:
    from envs.highway.env import HighwayEnv

    model = load_model(model_dir)
    env = HighwayEnv(preset, **{**overrides, **camera_kwargs(model)})
    return PerceptionWrapper(
        env, model, degradation, attack=attack, coast_steps=coast_steps, lidar_objects=lidar_objects
    )


def make_perceived_vec(
    num_envs: int,
    model_dir: str | Path,
    preset: str = "highway-fast",
    degradation: Degradation | str | None = None,
    attack: Attack | str | None = None,
    coast_steps: int = 0,
    lidar_objects: bool = False,
    **overrides: Any,
) -> VectorEnv:
    from envs.highway.vector import HighwayVectorEnv

    device = overrides.pop("device", "cpu")
    model = load_model(model_dir, device=device if str(device).startswith("cuda") else "cpu")
    venv = HighwayVectorEnv(num_envs, preset, device=device, **{**overrides, **camera_kwargs(model)})
    if model.cfg.uses_lidar and str(device).startswith("cuda"):
        raise ValueError("LiDAR scans of a perceived env are computed on the CPU: make it with device='cpu'")
    return PerceptionVectorWrapper(
        venv, model, degradation, attack=attack, coast_steps=coast_steps, lidar_objects=lidar_objects
    )
