"""Observations computed in the step kernel: highway-env's ``Kinematics`` and ``OccupancyGrid``.

Each observation is a host-side spec (a frozen dataclass with highway-env's option names) that knows
its shape and packs its options into the kernel's parameter arrays, plus a Warp function that fills one
env's flattened row of ``Outputs.obs``. The options are run-time parameters, not compile-time ones, so
changing them never recompiles a kernel.

- :class:`Kinematics` (highway-env ``KinematicObservation``): the observer's row, then the
  ``vehicles_count - 1`` nearest vehicles (and obstacles) by distance along the observer's lane, within
  ``PERCEPTION_DISTANCE`` and, unless ``see_behind``, not more than two lengths behind; features relative
  to the observer unless ``absolute``; mapped from ``features_range`` to [-1, 1] and clipped.
- :class:`ExitKinematics` (highway-env ``ExitObservation``): Kinematics whose observer row gives, as x, the
  observer's longitudinal coordinate on the exit lane.
- :class:`TimeToCollision` (highway-env ``TimeToCollisionObservation``): predicted collision costs over
  time for the observer's speed set-points and lanes.
- :class:`KinematicsGoal` (highway-env ``KinematicsGoalObservation``, parking-v0's): the observer's
  features divided by ``scales``, twice (``observation``, ``achieved_goal``), then its goal's
  (``desired_goal``): the first road object that is not solid, highway-env's ``Landmark``.
- :class:`Lidar` (highway-env ``LidarObservation``): ``cells`` rays around the observer, each the distance
  to the nearest solid vehicle or object it meets within ``maximum_range`` and that one's speed towards the
  observer along the ray, cast as highway-env casts them (the centre's sector, then the sectors the
  rectangle's corners span, ray by ray against the rectangle).
- :class:`OccupancyGrid` (highway-env ``OccupancyGridObservation``): ``features`` layers over a grid of
  ``grid_step`` cells covering ``grid_size`` around the observer; where vehicles share a cell the lowest
  slot wins (highway-env writes them in reverse); ``on_road`` marks cells crossed by lane centre
  waypoints within 100 m along every lane.
"""

import functools
import math
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, ClassVar

import numpy as np
import warp as wp

from envs.physics import structs as st
from envs.physics.traffic import MAX_SPEED, VEHICLE_LENGTH
from envs.road import network as rn
from envs.road.lanes import lane_funcs

PERCEPTION_DISTANCE = 5.0 * MAX_SPEED  # [m] highway-env AbstractEnv.PERCEPTION_DISTANCE
LIDAR_EDGE_STEP, LIDAR_EDGE_BISECTIONS = 0.5, 8  # [m], halvings: road edges to 2 mm
LANE_PERCEPTION_DISTANCE = 100.0  # [m] on_road waypoints this far along each lane
#: Vehicle feature names (highway-env ``Vehicle.to_dict`` keys) and their codes in the kernel.
FEATURES = (
    "presence", "x", "y", "vx", "vy", "heading", "cos_h", "sin_h", "cos_d", "sin_d",
    "long_off", "lat_off", "ang_off", "on_road",
)  # fmt: skip
CODE = {name: k for k, name in enumerate(FEATURES)}
# range modes of a feature
NO_RANGE, FIXED_RANGE, LANES_RANGE = 0, 1, 2


def _freeze_ranges(spec: object) -> None:
    """Lists and dicts of highway-env's options as tuples, so that specs are hashable (cache keys)."""
    object.__setattr__(spec, "features", tuple(spec.features))
    given = spec.features_range
    if isinstance(given, dict):
        frozen = tuple(
            sorted((k, v if isinstance(v, str) else tuple(float(x) for x in v)) for k, v in given.items())
        )
        object.__setattr__(spec, "features_range", frozen)


def _ranges(features: tuple[str, ...], given: tuple | None, defaults: dict) -> tuple[list, list]:
    """(mode per feature, [lo, hi] per feature) from highway-env's ``features_range`` semantics."""
    table = defaults if given is None else dict(given)
    modes, bounds = [], []
    for name in features:
        if name not in table:
            modes.append(NO_RANGE)
            bounds += [0.0, 0.0]
        elif table[name] == "lanes":  # highway-env's default y range: 4 m * lanes of the observer's road
            modes.append(LANES_RANGE)
            bounds += [0.0, 0.0]
        else:
            lo, hi = table[name]
            modes.append(FIXED_RANGE)
            bounds += [float(lo), float(hi)]
    return modes, bounds


