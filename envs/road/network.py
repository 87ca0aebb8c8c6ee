"""Road networks on the host: highway-env's lane kinds and ``(from, to, id)`` graph, flattened to tables.

A :class:`RoadNetwork` is built like highway-env's (``add_lane(from, to, lane)``, ``straight_road_network``)
or read from a running highway-env road (:meth:`RoadNetwork.from_highway_env`). The kernels never see
these objects: :meth:`RoadNetwork.tables` flattens the graph into arrays (:class:`LaneTables`), in
highway-env's iteration order, so that "lane ``k``" means the ``k``-th lane highway-env's
``get_closest_lane_index`` loops over and ties break the same way.

Lane parameters and the derived values highway-env stores on its lane objects (heading, length,
direction vectors) are computed here once, in float64, with highway-env's formulas.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

LaneIndex = tuple[str, str, int]

DEFAULT_WIDTH = 4.0  # [m] highway-env AbstractLane.DEFAULT_WIDTH
VEHICLE_LENGTH = 5.0  # [m] highway-env AbstractLane.VEHICLE_LENGTH (lane ends and on_lane margins)


class LineType:
    """Lane side line types (highway-env ``LineType``): drawn by the renderer, ignored by the physics."""

    NONE = 0
    STRIPED = 1
    CONTINUOUS = 2
    CONTINUOUS_LINE = 3


# Lane kinds, as stored in the lane table.
STRAIGHT, SINE, CIRCULAR = 0, 1, 2
KIND_NAMES = {STRAIGHT: "StraightLane", SINE: "SineLane", CIRCULAR: "CircularLane"}


@dataclass(frozen=True)
class StraightLane:
    """A straight lane from ``start`` to ``end`` [m] (highway-env ``StraightLane``)."""

    start: tuple[float, float]
    end: tuple[float, float]
    width: float = DEFAULT_WIDTH
    line_types: tuple[int, int] = (LineType.STRIPED, LineType.STRIPED)
    forbidden: bool = False
    speed_limit: float | None = 20.0  # [m/s]
    priority: int = 0

    kind = STRAIGHT

    def __post_init__(self) -> None:
        if self.length <= 0:
            raise ValueError(f"{type(self).__name__} from {self.start} to {self.end}: the ends must differ")
        _check_common(self)

    @property
    def length(self) -> float:
        return float(np.linalg.norm(np.array(self.end, float) - np.array(self.start, float)))

    @property
    def heading(self) -> float:
        return float(np.arctan2(self.end[1] - self.start[1], self.end[0] - self.start[0]))

    @property
    def direction(self) -> np.ndarray:
        return (np.array(self.end, float) - np.array(self.start, float)) / self.length

    @property
    def direction_lateral(self) -> np.ndarray:
        d = self.direction
        return np.array([-d[1], d[0]])


@dataclass(frozen=True)
class SineLane(StraightLane):
    """A straight lane with a sinusoidal lateral offset (highway-env ``SineLane``)."""

    amplitude: float = 0.0  # [m]
    pulsation: float = 0.0  # [rad/m]
    phase: float = 0.0  # [rad]

    kind = SINE


@dataclass(frozen=True)
class CircularLane:
    """A circle arc (highway-env ``CircularLane``); ``clockwise`` in highway-env's y-down screen sense."""

    center: tuple[float, float]
    radius: float
    start_phase: float  # [rad]
    end_phase: float  # [rad]
    clockwise: bool = True
    width: float = DEFAULT_WIDTH
    line_types: tuple[int, int] = (LineType.STRIPED, LineType.STRIPED)
    forbidden: bool = False
    speed_limit: float | None = 20.0  # [m/s]
    priority: int = 0

    kind = CIRCULAR

    def __post_init__(self) -> None:
        if not self.radius > 0:
            raise ValueError(f"CircularLane radius={self.radius}: must be > 0")
        if self.length <= 0:
            raise ValueError(
                f"CircularLane phases {self.start_phase} -> {self.end_phase} (clockwise={self.clockwise}): "
                "the arc must have a positive length"
            )
        _check_common(self)

    @property
    def direction(self) -> int:
        return 1 if self.clockwise else -1

    @property
    def length(self) -> float:
        return float(self.radius * (self.end_phase - self.start_phase) * self.direction)


