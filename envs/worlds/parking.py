"""The parking world (highway-env ``parking-v0``): road, spawning, reward, termination.

- Road (highway-env ``ParkingEnv._create_road``): 14 pairs of 4 m wide, 8 m long parking spots facing
  each other across a 20 m aisle, lanes ``(a, b, k)`` from (x_k, 10) to (x_k, 18) and ``(b, c, k)``
  from (x_k, -10) to (x_k, -18), x_k = 4 (k - 6) - 2, every one with continuous lines.
- Spawning (``_create_vehicles``): the controlled vehicle (a plain ``Vehicle``: ContinuousAction,
  acceleration and steering) at rest at the origin with heading U(0, 2 pi) (with ``controlled_vehicles``
  k, vehicle i at x = 10 (i - k // 2)); its closest spot is taken. Its goal, a 2 x 2 m ``Landmark``
  (collidable, not solid: reaching it crashes nothing), sits at the middle of a uniformly drawn free
  spot, heading along it; then ``vehicles_count`` parked vehicles (plain ``Vehicle`` at rest, 4 m into
  a uniformly drawn free spot); then, with ``add_walls``, four 1 m thick walls around the 70 x 42 m lot.
  Slots: controlled vehicles, parked vehicles, goals (vehicle i's is the i-th), walls.
- Reward (``compute_reward``): ``-(sum_k reward_weights_k * |achieved_k - desired_k|) ** 0.5`` over the
  ego's and the goal's (x/100, y/100, vx/5, vy/5, cos_h, sin_h), plus ``collision_reward`` on a crash;
  terms ``goal_reward`` (the first part), ``collision_reward`` (1 if crashed), ``success_reward`` (1 if
  the goal part exceeds ``-success_goal_reward``, reported as ``info["is_success"]``).
- Terminated on a crash or a success (with several controlled vehicles: any one's crash, or the first
  one's success, as highway-env's ``_is_terminated`` reads its first vehicle's goal); truncated at
  ``duration``.

Random streams: env ``e``'s episode ``k`` draws from ``wp.rand_init(seed[e], k)`` (Warp's PCG): the
ego's heading, the goal's spot, then each parked vehicle's spot.
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
from envs.road.network import LineType, RoadNetwork, StraightLane
from envs.worlds.common import EGO_FLAGS, OBJECT_FLAGS, World, slot_funcs

REWARD_TERMS = ("goal_reward", "collision_reward", "success_reward")
SPOTS, SPOT_WIDTH, SPOT_LENGTH, AISLE_HALF = 14, 4.0, 8.0, 10.0  # [], [m], [m], [m] from the x axis
PARKED_S = 4.0  # [m] how far into its spot a parked vehicle stands
LANDMARK_SIZE = 2.0  # [m] highway-env RoadObject.LENGTH = WIDTH
LOT_LENGTH, LOT_WIDTH, WALL = 70.0, 42.0, 1.0  # [m] the walls' rectangle and thickness
#: the goal features the reward always reads (highway-env ``ParkingEnv.PARKING_OBS``), with their scales
GOAL_FEATURES = ("x", "y", "vx", "vy", "cos_h", "sin_h")  # goal_feature reads them in this order
GOAL_SCALES = (100.0, 100.0, 5.0, 5.0, 1.0, 1.0)
GOAL_FLAGS = st.CHECK_COLLISIONS | st.COLLIDABLE  # a Landmark: hit, never crashed into
# world_f / world_i layouts
SUCCESS_GOAL, COLLISION_W, WEIGHTS = 0, 1, 2  # WEIGHTS: 6 reward weights, then the 6 scales
VEHICLES_COUNT, ADD_WALLS = range(2)


def parking_network() -> RoadNetwork:
    """highway-env's ``ParkingEnv._create_road``, spot for spot (same order, so the same lane rows)."""
    net = RoadNetwork()
    lines = (LineType.CONTINUOUS, LineType.CONTINUOUS)
    for k in range(SPOTS):
        x = (k + 1 - SPOTS // 2) * SPOT_WIDTH - SPOT_WIDTH / 2
        net.add_lane(
            "a", "b", StraightLane((x, AISLE_HALF), (x, AISLE_HALF + SPOT_LENGTH), SPOT_WIDTH, lines)
        )
        net.add_lane(
            "b", "c", StraightLane((x, -AISLE_HALF), (x, -AISLE_HALF - SPOT_LENGTH), SPOT_WIDTH, lines)
        )
    return net


def compute_reward(achieved_goal, desired_goal, weights, p: float = 0.5) -> np.ndarray:
    """highway-env ``ParkingEnv.compute_reward``: ``-(|achieved - desired| . weights) ** p``, batched over
    leading axes (HER relabels whole batches of transitions at once)."""
    achieved, desired = np.asarray(achieved_goal), np.asarray(desired_goal)
    # One term at a time, not ``diff @ weights``: BLAS picks its summation order by shape and CPU, so a
    # batch and a single goal could differ in the last bit, and the GoalEnv contract (checked by SB3's
    # env checker) wants the batched reward to equal the single one exactly. A single goal (every env
    # step) sums in Python floats: the same IEEE float64 operations in the same order, without six
    # NumPy calls on 0-d arrays.
    if achieved.ndim == 1 and desired.ndim == 1:
        total = 0.0
        for a, d, w in zip(achieved.tolist(), desired.tolist(), weights):
            total = total + abs(a - d) * float(w)
        return np.float64(-(math.sqrt(total) if p == 0.5 else math.pow(total, p)))
    diff = np.abs(achieved.astype(np.float64) - desired.astype(np.float64))
    total = np.zeros(diff.shape[:-1])
    for i, w in enumerate(np.asarray(weights, np.float64)):
        total = total + diff[..., i] * w
    # the square root (highway-env's p) is correctly rounded in NumPy and in math alike; a general power
    # may take another code path in NumPy's vector loops than in libm, so for it the batch uses libm too
    if p == 0.5:
        return -np.sqrt(total)
    return -np.vectorize(lambda t: math.pow(t, p), otypes=[np.float64])(total)


class ParkingWorld(World):
    """The host side of the world: its road, slots and the parameters its kernel functions read."""

    name = "parking"
    reward_terms = REWARD_TERMS
    info_flags = {"is_success": "success_reward"}

    max_controlled = 7  # highway-env lines them up 10 m apart from x = -10 * (k // 2): 7 fit in the lot
    flags_per_agent = True

    @property
    def slots(self) -> int:
        """The controlled vehicles, the parked ones, a goal per controlled vehicle, the walls."""
        k = self.cfg.controlled_vehicles
        return k + self.cfg.vehicles_count + k + (4 if self.cfg.add_walls else 0)

    def network(self) -> RoadNetwork:
        return parking_network()

    def params(self) -> tuple[np.ndarray, np.ndarray]:
        c = self.cfg
        floats = [c.success_goal_reward, c.collision_reward, *c.reward_weights, *GOAL_SCALES]
        ints = [c.vehicles_count, int(c.add_walls)]
        return np.array(floats, np.float64), np.array(ints, np.int32)

    def scene_problems(self, scene) -> list[str]:
        goals = (np.asarray(scene.kind) == st.OBSTACLE) & ((np.asarray(scene.flags) & st.SOLID) == 0)
        k = self.cfg.controlled_vehicles
        if goals.sum() < k:
            return [
                f"a parking scene needs a goal per controlled vehicle ({k}): road objects that are not "
                f"solid (highway-env's Landmark), in the controlled vehicles' order; it has {int(goals.sum())}"
            ]
        for g in np.flatnonzero(goals)[:k].tolist():
            x, y = float(scene.x[g]), float(scene.y[g])
            if not (abs(x) < LOT_LENGTH / 2 and abs(y) < LOT_WIDTH / 2):
                return [f"the goal at ({x:g}, {y:g}) is outside the {LOT_LENGTH:g} x {LOT_WIDTH:g} m lot"]
        return []

    def compute_reward(self, achieved_goal, desired_goal, info=None) -> np.ndarray:
        """The goal part of the reward for (batches of) goals, as HER relabels them."""
        return compute_reward(achieved_goal, desired_goal, self.cfg.reward_weights)

    def step_reward(self, achieved_goal, desired_goal, crashed) -> float:
        """The step reward from the observed goals, as highway-env computes it (its GoalEnv contract:
        ``reward == compute_reward(achieved, desired, info)`` exactly, plus the collision penalty)."""
        return float(self.compute_reward(achieved_goal, desired_goal)) + self.cfg.collision_reward * crashed

    @staticmethod
    def funcs(F: type) -> SimpleNamespace:  # noqa: N803 - the kernels' float type
        return parking_funcs(F)


@functools.cache
def parking_funcs(F: type) -> SimpleNamespace:  # noqa: N803
    S = st.make_structs(F)
    L = lane_funcs(F)
    Vehicles, Episodes, Road, Params, Outputs = S.Vehicles, S.Episodes, S.Road, S.Params, S.Outputs
    position, heading_at = L.position, L.heading_at
    place = slot_funcs(F).place
    LENGTH_COL = rn.LENGTH
    CONTROLLED, VEHICLE, OBSTACLE, SOLID = st.CONTROLLED, st.VEHICLE, st.OBSTACLE, st.SOLID
    ZERO, ONE, HALF = F(0.0), F(1.0), F(0.5)
    TWO_PI = F(2.0 * math.pi)
    LENGTH, WIDTH_V = F(VEHICLE_LENGTH), F(VEHICLE_WIDTH)
    MARK, PARKED = F(LANDMARK_SIZE), F(PARKED_S)
    HALF_L, HALF_W, THICK = F(LOT_LENGTH / 2), F(LOT_WIDTH / 2), F(WALL)
    WALL_L, WALL_W = F(LOT_LENGTH), F(LOT_WIDTH)
    NG = len(GOAL_FEATURES)

    @wp.func
    def take_free(free: int, k: int) -> int:
        """The row of the k-th set bit of ``free`` (highway-env ``empty_spots[k]``)."""
        row = int(-1)
        seen = int(0)
        for b in range(32):
            if row < 0 and (free >> b) & 1 != 0:
                if seen == k:
                    row = b
                seen = seen + 1
        return row

    @wp.func
    def goal_of(v: Vehicles, e: int, i: int) -> int:
        """Controlled vehicle i's goal: the i-th road object that is not solid (a Landmark), -1 if none."""
        goal = int(-1)
        seen = int(0)
        for j in range(v.x.shape[1]):
            if goal < 0 and v.kind[e, j] == OBSTACLE and (v.flags[e, j] & SOLID) == 0:
                if seen == i:
                    goal = j
                seen = seen + 1
        return goal

    @wp.func
    def goal_feature(v: Vehicles, e: int, j: int, k: int) -> F:
        """highway-env ``to_dict()[GOAL_FEATURES[k]]`` of slot j (a road object does not move)."""
        speed = v.speed[e, j]
        if v.kind[e, j] == OBSTACLE:
            speed = ZERO
        val = v.sin_h[e, j]
        if k == 0:
            val = v.x[e, j]
        elif k == 1:
            val = v.y[e, j]
        elif k == 2:
            val = speed * v.cos_h[e, j]
        elif k == 3:
            val = speed * v.sin_h[e, j]
        elif k == 4:
            val = v.cos_h[e, j]
        return val

    @wp.func(inline=True)
    def spawn(v: Vehicles, ep: Episodes, rd: Road, p: Params, e: int):
        rng = wp.rand_init(ep.seed[e], ep.episode[e])
        for i in range(v.x.shape[1]):
            v.kind[e, i] = st.ABSENT
        agents = p.agents
        spots = rd.lf.shape[0]
        free = (int(1) << spots) - 1
        count = spots
        for k in range(agents):  # at rest, 10 m apart along the aisle, random headings; their spots taken
            x0 = F(10.0) * F(k - agents // 2)
            heading = TWO_PI * F(wp.randf(rng))
            place(v, rd, p, e, k, CONTROLLED, EGO_FLAGS, x0, ZERO, heading, ZERO, LENGTH, WIDTH_V)
            free = free & ~(int(1) << v.lane[e, k])
            count = count - 1
        n = p.world_i[VEHICLES_COUNT]
        g = agents + n  # the goals' slots: one per controlled vehicle, in their order
        for k in range(agents):
            goal = take_free(free, wp.randi(rng, 0, count))
            free = free & ~(int(1) << goal)
            count = count - 1
            s = HALF * rd.lf[goal, LENGTH_COL]
            pos = position(rd.lf, rd.li, goal, s, ZERO)
            place(v, rd, p, e, g + k, OBSTACLE, GOAL_FLAGS, pos[0], pos[1], heading_at(rd.lf, rd.li, goal, s),
                  ZERO, MARK, MARK)  # fmt: skip
        for i in range(agents, agents + n):
            ln = take_free(free, wp.randi(rng, 0, count))
            free = free & ~(int(1) << ln)
            count = count - 1
            pos = position(rd.lf, rd.li, ln, PARKED, ZERO)
            place(v, rd, p, e, i, VEHICLE, EGO_FLAGS, pos[0], pos[1], heading_at(rd.lf, rd.li, ln, PARKED),
                  ZERO, LENGTH, WIDTH_V)  # fmt: skip
            v.acc[e, i] = ZERO
            v.steer[e, i] = ZERO
        g = g + agents - 1  # the last goal's slot: the walls follow it
        if p.world_i[ADD_WALLS] != 0:
            quarter = F(0.5 * math.pi)
            place(v, rd, p, e, g + 1, OBSTACLE, OBJECT_FLAGS, ZERO, -HALF_W, ZERO, ZERO, WALL_L, THICK)
            place(v, rd, p, e, g + 2, OBSTACLE, OBJECT_FLAGS, ZERO, HALF_W, ZERO, ZERO, WALL_L, THICK)
            place(v, rd, p, e, g + 3, OBSTACLE, OBJECT_FLAGS, -HALF_L, ZERO, quarter, ZERO, WALL_W, THICK)
            place(v, rd, p, e, g + 4, OBSTACLE, OBJECT_FLAGS, HALF_L, ZERO, quarter, ZERO, WALL_W, THICK)

    @wp.func(inline=True)
    def reward(
        v: Vehicles, ep: Episodes, rd: Road, p: Params, e: int, i: int, o: int, action: int,
        command: wp.vec2f, out: Outputs,
    ) -> bool:  # fmt: skip
        goal = goal_of(v, e, i)
        dist = ZERO
        for k in range(NG):
            scale = p.world_f[WEIGHTS + NG + k]
            target = ZERO
            if goal >= 0:
                target = goal_feature(v, e, goal, k) / scale
            dist = dist + p.world_f[WEIGHTS + k] * wp.abs(goal_feature(v, e, i, k) / scale - target)
        closeness = -wp.sqrt(dist)
        crashed = ZERO
        is_crashed = v.crashed[e, i]
        if is_crashed:
            crashed = ONE
        success = closeness > -p.world_f[SUCCESS_GOAL]
        out.terms[o, 0] = wp.float32(closeness)
        out.terms[o, 1] = wp.float32(crashed)
        out.terms[o, 2] = wp.float32(0.0)
        if success:
            out.terms[o, 2] = wp.float32(1.0)
        out.rewards[o] = wp.float32(closeness + p.world_f[COLLISION_W] * crashed)
        out.dones[o] = is_crashed or success
        out.truncated[e] = ep.time[e] >= p.duration
        # highway-env ends the episode on any controlled vehicle's crash or the first one's success
        return is_crashed or (i == 0 and success)

    return SimpleNamespace(spawn=spawn, reward=reward, take_free=take_free, goal_of=goal_of)
