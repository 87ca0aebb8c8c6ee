"""The racetrack world (highway-env ``racetrack-v0``): road, spawning, reward, termination.

- Road (highway-env ``RacetrackEnv._make_road``): a closed two-lane circuit ``a -> b -> ... -> i -> a``
  of 5 m wide straight and circular lanes, every lane limited to 10 m/s.
- Spawning (``_make_vehicles``): the controlled vehicle (a plain ``Vehicle``: ContinuousAction,
  steering only by default) on lane ``(a, b, U{0, 1})`` at U(20, 50) m, at its lane's speed limit (with
  ``controlled_vehicles`` > 1, the others on random lanes, ``random_lane_index``, at U(20, 50) m); an
  IDM vehicle ahead on lane ``(b, c, same id as the last controlled one)`` at U(0, its length) m and
  6 + U(0, 3) m/s; then, of the
  ``other_vehicles - 1`` more slots, a uniformly random number (``rng.integers(other_vehicles)``) of
  IDM vehicles on random lanes (``random_lane_index``), each dropped if within 20 m of one placed before.
- Reward terms ``lane_centering_reward`` (1 / (1 + lane_centering_cost * lateral^2) on the ego's lane),
  ``action_reward`` (the norm of the raw command; under meta-actions, of the action index, as in
  highway-env), ``collision_reward``, ``on_road_reward``; weighted,
  mapped from [collision_reward, 1] to [0, 1] (not clipped), times on_road.
- Terminated on a crash or, with ``terminate_off_road``, off the road; truncated at ``duration``.

Random streams: env ``e``'s episode ``k`` draws from ``wp.rand_init(seed[e], k)`` (Warp's PCG): the
ego's lane and position, the front vehicle's position and speed, the number of others, then per other
vehicle its road, lane, position and speed.
"""

import functools
from types import SimpleNamespace

import numpy as np
import warp as wp

from envs.physics import structs as st
from envs.physics.traffic import VEHICLE_LENGTH, VEHICLE_WIDTH
from envs.road import network as rn
from envs.road.lanes import lane_funcs
from envs.road.network import CircularLane, LineType, RoadNetwork, StraightLane
from envs.worlds.common import EGO_FLAGS, IDM_FLAGS, World, slot_funcs

REWARD_TERMS = ("lane_centering_reward", "action_reward", "collision_reward", "on_road_reward")
WIDTH, SPEED_LIMIT = 5.0, 10.0  # [m], [m/s] of every lane
EGO_S_LO, EGO_S_HI = 20.0, 50.0  # [m] the ego's uniform range along lane (a, b, id)
NPC_SPEED, NPC_SPEED_SPAN = 6.0, 3.0  # [m/s] 6 + U(0, 3)
MIN_GAP = 20.0  # [m] an extra vehicle closer than this to one already placed is dropped
# world_f / world_i layouts
CENTERING_W, CENTERING_COST, ACTION_W, COLLISION_W = range(4)
TERMINATE_OFF_ROAD, FIRST_ROAD, FRONT_ROAD, SLOT_COUNT = range(4)


