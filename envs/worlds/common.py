"""What every world shares: the host-side :class:`World` interface, highway-env's collision and lane-change
switches of its vehicle kinds, and what a spawn function does with a slot (place a vehicle or object and
reset its state, highway-env's ``Vehicle.__init__`` / ``IDMVehicle.__init__`` / ``RoadObject.__init__``
defaults). Worlds differ in where they put vehicles and how they reward them, not in these.
"""

import functools
import math
from types import SimpleNamespace

import numpy as np
import warp as wp

from envs.physics import structs as st
from envs.physics.traffic import DELTA, LANE_CHANGE_DELAY
from envs.road import network as rn
from envs.road.lanes import lane_funcs

#: slot flags of highway-env's controlled vehicles and road objects (check, collidable, solid)
EGO_FLAGS = st.CHECK_COLLISIONS | st.COLLIDABLE | st.SOLID
OBJECT_FLAGS = EGO_FLAGS
#: an IDMVehicle's: it also changes lanes (MOBIL)
IDM_FLAGS = EGO_FLAGS | st.ENABLE_LANE_CHANGE


class World:
    """The host side of a world, read by the Simulator: ``name``, ``reward_terms`` (the names of
    ``Outputs.terms``' columns), ``route_capacity``, ``info_flags`` (info key -> the reward term it
    reports as a bool), ``idm`` (IDM parameters it changes), ``regulation_frequency``, ``slots``,
    ``duration`` [s], ``network()``, ``params()`` (the world_f / world_i arrays its kernel functions
    read), ``scene_problems(scene)`` and ``funcs(F)`` (its Warp ``spawn`` and ``reward``, and optionally
    ``after_step``). By default a world has ``vehicles_count + controlled_vehicles`` slots, no routes, and its config's
    ``duration``."""

    name = ""
    reward_terms: tuple[str, ...] = ()
    route_capacity = 1
    info_flags: dict[str, str] = {}
    #: highway-env IDM class attributes this world changes (``traffic.IDM_DEFAULTS`` names them)
    idm: dict[str, float] = {}
    #: right-of-way checks per second of a ``RegulatedRoad`` (highway-env's REGULATION_FREQUENCY), 0: none
    regulation_frequency = 0
    #: the env's reward is the controlled vehicles' mean (a cooperative world), not the first one's
    shared_reward = False
    #: controlled vehicles the world can place (None: as many as fit, see ``placement_problems``)
    max_controlled: int | None = 1
    #: with MultiAgentObservation, ``info_flags`` hold one value per controlled vehicle (highway-env's
    #: parking-v0 reports ``is_success`` so), not the first one's
    flags_per_agent = False

    def __init__(self, cfg) -> None:
        self.cfg = cfg

    @property
    def slots(self) -> int:
        return self.cfg.vehicles_count + self.cfg.controlled_vehicles

    @classmethod
    def placement_problems(cls, cfg) -> list[str]:
        """Why ``cfg.controlled_vehicles`` controlled vehicles cannot be placed in this world (empty when
        they can)."""
        n = cfg.controlled_vehicles
        if n < 1:
            return [f"controlled_vehicles={n}: need at least 1"]
        if cls.max_controlled is not None and n > cls.max_controlled:
            return [
                f"controlled_vehicles={n}: the {cls.name} world places at most {cls.max_controlled} "
                "controlled vehicle" + ("s" if cls.max_controlled > 1 else "")
            ]
        return []

    @property
    def duration(self) -> float:
        """[s] episode length before truncation."""
        return self.cfg.duration

    def regulation_period(self, dt: float) -> int:
        """Physics sub-steps between right-of-way checks (``RegulatedRoad.step``), 0 when unregulated."""
        if not self.regulation_frequency:
            return 0
        return max(1, int(1 / dt / self.regulation_frequency))

    def scene_problems(self, scene) -> list[str]:
        """What keeps a loaded scene (already of the right shape and lanes) from making sense in this world
        (empty when it does); a world with nothing to add checks nothing."""
        return []


