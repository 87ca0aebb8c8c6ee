"""The exit world (highway-env ``exit-v0``): road, spawning, reward, termination.

- Road (highway-env ``ExitEnv._create_road``): ``lanes_count`` straight lanes ``0 -> 1`` (400 m), one
  lane more along the exit section ``1 -> 2`` (100 m), ``lanes_count`` lanes ``2 -> 3`` (500 m), each
  lane's speed limit ``26 - 3.4 * lane id`` m/s; the exit ``2 -> exit`` is a forbidden circular lane of
  radius 150 m leaving the section's extra (rightmost) lane.
- Spawning (``ExitEnv._create_vehicles`` with ``Vehicle.create_random``): the ``controlled_vehicles`` on
  lane ``(0, 1, 0)`` at 25 m/s, the first ``3 * offset * U(0.9, 1.1)`` m along it, each next one
  ``offset * U(0.9, 1.1)`` ahead of it; ``vehicles_count`` IDM vehicles,
  each on lane ``k`` of road ``0 -> 1`` with probability ``k / sum(lanes)`` (never lane 0), at that
  lane's speed limit, ``offset * U(0.9, 1.1)`` ahead of the farthest vehicle so far, where ``offset =
  spacing * (12 + speed) * exp(-5/40 * lanes)``; they never change lanes and follow the route to node 3.
- Reward terms ``collision_reward``, ``goal_reward`` (the target lane is the exit section's extra lane
  or the exit), ``high_speed_reward`` (speed mapped from ``reward_speed_range``, clipped),
  ``right_lane_reward`` (the target lane's id); weighted, mapped from [collision_reward, goal_reward]
  to [0, 1] and clipped when ``normalize_reward``. ``info["is_success"]``: the goal term.
- Terminated on a crash; truncated at ``duration``.

Random streams: env ``e``'s episode ``k`` draws from ``wp.rand_init(seed[e], k)`` (Warp's PCG): the
ego's spacing jitter, then per NPC in slot order its lane and its spacing jitter.
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

REWARD_TERMS = ("collision_reward", "goal_reward", "high_speed_reward", "right_lane_reward")
ROAD_LENGTH, EXIT_POSITION, EXIT_LENGTH = 1000.0, 400.0, 100.0  # [m]
EXIT_RADIUS = 150.0  # [m]
EGO_SPEED = 25.0  # [m/s]
SPACING_BASE = 12.0  # [m] default gap at zero speed
SPACING_JITTER = (0.9, 1.1)  # []
# world_f / world_i layouts
COLLISION_W, GOAL_W, HIGH_SPEED_W, RIGHT_LANE_W, SPEED_LO, SPEED_HI, EGO_SPACING, DENSITY = range(8)
ENTRY_ROAD, SECTION_ROAD, AFTER_ROAD, EXIT_SECTION_LANE, EXIT_LANE, NORMALIZE, VEHICLES = range(7)


def lane_speed_limit(lane_id: int) -> float:
    """[m/s] highway-env's exit-v0 speed limit of lane ``lane_id`` on every straight road."""
    return 26 - 3.4 * lane_id


def exit_network(lanes: int) -> RoadNetwork:
    """highway-env's ``ExitEnv._create_road``, lane for lane (same order, so the same lane rows)."""
    net = RoadNetwork()
    sections = (("0", "1", 0.0, EXIT_POSITION, lanes), ("1", "2", EXIT_POSITION, EXIT_LENGTH, lanes + 1),
                ("2", "3", EXIT_POSITION + EXIT_LENGTH, ROAD_LENGTH - EXIT_POSITION - EXIT_LENGTH, lanes))  # fmt: skip
    for _from, _to, start, length, count in sections:
        for k in range(count):
            y = k * rn.DEFAULT_WIDTH
            line_types = (
                LineType.CONTINUOUS_LINE if k == 0 else LineType.STRIPED,
                LineType.CONTINUOUS_LINE if k == count - 1 else LineType.NONE,
            )
            lane = StraightLane(
                (start, y), (start + length, y), line_types=line_types, speed_limit=lane_speed_limit(k)
            )
            net.add_lane(_from, _to, lane)
    exit_start = (EXIT_POSITION + EXIT_LENGTH, lanes * rn.DEFAULT_WIDTH)
    center = (exit_start[0], exit_start[1] + EXIT_RADIUS)
    net.add_lane("2", "exit", CircularLane(center, EXIT_RADIUS, 3 * np.pi / 2, 2 * np.pi, forbidden=True))
    return net


