"""The merge world (highway-env ``merge-v0``): road, spawning, reward, termination.

- Road (highway-env ``MergeEnv._make_road``): a two-lane highway ``a -> b -> c -> d`` (150 + 80 m before
  the merge, 80 m along it, 150 m after), and an access ramp ``j -> k -> b``: 150 m straight, then a sine
  lane converging over 80 m, joining road ``b -> c`` as its lane 2. An obstacle closes that lane's end.
  Lanes have highway-env's default speed limit, 20 m/s.
- Spawning (``MergeEnv._make_vehicles``): the controlled vehicle at 30 m on lane ``(a, b, 1)`` at
  30 m/s; three IDM vehicles around 90, 70 and 5 m on a random highway lane, each shifted U(-5, 5) m,
  at 29, 31 and 31.5 m/s plus U(-1, 1); the merging IDM vehicle at 110 m on the ramp, at 20 m/s with a
  30 m/s target. IDM exponents keep highway-env's default (no ``randomize_behavior`` here).
- Reward terms ``collision_reward``, ``right_lane_reward`` (the lane id itself), ``high_speed_reward``
  (speed mapped from ``reward_speed_range``, not clipped), ``lane_change_reward`` (LANE_LEFT or
  LANE_RIGHT), ``merging_speed_reward`` (the sum, over vehicles on the merge lane ``(b, c, 2)``, of
  their relative speed deficit); weighted, then mapped from [collision + merging_speed, high_speed +
  right_lane] to [0, 1].
- Terminated on a crash or once the ego is past x = 370 m; never truncated.

Random streams: env ``e``'s episode ``k`` draws from ``wp.rand_init(seed[e], k)`` (Warp's PCG), per
highway vehicle in slot order: its lane, its position shift, its speed shift.
"""

import functools
import math
from types import SimpleNamespace

import numpy as np
import warp as wp

from envs.physics import structs as st
from envs.physics.traffic import VEHICLE_LENGTH, VEHICLE_WIDTH
from envs.road import network as rn
from envs.road.lanes import lane_funcs
from envs.road.network import LineType, RoadNetwork, SineLane, StraightLane
from envs.worlds.common import EGO_FLAGS, IDM_FLAGS, OBJECT_FLAGS, World, slot_funcs

REWARD_TERMS = (
    "collision_reward", "right_lane_reward", "high_speed_reward", "lane_change_reward", "merging_speed_reward",
)  # fmt: skip
ENDS = (150.0, 80.0, 80.0, 150.0)  # [m] before, converging, merge, after
AMPLITUDE = 3.25  # [m] of the converging sine lane
RAMP_Y = 6.5 + 4.0 + 4.0  # [m] the ramp's straight part
EGO_LONGITUDINAL, EGO_SPEED = 30.0, 30.0  # [m], [m/s] on lane (a, b, 1)
NPCS = ((90.0, 29.0), (70.0, 31.0), (5.0, 31.5))  # [m], [m/s] before the random shifts
NPC_SHIFT, NPC_SPEED_SHIFT = 5.0, 1.0  # [m], [m/s] half-widths of the uniform shifts
MERGER_LONGITUDINAL, MERGER_SPEED, MERGER_TARGET_SPEED = 110.0, 20.0, 30.0  # on lane (j, k, 0)
END_X = 370.0  # [m] the episode ends once the ego is past this
OBJECT_SIZE = 2.0  # [m] highway-env RoadObject LENGTH and WIDTH
SLOTS = 1 + len(NPCS) + 1 + 1  # ego, highway vehicles, merging vehicle, obstacle
# world_f / world_i layouts
COLLISION_W, RIGHT_LANE_W, HIGH_SPEED_W, SPEED_LO, SPEED_HI, LANE_CHANGE_W, MERGING_W = range(7)
HIGHWAY_AB, RAMP_JK, MERGE_LANE = range(3)
# action indices highway-env's merge reward counts as lane changes (``action in [0, 2]``)
LANE_CHANGE_ACTIONS = (0, 2)


