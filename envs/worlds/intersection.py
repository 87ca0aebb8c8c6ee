"""The intersection world (highway-env ``intersection-v0``): road, spawning, reward, termination.

- Road (highway-env ``IntersectionEnv._make_road``): four 100 m access roads (``o{c}`` -> ``ir{c}``,
  c = 0 south, 1 west, 2 north, 3 east), a right turn (radius 9 m), a left turn (radius 13 m) and a
  straight lane across the junction from each, and four exit roads (``il{c}`` -> ``o{c}``); speed
  limit 10 m/s. Lane priorities give the horizontal road (west and east) the right of way: 3 for its
  straight lanes and right turns, 2 for its left turns, 1 and 0 for the vertical road's. The road is
  regulated (``RegulatedRoad``, ``envs.physics.regulation``): twice a second, IDM vehicles that would
  collide with a vehicle of higher priority (or one ahead) within 3 s stop and give way.
- IDM traffic with highway-env's intersection settings (``DISTANCE_WANTED`` 7 m, ``COMFORT_ACC_MAX``
  6, ``COMFORT_ACC_MIN`` -3 m/s2). A spawn (``_spawn_vehicle``) puts an IDM vehicle on a random access
  road, ``5 + N(0, 1)`` m past ``longitudinal`` at ``8 + N(0, 1)`` m/s, routed to a random other exit,
  with a random IDM exponent, unless it would be within 15 m of a vehicle already there.
- Spawning (``_make_vehicles``): ``initial_vehicle_count - 1`` spawns (each with probability 0.6) at
  longitudinal ``linspace(0, 80, initial_vehicle_count)``, then 3 s of traffic, then a challenger
  that always spawns and goes straight at 60 m, then the controlled vehicle on the south access road at
  ``60 + 5 N(1, 1)`` m, 10 m/s, routed to ``destination``; vehicles within 20 m of it are removed.
- After every step (``IntersectionEnv.step``, after the reward): IDM vehicles within 20 m of the end of
  an exit road leave, then a new one spawns with ``spawn_probability`` at the start of an access road.
  Vehicles live in a fixed pool of slots (``kind`` ABSENT marks a free one): enough for every spawn a
  default episode can make, at most 32 spawns during an episode (a spawn finding the pool full is
  skipped).
- Reward terms ``collision_reward``, ``high_speed_reward`` (speed mapped from ``reward_speed_range`` to
  [0, 1], clipped), ``arrived_reward`` (on an exit road, 25 m or more from its start),
  ``on_road_reward``: the weighted sum (``arrived_reward`` replaces it on arrival), times on_road,
  mapped from [collision_reward, arrived_reward] to [0, 1] when ``normalize_reward``.
- Terminated on a crash or arrival (or off the road, with ``offroad_terminal``); truncated at
  ``duration``.

Random streams: env ``e``'s episode ``k`` spawns from ``wp.rand_init(seed[e], k)`` (Warp's PCG); the
spawn after a step draws from a stream keyed by that episode and the road's sub-step count. Each spawn
draws, in order: the spawn chance (uniform), the access road and exit, the position and speed shifts
(normal), the IDM exponent (uniform); the ego's position shift follows the challenger.
"""

import functools
import math
from types import SimpleNamespace

import numpy as np
import warp as wp

from envs.physics import structs as st
from envs.physics.regulation import regulation_funcs
from envs.physics.traffic import DELTA_RANGE, VEHICLE_LENGTH, VEHICLE_WIDTH, traffic_funcs
from envs.road import network as rn
from envs.road.lanes import lane_funcs
from envs.road.network import DEFAULT_WIDTH, CircularLane, LineType, RoadNetwork, StraightLane
from envs.worlds.common import EGO_FLAGS, IDM_FLAGS, World, route_table, slot_funcs

