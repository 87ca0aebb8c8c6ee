"""The traffic state as a struct of arrays shaped ``(num_envs, num_vehicles)``, and single-env scenes.

Vehicle 0 of every env is the ego vehicle; the others are IDM/MOBIL NPCs, in highway-env's road order
(the order matters where highway-env breaks ties: collision impacts, occupancy-grid cells).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from envs.highway.config import HighwayConfig

# Road geometry (highway-env ``RoadNetwork.straight_road_network``)
LANE_WIDTH = 4.0  # [m]
ROAD_LENGTH = 10_000.0  # [m] lanes run from x = 0 to x = ROAD_LENGTH, lane k centred on y = k * LANE_WIDTH
SPEED_LIMIT = 30.0  # [m/s]
# Vehicle geometry (highway-env ``Vehicle``)
VEHICLE_LENGTH = 5.0  # [m]
VEHICLE_WIDTH = 2.0  # [m]
EGO = 0  # index of the ego vehicle along the vehicle axis

#: Per-vehicle fields, all shaped (num_envs, num_vehicles).
FLOAT_FIELDS = ("x", "y", "heading", "speed", "target_speed", "delta", "timer", "impact_x", "impact_y")
INT_FIELDS = ("lane", "target_lane")
BOOL_FIELDS = ("crashed", "has_impact")
VEHICLE_FIELDS = FLOAT_FIELDS + INT_FIELDS + BOOL_FIELDS


@dataclass
class TrafficState:
    """Batched traffic: every field is an array of the backend (NumPy or torch)."""

    x: Any  # [m] longitudinal position (lanes start at x = 0)
    y: Any  # [m] lateral position (lane k centred at k * LANE_WIDTH)
    heading: Any  # [rad]
    speed: Any  # [m/s]
    target_speed: Any  # [m/s] ego: cruise set-point; NPC: IDM desired speed
    delta: Any  # [] IDM velocity exponent (randomised per NPC)
    timer: Any  # [s] MOBIL lane-change timer (NPCs)
    impact_x: Any  # [m] pending collision displacement, applied on the next sub-step
    impact_y: Any  # [m]
    lane: Any  # [] index of the closest lane
    target_lane: Any  # [] lane the steering controller tracks
    crashed: Any  # bool
    has_impact: Any  # bool: impact_x/impact_y are pending
    time: Any  # [s] (num_envs,) elapsed episode time

    @property
    def num_envs(self) -> int:
        return int(self.x.shape[0])

    @property
    def num_vehicles(self) -> int:
        return int(self.x.shape[1])

    def replace(self, **changes: Any) -> TrafficState:
        return dataclasses.replace(self, **changes)


def blend(xp: Any, mask: Any, new: TrafficState, old: TrafficState) -> TrafficState:
    """Take ``new`` where ``mask`` (num_envs,) is set and ``old`` elsewhere (masks, not loops)."""
    m2 = mask[:, None]
    fields = {name: xp.where(m2, getattr(new, name), getattr(old, name)) for name in VEHICLE_FIELDS}
    return TrafficState(**fields, time=xp.where(mask, new.time, old.time))


@dataclass(frozen=True)
class Scene:
    """The full state of one highway episode, exchangeable with highway-env (see ``compat.py``).

    Arrays are NumPy, shaped (num_vehicles,), ego first. ``lanes_count``, the frequencies and the collision
    rule are checked against the env's config on load, so a scene from another preset raises.
    """

    x: np.ndarray
    y: np.ndarray
    heading: np.ndarray
    speed: np.ndarray
    target_speed: np.ndarray
    delta: np.ndarray
    timer: np.ndarray
    impact_x: np.ndarray
    impact_y: np.ndarray
    lane: np.ndarray
    target_lane: np.ndarray
    crashed: np.ndarray
    has_impact: np.ndarray
    time: float
    lanes_count: int
    simulation_frequency: int
    policy_frequency: int
    check_npc_collisions: bool

    def check_compatible(self, config: HighwayConfig) -> None:
        """Raise ValueError unless this scene can be loaded into an env with ``config``."""
        n = config.num_vehicles
        problems = []
        for name in ("lanes_count", "simulation_frequency", "policy_frequency", "check_npc_collisions"):
            if getattr(self, name) != getattr(config, name):
                problems.append(f"{name}: scene has {getattr(self, name)}, env has {getattr(config, name)}")
        for name in VEHICLE_FIELDS:
            arr = np.asarray(getattr(self, name))
            if arr.shape != (n,):
                problems.append(f"{name} has shape {arr.shape}, env needs ({n},) (vehicles_count + 1)")
            elif name in FLOAT_FIELDS and not np.all(np.isfinite(arr)):
                problems.append(
                    f"{name} has non-finite values (NaN or inf) at vehicles {np.flatnonzero(~np.isfinite(arr)).tolist()}"
                )
            elif name in INT_FIELDS and (np.any(arr < 0) or np.any(arr >= config.lanes_count)):
                problems.append(f"{name} has lane indexes outside [0, {config.lanes_count - 1}]")
        if not np.isfinite(self.time) or self.time < 0:
            problems.append(f"time={self.time}: must be finite and >= 0")
        if problems:
            raise ValueError(
                "scene does not fit this env (is it from another preset?): " + "; ".join(problems)
            )

    def to_state(self, xp: Any) -> TrafficState:
        """A one-env TrafficState on the backend ``xp``."""
        dtypes = {
            **dict.fromkeys(FLOAT_FIELDS, xp.float),
            **dict.fromkeys(INT_FIELDS, xp.int),
            **dict.fromkeys(BOOL_FIELDS, xp.bool),
        }
        fields = {
            name: xp.asarray(np.asarray(getattr(self, name)).reshape(1, -1), dtype=dtypes[name])
            for name in VEHICLE_FIELDS
        }
        return TrafficState(**fields, time=xp.asarray(np.array([self.time], dtype=np.float64), dtype=xp.time))

    @classmethod
    def from_state(cls, xp: Any, state: TrafficState, config: HighwayConfig, env_index: int = 0) -> Scene:
        """Extract env ``env_index`` of a batched state as a scene."""
        fields = {name: xp.to_numpy(getattr(state, name)[env_index]).copy() for name in VEHICLE_FIELDS}
        return cls(
            **fields,
            time=float(xp.to_numpy(state.time)[env_index]),
            lanes_count=config.lanes_count,
            simulation_frequency=config.simulation_frequency,
            policy_frequency=config.policy_frequency,
            check_npc_collisions=config.check_npc_collisions,
        )