def merge_network() -> RoadNetwork:
    """highway-env's ``MergeEnv._make_road``, lane for lane (same order, so the same lane rows)."""
    net = RoadNetwork()
    c, s, n = LineType.CONTINUOUS_LINE, LineType.STRIPED, LineType.NONE
    ends = ENDS
    y = (0.0, rn.DEFAULT_WIDTH)
    line_type = ((c, s), (n, c))
    line_type_merge = ((c, s), (n, s))
    for i in range(2):
        net.add_lane("a", "b", StraightLane((0.0, y[i]), (sum(ends[:2]), y[i]), line_types=line_type[i]))
        net.add_lane(
            "b",
            "c",
            StraightLane((sum(ends[:2]), y[i]), (sum(ends[:3]), y[i]), line_types=line_type_merge[i]),
        )
        net.add_lane(
            "c", "d", StraightLane((sum(ends[:3]), y[i]), (sum(ends), y[i]), line_types=line_type[i])
        )
    # the ramp: highway-env places the sine lane from StraightLane.position(s, -amplitude) of the
    # straight part and starts the merge lane at the sine lane's end (lateral offset 0)
    sine_y = RAMP_Y - AMPLITUDE
    pulsation = 2 * np.pi / (2 * ends[1])
    phase = np.pi / 2
    merge_y = sine_y + AMPLITUDE * np.sin(pulsation * ends[1] + phase)
    net.add_lane("j", "k", StraightLane((0.0, RAMP_Y), (ends[0], RAMP_Y), line_types=(c, c), forbidden=True))
    net.add_lane(
        "k",
        "b",
        SineLane(
            (ends[0], sine_y), (sum(ends[:2]), sine_y), line_types=(c, c), forbidden=True,
            amplitude=AMPLITUDE, pulsation=pulsation, phase=phase,
        ),
    )  # fmt: skip
    net.add_lane(
        "b",
        "c",
        StraightLane(
            (sum(ends[:2]), merge_y), (sum(ends[:2]) + ends[2], merge_y), line_types=(n, c), forbidden=True
        ),
    )
    return net


class MergeWorld(World):
    """The host side of the world: its road and the parameters its kernel functions read."""

    name = "merge"
    reward_terms = REWARD_TERMS
    slots = SLOTS
    duration = math.inf  # highway-env's merge-v0 never truncates

    def network(self) -> RoadNetwork:
        return merge_network()

    def params(self) -> tuple[np.ndarray, np.ndarray]:
        c = self.cfg
        floats = [c.collision_reward, c.right_lane_reward, c.high_speed_reward, *c.reward_speed_range,
                  c.lane_change_reward, c.merging_speed_reward]  # fmt: skip
        net = self.network()
        ints = [net.lane_row(("a", "b", 0)), net.lane_row(("j", "k", 0)), net.lane_row(("b", "c", 2))]
        return np.array(floats, np.float64), np.array(ints, np.int32)

    @staticmethod
    def funcs(F: type) -> SimpleNamespace:  # noqa: N803 - the kernels' float type
        return merge_funcs(F)