class ExitWorld(World):
    """The host side of the world: its road and the parameters its kernel functions read."""

    name = "exit"
    reward_terms = REWARD_TERMS
    info_flags = {"is_success": "goal_reward"}  # highway-env's ExitEnv adds info["is_success"]
    route_capacity = 3  # NPCs: (0, 1, lane) -> (1, 2, any) -> (2, 3, any)
    max_controlled = None  # as many as fit on the road

    @classmethod
    def placement_problems(cls, cfg) -> list[str]:
        """Every vehicle is placed ahead of the farthest one so far: the farthest placement (every gap at
        its largest) must stay on the 1 km road."""
        problems = super().placement_problems(cfg)
        factor = SPACING_JITTER[1] * np.exp(-5 / 40 * cfg.lanes_count)
        ego_gap = cfg.ego_spacing * (SPACING_BASE + EGO_SPEED) * factor
        npc_gap = (SPACING_BASE + lane_speed_limit(1)) * factor / cfg.vehicles_density
        reach = (2 + cfg.controlled_vehicles) * ego_gap + cfg.vehicles_count * npc_gap
        if not problems and reach > ROAD_LENGTH:
            problems.append(
                f"controlled_vehicles={cfg.controlled_vehicles} and vehicles_count={cfg.vehicles_count} may "
                f"not fit on the 1 km road (up to {reach:.0f} m of spacing): place fewer vehicles"
            )
        return problems

    def network(self) -> RoadNetwork:
        return exit_network(self.cfg.lanes_count)

    def params(self) -> tuple[np.ndarray, np.ndarray]:
        c = self.cfg
        floats = [c.collision_reward, c.goal_reward, c.high_speed_reward, c.right_lane_reward,
                  *c.reward_speed_range, c.ego_spacing, c.vehicles_density]  # fmt: skip
        net = self.network()
        ints = [
            net.road_row("0", "1"),
            net.road_row("1", "2"),
            net.road_row("2", "3"),
            net.lane_row(("1", "2", c.lanes_count)),
            net.lane_row(("2", "exit", 0)),
            int(c.normalize_reward),
            self.slots,
        ]
        return np.array(floats, np.float64), np.array(ints, np.int32)

    @staticmethod
    def funcs(F: type) -> SimpleNamespace:  # noqa: N803 - the kernels' float type
        return exit_funcs(F)


