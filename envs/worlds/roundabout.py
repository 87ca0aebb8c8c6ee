"""The roundabout world (highway-env ``roundabout-v0``): road, spawning, reward, termination.

- Road (highway-env ``RoundaboutEnv._make_road``): a two-lane ring of radius 20 and 24 m (eight
  circular arcs between the four entries and four exits) and, on each side, an access road (170 m
  straight, then a sine lane onto the ring) and an exit road (a sine lane off the ring, then straight).
- Spawning (``_make_vehicles``): the controlled vehicle 125 m down the south access road at 8 m/s,
  routed to the north exit; an IDM vehicle on the ring's outer lane near the west entry, two on its
  inner lane 20 m before and after it, and one on the east access road, each position and speed
  shifted by N(0, 2) and routed to a random exit (east, south or north; the first one's may be fixed
  by ``incoming_vehicle_destination``), with a random IDM exponent (``randomize_behavior``).
- Reward terms ``collision_reward``, ``high_speed_reward`` (the ego's speed index over 2),
  ``lane_change_reward`` (LANE_LEFT or LANE_RIGHT), ``on_road_reward``; weighted, mapped from
  [collision_reward, high_speed_reward] to [0, 1] when ``normalize_reward``, times on_road.
- Terminated on a crash; truncated at ``duration``.

Routes are highway-env's ``plan_route_to``: the vehicle's lane, then the roads of the breadth-first
shortest path from its end to the destination, precomputed on the host for every road and destination.

Random streams: env ``e``'s episode ``k`` draws from ``wp.rand_init(seed[e], k)`` (Warp's PCG), per IDM
vehicle in slot order: position and speed shifts (normal), destination, IDM exponent.
"""

import functools
from types import SimpleNamespace

import numpy as np
import warp as wp

from envs.physics import structs as st
from envs.physics.traffic import DELTA_RANGE, VEHICLE_LENGTH, VEHICLE_WIDTH
from envs.road.lanes import lane_funcs
from envs.road.network import CircularLane, LineType, RoadNetwork, SineLane, StraightLane
from envs.worlds.common import EGO_FLAGS, IDM_FLAGS, World, route_table, slot_funcs

REWARD_TERMS = ("collision_reward", "high_speed_reward", "lane_change_reward", "on_road_reward")
RADIUS, ALPHA = 20.0, 24.0  # [m] inner ring radius, [deg] half-angle of an entry/exit arc
ACCESS, DEV, AMPLITUDE = 170.0, 85.0, 5.0  # [m]
DESTINATIONS = ("exr", "sxr", "nxr")  # highway-env's order: east, south, north exits
EGO_DESTINATION = "nxs"
# (lane, longitudinal [m]) of the NPCs before their N(0, 2) shifts, in highway-env's slot order
NPC_LANES = (("we", "sx", 1), ("we", "sx", 0), ("we", "sx", 0), ("eer", "ees", 0))
NPC_LONGITUDINAL = (5.0, 20.0, -20.0, 50.0)
NPC_SPEED, DEVIATION = 16.0, 2.0  # [m/s], [m or m/s]
EGO_LANE, EGO_LONGITUDINAL, EGO_HEADING_AT, EGO_SPEED = ("ser", "ses", 0), 125.0, 140.0, 8.0
SPEED_INDEX_SCALE = (
    2.0  # highway-env divides by MDPVehicle.DEFAULT_TARGET_SPEEDS.size - 1, whatever the config
)
SLOTS = 1 + len(NPC_LANES)
# world_f / world_i layouts
COLLISION_W, HIGH_SPEED_W, LANE_CHANGE_W = range(3)
NORMALIZE, INCOMING_DESTINATION, ROUTE_LEN, EGO_ROW, NPC_ROWS = range(5)
ROUTES = NPC_ROWS + len(NPC_LANES)  # then the route table: (roads, destinations + 1, route length)