REWARD_TERMS = ("collision_reward", "high_speed_reward", "arrived_reward", "on_road_reward")
LANE_WIDTH = DEFAULT_WIDTH  # [m]
RIGHT_TURN_RADIUS = LANE_WIDTH + 5  # [m]
LEFT_TURN_RADIUS = RIGHT_TURN_RADIUS + LANE_WIDTH  # [m]
OUTER_DISTANCE = RIGHT_TURN_RADIUS + LANE_WIDTH / 2  # [m] from the centre to the junction's edge
ACCESS_LENGTH = 100.0  # [m]
SPEED_LIMIT = 10.0  # [m/s]
DESTINATIONS = ("o0", "o1", "o2", "o3")
#: highway-env's settings of its IDMVehicle class for this world (``_make_vehicles``)
IDM = {"DISTANCE_WANTED": 7.0, "COMFORT_ACC_MAX": 6.0, "COMFORT_ACC_MIN": -3.0}
WARMUP_SECONDS = 3  # [s] of traffic before the challenger and the ego arrive
SPAWN_OFFSET, SPAWN_SPEED, SPAWN_CLEARANCE = 5.0, 8.0, 15.0  # [m], [m/s], [m]
INITIAL_SPAWN_PROBABILITY = 0.6  # ``_spawn_vehicle``'s default, which the initial spawns use
INITIAL_SPREAD = 80.0  # [m] the initial spawns' longitudinal range
CHALLENGER_LONGITUDINAL, CHALLENGER_DEVIATION = 60.0, 0.1  # [m]
EGO_LONGITUDINAL, EGO_DEVIATION, EGO_CLEARANCE = 60.0, 5.0, 20.0  # [m]
LEAVE_DISTANCE = 4 * VEHICLE_LENGTH  # [m] from an exit road's end: the vehicle leaves (_clear_vehicles)
ARRIVAL_DISTANCE = 25.0  # [m] along an exit road: the ego has arrived (has_arrived)
MAX_EPISODE_SPAWNS = 32  # slots for vehicles spawned during an episode, beyond the initial ones
# world_f / world_i layouts
COLLISION_W, HIGH_SPEED_W, ARRIVED_W, SPEED_LO, SPEED_HI, SPAWN_P = range(6)
NORMALIZE, OFFROAD_TERMINAL, DESTINATION, INITIAL_COUNT, ROUTE_LEN, WARMUP, INCOMING = range(7)
EXITS = INCOMING + 4
ROUTES = EXITS + 4  # then the route table: (roads, destinations, route length)


def intersection_network() -> RoadNetwork:
    """highway-env's ``IntersectionEnv._make_road``, lane for lane (same order, so the same lane rows)."""
    net = RoadNetwork()
    n, c, s = LineType.NONE, LineType.CONTINUOUS, LineType.STRIPED
    w, outer, access = LANE_WIDTH, OUTER_DISTANCE, ACCESS_LENGTH
    for corner in range(4):
        angle = np.radians(90 * corner)
        priority = 3 if corner % 2 else 1
        rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])

        def rotated(point, rotation=rotation):
            return tuple(float(x) for x in rotation @ np.array(point, float))

        common = {"priority": priority, "speed_limit": SPEED_LIMIT}
        incoming = StraightLane(
            rotated([w / 2, access + outer]), rotated([w / 2, outer]), line_types=(s, c), **common
        )
        net.add_lane(f"o{corner}", f"ir{corner}", incoming)
        right = CircularLane(rotated([outer, outer]), RIGHT_TURN_RADIUS, angle + np.radians(180),
                             angle + np.radians(270), line_types=(n, c), **common)  # fmt: skip
        net.add_lane(f"ir{corner}", f"il{(corner - 1) % 4}", right)
        left_center = rotated([-LEFT_TURN_RADIUS + w / 2, LEFT_TURN_RADIUS - w / 2])
        left = CircularLane(left_center, LEFT_TURN_RADIUS, angle, angle + np.radians(-90), clockwise=False,
                            line_types=(n, n), priority=priority - 1, speed_limit=SPEED_LIMIT)  # fmt: skip
        net.add_lane(f"ir{corner}", f"il{(corner + 1) % 4}", left)
        straight = StraightLane(
            rotated([w / 2, outer]), rotated([w / 2, -outer]), line_types=(s, n), **common
        )
        net.add_lane(f"ir{corner}", f"il{(corner + 2) % 4}", straight)
        exit_lane = StraightLane(rotated([outer, w / 2]), rotated([access + outer, w / 2]), line_types=(n, c),
                                 **common)  # fmt: skip
        net.add_lane(f"il{(corner - 1) % 4}", f"o{(corner - 1) % 4}", exit_lane)
    return net