@functools.cache
def slot_funcs(F: type) -> SimpleNamespace:  # noqa: N803 - the kernels' float type
    S = st.make_structs(F)
    L = lane_funcs(F)
    Vehicles, Road, Params = S.Vehicles, S.Road, S.Params
    closest_lane, py_mod, local_coordinates = L.closest_lane, L.py_mod, L.local_coordinates
    ABSENT, CONTROLLED, IDM = st.ABSENT, st.CONTROLLED, st.IDM
    ROAD, LANE_ID = rn.ROAD, rn.LANE_ID
    ZERO = F(0.0)
    PI = F(math.pi)

    @wp.func
    def place(
        v: Vehicles, rd: Road, p: Params, e: int, i: int, kind: int, flags: int,
        x: F, y: F, heading: F, speed: F, length: F, width: F,
    ):  # fmt: skip
        """Put a ``kind`` at (x, y) in slot i, on its closest lane, with highway-env's defaults: a
        controlled vehicle cruises at the set-point nearest its speed, an IDM vehicle at its speed with
        the default exponent and the timer ``(x + y) * pi % LANE_CHANGE_DELAY``, not crashed, no route."""
        v.kind[e, i] = kind
        v.flags[e, i] = flags
        v.x[e, i] = x
        v.y[e, i] = y
        v.heading[e, i] = heading
        v.speed[e, i] = speed
        v.length[e, i] = length
        v.width[e, i] = width
        v.impact_x[e, i] = ZERO
        v.impact_y[e, i] = ZERO
        v.crashed[e, i] = False
        v.has_impact[e, i] = False
        v.yielding[e, i] = False
        v.born[e, i] = 0  # a world whose order of arrival matters (right of way) sets it
        v.route_head[e, i] = 0
        v.route_len[e, i] = 0
        lane = closest_lane(rd.lf, rd.li, x, y, heading)
        v.lane[e, i] = lane
        v.target_lane[e, i] = lane
        v.delta[e, i] = F(DELTA)
        v.timer[e, i] = ZERO
        v.target_speed[e, i] = ZERO
        if kind == CONTROLLED:
            ns = p.target_speeds.shape[0]
            frac = (speed - p.target_speeds[0]) / (p.target_speeds[ns - 1] - p.target_speeds[0])
            v.target_speed[e, i] = p.target_speeds[wp.clamp(int(wp.rint(frac * F(ns - 1))), 0, ns - 1)]
        elif kind == IDM:
            v.target_speed[e, i] = speed
            v.timer[e, i] = py_mod((x + y) * PI, F(LANE_CHANGE_DELAY))

    @wp.func
    def farthest_on_lane(v: Vehicles, rd: Road, e: int, ln: int, count: int) -> F:
        """The largest longitudinal coordinate on lane ln of the vehicles placed in slots 0..count-1
        (highway-env ``Vehicle.create_random``'s ``x0``: a new vehicle spawns ahead of every vehicle so
        far); slots marked ABSENT are skipped."""
        x0 = F(-1.0e30)
        for j in range(count):
            if v.kind[e, j] != ABSENT:
                x0 = wp.max(x0, local_coordinates(rd.lf, rd.li, ln, v.x[e, j], v.y[e, j])[0])
        return x0

    @wp.func
    def plan_route(
        v: Vehicles, rd: Road, p: Params, e: int, i: int, table: int, length: int, destinations: int,
        destination: int,
    ):  # fmt: skip
        """highway-env ``plan_route_to``: this vehicle's lane, then the shortest path's roads (any lane),
        read from the route table at ``p.world_i[table:]`` of shape (roads, destinations, length) (a
        world's ``route_table``)."""
        lane = v.lane[e, i]
        road = rd.li[lane, ROAD]
        v.route_head[e, i] = 0
        v.route_road[e, i, 0] = road
        v.route_lane[e, i, 0] = rd.li[lane, LANE_ID]
        n = int(1)
        base = table + (road * destinations + destination) * length
        for k in range(length):
            r = p.world_i[base + k]
            if r >= 0:
                v.route_road[e, i, n] = r
                v.route_lane[e, i, n] = -1  # any lane of that road
                n = n + 1
        v.route_len[e, i] = n

    return SimpleNamespace(place=place, farthest_on_lane=farthest_on_lane, plan_route=plan_route)


def route_table(net, destinations: tuple[str, ...]) -> np.ndarray:
    """(roads, destinations, length) road rows of ``plan_route_to`` after the vehicle's own lane: the
    breadth-first shortest path from each road's end to each destination node, -1 padded."""
    roads = net.roads()
    paths = [[net.shortest_path(b, goal) for goal in destinations] for _, b in roads]
    length = max(1, *(len(p) - 1 for row in paths for p in row))
    table = np.full((len(roads), len(destinations), length), -1, np.int32)
    for r, row in enumerate(paths):
        for d, path in enumerate(row):
            for k in range(len(path) - 1):
                table[r, d, k] = net.road_row(path[k], path[k + 1])
    return table
