"""Observations: interchangeable views of one traffic state, in a small closed registry.

``OBSERVATIONS[config.observation]`` gives an :class:`ObservationType` with ``space(cfg)`` (one env's
space) and ``observe(xp, state, cfg)`` (a batch, float32). Both reproduce highway-env's defaults:

- ``kinematics`` (highway-env ``KinematicObservation``): 5 rows (ego + 4 nearest vehicles ahead of
  ``-2 * length``, within 200 m, sorted by longitudinal distance) x (presence, x, y, vx, vy); ego row
  absolute, others relative to the ego; x in [-200, 200] m, y in +/-4 m * lanes_count, v in [-80, 80] m/s
  mapped to [-1, 1] and clipped; missing rows are zeros.
- ``occupancy_grid`` (highway-env ``OccupancyGridObservation``): 4 layers (presence, vx, vy, on_road) on an
  11 x 11 grid of 5 m cells centred on the ego, axes aligned with the world; layer[i, j] covers x cell i
  and y cell j. Where several vehicles share a cell, the lowest index (the ego first) wins, as in highway-env.

- ``camera`` (``envs/highway/camera.py``): ego-centred bird's-eye pixels, uint8 (stack * channels, H, W).
  It keeps a frame stack, so ``get_observation`` gives each simulator its own instance.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from gymnasium import spaces

from envs.highway.backend import rows
from envs.highway.camera import CameraObservation
from envs.highway.config import HighwayConfig
from envs.highway.dynamics import MAX_SPEED
from envs.highway.state import EGO, LANE_WIDTH, ROAD_LENGTH, VEHICLE_LENGTH, TrafficState

PERCEPTION_DISTANCE = 5.0 * MAX_SPEED  # [m] highway-env AbstractEnv.PERCEPTION_DISTANCE
KINEMATICS_VEHICLES = 5  # rows, ego included
KINEMATICS_FEATURES = ("presence", "x", "y", "vx", "vy")
GRID_HALF_SIZE = 5.5 * 5  # [m] grid spans [-27.5, 27.5] m around the ego on both axes
GRID_STEP = 5.0  # [m]
GRID_CELLS = int(np.floor(2 * GRID_HALF_SIZE / GRID_STEP))  # 11
GRID_FEATURES = ("presence", "vx", "vy", "on_road")
LANE_PERCEPTION_DISTANCE = 100.0  # [m] on_road layer: lane waypoints within +/- this of the ego


class ObservationType(Protocol):
    name: str

    def space(self, cfg: HighwayConfig) -> spaces.Box: ...

    def observe(self, xp: Any, s: TrafficState, cfg: HighwayConfig) -> Any: ...


def _lmap(v: Any, lo: float, hi: float) -> Any:
    """highway-env ``utils.lmap(v, [lo, hi], [-1, 1])``."""
    return -1 + (v - lo) * 2 / (hi - lo)


@dataclass(frozen=True)
class Kinematics:
    name: str = "kinematics"

    def space(self, cfg: HighwayConfig) -> spaces.Box:
        return spaces.Box(
            -np.inf, np.inf, shape=(KINEMATICS_VEHICLES, len(KINEMATICS_FEATURES)), dtype=np.float32
        )

    def observe(self, xp: Any, s: TrafficState, cfg: HighwayConfig) -> Any:
        b, n = s.x.shape
        vx, vy = s.speed * xp.cos(s.heading), s.speed * xp.sin(s.heading)
        ex, ey, evx, evy = s.x[:, :1], s.y[:, :1], vx[:, :1], vy[:, :1]
        dx, dy = s.x - ex, s.y - ey
        others = xp.arange(n)[None, :] != EGO
        visible = others & (xp.sqrt(dx * dx + dy * dy) < PERCEPTION_DISTANCE) & (dx > -2 * VEHICLE_LENGTH)
        key = xp.where(visible, xp.abs(dx), np.inf)
        k = min(KINEMATICS_VEHICLES - 1, n - 1)
        nearest = xp.argsort(key, axis=1)[:, :k]  # (B, k), stable like highway-env's sorted()
        present = xp.take_along_axis(visible, nearest, axis=1)
        y_range = LANE_WIDTH * cfg.lanes_count
        rows = [
            xp.astype(present, xp.float),
            xp.clip(
                _lmap(xp.take_along_axis(dx, nearest, 1), -PERCEPTION_DISTANCE, PERCEPTION_DISTANCE), -1, 1
            ),
            xp.clip(_lmap(xp.take_along_axis(dy, nearest, 1), -y_range, y_range), -1, 1),
            xp.clip(_lmap(xp.take_along_axis(vx - evx, nearest, 1), -2 * MAX_SPEED, 2 * MAX_SPEED), -1, 1),
            xp.clip(_lmap(xp.take_along_axis(vy - evy, nearest, 1), -2 * MAX_SPEED, 2 * MAX_SPEED), -1, 1),
        ]
        others_obs = xp.where(present[:, :, None], xp.stack(rows, axis=2), 0.0)  # (B, k, 5)
        ego = xp.stack(
            [
                xp.full((b,), 1.0),
                xp.clip(_lmap(ex[:, 0], -PERCEPTION_DISTANCE, PERCEPTION_DISTANCE), -1, 1),
                xp.clip(_lmap(ey[:, 0], -y_range, y_range), -1, 1),
                xp.clip(_lmap(evx[:, 0], -2 * MAX_SPEED, 2 * MAX_SPEED), -1, 1),
                xp.clip(_lmap(evy[:, 0], -2 * MAX_SPEED, 2 * MAX_SPEED), -1, 1),
            ],
            axis=1,
        )[:, None, :]
        parts = [ego, others_obs]
        if k < KINEMATICS_VEHICLES - 1:
            parts.append(xp.zeros((b, KINEMATICS_VEHICLES - 1 - k, len(KINEMATICS_FEATURES))))
        return xp.astype(
            xp.concatenate(parts, axis=1), np.float32 if xp.name == "numpy" else xp.torch.float32
        )


@dataclass(frozen=True)
class OccupancyGrid:
    name: str = "occupancy_grid"

    def space(self, cfg: HighwayConfig) -> spaces.Box:
        return spaces.Box(
            -np.inf, np.inf, shape=(len(GRID_FEATURES), GRID_CELLS, GRID_CELLS), dtype=np.float32
        )

    def observe(self, xp: Any, s: TrafficState, cfg: HighwayConfig) -> Any:
        b, n = s.x.shape
        cells = GRID_CELLS * GRID_CELLS
        vx, vy = s.speed * xp.cos(s.heading), s.speed * xp.sin(s.heading)
        dx, dy = s.x - s.x[:, :1], s.y - s.y[:, :1]
        i = xp.astype(xp.floor((dx + GRID_HALF_SIZE) / GRID_STEP), xp.int)
        j = xp.astype(xp.floor((dy + GRID_HALF_SIZE) / GRID_STEP), xp.int)
        inside = (i >= 0) & (i < GRID_CELLS) & (j >= 0) & (j < GRID_CELLS)
        env = xp.arange(b)[:, None] + 0 * i
        vehicle = xp.arange(n)[None, :] + 0 * i
        flat = env * cells + xp.where(inside, i * GRID_CELLS + j, 0)
        eb, ev, valid = rows(xp, inside)
        cell = flat[eb, ev] if valid is None else xp.where(valid, flat[eb, ev], b * cells)  # spare cell
        winner = xp.scatter_min(b * cells + 1, cell, vehicle[eb, ev], fill=n)  # lowest index wins a cell
        winner = winner[: b * cells]
        occupied = winner < n
        w = xp.where(occupied, winner, 0).reshape(b, cells)
        rel_vx = xp.take_along_axis(vx - vx[:, :1], w, axis=1)
        rel_vy = xp.take_along_axis(vy - vy[:, :1], w, axis=1)
        occupied = occupied.reshape(b, cells)
        presence = xp.astype(occupied, xp.float)
        gvx = xp.where(occupied, xp.clip(_lmap(rel_vx, -2 * MAX_SPEED, 2 * MAX_SPEED), -1, 1), 0.0)
        gvy = xp.where(occupied, xp.clip(_lmap(rel_vy, -2 * MAX_SPEED, 2 * MAX_SPEED), -1, 1), 0.0)
        on_road = self._on_road(xp, s, cfg).reshape(b, cells)
        grid = xp.stack([presence, gvx, gvy, on_road], axis=1).reshape(
            b, len(GRID_FEATURES), GRID_CELLS, GRID_CELLS
        )
        return xp.astype(grid, np.float32 if xp.name == "numpy" else xp.torch.float32)

    def _on_road(self, xp: Any, s: TrafficState, cfg: HighwayConfig) -> Any:
        """Cells crossed by lane centre waypoints every 5 m within +/-100 m (``fill_road_layer_by_lanes``)."""
        ex, ey = s.x[:, :1], s.y[:, :1]
        count = int(np.ceil(2 * LANE_PERCEPTION_DISTANCE / GRID_STEP))
        steps = xp.astype(xp.arange(count), xp.float)[None, :] * GRID_STEP
        waypoints = xp.clip(ex - LANE_PERCEPTION_DISTANCE + steps, 0, ROAD_LENGTH)  # (B, W)
        i = xp.astype(xp.floor((waypoints - ex + GRID_HALF_SIZE) / GRID_STEP), xp.int)  # (B, W)
        cols = xp.arange(GRID_CELLS)
        row_hit = xp.any((i[:, :, None] == cols[None, None, :]), axis=1)  # (B, 11) x cells with a waypoint
        lane_y = xp.astype(xp.arange(cfg.lanes_count), xp.float) * LANE_WIDTH
        j = xp.astype(xp.floor((lane_y[None, :] - ey + GRID_HALF_SIZE) / GRID_STEP), xp.int)  # (B, L)
        col_hit = xp.any(j[:, :, None] == cols[None, None, :], axis=1)  # (B, 11) y cells with a lane
        return xp.astype(row_hit[:, :, None] & col_hit[:, None, :], xp.float)


#: The closed registry of observation types, keyed by ``HighwayConfig.observation``.
OBSERVATIONS: dict[str, ObservationType] = {
    obs.name: obs for obs in (Kinematics(), OccupancyGrid(), CameraObservation())
}


def get_observation(name: str) -> ObservationType:
    if name not in OBSERVATIONS:
        raise ValueError(f"unknown observation {name!r}; choose one of {sorted(OBSERVATIONS)}")
    if isinstance(OBSERVATIONS[name], CameraObservation):
        return CameraObservation()  # stateful (frame stack): never share one between simulators
    return OBSERVATIONS[name]
