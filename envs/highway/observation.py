"""The highway env's observation types, a small closed registry over the simulator's observations.

``OBSERVATIONS[config.observation]`` gives an :class:`ObservationType`: ``space(cfg)`` (one env's
space) and ``kernel(cfg)``, the observation computed inside the step kernel
(``envs/physics/observe.py``). With highway-env's defaults:

- ``kinematics`` (highway-env ``KinematicObservation``): 5 rows (ego + 4 nearest vehicles ahead of
  ``-2 * length``, within 200 m, sorted by distance along the ego's lane) x (presence, x, y, vx, vy); ego
  row absolute, others relative to the ego; x in [-200, 200] m, y in +/-4 m * lanes, v in [-80, 80] m/s
  mapped to [-1, 1] and clipped; missing rows are zeros.
- ``occupancy_grid`` (highway-env ``OccupancyGridObservation``): 4 layers (presence, vx, vy, on_road) on
  an 11 x 11 grid of 5 m cells centred on the ego, axes aligned with the world.
- ``exit`` (highway-env ``ExitObservation``, exit-v0's default): Kinematics of vehicles, the ego's x
  replaced by its longitudinal coordinate on the exit lane.
- ``time_to_collision`` (highway-env ``TimeToCollisionObservation``): (3, 3, horizon * policy_frequency)
  collision costs for the ego's neighbouring speed set-points and lanes over future policy steps.
- ``kinematics_goal`` (highway-env ``KinematicsGoalObservation``, parking-v0's default): a dict of
  float32 ``observation``, ``achieved_goal`` (both the ego's x, y, vx, vy, cos_h, sin_h over
  ``scales``) and ``desired_goal`` (its goal's), the layout goal-conditioned agents (HER) read.
- ``lidar`` (highway-env ``LidarObservation``): (16, 2) rays every 22.5 degrees around the ego, each
  the distance to the nearest vehicle or solid object within 60 m and its speed towards the ego along
  the ray, both divided by 60 (options ``cells``, ``maximum_range``, ``normalize``, and autodrive's
  ``road_edges``: rays also end at the road's edge).
- ``camera`` (``envs/highway/camera.py``): ego-centred bird's-eye pixels, uint8 (stack * channels, H, W),
  drawn by the camera's own kernel from the state after each step (the step kernel computes none).

:func:`observe_state` runs the kernel's Kinematics, OccupancyGrid or ExitObservation on states built
elsewhere (e.g. the scene a perception model detected) on any world, so those observations too are
computed by one implementation.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from typing import Any

import numpy as np
from gymnasium import spaces

from envs.highway.camera import CameraObservation, CameraSpec, render
from envs.highway.state import TrafficState
from envs.physics import structs as st
from envs.physics.observe import (
    PERCEPTION_DISTANCE,
    ExitKinematics,
    Kinematics,
    KinematicsGoal,
    Lidar,
    NoObservation,
    OccupancyGrid,
    TimeToCollision,
)

__all__ = [
    "OBSERVATIONS",
    "PERCEPTION_DISTANCE",
    "STATE_OBSERVATIONS",
    "ObservationType",
    "load_state",
    "observe_state",
    "render_state",
]


@dataclass(frozen=True)
class ObservationType:
    name: str
    kernel_spec: Any  # the kernel's observation with highway-env's defaults (envs/physics/observe.py)

    def kernel(self, cfg: Any) -> Any:
        """The kernel's observation with the config's ``observation_options``; an unknown option raises."""
        options = dict(cfg.observation_options) if cfg.observation == self.name else {}
        spec_type = type(self.kernel_spec)
        internal = getattr(spec_type, "internal", ())
        valid = sorted(f.name for f in dataclasses.fields(spec_type) if f.name not in internal)
        unknown = sorted(set(options) - set(valid))
        if unknown:
            raise ValueError(
                f"{self.name} observation options {unknown} are not supported; supported: {valid}"
            )
        if "frequency" in internal:  # one time cell per policy step
            options["frequency"] = cfg.policy_frequency
        if not options:
            return self.kernel_spec
        return spec_type(**{k: dict(v) if k == "features_range" and v else v for k, v in options.items()})

    def space(self, cfg: Any) -> spaces.Space:
        keys = getattr(self.kernel_spec, "keys", None)
        if keys is not None:  # a dict observation: one row of the kernel's output per key
            row = spaces.Box(-np.inf, np.inf, shape=self.kernel(cfg).shape[1:], dtype=np.float32)
            return spaces.Dict({key: row for key in keys})
        if self.name == "camera":
            return spaces.Box(0, 255, shape=CameraSpec.from_config(cfg).shape, dtype=np.uint8)
        if self.name == "lidar":  # highway-env's bounds: the range, or 1 normalised
            spec = self.kernel(cfg)
            high = 1.0 if spec.normalize else spec.maximum_range
            return spaces.Box(-high, high, shape=spec.shape, dtype=np.float32)
        if self.name == "time_to_collision":
            return spaces.Box(0.0, 1.0, shape=self.kernel(cfg).shape, dtype=np.float32)
        return spaces.Box(-np.inf, np.inf, shape=self.kernel(cfg).shape, dtype=np.float32)

    def output(self, obs: Any) -> Any:
        """The env's observation from the kernel's array (..., *shape): the array itself, or for a dict
        observation its rows by key (views, NumPy or torch alike)."""
        keys = getattr(self.kernel_spec, "keys", None)
        if keys is None:
            return obs
        return {key: obs[..., k, :] for k, key in enumerate(keys)}

    def array_observer(self) -> CameraObservation | None:
        """The observer that array code runs after each step (a new one per env: it keeps frames)."""
        return CameraObservation() if self.name == "camera" else None


OBSERVATIONS: dict[str, ObservationType] = {
    "kinematics": ObservationType("kinematics", Kinematics()),
    "occupancy_grid": ObservationType("occupancy_grid", OccupancyGrid()),
    "exit": ObservationType("exit", ExitKinematics()),
    "time_to_collision": ObservationType("time_to_collision", TimeToCollision()),
    "kinematics_goal": ObservationType("kinematics_goal", KinematicsGoal()),
    "lidar": ObservationType("lidar", Lidar()),
    "camera": ObservationType("camera", NoObservation()),
}


class _Reslotted:
    """A world seen with another number of slots: a state built elsewhere (a perceived scene) has as many
    vehicles as were detected. Everything else is the world's."""

    def __init__(self, world: Any, slots: int) -> None:
        self._world, self.slots = world, slots

    def __getattr__(self, name: str) -> Any:
        return getattr(self._world, name)