Lane = StraightLane | SineLane | CircularLane


def _check_common(lane: Any) -> None:
    if not (math.isfinite(lane.width) and lane.width > 0):
        raise ValueError(f"{type(lane).__name__} width={lane.width}: must be a finite number > 0")
    if lane.speed_limit is not None and not math.isfinite(lane.speed_limit):
        raise ValueError(f"{type(lane).__name__} speed_limit={lane.speed_limit}: must be finite or None")


# Columns of the float lane table.
(SX, SY, DX, DY, LX, LY, HEADING, LENGTH, WIDTH, AMPLITUDE, PULSATION, PHASE, CX, CY, RADIUS, START_PHASE,
 END_PHASE, CDIR, SPEED_LIMIT, BCX, BCY, BR) = range(22)  # fmt: skip
LANE_FLOATS = 22
# Columns of the int lane table.
KIND, ROAD, LANE_ID, ROAD_LANES, FORBIDDEN, PRIORITY, ROAD_FIRST = range(7)
LANE_INTS = 7
NO_SPEED_LIMIT = 1.0e30  # [m/s] stands for highway-env's ``speed_limit=None``


@dataclass(frozen=True)
class LaneTables:
    """The network as flat arrays (NumPy, float64 / int32), the kernels' only view of the road.

    ``lane_f`` (L, LANE_FLOATS) and ``lane_i`` (L, LANE_INTS): one row per lane, columns named above.
    ``road_from``/``road_to`` (R,): node ids of each road ``(from, to)``; ``road_first``/``road_lanes``
    (R,): its first lane row and lane count. ``node_first``/``node_count`` (nodes,) index
    ``node_roads`` (R,): the roads leaving each node, in highway-env's ``graph[node]`` order;
    ``node_count`` is -1 for a node that is not a key of the graph (highway-env's ``KeyError``).
    """

    lane_f: np.ndarray
    lane_i: np.ndarray
    road_from: np.ndarray
    road_to: np.ndarray
    road_first: np.ndarray
    road_lanes: np.ndarray
    node_first: np.ndarray
    node_count: np.ndarray
    node_roads: np.ndarray

    @property
    def num_lanes(self) -> int:
        return int(self.lane_f.shape[0])

    def arrays(self) -> dict[str, np.ndarray]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