@dataclass(frozen=True)
class Kinematics:
    features: tuple[str, ...] = ("presence", "x", "y", "vx", "vy")
    vehicles_count: int = 5
    features_range: tuple | None = None  # highway-env's dict {feature: [lo, hi]}, kept as sorted items
    absolute: bool = False
    normalize: bool = True
    clip: bool = True
    see_behind: bool = False
    observe_intentions: bool = False
    include_obstacles: bool = True
    order: str = "sorted"

    name = "kinematics"

    def __post_init__(self) -> None:
        _freeze_ranges(self)
        if self.order != "sorted":
            raise ValueError(f"Kinematics order={self.order!r} is not supported; only 'sorted'")
        unknown = [f for f in self.features if f not in FEATURES or f == "on_road"]
        if unknown:
            raise ValueError(f"Kinematics features {unknown} are not supported; choose from {FEATURES[:-1]}")
        if self.vehicles_count < 1:
            raise ValueError(f"Kinematics vehicles_count={self.vehicles_count}: must be >= 1")

    @property
    def shape(self) -> tuple[int, ...]:
        return (self.vehicles_count, len(self.features))

    #: a lane whose longitudinal coordinate replaces the observer's own x (highway-env's ExitObservation)
    ego_x_lane: ClassVar[tuple | None] = None

    def params(self, network: Any = None) -> tuple[np.ndarray, np.ndarray]:
        ego_x_row = -1
        if self.ego_x_lane is not None:
            ego_x_row = _lane_row(network, self.ego_x_lane, type(self).__name__)
        defaults = {
            "x": (-PERCEPTION_DISTANCE, PERCEPTION_DISTANCE),
            "y": "lanes",
            "vx": (-2 * MAX_SPEED, 2 * MAX_SPEED),
            "vy": (-2 * MAX_SPEED, 2 * MAX_SPEED),
        }
        modes, bounds = _ranges(self.features, self.features_range, defaults)
        flags = [self.absolute, self.normalize, self.clip, self.see_behind, self.observe_intentions]
        ints = [
            self.vehicles_count,
            len(self.features),
            *map(int, flags),
            int(self.include_obstacles),
            ego_x_row,
        ]
        ints += [CODE[f] for f in self.features] + modes
        return np.array([PERCEPTION_DISTANCE, *bounds], np.float64), np.array(ints, np.int32)


@dataclass(frozen=True)
class ExitKinematics(Kinematics):
    """highway-env's ``ExitObservation`` (exit-v0): Kinematics of vehicles only (no road objects), the
    observer's x replaced by its longitudinal coordinate on the exit lane, road ("1", "2")'s last lane."""

    ego_x_lane: ClassVar[tuple | None] = ("1", "2", -1)

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "include_obstacles", False)  # close_vehicles_to: vehicles only


def _lane_row(network: Any, lane: tuple, what: str) -> int:
    """The table row of ``lane`` (a negative id counts from the road's last lane, as Python indexing)."""
    _from, _to, _id = lane
    lanes = network.graph.get(_from, {}).get(_to) if network is not None else None
    if not lanes:
        raise ValueError(
            f"{what} observes lane {lane}, but this world's road has no road ({_from!r}, {_to!r})"
        )
    return network.lane_row((_from, _to, _id % len(lanes)))


@dataclass(frozen=True)
class OccupancyGrid:
    features: tuple[str, ...] = ("presence", "vx", "vy", "on_road")
    grid_size: tuple[tuple[float, float], tuple[float, float]] = ((-27.5, 27.5), (-27.5, 27.5))
    grid_step: tuple[float, float] = (5.0, 5.0)
    features_range: tuple | None = None  # highway-env's dict {feature: [lo, hi]}, kept as sorted items
    align_to_vehicle_axes: bool = False
    clip: bool = True
    absolute: bool = False
    as_image: bool = False

    name = "occupancy_grid"

    def __post_init__(self) -> None:
        _freeze_ranges(self)
        object.__setattr__(self, "grid_size", tuple(tuple(float(v) for v in axis) for axis in self.grid_size))
        object.__setattr__(self, "grid_step", tuple(float(v) for v in self.grid_step))
        if self.absolute:
            raise ValueError(
                "OccupancyGrid absolute=True is not supported (highway-env does not implement it)"
            )
        if self.as_image:
            raise ValueError("OccupancyGrid as_image=True is not supported")
        unknown = [f for f in self.features if f not in FEATURES]
        if unknown:
            raise ValueError(f"OccupancyGrid features {unknown} are not supported; choose from {FEATURES}")
        if min(self.grid_step) <= 0 or min(self.cells) < 1:
            raise ValueError(
                f"OccupancyGrid grid_size={self.grid_size}, grid_step={self.grid_step}: empty grid"
            )

    @property
    def cells(self) -> tuple[int, int]:
        size, step = np.array(self.grid_size, float), np.array(self.grid_step, float)
        return tuple(int(c) for c in np.floor((size[:, 1] - size[:, 0]) / step))

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self.features), *self.cells)

    def params(self, network: Any = None) -> tuple[np.ndarray, np.ndarray]:
        defaults = {"vx": (-2 * MAX_SPEED, 2 * MAX_SPEED), "vy": (-2 * MAX_SPEED, 2 * MAX_SPEED)}
        modes, bounds = _ranges(self.features, self.features_range, defaults)
        (x0, _), (y0, _) = self.grid_size
        floats = [x0, y0, *self.grid_step, LANE_PERCEPTION_DISTANCE, *bounds]
        ints = [len(self.features), *self.cells, int(self.align_to_vehicle_axes), int(self.clip)]
        return np.array(floats, np.float64), np.array(
            ints + [CODE[f] for f in self.features] + modes, np.int32
        )