@functools.lru_cache(maxsize=4)
def _observer(cfg: Any, name: str, num_envs: int, slots: int) -> Any:
    from envs.physics.engine import Simulator
    from envs.worlds import WORLDS

    world = _Reslotted(WORLDS[cfg.world](cfg), slots)
    return Simulator(world, OBSERVATIONS[name].kernel(cfg), num_envs, autoreset=False)


#: the observations :func:`observe_state` computes (the others need a simulator's history)
STATE_OBSERVATIONS = ("kinematics", "occupancy_grid", "exit", "lidar")


def load_state(s: TrafficState, cfg: Any, present: np.ndarray | None = None, name: str = "kinematics") -> Any:
    """A simulator of ``cfg``'s world holding NumPy states ``s`` (B, slots), observing ``name`` with
    ``cfg``'s observation options when ``cfg.observation == name`` (one simulator per shape is kept).

    Slot 0 is the observer; ``present`` (B, slots) marks the slots that hold a vehicle (all by default).
    Lanes are recomputed from the positions, as after a loaded scene.
    """
    if name not in STATE_OBSERVATIONS:
        raise ValueError(f"a state built elsewhere gives one of {STATE_OBSERVATIONS}, not {name!r}")
    x = np.asarray(s.x)
    b, n = x.shape
    sim = _observer(cfg, name, b, n)
    kind = np.full((b, n), st.IDM, np.int32)
    kind[:, 0] = st.CONTROLLED
    if present is not None:
        kind[:, 1:] = np.where(np.asarray(present)[:, 1:], st.IDM, st.ABSENT)
    flags = st.CHECK_COLLISIONS | st.ENABLE_LANE_CHANGE | st.COLLIDABLE | st.SOLID
    sim.load_arrays(
        x=x, y=s.y, heading=s.heading, speed=s.speed, kind=kind, flags=np.full((b, n), flags, np.int32),
        length=np.full((b, n), 5.0), width=np.full((b, n), 2.0), time=np.asarray(s.time, np.float64),
    )  # fmt: skip
    return sim


def observe_state(name: str, s: TrafficState, cfg: Any, present: np.ndarray | None = None) -> np.ndarray:
    """The simulator's ``name`` observation (float32, (B, *shape)) of NumPy states ``s`` (B, slots) on
    ``cfg``'s world (see :func:`load_state`)."""
    sim = load_state(s, cfg, present, name)
    return sim.host["obs"].reshape(len(sim.host["obs"]), *sim.obs_shape).copy()


def render_state(
    s: TrafficState, cfg: Any, present: np.ndarray | None = None, spec: CameraSpec | None = None
) -> np.ndarray:
    """Camera frames (B, channels, H, W) uint8 of NumPy states ``s`` built elsewhere (a perceived or
    synthetic scene) on ``cfg``'s world, as ``observation="camera"`` would draw them."""
    return render(load_state(s, cfg, present), spec or CameraSpec.from_config(cfg))[0]
