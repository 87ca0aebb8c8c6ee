"""Highway constants and the array view of a batch's traffic that array code (camera, datasets) reads.

The simulator's state lives in the kernel's arrays (``envs/physics``); :class:`TrafficState` is a view of
the few fields array code needs, shaped ``(num_envs, slots)`` with the ego in slot 0: NumPy arrays on
CPU (no copy), torch tensors on CUDA (no copy). Scenes (one env's full state) are
:class:`envs.physics.scene.Scene`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from envs.physics.scene import Scene
from envs.physics.traffic import MAX_SPEED, VEHICLE_LENGTH, VEHICLE_WIDTH
from envs.road.network import DEFAULT_WIDTH as LANE_WIDTH
from envs.worlds.highway import ROAD_LENGTH, SPEED_LIMIT

EGO = 0  # slot of the ego vehicle

__all__ = [
    "EGO", "LANE_WIDTH", "MAX_SPEED", "ROAD_LENGTH", "SPEED_LIMIT", "VEHICLE_LENGTH", "VEHICLE_WIDTH",
    "Scene", "TrafficState",
]  # fmt: skip


@dataclass
class TrafficState:
    """Batched traffic seen by array code: every field an array of one backend (NumPy or torch)."""

    x: Any  # [m] (envs, slots) longitudinal position (lanes start at x = 0)
    y: Any  # [m] lateral position (lane k centred at k * LANE_WIDTH)
    heading: Any  # [rad]
    speed: Any  # [m/s]
    time: Any  # [s] (envs,) elapsed episode time

    @property
    def num_envs(self) -> int:
        return int(self.x.shape[0])