@dataclass(frozen=True)
class KinematicsGoal:
    features: tuple[str, ...] = ("x", "y", "vx", "vy", "cos_h", "sin_h")
    scales: tuple[float, ...] = (100.0, 100.0, 5.0, 5.0, 1.0, 1.0)
    normalize: bool = False  # highway-env's KinematicsGoal never normalises: accepted for ported configs

    name = "kinematics_goal"
    #: the rows of the observation, the keys of the env's dict observation
    keys: ClassVar[tuple[str, ...]] = ("observation", "achieved_goal", "desired_goal")

    def __post_init__(self) -> None:
        object.__setattr__(self, "features", tuple(self.features))
        object.__setattr__(self, "scales", tuple(float(s) for s in self.scales))
        unknown = [f for f in self.features if f not in FEATURES or f == "on_road"]
        if unknown:
            raise ValueError(
                f"KinematicsGoal features {unknown} are not supported; choose from {FEATURES[:-1]}"
            )
        if len(self.scales) != len(self.features):
            raise ValueError(
                f"KinematicsGoal has {len(self.features)} features {list(self.features)} but "
                f"{len(self.scales)} scales {list(self.scales)}: give one scale per feature"
            )
        if not all(np.isfinite(s) and s != 0 for s in self.scales):
            raise ValueError(f"KinematicsGoal scales {list(self.scales)}: each must be finite and non-zero")

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self.keys), len(self.features))

    def params(self, network: Any = None) -> tuple[np.ndarray, np.ndarray]:
        ints = [len(self.features), *(CODE[f] for f in self.features)]
        return np.array(self.scales, np.float64), np.array(ints, np.int32)


@dataclass(frozen=True)
class Lidar:
    """highway-env's ``LidarObservation``: (cells, 2) rows of (distance, relative speed along the ray),
    divided by ``maximum_range`` when ``normalize``; a ray that meets nothing reads ``maximum_range`` twice.
    ``road_edges`` (an autodrive option) also stops rays at the road's edge."""

    cells: int = 16
    maximum_range: float = 60.0  # [m]
    normalize: bool = True
    # not in highway-env, whose rays see vehicles and objects only: rays also end at the road's edge, where
    # they first cross the boundary of the lane table's lanes (marched in EDGE_STEP steps, then bisected);
    # an edge is static, so its relative speed is minus the observer's velocity along the ray
    road_edges: bool = False

    name = "lidar"

    def __post_init__(self) -> None:
        if isinstance(self.cells, bool) or not isinstance(self.cells, (int, np.integer)) or self.cells < 1:
            raise ValueError(f"LidarObservation cells={self.cells!r}: must be an integer >= 1")
        if not (np.isfinite(self.maximum_range) and self.maximum_range > 0):
            raise ValueError(f"LidarObservation maximum_range={self.maximum_range!r}: must be finite and > 0")
        object.__setattr__(self, "cells", int(self.cells))
        object.__setattr__(self, "maximum_range", float(self.maximum_range))

    @property
    def shape(self) -> tuple[int, ...]:
        return (self.cells, 2)

    def params(self, network: Any = None) -> tuple[np.ndarray, np.ndarray]:
        angle = 2 * np.pi / self.cells  # highway-env's sector width, in float64 as there
        return (
            np.array([self.maximum_range, angle, angle / 2], np.float64),
            np.array([self.cells, int(self.normalize), int(self.road_edges)], np.int32),
        )


@dataclass(frozen=True)
class TimeToCollision:
    """highway-env's ``TimeToCollisionObservation``: for the observer's speed set-point and its neighbours
    (3 rows) and its lane and the lanes beside it (3 columns), the predicted time-to-collision cost of
    each future policy step up to ``horizon`` seconds (``compute_ttc_grid``): 1 for a collision with a
    vehicle's centre, 0.5 for its front or rear, 1 everywhere beside the road. Vehicles count on the
    roads highway-env's ``is_connected_road`` finds: the observer's road, those ahead along its route
    (or every branch where it has none) within 3 roads, and the roads leading into them."""

    horizon: float = 10.0  # [s]
    frequency: int = 1  # [Hz] the config's policy_frequency (one time cell per policy step), not an option

    name = "time_to_collision"
    internal = ("frequency",)

    def __post_init__(self) -> None:
        if not (np.isfinite(self.horizon) and self.horizon > 0):
            raise ValueError(f"TimeToCollision horizon={self.horizon}: must be a finite number > 0")

    @property
    def steps(self) -> int:
        """Cells along time: highway-env's ``int(horizon / (1 / policy_frequency))``."""
        return int(self.horizon / (1 / self.frequency))

    @property
    def shape(self) -> tuple[int, ...]:
        return (3, 3, self.steps)

    def params(self, network: Any = None) -> tuple[np.ndarray, np.ndarray]:
        return np.array([1 / self.frequency], np.float64), np.array([self.steps], np.int32)


TTC_DEPTH = 3  # roads ahead that compute_ttc_grid searches (is_connected_road's depth)
TTC_STACK = 32  # the search's stack: depth 3 x a few roads per node


@dataclass(frozen=True)
class NoObservation:
    """No in-kernel observation (the camera is rendered from the state by array code)."""

    name = "none"
    shape = (0,)

    def params(self, network: Any = None) -> tuple[np.ndarray, np.ndarray]:
        return np.zeros(1, np.float64), np.zeros(1, np.int32)