def roundabout_network() -> RoadNetwork:
    """highway-env's ``RoundaboutEnv._make_road``, lane for lane (same order, so the same lane rows)."""
    net = RoadNetwork()
    center, alpha = (0.0, 0.0), ALPHA
    radii = (RADIUS, RADIUS + 4)
    n, c, s = LineType.NONE, LineType.CONTINUOUS, LineType.STRIPED
    line = ((c, s), (n, c))
    ring = (("se", "ex", 90 - alpha, alpha), ("ex", "ee", alpha, -alpha), ("ee", "nx", -alpha, -90 + alpha),
            ("nx", "ne", -90 + alpha, -90 - alpha), ("ne", "wx", -90 - alpha, -180 + alpha),
            ("wx", "we", -180 + alpha, -180 - alpha), ("we", "sx", 180 - alpha, 90 + alpha),
            ("sx", "se", 90 + alpha, 90 - alpha))  # fmt: skip
    for lane in (0, 1):
        for a, b, start, end in ring:
            arc = CircularLane(center, radii[lane], np.deg2rad(start), np.deg2rad(end), clockwise=False,
                               line_types=line[lane])  # fmt: skip
            net.add_lane(a, b, arc)
    access, dev, a = ACCESS, DEV, AMPLITUDE
    delta_st = 0.2 * dev
    delta_en = dev - delta_st
    w = 2 * np.pi / dev

    def sine(start, end, phase):
        return SineLane(start, end, line_types=(c, c), amplitude=a, pulsation=w, phase=phase)

    net.add_lane("ser", "ses", StraightLane((2, access), (2, dev / 2), line_types=(s, c)))
    net.add_lane("ses", "se", sine((2 + a, dev / 2), (2 + a, dev / 2 - delta_st), -np.pi / 2))
    net.add_lane(
        "sx", "sxs", sine((-2 - a, -dev / 2 + delta_en), (-2 - a, dev / 2), -np.pi / 2 + w * delta_en)
    )
    net.add_lane("sxs", "sxr", StraightLane((-2, dev / 2), (-2, access), line_types=(n, c)))
    net.add_lane("eer", "ees", StraightLane((access, -2), (dev / 2, -2), line_types=(s, c)))
    net.add_lane("ees", "ee", sine((dev / 2, -2 - a), (dev / 2 - delta_st, -2 - a), -np.pi / 2))
    net.add_lane("ex", "exs", sine((-dev / 2 + delta_en, 2 + a), (dev / 2, 2 + a), -np.pi / 2 + w * delta_en))
    net.add_lane("exs", "exr", StraightLane((dev / 2, 2), (access, 2), line_types=(n, c)))
    net.add_lane("ner", "nes", StraightLane((-2, -access), (-2, -dev / 2), line_types=(s, c)))
    net.add_lane("nes", "ne", sine((-2 - a, -dev / 2), (-2 - a, -dev / 2 + delta_st), -np.pi / 2))
    net.add_lane("nx", "nxs", sine((2 + a, dev / 2 - delta_en), (2 + a, -dev / 2), -np.pi / 2 + w * delta_en))
    net.add_lane("nxs", "nxr", StraightLane((2, -dev / 2), (2, -access), line_types=(n, c)))
    net.add_lane("wer", "wes", StraightLane((-access, 2), (-dev / 2, 2), line_types=(s, c)))
    net.add_lane("wes", "we", sine((-dev / 2, 2 + a), (-dev / 2 + delta_st, 2 + a), -np.pi / 2))
    net.add_lane(
        "wx", "wxs", sine((dev / 2 - delta_en, -2 - a), (-dev / 2, -2 - a), -np.pi / 2 + w * delta_en)
    )
    net.add_lane("wxs", "wxr", StraightLane((-dev / 2, -2), (-access, -2), line_types=(n, c)))
    return net


class RoundaboutWorld(World):
    """The host side of the world: its road and the parameters its kernel functions read."""

    name = "roundabout"
    reward_terms = REWARD_TERMS
    slots = SLOTS

    def __init__(self, cfg) -> None:
        super().__init__(cfg)
        self._net = roundabout_network()
        self._routes = route_table(self._net, (*DESTINATIONS, EGO_DESTINATION))

    @property
    def route_capacity(self) -> int:
        return 1 + self._routes.shape[2]

    def network(self) -> RoadNetwork:
        return roundabout_network()

    def params(self) -> tuple[np.ndarray, np.ndarray]:
        c = self.cfg
        floats = [c.collision_reward, c.high_speed_reward, c.lane_change_reward]
        fixed = -1 if c.incoming_vehicle_destination is None else c.incoming_vehicle_destination
        rows = [self._net.lane_row(EGO_LANE), *(self._net.lane_row(lane) for lane in NPC_LANES)]
        ints = [int(c.normalize_reward), fixed, self._routes.shape[2], *rows, *self._routes.ravel()]
        return np.array(floats, np.float64), np.array(ints, np.int32)

    @staticmethod
    def funcs(F: type) -> SimpleNamespace:  # noqa: N803 - the kernels' float type
        return roundabout_funcs(F)