@dataclass
class RoadNetwork:
    """highway-env's ``RoadNetwork``: ``graph[from][to]`` is the list of lanes of road ``(from, to)``."""

    graph: dict[str, dict[str, list[Lane]]] = field(default_factory=dict)

    def add_lane(self, _from: str, _to: str, lane: Lane) -> None:
        self.graph.setdefault(_from, {}).setdefault(_to, []).append(lane)

    # indexing ----------------------------------------------------------------------------------
    def lane_indexes(self) -> list[LaneIndex]:
        """Every lane's ``(from, to, id)``, in highway-env's iteration order (the table's row order)."""
        return [
            (a, b, k) for a, tos in self.graph.items() for b, lanes in tos.items() for k in range(len(lanes))
        ]

    def roads(self) -> list[tuple[str, str]]:
        return [(a, b) for a, tos in self.graph.items() for b in tos]

    def nodes(self) -> list[str]:
        names: dict[str, None] = {}
        for a, tos in self.graph.items():
            names[a] = None
            for b in tos:
                names[b] = None
        return list(names)

    def lane_row(self, index: LaneIndex | tuple[str, str, None]) -> int:
        """Row of lane ``(from, to, id)`` in the tables, or a clear error naming what exists."""
        _from, _to, _id = index
        if _from not in self.graph or _to not in self.graph[_from]:
            raise KeyError(
                f"lane {index}: the network has no road ({_from!r}, {_to!r}); roads: {self.roads()}"
            )
        lanes = self.graph[_from][_to]
        if _id is None and len(lanes) == 1:
            _id = 0
        if _id is None or not 0 <= int(_id) < len(lanes):
            raise KeyError(f"lane {index}: road ({_from!r}, {_to!r}) has lanes 0..{len(lanes) - 1}")
        return self.lane_indexes().index((_from, _to, int(_id)))

    def road_row(self, _from: str, _to: str) -> int:
        if (_from, _to) not in self.roads():
            raise KeyError(f"road ({_from!r}, {_to!r}) is not in the network; roads: {self.roads()}")
        return self.roads().index((_from, _to))

    def get_lane(self, index: LaneIndex) -> Lane:
        return self.graph[index[0]][index[1]][self.lane_indexes()[self.lane_row(index)][2]]

    # routing -----------------------------------------------------------------------------------
    def shortest_path(self, start: str, goal: str) -> list[str]:
        """Breadth-first shortest path of nodes, exploring successors in sorted order (highway-env)."""
        queue = deque([(start, [start])])
        while queue:
            node, path = queue.popleft()
            if node not in self.graph:
                return []
            for nxt in sorted(k for k in self.graph[node] if k not in path):
                if nxt == goal:
                    return [*path, nxt]
                if nxt in self.graph:
                    queue.append((nxt, [*path, nxt]))
        return []

    # construction ------------------------------------------------------------------------------
    @staticmethod
    def straight_road_network(
        lanes: int = 4,
        start: float = 0.0,
        length: float = 10000.0,
        angle: float = 0.0,
        speed_limit: float = 30.0,
        nodes_str: tuple[str, str] | None = None,
        net: RoadNetwork | None = None,
    ) -> RoadNetwork:
        """``lanes`` parallel straight lanes 4 m apart (highway-env ``straight_road_network``)."""
        net = net or RoadNetwork()
        nodes = nodes_str or ("0", "1")
        rotation = np.array([[np.cos(angle), np.sin(angle)], [-np.sin(angle), np.cos(angle)]])
        for k in range(lanes):
            origin = rotation @ np.array([start, k * DEFAULT_WIDTH])
            end = rotation @ np.array([start + length, k * DEFAULT_WIDTH])
            line_types = (
                LineType.CONTINUOUS_LINE if k == 0 else LineType.STRIPED,
                LineType.CONTINUOUS_LINE if k == lanes - 1 else LineType.NONE,
            )
            net.add_lane(
                *nodes,
                StraightLane(tuple(origin), tuple(end), line_types=line_types, speed_limit=speed_limit),
            )
        return net

    @classmethod
    def from_highway_env(cls, network: Any) -> RoadNetwork:
        """Convert a highway-env ``RoadNetwork`` (its lanes must be straight, sine or circular)."""
        net = cls()
        for _from, tos in network.graph.items():
            for _to, lanes in tos.items():
                for lane in lanes:
                    net.add_lane(_from, _to, lane_from_highway_env(lane))
        return net

    def tables(self) -> LaneTables:
        """Flatten the network (see :class:`LaneTables`)."""
        if not self.graph:
            raise ValueError("the road network has no lanes")
        roads, nodes = self.roads(), self.nodes()
        node_id = {name: k for k, name in enumerate(nodes)}
        rows_f, rows_i = [], []
        road_first, road_lanes = [], []
        for r, (a, b) in enumerate(roads):
            lanes = self.graph[a][b]
            road_first.append(len(rows_f))
            road_lanes.append(len(lanes))
            for k, lane in enumerate(lanes):
                rows_f.append(_lane_floats(lane))
                rows_i.append(
                    [lane.kind, r, k, len(lanes), int(lane.forbidden), int(lane.priority), road_first[-1]]
                )
        node_first = np.zeros(len(nodes), np.int32)
        node_count = np.full(len(nodes), -1, np.int32)
        node_roads = []
        for name, k in node_id.items():
            if name in self.graph:
                node_first[k] = len(node_roads)
                node_count[k] = len(self.graph[name])
                node_roads += [roads.index((name, b)) for b in self.graph[name]]
        return LaneTables(
            lane_f=np.array(rows_f, np.float64).reshape(-1, LANE_FLOATS),
            lane_i=np.array(rows_i, np.int32).reshape(-1, LANE_INTS),
            road_from=np.array([node_id[a] for a, _ in roads], np.int32),
            road_to=np.array([node_id[b] for _, b in roads], np.int32),
            road_first=np.array(road_first, np.int32),
            road_lanes=np.array(road_lanes, np.int32),
            node_first=node_first,
            node_count=node_count,
            node_roads=np.array(node_roads or [0], np.int32),
        )