@functools.cache
def exit_funcs(F: type) -> SimpleNamespace:  # noqa: N803
    S = st.make_structs(F)
    L = lane_funcs(F)
    Vehicles, Episodes, Road, Params, Outputs = S.Vehicles, S.Episodes, S.Road, S.Params, S.Outputs
    position, heading_at = L.position, L.heading_at
    place, farthest_on_lane = slot_funcs(F).place, slot_funcs(F).farthest_on_lane
    SPEED_LIMIT_COL, LANE_ID = rn.SPEED_LIMIT, rn.LANE_ID
    CONTROLLED, IDM = st.CONTROLLED, st.IDM
    NPC_FLAGS = IDM_FLAGS & ~st.ENABLE_LANE_CHANGE  # no lane changes in exit-v0
    ZERO, ONE = F(0.0), F(1.0)
    LENGTH, WIDTH = F(VEHICLE_LENGTH), F(VEHICLE_WIDTH)
    JITTER0, JITTER_SPAN = F(SPACING_JITTER[0]), F(SPACING_JITTER[1] - SPACING_JITTER[0])
    ANY_LANE = -1

    @wp.func(inline=True)
    def spawn(v: Vehicles, ep: Episodes, rd: Road, p: Params, e: int):
        rng = wp.rand_init(ep.seed[e], ep.episode[e])
        road = p.world_i[ENTRY_ROAD]
        first = rd.road_first[road]
        lanes = rd.road_lanes[road]
        lane_factor = wp.exp(F(-5.0 / 40.0) * F(lanes))
        total = lanes * (lanes - 1) / 2  # lane k is drawn with probability k / total
        n = p.world_i[VEHICLES]
        for i in range(v.x.shape[1]):
            v.kind[e, i] = st.ABSENT
        for i in range(n):
            lane_id = int(0)
            speed = F(EGO_SPEED)
            spacing = p.world_f[EGO_SPACING]
            if i >= p.agents:  # the controlled vehicles first (slots 0 .. agents - 1), then the NPCs
                u = wp.randi(rng, 0, total)  # the lane whose cumulative weight first exceeds u
                lane_id = int(1)
                acc = int(1)
                while acc <= u:
                    lane_id = lane_id + 1
                    acc = acc + lane_id
                speed = rd.lf[first + lane_id, SPEED_LIMIT_COL]
                spacing = ONE / p.world_f[DENSITY]
            ln = first + lane_id
            offset = spacing * (F(SPACING_BASE) + ONE * speed) * lane_factor
            x0 = F(3.0) * offset
            if i > 0:
                x0 = farthest_on_lane(v, rd, e, ln, i)
            x0 = x0 + offset * (JITTER0 + JITTER_SPAN * F(wp.randf(rng)))
            pos = position(rd.lf, rd.li, ln, x0, ZERO)
            h = heading_at(rd.lf, rd.li, ln, x0)
            if i < p.agents:
                place(v, rd, p, e, i, CONTROLLED, EGO_FLAGS, pos[0], pos[1], h, speed, LENGTH, WIDTH)
            else:
                place(v, rd, p, e, i, IDM, NPC_FLAGS, pos[0], pos[1], h, speed, LENGTH, WIDTH)
                # plan_route_to("3"): this lane, then any lane of (1, 2) and of (2, 3)
                v.route_head[e, i] = 0
                v.route_len[e, i] = 3
                v.route_road[e, i, 0] = road
                v.route_lane[e, i, 0] = lane_id
                v.route_road[e, i, 1] = p.world_i[SECTION_ROAD]
                v.route_lane[e, i, 1] = ANY_LANE
                v.route_road[e, i, 2] = p.world_i[AFTER_ROAD]
                v.route_lane[e, i, 2] = ANY_LANE

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
        target = v.target_lane[e, i]
        goal = ZERO
        if target == p.world_i[EXIT_SECTION_LANE] or target == p.world_i[EXIT_LANE]:
            goal = ONE
        lo = p.world_f[SPEED_LO]
        high_speed = wp.clamp((v.speed[e, i] - lo) / (p.world_f[SPEED_HI] - lo), ZERO, ONE)
        right_lane = F(rd.li[target, LANE_ID])
        w_crash = p.world_f[COLLISION_W]
        w_goal = p.world_f[GOAL_W]
        r = (
            w_crash * crashed
            + w_goal * goal
            + p.world_f[HIGH_SPEED_W] * high_speed
            + p.world_f[RIGHT_LANE_W] * right_lane
        )
        if p.world_i[NORMALIZE] != 0:
            r = wp.clamp((r - w_crash) / (w_goal - w_crash), ZERO, ONE)
        out.terms[o, 0] = wp.float32(crashed)
        out.terms[o, 1] = wp.float32(goal)
        out.terms[o, 2] = wp.float32(high_speed)
        out.terms[o, 3] = wp.float32(right_lane)
        out.rewards[o] = wp.float32(r)
        out.dones[o] = is_crashed
        out.truncated[e] = ep.time[e] >= p.duration
        return i == 0 and out.dones[o]  # highway-env ends the episode on its first vehicle

    return SimpleNamespace(spawn=spawn, reward=reward)