@functools.cache
def observe_funcs(F: type) -> SimpleNamespace:  # noqa: N803
    S = st.make_structs(F)
    L = lane_funcs(F)
    Vehicles, Episodes, Road, Params, Outputs = S.Vehicles, S.Episodes, S.Road, S.Params, S.Outputs
    local_coordinates, position, local_angle = L.local_coordinates, L.position, L.local_angle
    not_zero, on_lane = L.not_zero, L.on_lane
    EDGE_STEP, EDGE_BISECTIONS = F(LIDAR_EDGE_STEP), LIDAR_EDGE_BISECTIONS
    ROAD, ROAD_LANES, LANE_ID = rn.ROAD, rn.ROAD_LANES, rn.LANE_ID
    ZERO, ONE = F(0.0), F(1.0)
    BIG = F(1.0e30)
    HALF_PI, TWO_PI = F(math.pi / 2), F(2.0 * math.pi)
    OBSTACLE, ABSENT, CONTROLLED, IDM, VEHICLE = st.OBSTACLE, st.ABSENT, st.CONTROLLED, st.IDM, st.VEHICLE
    SOLID = st.SOLID
    LENGTH = rn.LENGTH
    PRESENCE, X, Y, VX, VY, HEADING, COS_H, SIN_H, COS_D, SIN_D = range(10)
    LONG_OFF, LAT_OFF, ANG_OFF = 10, 11, 12
    LANE_WIDTH = F(rn.DEFAULT_WIDTH)

    @wp.func(inline=True)
    def destination_direction(v: Vehicles, rd: Road, e: int, j: int, axis: int) -> F:
        """highway-env ``destination_direction``: unit vector to the end of the route's last lane."""
        out = ZERO
        n = v.route_len[e, j]
        if n > 0:
            last = v.route_head[e, j] + n - 1
            lane_id = wp.max(v.route_lane[e, j, last], 0)
            row = rd.road_first[v.route_road[e, j, last]] + lane_id
            dest = position(rd.lf, rd.li, row, rd.lf[row, LENGTH], ZERO)
            dx = dest[0] - v.x[e, j]
            dy = dest[1] - v.y[e, j]
            if dx != ZERO or dy != ZERO:
                norm = wp.sqrt(dx * dx + dy * dy)
                out = dx / norm
                if axis == 1:
                    out = dy / norm
        return out

    @wp.func(inline=True)
    def raw_feature(v: Vehicles, rd: Road, e: int, j: int, code: int, intentions: bool) -> F:
        """One ``to_dict`` entry of slot j, absolute."""
        h = v.heading[e, j]
        speed = v.speed[e, j]
        if v.kind[e, j] == OBSTACLE:
            speed = ZERO
        val = ZERO
        if code == PRESENCE:
            val = ONE
        elif code == X:
            val = v.x[e, j]
        elif code == Y:
            val = v.y[e, j]
        elif code == VX:
            val = speed * v.cos_h[e, j]
        elif code == VY:
            val = speed * v.sin_h[e, j]
        elif code == HEADING:
            val = h
        elif code == COS_H:
            val = v.cos_h[e, j]
        elif code == SIN_H:
            val = v.sin_h[e, j]
        elif code == COS_D or code == SIN_D:
            if intentions:
                val = destination_direction(v, rd, e, j, code - COS_D)
        elif code == LONG_OFF:
            val = v.s_own[e, j]
        elif code == LAT_OFF:
            val = v.r_own[e, j]
        elif code == ANG_OFF:
            val = local_angle(rd.lf, rd.li, v.lane[e, j], h, v.s_own[e, j])
        return val

    @wp.func(inline=True)
    def feature(v: Vehicles, rd: Road, e: int, j: int, code: int, origin: int, intentions: bool) -> F:
        """One ``to_dict`` entry of slot j (x, y, vx, vy relative to ``origin`` unless it is -1)."""
        val = raw_feature(v, rd, e, j, code, intentions)
        if origin >= 0 and code >= X and code <= VY:
            val = val - raw_feature(v, rd, e, origin, code, True)
        return val

    @wp.func(inline=True)
    def scale(p: Params, ep: Episodes, e: int, val: F, mode: int, k: int, bounds_at: int, clip: bool) -> F:
        """highway-env ``lmap(value, range, [-1, 1])``, then the optional clip."""
        out = val
        if mode != 0:
            lo = p.obs_f[bounds_at + 2 * k]
            hi = p.obs_f[bounds_at + 2 * k + 1]
            if mode == 2:
                hi = LANE_WIDTH * F(ep.obs_lanes[e])
                lo = -hi
            out = F(-1.0) + (val - lo) * F(2.0) / (hi - lo)
            if clip:
                out = wp.clamp(out, F(-1.0), ONE)
        return out

    @wp.func
    def list_rank(v: Vehicles, e: int, k: int) -> int:
        """Slot k's place in highway-env's ``road.vehicles + road.objects``: vehicles by order of arrival
        (``born``, ties by slot), then objects by slot."""
        n = v.x.shape[1]
        rank = v.born[e, k] * n + k
        if v.kind[e, k] == OBSTACLE:
            rank = n * n + k
        return rank

    @wp.func(inline=True)
    def kinematics(v: Vehicles, ep: Episodes, rd: Road, p: Params, e: int, out: Outputs, ego: int, orow: int):
        count = p.obs_i[0]
        nf = p.obs_i[1]
        absolute = p.obs_i[2] != 0
        normalize = p.obs_i[3] != 0
        clip = p.obs_i[4] != 0
        see_behind = p.obs_i[5] != 0
        intentions = p.obs_i[6] != 0
        obstacles = p.obs_i[7] != 0
        ego_x_lane = p.obs_i[8]
        codes = int(9)
        modes = 9 + nf
        n = v.x.shape[1]
        distance = p.obs_f[0]
        ex = v.x[e, ego]
        ey = v.y[e, ego]
        lane = v.lane[e, ego]
        for j in range(n):  # sort keys: |distance along the observer's lane|, BIG for unseen slots
            key = F(1.0e30)
            kind = v.kind[e, j]
            if j != ego and kind != ABSENT and (obstacles or kind != OBSTACLE):
                dx = v.x[e, j] - ex
                dy = v.y[e, j] - ey
                if wp.sqrt(dx * dx + dy * dy) < distance:
                    d = local_coordinates(rd.lf, rd.li, lane, v.x[e, j], v.y[e, j])[0] - v.s_own[e, ego]
                    if (see_behind and kind != OBSTACLE) or -F(2.0 * VEHICLE_LENGTH) < d:
                        key = wp.abs(d)
            v.okey[e, j] = key
        origin = int(ego)
        if absolute:
            origin = int(-1)
        prev_key = F(-1.0)
        prev_rank = int(-1)
        for row in range(count):
            j = int(ego)
            if row > 0:  # the next slot in (key, rank) order: highway-env's stable sort of its vehicles
                j = int(-1)  # in road order, then its objects
                best = F(1.0e30)
                best_rank = int(0)
                for k in range(n):
                    key = v.okey[e, k]
                    if key < BIG:
                        rank = list_rank(v, e, k)
                        after = key > prev_key or (key == prev_key and rank > prev_rank)
                        if after and (key < best or (key == best and rank < best_rank)):
                            best = key
                            best_rank = rank
                            j = k
                if j >= 0:
                    prev_key = best
                    prev_rank = best_rank
            for f in range(nf):
                val = ZERO
                if j >= 0:
                    code = p.obs_i[codes + f]
                    if row == 0:
                        val = feature(v, rd, e, j, code, -1, True)
                        if code == X and ego_x_lane >= 0:
                            val = local_coordinates(rd.lf, rd.li, ego_x_lane, v.x[e, j], v.y[e, j])[0]
                    else:
                        val = feature(v, rd, e, j, code, origin, intentions)
                    if normalize:
                        val = scale(p, ep, e, val, p.obs_i[modes + f], f, 1, clip)
                out.obs[orow, row * nf + f] = wp.float32(val)

    @wp.func(inline=True)
    def grid_cell(p: Params, dx: F, dy: F, c: F, s: F, align: bool) -> wp.vec2i:
        px = dx
        py = dy
        if align:
            px = c * dx + s * dy
            py = -s * dx + c * dy
        return wp.vec2i(
            int(wp.floor((px - p.obs_f[0]) / p.obs_f[2])), int(wp.floor((py - p.obs_f[1]) / p.obs_f[3]))
        )

    @wp.func(inline=True)
    def occupancy_grid(
        v: Vehicles, ep: Episodes, rd: Road, p: Params, e: int, out: Outputs, ego: int, orow: int
    ):
        nf = p.obs_i[0]
        w = p.obs_i[1]
        h = p.obs_i[2]
        align = p.obs_i[3] != 0
        clip = p.obs_i[4] != 0
        codes = int(5)
        modes = 5 + nf
        cells = w * h
        for k in range(nf * cells):
            out.obs[orow, k] = wp.float32(0.0)
        ex = v.x[e, ego]
        ey = v.y[e, ego]
        c = v.cos_h[e, ego]
        s = v.sin_h[e, ego]
        road_layer = int(-1)
        for f in range(nf):
            if p.obs_i[codes + f] == 13:  # on_road
                road_layer = f
        # vehicles: the lowest slot in a cell wins (highway-env writes them from the last one)
        for j in range(v.x.shape[1] - 1, -1, -1):
            kind = v.kind[e, j]
            if kind == CONTROLLED or kind == IDM or kind == VEHICLE:
                cell = grid_cell(p, v.x[e, j] - ex, v.y[e, j] - ey, c, s, align)
                if cell[0] >= 0 and cell[0] < w and cell[1] >= 0 and cell[1] < h:
                    for f in range(nf):
                        if f != road_layer:
                            val = feature(v, rd, e, j, p.obs_i[codes + f], ego, False)
                            val = scale(p, ep, e, val, p.obs_i[modes + f], f, 5, False)
                            if clip:
                                val = wp.clamp(val, F(-1.0), ONE)
                            out.obs[orow, f * cells + cell[0] * h + cell[1]] = wp.float32(val)
        if road_layer >= 0:  # highway-env fill_road_layer_by_lanes: waypoints along every lane
            spacing = wp.min(p.obs_f[2], p.obs_f[3])
            reach = p.obs_f[4]
            for ln in range(rd.lf.shape[0]):
                origin = local_coordinates(rd.lf, rd.li, ln, ex, ey)[0]
                lo = origin - reach
                count = int(wp.ceil(((origin + reach) - lo) / spacing))
                for k in range(count):
                    s_wp = wp.clamp(lo + F(k) * spacing, ZERO, rd.lf[ln, LENGTH])
                    pos = position(rd.lf, rd.li, ln, s_wp, ZERO)
                    cell = grid_cell(p, pos[0] - ex, pos[1] - ey, c, s, align)
                    if cell[0] >= 0 and cell[0] < w and cell[1] >= 0 and cell[1] < h:
                        out.obs[orow, road_layer * cells + cell[0] * h + cell[1]] = wp.float32(1.0)

    @wp.func(inline=True)
    def kinematics_goal(
        v: Vehicles, ep: Episodes, rd: Road, p: Params, e: int, out: Outputs, ego: int, orow: int
    ):
        nf = p.obs_i[0]
        goal = int(-1)  # the observer's goal: the ego-th road object that is not solid (a Landmark)
        seen = int(0)
        for j in range(v.x.shape[1]):
            if goal < 0 and v.kind[e, j] == OBSTACLE and (v.flags[e, j] & SOLID) == 0:
                if seen == ego:
                    goal = j
                seen = seen + 1
        for f in range(nf):
            code = p.obs_i[1 + f]
            scale = p.obs_f[f]
            val = raw_feature(v, rd, e, ego, code, True) / scale
            out.obs[orow, f] = wp.float32(val)
            out.obs[orow, nf + f] = wp.float32(val)
            target = ZERO
            if goal >= 0:
                target = raw_feature(v, rd, e, goal, code, True) / scale
            out.obs[orow, 2 * nf + f] = wp.float32(target)

    @wp.func
    def interval_distance(min_a: F, max_a: F, min_b: F, max_b: F) -> F:
        """highway-env ``utils.interval_distance``: negative when the intervals overlap."""
        d = min_a - max_b
        if min_a < min_b:
            d = min_b - max_a
        return d

    @wp.func
    def ray_to_rect(
        ox: F, oy: F, qx: F, qy: F, ax: F, ay: F, bx: F, by: F, dx: F, dy: F,
    ) -> F:  # fmt: skip
        """highway-env ``utils.distance_to_rect([o, q], [a, b, c, d])``: how far along the segment o -> q it
        enters the rectangle with corners a, b (a + u), d (a + v); BIG where it misses. A ray parallel to a
        side divides by zero as NumPy does (IEEE infinities), so the same rays hit."""
        ux = bx - ax
        uy = by - ay
        nu = wp.sqrt(ux * ux + uy * uy)
        ux = ux / nu
        uy = uy / nu
        vx = dx - ax
        vy = dy - ay
        nv = wp.sqrt(vx * vx + vy * vy)
        vx = vx / nv
        vy = vy / nv
        rx = qx - ox
        ry = qy - oy
        rqu = rx * ux + ry * uy
        rqv = rx * vx + ry * vy
        lo1 = ((ax - ox) * ux + (ay - oy) * uy) / rqu
        hi1 = ((bx - ox) * ux + (by - oy) * uy) / rqu
        lo2 = ((ax - ox) * vx + (ay - oy) * vy) / rqv
        hi2 = ((dx - ox) * vx + (dy - oy) * vy) / rqv
        if not (rqu >= ZERO):
            t = lo1
            lo1 = hi1
            hi1 = t
        if not (rqv >= ZERO):
            t = lo2
            lo2 = hi2
            hi2 = t
        hit = BIG
        if (
            interval_distance(lo1, hi1, lo2, hi2) <= ZERO
            and interval_distance(ZERO, ONE, lo1, hi1) <= ZERO
            and interval_distance(ZERO, ONE, lo2, hi2) <= ZERO
        ):
            first = lo1  # Python's max(lo1, lo2): the first unless the second is greater
            if lo2 > first:
                first = lo2
            hit = first * wp.sqrt(rx * rx + ry * ry)
        return hit

    @wp.func
    def lidar_index(p: Params, angle: F) -> int:
        """highway-env ``angle_to_index``: ``floor(angle / sector) % cells`` (Python's modulo)."""
        cells = p.obs_i[0]
        k = int(wp.floor(angle / p.obs_f[1])) % cells
        if k < 0:
            k = k + cells
        return k

    @wp.func
    def lidar_hit(
        v: Vehicles, p: Params, e: int, out: Outputs, orow: int, j: int, k: int, distance: F, ovx: F, ovy: F,
    ):  # fmt: skip
        """Ray k keeps ``distance`` to slot j when it is no farther than what the ray holds (float32 there,
        as highway-env's grid), with j's speed relative to the observer along the ray."""
        if distance <= F(out.obs[orow, 2 * k]):
            a = F(k) * p.obs_f[1]
            cx = wp.cos(a)
            sy = wp.sin(a)
            rel = (v.speed[e, j] * v.cos_h[e, j] - ovx) * cx + (v.speed[e, j] * v.sin_h[e, j] - ovy) * sy
            out.obs[orow, 2 * k] = wp.float32(distance)
            out.obs[orow, 2 * k + 1] = wp.float32(rel)

    @wp.func
    def on_road(rd: Road, x: F, y: F) -> bool:
        """The point lies on a lane of the lane table (highway-env ``lane.on_lane``, no margin)."""
        hit = bool(False)
        for ln in range(rd.lf.shape[0]):
            if not hit:
                c = local_coordinates(rd.lf, rd.li, ln, x, y)
                hit = on_lane(rd.lf, ln, c[0], c[1], ZERO)
        return hit

    @wp.func
    def lidar_edges(rd: Road, p: Params, out: Outputs, orow: int, ox: F, oy: F, ovx: F, ovy: F):
        """Each ray ends where it first crosses the road's boundary, if that is nearer than its hit."""
        start = on_road(rd, ox, oy)
        for k in range(p.obs_i[0]):
            a = F(k) * p.obs_f[1]
            cx = wp.cos(a)
            sy = wp.sin(a)
            limit = F(out.obs[orow, 2 * k])
            lo = ZERO
            hi = EDGE_STEP
            found = bool(False)
            while hi <= limit + EDGE_STEP and not found:
                if on_road(rd, ox + hi * cx, oy + hi * sy) != start:
                    found = True
                else:
                    lo = hi
                    hi = hi + EDGE_STEP
            if found:
                for _q in range(EDGE_BISECTIONS):
                    mid = (lo + hi) / F(2.0)
                    if on_road(rd, ox + mid * cx, oy + mid * sy) != start:
                        hi = mid
                    else:
                        lo = mid
                if hi < limit:
                    out.obs[orow, 2 * k] = wp.float32(hi)
                    out.obs[orow, 2 * k + 1] = wp.float32(-(ovx * cx + ovy * sy))

    @wp.func
    def lidar(v: Vehicles, ep: Episodes, rd: Road, p: Params, e: int, out: Outputs, ego: int, orow: int):
        """highway-env ``LidarObservation.trace`` from the observer's position and velocity, over the road's
        vehicles, then its objects (the ``<=`` lets the later of two equal hits win, as there)."""
        cells = p.obs_i[0]
        reach = p.obs_f[0]
        half = p.obs_f[2]
        for k in range(2 * cells):
            out.obs[orow, k] = wp.float32(reach)
        ox = v.x[e, ego]
        oy = v.y[e, ego]
        ovx = v.speed[e, ego] * v.cos_h[e, ego]
        ovy = v.speed[e, ego] * v.sin_h[e, ego]
        for objects in range(2):
            for j in range(v.x.shape[1]):
                kind = v.kind[e, j]
                seen = kind == CONTROLLED or kind == IDM or kind == VEHICLE
                if objects == 1:
                    seen = kind == OBSTACLE
                if j != ego and seen and (v.flags[e, j] & SOLID) != 0:
                    px = v.x[e, j] - ox
                    py = v.y[e, j] - oy
                    centre = wp.sqrt(px * px + py * py)
                    if centre <= reach:
                        k0 = lidar_index(p, wp.atan2(py, px) + half)
                        lidar_hit(v, p, e, out, orow, j, k0, centre - v.width[e, j] / F(2.0), ovx, ovy)
                        # the rectangle's corners (highway-env rect_corners): a, b, c, d
                        hl = v.length[e, j] / F(2.0)
                        hw = v.width[e, j] / F(2.0)
                        c = v.cos_h[e, j]
                        s = v.sin_h[e, j]
                        ax = c * -hl - s * -hw + v.x[e, j]
                        ay = s * -hl + c * -hw + v.y[e, j]
                        bx = c * -hl - s * hw + v.x[e, j]
                        by = s * -hl + c * hw + v.y[e, j]
                        cx = c * hl - s * hw + v.x[e, j]
                        cy = s * hl + c * hw + v.y[e, j]
                        dx = c * hl - s * -hw + v.x[e, j]
                        dy = s * hl + c * -hw + v.y[e, j]
                        a0 = wp.atan2(ay - oy, ax - ox) + half
                        a1 = wp.atan2(by - oy, bx - ox) + half
                        a2 = wp.atan2(cy - oy, cx - ox) + half
                        a3 = wp.atan2(dy - oy, dx - ox) + half
                        lo = wp.min(wp.min(a0, a1), wp.min(a2, a3))
                        hi = wp.max(wp.max(a0, a1), wp.max(a2, a3))
                        if lo < -HALF_PI and HALF_PI < hi:  # the corners wrap around +pi
                            t = lo
                            lo = hi
                            hi = t + TWO_PI
                        start = lidar_index(p, lo)
                        end = lidar_index(p, hi)
                        count = end - start + 1
                        if start >= end:  # wrapping around 0 (highway-env: start .. cells - 1, 0 .. end)
                            count = cells - start + end + 1
                        for q in range(count):
                            k = (start + q) % cells
                            a = F(k) * p.obs_f[1]
                            qx = ox + reach * wp.cos(a)
                            qy = oy + reach * wp.sin(a)
                            hit = ray_to_rect(ox, oy, qx, qy, ax, ay, bx, by, dx, dy)
                            lidar_hit(v, p, e, out, orow, j, k, hit, ovx, ovy)
        if p.obs_i[2] != 0:
            lidar_edges(rd, p, out, orow, ox, oy, ovx, ovy)
        if p.obs_i[1] != 0:  # normalize, in float32 as highway-env divides its float32 grid
            for k in range(2 * cells):
                out.obs[orow, k] = out.obs[orow, k] / wp.float32(reach)

    @wp.func(inline=True)
    def no_observation(
        v: Vehicles, ep: Episodes, rd: Road, p: Params, e: int, out: Outputs, ego: int, orow: int
    ):
        pass

    @wp.func
    def connected_road(v: Vehicles, rd: Road, e: int, i: int, start: int, target: int) -> bool:
        """highway-env ``is_connected_road(lane_1, lane_2, route, depth=3)`` for vehicle i's route, as a
        depth-first search: road ``target`` is the current road or leads into it; otherwise skip the
        route's entry for the current road, follow the route where it continues, or try every road
        leaving the current one where it does not."""
        s_road = wp.vector(dtype=wp.int32, length=TTC_STACK)
        s_pos = wp.vector(dtype=wp.int32, length=TTC_STACK)
        s_depth = wp.vector(dtype=wp.int32, length=TTC_STACK)
        head = v.route_head[e, i]
        n = v.route_len[e, i]
        s_road[0] = wp.int32(start)
        s_pos[0] = wp.int32(0)
        s_depth[0] = wp.int32(TTC_DEPTH)
        sp = int(1)
        found = bool(False)
        while sp > 0 and not found:
            sp = sp - 1
            r = int(s_road[sp])
            k = int(s_pos[sp])
            d = int(s_depth[sp])
            if r == target or rd.road_to[target] == rd.road_from[r]:
                found = bool(True)
            elif d > 0:
                if k < n and v.route_road[e, i, head + k] == r:
                    if sp < TTC_STACK:
                        s_road[sp] = wp.int32(r)
                        s_pos[sp] = wp.int32(k + 1)
                        s_depth[sp] = wp.int32(d)
                        sp = sp + 1
                elif k < n and rd.road_from[v.route_road[e, i, head + k]] == rd.road_to[r]:
                    if sp < TTC_STACK:
                        s_road[sp] = wp.int32(v.route_road[e, i, head + k])
                        s_pos[sp] = wp.int32(k + 1)
                        s_depth[sp] = wp.int32(d - 1)
                        sp = sp + 1
                else:
                    node = rd.road_to[r]
                    for q in range(wp.max(rd.node_count[node], 0)):
                        if sp < TTC_STACK:
                            s_road[sp] = wp.int32(rd.node_roads[rd.node_first[node] + q])
                            s_pos[sp] = wp.int32(k)
                            s_depth[sp] = wp.int32(d - 1)
                            sp = sp + 1
        return found

    @wp.func(inline=True)
    def time_to_collision(
        v: Vehicles, ep: Episodes, rd: Road, p: Params, e: int, out: Outputs, ego: int, orow: int
    ):
        """highway-env ``TimeToCollisionObservation.observe`` (``compute_ttc_grid``, then the 3 x 3 window
        around the observer's speed index and lane, padded with ones beside the road)."""
        steps = p.obs_i[0]
        quantum = p.obs_f[0]
        lane = v.lane[e, ego]
        road = rd.li[lane, ROAD]
        lanes = rd.li[lane, ROAD_LANES]
        lane_id = rd.li[lane, LANE_ID]
        ns = p.target_speeds.shape[0]
        speed_index = int(0)  # MDPVehicle.speed_index: the set-point the observer cruises at
        for k in range(ns):
            if wp.abs(p.target_speeds[k] - v.target_speed[e, ego]) < wp.abs(
                p.target_speeds[speed_index] - v.target_speed[e, ego]
            ):
                speed_index = k
        for row in range(3):
            for col in range(3):
                j = lane_id + col - 1
                fill = ZERO
                if j < 0 or j >= lanes:
                    fill = ONE
                for t in range(steps):
                    out.obs[orow, (row * 3 + col) * steps + t] = wp.float32(fill)
        s_ego = v.s_own[e, ego]
        c_ego = v.cos_h[e, ego]
        sn_ego = v.sin_h[e, ego]
        for row in range(3):
            si = wp.clamp(speed_index + row - 1, 0, ns - 1)
            ego_speed = p.target_speeds[si]
            for o in range(v.x.shape[1]):
                kind = v.kind[e, o]
                if (
                    o != ego
                    and (kind == CONTROLLED or kind == IDM or kind == VEHICLE)
                    and ego_speed != v.speed[e, o]
                ):
                    other_lane = v.lane[e, o]
                    other_road = rd.li[other_lane, ROAD]
                    if connected_road(v, rd, e, ego, road, other_road):
                        same_count = rd.li[other_lane, ROAD_LANES] == lanes
                        margin = v.length[e, o] / F(2.0) + v.length[e, ego] / F(2.0)
                        gap = local_coordinates(rd.lf, rd.li, lane, v.x[e, o], v.y[e, o])[0] - s_ego
                        projected = v.speed[e, o] * (v.cos_h[e, o] * c_ego + v.sin_h[e, o] * sn_ego)
                        closing = not_zero(ego_speed - projected)
                        for point in range(3):
                            m = ZERO
                            cost = ONE
                            if point == 1:
                                m = -margin
                                cost = F(0.5)
                            elif point == 2:
                                m = margin
                                cost = F(0.5)
                            ttc = (gap + m) / closing
                            if ttc >= ZERO:
                                for col in range(3):
                                    j = lane_id + col - 1
                                    hit = j >= 0 and j < lanes
                                    if same_count:
                                        hit = j == rd.li[other_lane, LANE_ID]
                                    if hit:
                                        for q in range(2):
                                            x = ttc / quantum
                                            t = int(x)
                                            if q == 1:
                                                t = int(wp.ceil(x))
                                            if t >= 0 and t < steps:
                                                at = (row * 3 + col) * steps + t
                                                out.obs[orow, at] = wp.max(
                                                    out.obs[orow, at], wp.float32(cost)
                                                )

    return SimpleNamespace(
        kinematics=kinematics, occupancy_grid=occupancy_grid, time_to_collision=time_to_collision,
        kinematics_goal=kinematics_goal, lidar=lidar, none=no_observation, feature=feature, raw_feature=raw_feature,
    )  # fmt: skip