def racetrack_network() -> RoadNetwork:
    """highway-env's ``RacetrackEnv._make_road``, lane for lane (same order, so the same lane rows)."""
    net = RoadNetwork()
    c, s, n = LineType.CONTINUOUS, LineType.STRIPED, LineType.NONE
    deg = np.deg2rad

    def straight(a, b, start, end, lines):
        net.add_lane(a, b, StraightLane(start, end, width=WIDTH, line_types=lines, speed_limit=SPEED_LIMIT))

    def arc(a, b, center, radius, start, end, clockwise, lines):
        lane = CircularLane(center, radius, deg(start), deg(end), clockwise=clockwise, width=WIDTH,
                            line_types=lines, speed_limit=SPEED_LIMIT)  # fmt: skip
        net.add_lane(a, b, lane)

    straight("a", "b", (42, 0), (100, 0), (c, s))
    straight("a", "b", (42, 5), (100, 5), (s, c))
    arc("b", "c", (100, -20), 20, 90, -1, False, (c, n))
    arc("b", "c", (100, -20), 25, 90, -1, False, (s, c))
    straight("c", "d", (120, -20), (120, -30), (c, n))
    straight("c", "d", (125, -20), (125, -30), (s, c))
    arc("d", "e", (105, -30), 15, 0, -181, False, (c, n))
    arc("d", "e", (105, -30), 20, 0, -181, False, (s, c))
    arc("e", "f", (70, -30), 20, 0, 136, True, (c, s))
    arc("e", "f", (70, -30), 15, 0, 137, True, (n, c))
    straight("f", "g", (55.7, -15.7), (35.7, -35.7), (c, n))
    straight("f", "g", (59.3934, -19.2), (39.3934, -39.2), (s, c))
    arc("g", "h", (18.1, -18.1), 25, 315, 170, False, (c, n))
    arc("g", "h", (18.1, -18.1), 30, 315, 165, False, (s, c))
    arc("h", "i", (18.1, -18.1), 25, 170, 56, False, (c, n))
    arc("h", "i", (18.1, -18.1), 30, 170, 58, False, (s, c))
    arc("i", "a", (43.2, 23.4), 23.5, 240, 270, True, (c, s))
    arc("i", "a", (43.2, 23.4), 18.5, 238, 268, True, (n, c))
    return net


class RacetrackWorld(World):
    """The host side of the world: its road and the parameters its kernel functions read."""

    name = "racetrack"
    reward_terms = REWARD_TERMS

    max_controlled = 8  # on random lanes of the 14-lane circuit; more would often start on each other

    @property
    def slots(self) -> int:
        return self.cfg.controlled_vehicles + self.cfg.other_vehicles

    def network(self) -> RoadNetwork:
        return racetrack_network()

    def params(self) -> tuple[np.ndarray, np.ndarray]:
        c = self.cfg
        floats = [c.lane_centering_reward, c.lane_centering_cost, c.action_reward, c.collision_reward]
        net = self.network()
        ints = [int(c.terminate_off_road), net.road_row("a", "b"), net.road_row("b", "c"), self.slots]
        return np.array(floats, np.float64), np.array(ints, np.int32)

    @staticmethod
    def funcs(F: type) -> SimpleNamespace:  # noqa: N803 - the kernels' float type
        return racetrack_funcs(F)


