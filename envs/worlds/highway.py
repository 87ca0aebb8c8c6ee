"""The highway world (highway-env ``highway-v0`` / ``highway-fast-v0``): road, spawning, reward, termination.

- Road: ``lanes_count`` straight parallel lanes, 10 km long, speed limit 30 m/s
  (``RoadNetwork.straight_road_network``).
- Spawning (highway-env ``_create_vehicles`` with ``Vehicle.create_random``): the controlled vehicle
  first, at 25 m/s on a random lane (or ``initial_lane_id``), then ``vehicles_count`` IDM vehicles on
  random lanes at 0.7-0.8 of the speed limit, each ``spacing * (12 + speed) * exp(-5/40 * lanes)``
  times U(0.9, 1.1) ahead of the farthest vehicle so far; NPC IDM exponents U(3.5, 4.5).
- Reward terms ``collision_reward``, ``right_lane_reward`` (target lane index over the lane count),
  ``high_speed_reward`` (forward speed mapped from ``reward_speed_range``), ``on_road_reward``; weighted,
  normalised to [0, 1] when ``normalize_reward`` and multiplied by ``on_road_reward``.
- Terminated on a crash (or off road with ``offroad_terminal``); truncated at ``duration``.

Random streams: env ``e``'s episode ``k`` draws from ``wp.rand_init(seed[e], k)`` (Warp's PCG), in slot
order: the controlled vehicle's lane, then per NPC its lane, speed, spacing jitter and IDM exponent.
"""

import functools
import math
from types import SimpleNamespace

import numpy as np
import warp as wp

from envs.physics import structs as st
from envs.physics.traffic import DELTA_RANGE, VEHICLE_LENGTH, VEHICLE_WIDTH
from envs.road import network as rn
from envs.road.lanes import lane_funcs
from envs.road.network import RoadNetwork
from envs.worlds.common import EGO_FLAGS, IDM_FLAGS, World, slot_funcs

REWARD_TERMS = ("collision_reward", "right_lane_reward", "high_speed_reward", "on_road_reward")
ROAD_LENGTH = 10_000.0  # [m]
SPEED_LIMIT = 30.0  # [m/s]
EGO_INITIAL_SPEED = 25.0  # [m/s]
DEFAULT_INITIAL_SPEEDS = (23.0, 25.0)  # [m/s] on a lane without speed limit (highway-env ``Vehicle``)
SPACING_BASE = 12.0  # [m] default gap at zero speed
SPACING_JITTER = (0.9, 1.1)  # []
# world_f / world_i layouts
(COLLISION_W, RIGHT_LANE_W, HIGH_SPEED_W, SPEED_LO, SPEED_HI, EGO_SPACING, DENSITY, EGO_SPEED) = range(8)
INITIAL_LANE, NPC_CHECKS, NORMALIZE, OFFROAD_TERMINAL, VEHICLES = range(5)


