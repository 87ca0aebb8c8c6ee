"""The camera as a wrapper: any single highway env, whatever its observation, seen through the camera.

``observation="camera"`` in the config is the usual way; the wrapper serves code that already holds an
env (e.g. a Kinematics env made elsewhere) and wants pixels too. It renders from the env's own state with
the same :class:`~envs.highway.camera.CameraObservation`, so frames are identical to ``observation="camera"``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import gymnasium as gym
import numpy as np

from envs.highway.backend import NumpyOps
from envs.highway.camera import CameraObservation
from envs.highway.env import HighwayEnv

_HOST = NumpyOps()


class CameraWrapper(gym.ObservationWrapper):
    """``CameraWrapper(env, camera_width=64, camera_stack=4, ...)``: observations become uint8 camera frames
    ``(camera_stack * camera_channels, camera_height, camera_width)``; keyword arguments are the config's
    ``camera_*`` fields (defaults: the env's own)."""

    def __init__(self, env: gym.Env, **camera: Any) -> None:
        super().__init__(env)
        if not isinstance(env.unwrapped, HighwayEnv):
            raise TypeError(
                f"CameraWrapper needs an autodrive highway env, got {type(env.unwrapped).__name__}"
            )
        fields = {f.name for f in dataclasses.fields(env.unwrapped.config) if f.name.startswith("camera_")}
        unknown = sorted(set(camera) - fields)
        if unknown:
            raise ValueError(f"unknown camera fields {unknown}; valid: {sorted(fields)}")
        self.camera_config = dataclasses.replace(env.unwrapped.config, **camera)  # validates the values
        self._camera = CameraObservation()
        self.observation_space = self._camera.space(self.camera_config)

    @property
    def camera_pose(self) -> np.ndarray:
        """(3,): the latest frame's pose (the ego's x, y [m], the view's heading [rad])."""
        return self._camera.pose[0]

    def observation(self, observation: Any) -> np.ndarray:
        return self._camera.observe(_HOST, self.env.unwrapped.sim, self.camera_config)[0]