class IntersectionWorld(World):
    """The host side of the world: its road, slots and the parameters its kernel functions read."""

    name = "intersection"
    reward_terms = REWARD_TERMS
    info_flags = {"is_success": "arrived_reward"}  # arrived at the destination (an autodrive addition)
    shared_reward = True  # the env's reward is the controlled vehicles' mean (highway-env ``_reward``)
    max_controlled = 4  # one per access road
    idm = IDM
    regulation_frequency = 2  # RegulatedRoad.REGULATION_FREQUENCY [Hz]

    def __init__(self, cfg) -> None:
        super().__init__(cfg)
        self._net = intersection_network()
        self._routes = route_table(self._net, DESTINATIONS)

    @property
    def slots(self) -> int:
        """The ego, the initial spawns and the challenger, and every spawn an episode can make (one per
        policy step, at most ``MAX_EPISODE_SPAWNS``)."""
        steps = math.ceil(self.cfg.duration * self.cfg.policy_frequency - 1e-9)
        return self.cfg.controlled_vehicles + self.cfg.initial_vehicle_count + min(steps, MAX_EPISODE_SPAWNS)

    @property
    def route_capacity(self) -> int:
        return 1 + self._routes.shape[2]

    def network(self) -> RoadNetwork:
        return intersection_network()

    def params(self) -> tuple[np.ndarray, np.ndarray]:
        c = self.cfg
        floats = [c.collision_reward, c.high_speed_reward, c.arrived_reward, *c.reward_speed_range,
                  c.spawn_probability]  # fmt: skip
        destination = -1 if c.destination is None else DESTINATIONS.index(c.destination)
        incoming = [self._net.lane_row((f"o{k}", f"ir{k}", 0)) for k in range(4)]
        exits = [self._net.lane_row((f"il{k}", f"o{k}", 0)) for k in range(4)]
        ints = [int(c.normalize_reward), int(c.offroad_terminal), destination, c.initial_vehicle_count,
                self._routes.shape[2], WARMUP_SECONDS * c.simulation_frequency, *incoming, *exits,
                *self._routes.ravel()]  # fmt: skip
        return np.array(floats, np.float64), np.array(ints, np.int32)

    @staticmethod
    def funcs(F: type) -> SimpleNamespace:  # noqa: N803 - the kernels' float type
        return intersection_funcs(F)