@functools.cache
def merge_funcs(F: type) -> SimpleNamespace:  # noqa: N803
    S = st.make_structs(F)
    Vehicles, Episodes, Road, Params, Outputs = S.Vehicles, S.Episodes, S.Road, S.Params, S.Outputs
    position = lane_funcs(F).position
    place = slot_funcs(F).place
    LANE_ID = rn.LANE_ID
    CONTROLLED, IDM, OBSTACLE = st.CONTROLLED, st.IDM, st.OBSTACLE
    ZERO, ONE = F(0.0), F(1.0)
    LENGTH, WIDTH, SIZE = F(VEHICLE_LENGTH), F(VEHICLE_WIDTH), F(OBJECT_SIZE)
    NPC_S = wp.constant(wp.types.vector(len(NPCS), F)(*[F(s) for s, _ in NPCS]))
    NPC_V = wp.constant(wp.types.vector(len(NPCS), F)(*[F(v) for _, v in NPCS]))
    NUM_NPCS = len(NPCS)
    MERGER, OBSTACLE_SLOT = 1 + len(NPCS), 2 + len(NPCS)
    LEFT, RIGHT = LANE_CHANGE_ACTIONS
    MERGE_LENGTH = F(ENDS[2])  # the obstacle closes the merge lane's end

    @wp.func(inline=True)
    def spawn(v: Vehicles, ep: Episodes, rd: Road, p: Params, e: int):
        rng = wp.rand_init(ep.seed[e], ep.episode[e])
        highway = p.world_i[HIGHWAY_AB]
        pos = position(rd.lf, rd.li, highway + 1, F(EGO_LONGITUDINAL), ZERO)
        place(v, rd, p, e, 0, CONTROLLED, EGO_FLAGS, pos[0], pos[1], ZERO, F(EGO_SPEED), LENGTH, WIDTH)
        for k in range(NUM_NPCS):
            lane = highway + wp.randi(rng, 0, 2)
            s = NPC_S[k] + F(NPC_SHIFT) * (F(2.0) * F(wp.randf(rng)) - ONE)
            speed = NPC_V[k] + F(NPC_SPEED_SHIFT) * (F(2.0) * F(wp.randf(rng)) - ONE)
            pos = position(rd.lf, rd.li, lane, s, ZERO)
            place(v, rd, p, e, 1 + k, IDM, IDM_FLAGS, pos[0], pos[1], ZERO, speed, LENGTH, WIDTH)
        pos = position(rd.lf, rd.li, p.world_i[RAMP_JK], F(MERGER_LONGITUDINAL), ZERO)
        place(v, rd, p, e, MERGER, IDM, IDM_FLAGS, pos[0], pos[1], ZERO, F(MERGER_SPEED), LENGTH, WIDTH)
        v.target_speed[e, MERGER] = F(MERGER_TARGET_SPEED)
        merge_lane = p.world_i[MERGE_LANE]
        pos = position(rd.lf, rd.li, merge_lane, MERGE_LENGTH, ZERO)
        place(v, rd, p, e, OBSTACLE_SLOT, OBSTACLE, OBJECT_FLAGS, pos[0], pos[1], ZERO, ZERO, SIZE, SIZE)

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
        right_lane = F(rd.li[v.lane[e, i], LANE_ID])
        lo = p.world_f[SPEED_LO]
        high_speed = (v.speed[e, i] - lo) / (p.world_f[SPEED_HI] - lo)
        lane_change = ZERO
        if action == LEFT or action == RIGHT:
            lane_change = ONE
        merging = ZERO
        merge_lane = p.world_i[MERGE_LANE]
        for j in range(v.x.shape[1]):
            kind = v.kind[e, j]
            if (kind == CONTROLLED or kind == IDM) and v.lane[e, j] == merge_lane:
                target = v.target_speed[e, j]
                merging = merging + (target - v.speed[e, j]) / target
        w_crash = p.world_f[COLLISION_W]
        w_merging = p.world_f[MERGING_W]
        r = (
            w_crash * crashed
            + p.world_f[RIGHT_LANE_W] * right_lane
            + p.world_f[HIGH_SPEED_W] * high_speed
            + p.world_f[LANE_CHANGE_W] * lane_change
            + w_merging * merging
        )
        lowest = w_crash + w_merging
        r = (r - lowest) / ((p.world_f[HIGH_SPEED_W] + p.world_f[RIGHT_LANE_W]) - lowest)
        out.terms[o, 0] = wp.float32(crashed)
        out.terms[o, 1] = wp.float32(right_lane)
        out.terms[o, 2] = wp.float32(high_speed)
        out.terms[o, 3] = wp.float32(lane_change)
        out.terms[o, 4] = wp.float32(merging)
        out.rewards[o] = wp.float32(r)
        out.dones[o] = is_crashed or v.x[e, i] > F(END_X)
        out.truncated[e] = False
        return i == 0 and out.dones[o]  # highway-env ends the episode on its first vehicle

    return SimpleNamespace(spawn=spawn, reward=reward)