@functools.cache
def racetrack_funcs(F: type) -> SimpleNamespace:  # noqa: N803
    S = st.make_structs(F)
    L = lane_funcs(F)
    Vehicles, Episodes, Road, Params, Outputs = S.Vehicles, S.Episodes, S.Road, S.Params, S.Outputs
    position, heading_at, on_lane = L.position, L.heading_at, L.on_lane
    place = slot_funcs(F).place
    LENGTH_COL, SPEED_LIMIT_COL = rn.LENGTH, rn.SPEED_LIMIT
    CONTROLLED, IDM = st.CONTROLLED, st.IDM
    ZERO, ONE = F(0.0), F(1.0)
    LENGTH, WIDTH_V = F(VEHICLE_LENGTH), F(VEHICLE_WIDTH)
    S_LO, S_SPAN = F(EGO_S_LO), F(EGO_S_HI - EGO_S_LO)
    SPEED0, SPEED_SPAN = F(NPC_SPEED), F(NPC_SPEED_SPAN)
    GAP2 = F(MIN_GAP * MIN_GAP)

    @wp.func
    def put_idm(v: Vehicles, rd: Road, p: Params, e: int, i: int, ln: int, s: F, speed: F):
        pos = position(rd.lf, rd.li, ln, s, ZERO)
        h = heading_at(rd.lf, rd.li, ln, s)
        place(v, rd, p, e, i, IDM, IDM_FLAGS, pos[0], pos[1], h, speed, LENGTH, WIDTH_V)

    @wp.func(inline=True)
    def spawn(v: Vehicles, ep: Episodes, rd: Road, p: Params, e: int):
        rng = wp.rand_init(ep.seed[e], ep.episode[e])
        for i in range(v.x.shape[1]):
            v.kind[e, i] = st.ABSENT
        agents = p.agents
        lane_id = int(0)
        for k in range(agents):  # the first on a random lane of (a, b), the others on random lanes
            ln = int(0)
            if k == 0:
                lane_id = wp.randi(rng, 0, 2)
                ln = rd.road_first[p.world_i[FIRST_ROAD]] + lane_id
            else:  # highway-env random_lane_index: a random road (node pair), a random lane of it
                road = wp.randi(rng, 0, rd.road_first.shape[0])
                lane_id = wp.randi(rng, 0, rd.road_lanes[road])
                ln = rd.road_first[road] + lane_id
            s = S_LO + S_SPAN * F(wp.randf(rng))
            pos = position(rd.lf, rd.li, ln, s, ZERO)
            h = heading_at(rd.lf, rd.li, ln, s)
            speed = rd.lf[ln, SPEED_LIMIT_COL]  # make_on_lane(speed=None): the lane's speed limit
            place(v, rd, p, e, k, CONTROLLED, EGO_FLAGS, pos[0], pos[1], h, speed, LENGTH, WIDTH_V)
        n = p.world_i[SLOT_COUNT]
        if n > agents:  # the front vehicle: the last controlled one's lane id on (b, c), anywhere along it
            front = rd.road_first[p.world_i[FRONT_ROAD]]
            s = rd.lf[front, LENGTH_COL] * F(wp.randf(rng))
            speed = SPEED0 + SPEED_SPAN * F(wp.randf(rng))
            put_idm(v, rd, p, e, agents, front + lane_id, s, speed)
            extra = wp.randi(rng, 0, n - agents)  # rng.integers(other_vehicles)
            placed = int(agents + 1)
            for _k in range(extra):
                road = wp.randi(rng, 0, rd.road_first.shape[0])  # one road per node pair of the loop
                cand = rd.road_first[road] + wp.randi(rng, 0, rd.road_lanes[road])
                s = rd.lf[cand, LENGTH_COL] * F(wp.randf(rng))
                speed = SPEED0 + SPEED_SPAN * F(wp.randf(rng))
                pos = position(rd.lf, rd.li, cand, s, ZERO)
                near = bool(False)
                for j in range(placed):
                    dx = pos[0] - v.x[e, j]
                    dy = pos[1] - v.y[e, j]
                    if dx * dx + dy * dy < GAP2:
                        near = bool(True)
                if not near:
                    put_idm(v, rd, p, e, placed, cand, s, speed)
                    placed = placed + 1

    @wp.func(inline=True)
    def reward(
        v: Vehicles, ep: Episodes, rd: Road, p: Params, e: int, i: int, o: int, action: int,
        command: wp.vec2f, out: Outputs,
    ) -> bool:  # fmt: skip
        crashed = ZERO
        is_crashed = v.crashed[e, i]
        if is_crashed:
            crashed = ONE
        lateral = v.r_own[e, i]
        centering = ONE / (ONE + p.world_f[CENTERING_COST] * lateral * lateral)
        action_norm = F(wp.length(command))
        on_road = ZERO
        is_on_road = on_lane(rd.lf, v.lane[e, i], v.s_own[e, i], lateral, ZERO)
        if is_on_road:
            on_road = ONE
        w_crash = p.world_f[COLLISION_W]
        r = p.world_f[CENTERING_W] * centering + p.world_f[ACTION_W] * action_norm + w_crash * crashed
        r = (r - w_crash) / (ONE - w_crash) * on_road  # highway-env's lmap onto [collision_reward, 1]
        out.terms[o, 0] = wp.float32(centering)
        out.terms[o, 1] = wp.float32(action_norm)
        out.terms[o, 2] = wp.float32(crashed)
        out.terms[o, 3] = wp.float32(on_road)
        out.rewards[o] = wp.float32(r)
        out.dones[o] = is_crashed or (p.world_i[TERMINATE_OFF_ROAD] != 0 and not is_on_road)
        out.truncated[e] = ep.time[e] >= p.duration
        return i == 0 and out.dones[o]  # highway-env ends the episode on its first vehicle

    return SimpleNamespace(spawn=spawn, reward=reward)