class HighwayWorld(World):
    """The host side of the world: its road and the parameters its kernel functions read."""

    name = "highway"
    reward_terms = REWARD_TERMS
    max_controlled = None  # as many as fit on the road

    @classmethod
    def placement_problems(cls, cfg) -> list[str]:
        """Every vehicle is placed ahead of the farthest one so far: the farthest placement (every gap at
        its largest) must stay on the 10 km road."""
        problems = super().placement_problems(cfg)
        lane_factor = math.exp(-5 / 40 * cfg.lanes_count)
        ego_gap = cfg.ego_spacing * (SPACING_BASE + EGO_INITIAL_SPEED) * lane_factor
        npc_gap = (SPACING_BASE + 0.8 * SPEED_LIMIT) * lane_factor / cfg.vehicles_density
        reach = 3 * ego_gap + SPACING_JITTER[1] * (
            cfg.controlled_vehicles * ego_gap + cfg.vehicles_count * npc_gap
        )
        if not problems and reach > ROAD_LENGTH:
            problems.append(
                f"controlled_vehicles={cfg.controlled_vehicles} and vehicles_count={cfg.vehicles_count} may "
                f"not fit on the {ROAD_LENGTH / 1000:g} km road (up to {reach / 1000:.1f} km of spacing): "
                "place fewer vehicles, or raise vehicles_density"
            )
        return problems

    def network(self) -> RoadNetwork:
        return RoadNetwork.straight_road_network(
            self.cfg.lanes_count, length=ROAD_LENGTH, speed_limit=SPEED_LIMIT
        )

    def params(self) -> tuple[np.ndarray, np.ndarray]:
        c = self.cfg
        floats = [c.collision_reward, c.right_lane_reward, c.high_speed_reward, *c.reward_speed_range,
                  c.ego_spacing, c.vehicles_density, EGO_INITIAL_SPEED]  # fmt: skip
        lane = -1 if c.initial_lane_id is None else c.initial_lane_id
        ints = [
            lane,
            int(c.check_npc_collisions),
            int(c.normalize_reward),
            int(c.offroad_terminal),
            self.slots,
        ]
        return np.array(floats, np.float64), np.array(ints, np.int32)

    @staticmethod
    def funcs(F: type) -> SimpleNamespace:  # noqa: N803 - the kernels' float type
        return highway_funcs(F)