@functools.cache
def intersection_funcs(F: type) -> SimpleNamespace:  # noqa: N803
    S = st.make_structs(F)
    L = lane_funcs(F)
    T = traffic_funcs(F)
    Vehicles, Episodes, Road, Params, Outputs = S.Vehicles, S.Episodes, S.Road, S.Params, S.Outputs
    position, heading_at, on_lane = L.position, L.heading_at, L.on_lane
    place, plan = slot_funcs(F).place, slot_funcs(F).plan_route
    substep, refresh_all = regulation_funcs(F).substep, T.refresh_all
    ABSENT, CONTROLLED, IDM_KIND = st.ABSENT, st.CONTROLLED, st.IDM
    LENGTH_ROW, SPEED_LIMIT_ROW = rn.LENGTH, rn.SPEED_LIMIT
    ZERO, ONE = F(0.0), F(1.0)
    LENGTH, WIDTH = F(VEHICLE_LENGTH), F(VEHICLE_WIDTH)
    DELTA0, DELTA_SPAN = F(DELTA_RANGE[0]), F(DELTA_RANGE[1] - DELTA_RANGE[0])
    NUM_DESTINATIONS = len(DESTINATIONS)

    @wp.func
    def exit_lane(p: Params, ln: int) -> bool:
        """Is lane ln an exit road (``"il" in lane_index[0] and "o" in lane_index[1]``)?"""
        found = bool(False)
        for k in range(4):
            if p.world_i[EXITS + k] == ln:
                found = True
        return found

    @wp.func
    def next_born(v: Vehicles, e: int) -> int:
        """The arrival order of a vehicle put on the road now: after every vehicle there (highway-env
        appends it to its list)."""
        last = int(-1)
        for j in range(v.x.shape[1]):
            if v.kind[e, j] != ABSENT:
                last = wp.max(last, v.born[e, j])
        return last + 1

    @wp.func
    def spawn_vehicle(
        v: Vehicles, rd: Road, p: Params, e: int, rng: wp.uint32, longitudinal: F, position_deviation: F,
        speed_deviation: F, probability: F, go_straight: bool,
    ) -> wp.uint32:  # fmt: skip
        """``IntersectionEnv._spawn_vehicle`` into the first free slot after the ego's; returns the
        advanced random state."""
        if F(wp.randf(rng)) <= probability:
            start = wp.randi(rng, 0, 4)
            goal = wp.randi(rng, 0, 3)  # a second, different corner (choice without replacement)
            if goal >= start:
                goal = goal + 1
            if go_straight:
                goal = (start + 2) % 4
            s = longitudinal + F(SPAWN_OFFSET) + F(wp.randn(rng)) * position_deviation
            speed = F(SPAWN_SPEED) + F(wp.randn(rng)) * speed_deviation
            delta = DELTA0 + DELTA_SPAN * F(wp.randf(rng))
            ln = p.world_i[INCOMING + start]
            pos = position(rd.lf, rd.li, ln, s, ZERO)
            n = v.x.shape[1]
            free = int(-1)
            clear = bool(True)
            for j in range(n):
                if v.kind[e, j] == ABSENT:
                    if free < 0 and j >= p.agents:  # slots 0 .. agents - 1 are the controlled vehicles'
                        free = j
                else:
                    dx = v.x[e, j] - pos[0]
                    dy = v.y[e, j] - pos[1]
                    if wp.sqrt(dx * dx + dy * dy) < F(SPAWN_CLEARANCE):
                        clear = False
            if clear and free >= 0:
                h = heading_at(rd.lf, rd.li, ln, s)
                born = next_born(v, e)
                place(v, rd, p, e, free, IDM_KIND, IDM_FLAGS, pos[0], pos[1], h, speed, LENGTH, WIDTH)
                plan(v, rd, p, e, free, ROUTES, p.world_i[ROUTE_LEN], NUM_DESTINATIONS, goal)
                v.delta[e, free] = delta
                v.born[e, free] = born
        return rng

    @wp.func(inline=True)
    def spawn(v: Vehicles, ep: Episodes, rd: Road, p: Params, e: int):
        rng = wp.rand_init(ep.seed[e], ep.episode[e])
        n = v.x.shape[1]
        for j in range(n):
            v.kind[e, j] = ABSENT
        count = p.world_i[INITIAL_COUNT]
        for t in range(count - 1):  # np.linspace(0, 80, count)[t]
            longitudinal = F(INITIAL_SPREAD) * F(t) / F(wp.max(count - 1, 1))
            rng = spawn_vehicle(v, rd, p, e, rng, longitudinal, ONE, ONE, F(INITIAL_SPAWN_PROBABILITY), False)
        refresh_all(v, rd, ep, e)
        for _k in range(p.world_i[WARMUP]):  # road.act() and road.step(dt), 3 s before the ego arrives
            substep(v, ep, rd, p, e)
        rng = spawn_vehicle(
            v, rd, p, e, rng, F(CHALLENGER_LONGITUDINAL), F(CHALLENGER_DEVIATION), ZERO, ONE, True
        )
        for k in range(p.agents):  # controlled vehicle k enters from corner k % 4
            ln = p.world_i[INCOMING + k % 4]
            s = F(EGO_LONGITUDINAL) + F(EGO_DEVIATION) * (ONE + F(wp.randn(rng)))
            pos = position(rd.lf, rd.li, ln, s, ZERO)
            h = heading_at(rd.lf, rd.li, ln, F(EGO_LONGITUDINAL))
            born = next_born(v, e)
            speed = rd.lf[ln, SPEED_LIMIT_ROW]
            place(v, rd, p, e, k, CONTROLLED, EGO_FLAGS, pos[0], pos[1], h, speed, LENGTH, WIDTH)
            v.born[e, k] = born
            destination = p.world_i[DESTINATION]
            if destination < 0:
                destination = wp.randi(rng, 1, 4)
            plan(v, rd, p, e, k, ROUTES, p.world_i[ROUTE_LEN], NUM_DESTINATIONS, destination)
            for j in range(p.agents, n):  # prevent early collisions
                if v.kind[e, j] != ABSENT:
                    dx = v.x[e, j] - pos[0]
                    dy = v.y[e, j] - pos[1]
                    if wp.sqrt(dx * dx + dy * dy) < F(EGO_CLEARANCE):
                        v.kind[e, j] = ABSENT

    @wp.func(inline=True)
    def arrived(v: Vehicles, p: Params, e: int, i: int) -> bool:
        """``has_arrived``: on an exit road, at least 25 m along it."""
        return exit_lane(p, v.lane[e, i]) and v.s_own[e, i] >= F(ARRIVAL_DISTANCE)

    @wp.func(inline=True)
    def after_step(v: Vehicles, ep: Episodes, rd: Road, p: Params, e: int):
        """``_clear_vehicles`` then ``_spawn_vehicle(spawn_probability)``, after the step's reward."""
        n = v.x.shape[1]
        changed = bool(False)
        for j in range(p.agents, n):  # controlled vehicles stay
            if v.kind[e, j] != ABSENT:
                ln = v.lane[e, j]
                if exit_lane(p, ln) and v.s_own[e, j] >= rd.lf[ln, LENGTH_ROW] - F(LEAVE_DISTANCE):
                    v.kind[e, j] = ABSENT
                    changed = True
        key = wp.rand_init(ep.seed[e], ep.episode[e])
        rng = wp.rand_init(wp.randi(key) ^ 0x5BD1E995, ep.road_steps[e])
        before = int(0)
        for j in range(n):
            if v.kind[e, j] != ABSENT:
                before = before + 1
        rng = spawn_vehicle(v, rd, p, e, rng, ZERO, ONE, ONE, p.world_f[SPAWN_P], False)
        after = int(0)
        for j in range(n):
            if v.kind[e, j] != ABSENT:
                after = after + 1
        if changed or after != before:
            refresh_all(v, rd, ep, e)

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
        lo = p.world_f[SPEED_LO]
        high_speed = wp.clamp((v.speed[e, i] - lo) / (p.world_f[SPEED_HI] - lo), ZERO, ONE)
        has_arrived = arrived(v, p, e, i)
        arrival = ZERO
        if has_arrived:
            arrival = ONE
        on_road = ZERO
        if on_lane(rd.lf, v.lane[e, i], v.s_own[e, i], v.r_own[e, i], ZERO):
            on_road = ONE
        w_crash = p.world_f[COLLISION_W]
        w_arrived = p.world_f[ARRIVED_W]
        r = w_crash * crashed + p.world_f[HIGH_SPEED_W] * high_speed + w_arrived * arrival
        if has_arrived:
            r = w_arrived
        r = r * on_road
        if p.world_i[NORMALIZE] != 0:
            r = (r - w_crash) / (w_arrived - w_crash)
        out.terms[o, 0] = wp.float32(crashed)
        out.terms[o, 1] = wp.float32(high_speed)
        out.terms[o, 2] = wp.float32(arrival)
        out.terms[o, 3] = wp.float32(on_road)
        out.rewards[o] = wp.float32(r)
        out.dones[o] = is_crashed or has_arrived  # highway-env _agent_is_terminal
        out.truncated[e] = ep.time[e] >= p.duration
        # the episode ends on any agent's crash (or the first's leaving the road, with offroad_terminal),
        # or when every agent is done (all have arrived)
        return is_crashed or (i == 0 and p.world_i[OFFROAD_TERMINAL] != 0 and on_road == ZERO)

    return SimpleNamespace(spawn=spawn, reward=reward, after_step=after_step)
