"""Scenes: the full state of one env as NumPy arrays and lane names, to save, inspect, or exchange with
highway-env (``envs/highway/compat.py``).

Lanes are named as highway-env names them, ``(from, to, id)``; routes are lists of such names, where
``id`` may be None ("any lane of that road"). Slots 0 .. k - 1 are the k controlled vehicles; vehicles come before
road objects, in highway-env's road order (the order matters where highway-env breaks ties).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from envs.physics import structs as st
from envs.road.network import LaneIndex, RoadNetwork

FLOAT_FIELDS = (
    "x", "y", "heading", "speed", "target_speed", "delta", "timer", "impact_x", "impact_y", "length", "width",
)  # fmt: skip
BOOL_FIELDS = ("crashed", "has_impact", "yielding")
INT_FIELDS = ("kind", "flags", "born")
RouteEntry = tuple[str, str, int | None]


@dataclass(frozen=True)
class Scene:
    """One env's state. Arrays are shaped (slots,); ``lane``/``target_lane``/``route`` are per slot."""

    x: np.ndarray  # [m]
    y: np.ndarray  # [m]
    heading: np.ndarray  # [rad]
    speed: np.ndarray  # [m/s]
    target_speed: np.ndarray  # [m/s]
    delta: np.ndarray  # [] IDM exponent
    timer: np.ndarray  # [s] lane-change timer
    impact_x: np.ndarray  # [m] pending impact (applied at the next sub-step)
    impact_y: np.ndarray  # [m]
    length: np.ndarray  # [m]
    width: np.ndarray  # [m]
    crashed: np.ndarray  # bool
    has_impact: np.ndarray  # bool
    yielding: np.ndarray  # bool: stopped to give way at a regulated junction (highway-env ``is_yielding``)
    kind: np.ndarray  # int: structs.ABSENT / CONTROLLED / IDM / OBSTACLE / VEHICLE
    flags: np.ndarray  # int: structs.CHECK_COLLISIONS | ENABLE_LANE_CHANGE | COLLIDABLE | SOLID
    born: np.ndarray  # int: order of arrival on the road (highway-env's vehicle list order), ties by slot
    lane: tuple[LaneIndex, ...]
    target_lane: tuple[LaneIndex, ...]
    route: tuple[tuple[RouteEntry, ...], ...]
    time: float  # [s]
    world: str
    simulation_frequency: int
    policy_frequency: int
    road_steps: int = 0  # physics sub-steps since the road was made (a regulated road checks on a period)

    @property
    def num_slots(self) -> int:
        return len(self.x)

    def padded(self, slots: int) -> Scene:
        """This scene with empty (``ABSENT``) slots appended up to ``slots``: worlds whose traffic varies
        in number (racetrack-v0 drops vehicles spawned too close) hold a fixed pool of slots."""
        extra = slots - self.num_slots
        if extra <= 0:
            return self

        def grow(a: Any) -> np.ndarray:
            a = np.asarray(a)
            return np.concatenate([a, np.zeros(extra, a.dtype)])

        pad = {name: grow(getattr(self, name)) for name in (*FLOAT_FIELDS, *BOOL_FIELDS, *INT_FIELDS)}
        pad["kind"][self.num_slots :] = st.ABSENT
        return dataclasses.replace(
            self,
            **pad,
            lane=(*self.lane, *[self.lane[0]] * extra),
            target_lane=(*self.target_lane, *[self.lane[0]] * extra),
            route=(*self.route, *[()] * extra),
        )

    def problems(
        self, world: str, slots: int, network: RoadNetwork, route_capacity: int, cfg: Any
    ) -> list[str]:
        """Everything that keeps this scene from loading into an env (empty when it fits)."""
        out = []
        if self.world != world:
            out.append(f"world: scene has {self.world!r}, env has {world!r}")
        for name in ("simulation_frequency", "policy_frequency"):
            if getattr(self, name) != getattr(cfg, name):
                out.append(f"{name}: scene has {getattr(self, name)}, env has {getattr(cfg, name)}")
        for name in (*FLOAT_FIELDS, *BOOL_FIELDS, *INT_FIELDS):
            arr = np.asarray(getattr(self, name))
            if arr.shape != (slots,):
                out.append(f"{name} has shape {arr.shape}, env needs ({slots},) (its vehicle slots)")
            elif name in FLOAT_FIELDS and not np.all(np.isfinite(arr)):
                bad = np.flatnonzero(~np.isfinite(arr)).tolist()
                out.append(f"{name} has non-finite values (NaN or inf) at vehicles {bad}")
        for name in ("lane", "target_lane", "route"):
            if len(getattr(self, name)) != slots:
                out.append(f"{name} has {len(getattr(self, name))} entries, env needs {slots}")
        if out:
            return out
        if not np.isin(self.kind, list(st.KIND_NAMES)).all():
            out.append(f"kind has unknown codes; known: {st.KIND_NAMES}")
        else:
            agents = int(getattr(cfg, "controlled_vehicles", 1))
            controlled = np.flatnonzero(self.kind == st.CONTROLLED).tolist()
            if controlled != list(range(agents)):
                out.append(
                    f"slots 0..{agents - 1} must be the {agents} controlled vehicle(s) (controlled_vehicles="
                    f"{agents}); the scene's controlled vehicles are in slots {controlled}"
                )
        roads = set(network.roads())
        for k in range(slots):
            for name in ("lane", "target_lane"):
                try:
                    network.lane_row(tuple(getattr(self, name)[k]))
                except KeyError as err:
                    out.append(f"vehicle {k} {name}: {err.args[0]}")
            route = self.route[k]
            if len(route) > route_capacity:
                out.append(f"vehicle {k} route has {len(route)} entries, this world holds {route_capacity}")
            for m, (a, b, lane_id) in enumerate(route):
                if (a, b) not in roads:
                    out.append(f"vehicle {k} route entry {m} ({a!r}, {b!r}) is not a road of the network")
                elif lane_id is not None and not 0 <= lane_id < len(network.graph[a][b]):
                    out.append(f"vehicle {k} route entry {m}: road ({a!r}, {b!r}) has no lane {lane_id}")
                if m > 0 and route[m - 1][1] != a:
                    out.append(f"vehicle {k} route leaves the network: entry {m - 1} ends at "
                               f"{route[m - 1][1]!r}, entry {m} starts at {a!r}")  # fmt: skip
        if int(self.road_steps) < 0:
            out.append(f"road_steps={self.road_steps}: must be >= 0")
        if not (math.isfinite(self.time) and self.time >= 0):
            out.append(f"time={self.time}: must be finite and >= 0")
        return out