@functools.cache
def highway_funcs(F: type) -> SimpleNamespace:  # noqa: N803
    S = st.make_structs(F)
    L = lane_funcs(F)
    Vehicles, Episodes, Road, Params, Outputs = S.Vehicles, S.Episodes, S.Road, S.Params, S.Outputs
    position, heading_at, on_lane = L.position, L.heading_at, L.on_lane
    place, farthest_on_lane = slot_funcs(F).place, slot_funcs(F).farthest_on_lane
    SPEED_LIMIT_COL, NO_LIMIT = rn.SPEED_LIMIT, F(rn.NO_SPEED_LIMIT)
    LANE_ID, ROAD_LANES = rn.LANE_ID, rn.ROAD_LANES
    CONTROLLED, IDM = st.CONTROLLED, st.IDM
    NPC_FLAGS = IDM_FLAGS & ~st.CHECK_COLLISIONS  # the check comes back with check_npc_collisions
    ZERO, ONE = F(0.0), F(1.0)
    LENGTH, WIDTH = F(VEHICLE_LENGTH), F(VEHICLE_WIDTH)
    SPEED0, SPEED_SPAN = (
        F(DEFAULT_INITIAL_SPEEDS[0]),
        F(DEFAULT_INITIAL_SPEEDS[1] - DEFAULT_INITIAL_SPEEDS[0]),
    )
    JITTER0, JITTER_SPAN = F(SPACING_JITTER[0]), F(SPACING_JITTER[1] - SPACING_JITTER[0])
    DELTA0, DELTA_SPAN = F(DELTA_RANGE[0]), F(DELTA_RANGE[1] - DELTA_RANGE[0])

    @wp.func(inline=True)
    def spawn(v: Vehicles, ep: Episodes, rd: Road, p: Params, e: int):
        rng = wp.rand_init(ep.seed[e], ep.episode[e])
        first = rd.road_first[0]
        lanes = rd.road_lanes[0]
        lane_factor = wp.exp(F(-5.0 / 40.0) * F(lanes))
        n = p.world_i[VEHICLES]
        agents = p.agents
        for i in range(v.x.shape[1]):
            v.kind[e, i] = st.ABSENT
        # highway-env's list order: each controlled vehicle, then its share of the NPCs (near_split);
        # controlled vehicle k goes to slot k, the NPCs to slots agents, agents + 1, ... in that order
        others = n - agents
        share = others // agents
        extra = others - share * agents  # the first ``extra`` controlled vehicles lead one more NPC
        k = int(0)  # controlled vehicles placed
        npc = int(agents)  # the next NPC slot
        left = int(0)  # NPCs still to place after the last controlled vehicle
        for t in range(n):
            controlled = left == 0
            i = npc
            lane_id = int(0)
            speed = F(0.0)
            spacing = F(0.0)
            if controlled:
                i = k
                left = share
                if k < extra:
                    left = share + 1
                k = k + 1
                lane_id = p.world_i[INITIAL_LANE]
                if lane_id < 0:
                    lane_id = wp.randi(rng, 0, lanes)
                speed = p.world_f[EGO_SPEED]
                spacing = p.world_f[EGO_SPACING]
            else:
                npc = npc + 1
                left = left - 1
                lane_id = wp.randi(rng, 0, lanes)
                limit = rd.lf[first + lane_id, SPEED_LIMIT_COL]
                if limit < NO_LIMIT:
                    speed = F(0.7) * limit + (F(0.8) * limit - F(0.7) * limit) * F(wp.randf(rng))
                else:
                    speed = SPEED0 + SPEED_SPAN * F(wp.randf(rng))
                spacing = ONE / p.world_f[DENSITY]
            ln = first + lane_id
            offset = spacing * (F(SPACING_BASE) + ONE * speed) * lane_factor
            x0 = F(3.0) * offset
            if t > 0:  # ahead of the farthest vehicle so far, measured along this lane
                x0 = farthest_on_lane(v, rd, e, ln, v.x.shape[1])
            jitter = JITTER0 + JITTER_SPAN * F(wp.randf(rng))
            x0 = x0 + offset * jitter
            pos = position(rd.lf, rd.li, ln, x0, ZERO)
            h = heading_at(rd.lf, rd.li, ln, x0)
            if controlled:
                place(v, rd, p, e, i, CONTROLLED, EGO_FLAGS, pos[0], pos[1], h, speed, LENGTH, WIDTH)
            else:
                flags = NPC_FLAGS
                if p.world_i[NPC_CHECKS] != 0:
                    flags = NPC_FLAGS | st.CHECK_COLLISIONS
                place(v, rd, p, e, i, IDM, flags, pos[0], pos[1], h, speed, LENGTH, WIDTH)
                v.delta[e, i] = DELTA0 + DELTA_SPAN * F(wp.randf(rng))
            v.born[e, i] = t

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
        lane = v.lane[e, i]
        crashed = F(0.0)
        is_crashed = v.crashed[e, i]
        if is_crashed:
            crashed = ONE
        right_lane = F(rd.li[v.target_lane[e, i], LANE_ID]) / F(wp.max(rd.li[lane, ROAD_LANES] - 1, 1))
        forward = v.speed[e, i] * wp.cos(v.heading[e, i])
        lo = p.world_f[SPEED_LO]
        scaled = ZERO + (forward - lo) * (ONE - ZERO) / (p.world_f[SPEED_HI] - lo)
        high_speed = wp.clamp(scaled, ZERO, ONE)
        on_road = ZERO
        if on_lane(rd.lf, lane, v.s_own[e, i], v.r_own[e, i], ZERO):
            on_road = ONE
        w_crash = p.world_f[COLLISION_W]
        r = w_crash * crashed + p.world_f[RIGHT_LANE_W] * right_lane + p.world_f[HIGH_SPEED_W] * high_speed
        if p.world_i[NORMALIZE] != 0:
            r = ZERO + (r - w_crash) * (ONE - ZERO) / (
                (p.world_f[HIGH_SPEED_W] + p.world_f[RIGHT_LANE_W]) - w_crash
            )
        r = r * on_road
        out.terms[o, 0] = wp.float32(crashed)
        out.terms[o, 1] = wp.float32(right_lane)
        out.terms[o, 2] = wp.float32(high_speed)
        out.terms[o, 3] = wp.float32(on_road)
        out.rewards[o] = wp.float32(r)
        out.dones[o] = v.crashed[e, i] or (p.world_i[OFFROAD_TERMINAL] != 0 and on_road == ZERO)
        out.truncated[e] = ep.time[e] >= p.duration
        return i == 0 and out.dones[o]  # highway-env ends the episode on its first vehicle

    return SimpleNamespace(spawn=spawn, reward=reward)