def _lane_floats(lane: Lane) -> list[float]:
    """A lane's table row. Columns BCX, BCY, BR hold a bounding circle of its centreline such that any
    point's lane distance (highway-env's ``|lateral| + overshoot past the ends``) is at least its
    distance to the circle: ``distance(point, (BCX, BCY)) - BR``. The kernels skip a lane's exact
    coordinates when that bound already rules it out (see ``refresh_vehicle``)."""
    row = [0.0] * LANE_FLOATS
    row[WIDTH] = float(lane.width)
    row[LENGTH] = lane.length
    row[SPEED_LIMIT] = NO_SPEED_LIMIT if lane.speed_limit is None else float(lane.speed_limit)
    if isinstance(lane, StraightLane):
        d, lat = lane.direction, lane.direction_lateral
        row[SX], row[SY] = map(float, lane.start)
        row[DX], row[DY], row[LX], row[LY] = float(d[0]), float(d[1]), float(lat[0]), float(lat[1])
        row[HEADING] = lane.heading
        amplitude = 0.0
        if isinstance(lane, SineLane):
            row[AMPLITUDE], row[PULSATION], row[PHASE] = lane.amplitude, lane.pulsation, lane.phase
            amplitude = abs(lane.amplitude)
        # the centreline lies within the amplitude of the segment; beyond the ends the sine's swing
        # adds at most twice the amplitude to the distance (see _bounding_circle)
        centre = (np.array(lane.start, float) + np.array(lane.end, float)) / 2
        row[BCX], row[BCY], row[BR] = float(centre[0]), float(centre[1]), lane.length / 2 + 3 * amplitude
    else:
        row[CX], row[CY] = map(float, lane.center)
        row[RADIUS], row[START_PHASE], row[END_PHASE] = lane.radius, lane.start_phase, lane.end_phase
        row[CDIR] = float(lane.direction)
        sweep = lane.length / lane.radius  # [rad]
        mid = lane.direction * sweep / 2 + lane.start_phase
        row[BCX] = float(lane.center[0] + lane.radius * np.cos(mid))
        row[BCY] = float(lane.center[1] + lane.radius * np.sin(mid))
        row[BR] = 2 * lane.radius * (np.sin(sweep / 4) if sweep < 2 * np.pi else 1.0)
    return row


def lane_from_highway_env(lane: Any) -> Lane:
    """Our lane spec of a highway-env lane object (same parameters), or a clear error for other kinds."""
    name = type(lane).__name__
    common = dict(
        width=float(lane.width),
        line_types=tuple(int(t) for t in (lane.line_types or (LineType.STRIPED, LineType.STRIPED))),
        forbidden=bool(lane.forbidden),
        speed_limit=None if lane.speed_limit is None else float(lane.speed_limit),
        priority=int(lane.priority),
    )
    if name == "StraightLane":
        return StraightLane(tuple(map(float, lane.start)), tuple(map(float, lane.end)), **common)
    if name == "SineLane":
        return SineLane(
            tuple(map(float, lane.start)),
            tuple(map(float, lane.end)),
            amplitude=float(lane.amplitude),
            pulsation=float(lane.pulsation),
            phase=float(lane.phase),
            **common,
        )
    if name == "CircularLane":
        return CircularLane(
            tuple(map(float, lane.center)),
            float(lane.radius),
            float(lane.start_phase),
            float(lane.end_phase),
            bool(lane.clockwise),
            **common,
        )
    raise ValueError(f"lane kind {name} is not supported; supported: {sorted(KIND_NAMES.values())}")
