"""What every world shares: the host-side :class:`World` interface, highway-env's collision and lane-change
switches of its vehicle kinds, and what a spawn function does with a slot (place a vehicle or object and
reset its state, highway-env's ``Vehicle.__init__`` / ``IDMVehicle.__init__`` / ``RoadObject.__init__``
defaults). Worlds differ in where they put vehicles and how they reward them, not in these.
"""

import functools
import math
from types import SimpleNamespace

import warp as wp

from envs.physics import structs as st
from envs.physics.traffic import DELTA, LANE_CHANGE_DELAY
from envs.road.lanes import lane_funcs

#: slot flags of highway-env's controlled vehicles and road objects (check, collidable, solid)
EGO_FLAGS = st.CHECK_COLLISIONS | st.COLLIDABLE | st.SOLID
OBJECT_FLAGS = EGO_FLAGS
#: an IDMVehicle's: it also changes lanes (MOBIL)
IDM_FLAGS = EGO_FLAGS | st.ENABLE_LANE_CHANGE


class World:
    """The host side of a world, read by the Simulator: ``name``, ``reward_terms`` (the names of
    ``Outputs.terms``' columns), ``route_capacity``, ``info_flags`` (info key -> the reward term it
    reports as a bool), ``slots``, ``duration`` [s], ``network()``, ``params()`` (the world_f / world_i
    arrays its kernel functions read), ``scene_problems(scene)`` and ``funcs(F)`` (its Warp ``spawn`` and ``reward``). By default a
    world has ``vehicles_count + 1`` slots, no routes, and its config's ``duration``."""

    name = ""
    reward_terms: tuple[str, ...] = ()
    route_capacity = 1
    info_flags: dict[str, str] = {}

    def __init__(self, cfg) -> None:
        self.cfg = cfg

    @property
    def slots(self) -> int:
        return self.cfg.vehicles_count + 1

    @property
    def duration(self) -> float:
        """[s] episode length before truncation."""
        return self.cfg.duration

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
    CONTROLLED, IDM = st.CONTROLLED, st.IDM
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
        """The largest longitudinal coordinate on lane ln of slots 0..count-1 (highway-env
        ``Vehicle.create_random``'s ``x0``: a new vehicle spawns ahead of every vehicle so far)."""
        x0 = local_coordinates(rd.lf, rd.li, ln, v.x[e, 0], v.y[e, 0])[0]
        for j in range(1, count):
            x0 = wp.max(x0, local_coordinates(rd.lf, rd.li, ln, v.x[e, j], v.y[e, j])[0])
        return x0

    return SimpleNamespace(place=place, farthest_on_lane=farthest_on_lane)