@functools.cache
def roundabout_funcs(F: type) -> SimpleNamespace:  # noqa: N803
    S = st.make_structs(F)
    L = lane_funcs(F)
    Vehicles, Episodes, Road, Params, Outputs = S.Vehicles, S.Episodes, S.Road, S.Params, S.Outputs
    position, heading_at, on_lane = L.position, L.heading_at, L.on_lane
    place, plan = slot_funcs(F).place, slot_funcs(F).plan_route
    CONTROLLED, IDM = st.CONTROLLED, st.IDM
    ZERO, ONE = F(0.0), F(1.0)
    LENGTH, WIDTH = F(VEHICLE_LENGTH), F(VEHICLE_WIDTH)
    DELTA0, DELTA_SPAN = F(DELTA_RANGE[0]), F(DELTA_RANGE[1] - DELTA_RANGE[0])
    NPC_S = wp.constant(wp.types.vector(len(NPC_LANES), F)(*[F(x) for x in NPC_LONGITUDINAL]))
    NUM_NPCS, NUM_DESTINATIONS = len(NPC_LANES), len(DESTINATIONS)
    EGO_ROUTE = NUM_DESTINATIONS  # the route table's last column: the ego's destination

    @wp.func(inline=True)
    def plan_route(v: Vehicles, rd: Road, p: Params, e: int, i: int, destination: int):
        plan(v, rd, p, e, i, ROUTES, p.world_i[ROUTE_LEN], NUM_DESTINATIONS + 1, destination)

    @wp.func(inline=True)
    def spawn(v: Vehicles, ep: Episodes, rd: Road, p: Params, e: int):
        rng = wp.rand_init(ep.seed[e], ep.episode[e])
        ln = p.world_i[EGO_ROW]
        pos = position(rd.lf, rd.li, ln, F(EGO_LONGITUDINAL), ZERO)
        h = heading_at(rd.lf, rd.li, ln, F(EGO_HEADING_AT))
        place(v, rd, p, e, 0, CONTROLLED, EGO_FLAGS, pos[0], pos[1], h, F(EGO_SPEED), LENGTH, WIDTH)
        plan_route(v, rd, p, e, 0, EGO_ROUTE)
        for k in range(NUM_NPCS):
            ln = p.world_i[NPC_ROWS + k]
            s = NPC_S[k] + F(wp.randn(rng)) * F(DEVIATION)
            speed = F(NPC_SPEED) + F(wp.randn(rng)) * F(DEVIATION)
            pos = position(rd.lf, rd.li, ln, s, ZERO)
            h = heading_at(rd.lf, rd.li, ln, s)
            place(v, rd, p, e, 1 + k, IDM, IDM_FLAGS, pos[0], pos[1], h, speed, LENGTH, WIDTH)
            destination = p.world_i[INCOMING_DESTINATION]
            if k > 0 or destination < 0:
                destination = wp.randi(rng, 0, NUM_DESTINATIONS)
            plan_route(v, rd, p, e, 1 + k, destination)
            v.delta[e, 1 + k] = DELTA0 + DELTA_SPAN * F(wp.randf(rng))

    @wp.func(inline=True)
    def reward(
        v: Vehicles,
        ep: Episodes,
        rd: Road,
        p: Params,
        e: int,
        i: int,
        o: int,
        action: int,
        command: wp.vec2f,
        out: Outputs,
    ) -> bool:
        crashed = ZERO
        is_crashed = v.crashed[e, i]
        if is_crashed:
            crashed = ONE
        ns = p.target_speeds.shape[0]
        speed_index = int(0)  # MDPVehicle.speed_index: the set-point the ego cruises at
        for k in range(ns):
            if wp.abs(p.target_speeds[k] - v.target_speed[e, i]) < wp.abs(
                p.target_speeds[speed_index] - v.target_speed[e, i]
            ):
                speed_index = k
        high_speed = F(speed_index) / F(SPEED_INDEX_SCALE)
        lane_change = ZERO
        if action == 0 or action == 2:
            lane_change = ONE
        on_road = ZERO
        if on_lane(rd.lf, v.lane[e, i], v.s_own[e, i], v.r_own[e, i], ZERO):
            on_road = ONE
        w_crash = p.world_f[COLLISION_W]
        w_speed = p.world_f[HIGH_SPEED_W]
        r = w_crash * crashed + w_speed * high_speed + p.world_f[LANE_CHANGE_W] * lane_change
        if p.world_i[NORMALIZE] != 0:
            r = (r - w_crash) / (w_speed - w_crash)
        r = r * on_road
        out.terms[o, 0] = wp.float32(crashed)
        out.terms[o, 1] = wp.float32(high_speed)
        out.terms[o, 2] = wp.float32(lane_change)
        out.terms[o, 3] = wp.float32(on_road)
        out.rewards[o] = wp.float32(r)
        out.dones[o] = is_crashed
        out.truncated[e] = ep.time[e] >= p.duration
        return i == 0 and out.dones[o]  # highway-env ends the episode on its first vehicle

    return SimpleNamespace(spawn=spawn, reward=reward)
