"""Traffic behaviour as Warp functions over one env's vehicle slots: highway-env's vehicles, ported.

``traffic_funcs(F)`` builds, for the float type ``F``:

- lane bookkeeping: each vehicle's closest lane, its coordinates there, and per-lane member lists
  (``refresh_vehicle``, highway-env ``on_state_update``);
- neighbours on any lane (``neighbours``, ``Road.neighbour_vehicles``), IDM (``acceleration``,
  ``desired_gap``), MOBIL with its timer and the abort of conflicting lane changes
  (``change_lane_policy``, ``mobil``), route following (``follow_road``, ``next_lane``);
- the controllers of ``ControlledVehicle`` (``steering_control``; speed control is one line), the
  meta-actions of ``MDPVehicle`` (``meta_action``), and the kinematic bicycle (``integrate``).

One sub-step is ``road.act()`` then ``road.step(dt)``: every vehicle decides in slot order (later
vehicles see earlier ones' new target lanes, as in highway-env), then every vehicle moves, then
collisions (``envs/physics/collision.py``). Constants and formulas are highway-env's
(``vehicle/kinematics.py``, ``controller.py``, ``behavior.py``, ``road/road.py``).
"""

import functools
import math
from types import SimpleNamespace

import numpy as np
import warp as wp

from envs.physics import structs as st
from envs.road import network as rn
from envs.road.lanes import lane_funcs

# Kinematics (highway-env ``Vehicle``)
MAX_SPEED = 40.0  # [m/s]
MIN_SPEED = -40.0  # [m/s]
VEHICLE_LENGTH = 5.0  # [m]
VEHICLE_WIDTH = 2.0  # [m]
# Low-level controllers (``ControlledVehicle``)
TAU_ACC = 0.6  # [s]
TAU_HEADING = 0.2  # [s]
TAU_LATERAL = 0.6  # [s]
TAU_PURSUIT = 0.5 * TAU_HEADING  # [s]
KP_A = 1 / TAU_ACC  # [1/s]
KP_HEADING = 1 / TAU_HEADING  # [1/s]
KP_LATERAL = 1 / TAU_LATERAL  # [1/s]
MAX_STEERING_ANGLE = math.pi / 3  # [rad]
# IDM (``IDMVehicle``)
ACC_MAX = 6.0  # [m/s2]
COMFORT_ACC_MAX = 3.0  # [m/s2]
COMFORT_ACC_MIN = -5.0  # [m/s2]
DISTANCE_WANTED = 5.0 + VEHICLE_LENGTH  # [m]
TIME_WANTED = 1.5  # [s]
DELTA = 4.0  # []
DELTA_RANGE = (3.5, 4.5)  # []
# The IDM parameters a world may change (intersection-v0 sets a shorter jam distance and firmer
# accelerations on its IDMVehicle class), read by the kernels from ``Params.idm`` in this layout.
IDM_COMFORT_ACC_MAX, IDM_DISTANCE_WANTED, IDM_GAP_COEFFICIENT = range(3)
IDM_DEFAULTS = {
    "COMFORT_ACC_MAX": COMFORT_ACC_MAX,
    "COMFORT_ACC_MIN": COMFORT_ACC_MIN,
    "DISTANCE_WANTED": DISTANCE_WANTED,
}
# MOBIL
POLITENESS = 0.0  # []
LANE_CHANGE_MIN_ACC_GAIN = 0.2  # [m/s2]
LANE_CHANGE_MAX_BRAKING_IMPOSED = 2.0  # [m/s2]
LANE_CHANGE_DELAY = 1.0  # [s]
ON_LANE_MARGIN = 1.0  # [m] neighbours count vehicles within this of a lane's edges
# Meta-action codes (highway-env ``DiscreteMetaAction.ACTIONS_ALL``)
LANE_LEFT, IDLE, LANE_RIGHT, FASTER, SLOWER = 0, 1, 2, 3, 4
META_ACTIONS = {
    "LANE_LEFT": LANE_LEFT,
    "IDLE": IDLE,
    "LANE_RIGHT": LANE_RIGHT,
    "FASTER": FASTER,
    "SLOWER": SLOWER,
}


def idm_params(overrides: dict[str, float] | None = None) -> np.ndarray:
    """``Params.idm``: highway-env's IDM class attributes, with a world's overrides; the desired gap's
    ``1 / (2 sqrt(-COMFORT_ACC_MAX * COMFORT_ACC_MIN))`` is computed here, in float64."""
    unknown = set(overrides or {}) - set(IDM_DEFAULTS)
    if unknown:
        raise ValueError(f"unknown IDM parameters {sorted(unknown)}; known: {sorted(IDM_DEFAULTS)}")
    c = {**IDM_DEFAULTS, **(overrides or {})}
    if not (c["COMFORT_ACC_MAX"] > 0 > c["COMFORT_ACC_MIN"]):
        raise ValueError(f"IDM needs COMFORT_ACC_MAX > 0 > COMFORT_ACC_MIN, got {c}")
    coefficient = 1.0 / (2.0 * math.sqrt(-c["COMFORT_ACC_MAX"] * c["COMFORT_ACC_MIN"]))
    return np.array([c["COMFORT_ACC_MAX"], c["DISTANCE_WANTED"], coefficient], np.float64)


@functools.cache
def traffic_funcs(F: type) -> SimpleNamespace:  # noqa: N803
    S = st.make_structs(F)
    L = lane_funcs(F)
    Vehicles, Road, Params, Episodes = S.Vehicles, S.Road, S.Params, S.Episodes
    V2 = L.V2
    local_coordinates, position, heading_at = L.local_coordinates, L.position, L.heading_at
    wrap_to_pi, not_zero, on_lane, distance = L.wrap_to_pi, L.not_zero, L.on_lane, L.distance
    is_reachable_from, after_end = L.is_reachable_from, L.after_end
    ROAD, LANE_ID, ROAD_LANES, ROAD_FIRST = rn.ROAD, rn.LANE_ID, rn.ROAD_LANES, rn.ROAD_FIRST
    LENGTH, SPEED_LIMIT, NO_SPEED_LIMIT = rn.LENGTH, rn.SPEED_LIMIT, F(rn.NO_SPEED_LIMIT)
    KIND, STRAIGHT, BCX, BCY, BR, WIDTH = rn.KIND, rn.STRAIGHT, rn.BCX, rn.BCY, rn.BR, rn.WIDTH
    CONTROLLED, IDM, OBSTACLE, ABSENT, VEHICLE = st.CONTROLLED, st.IDM, st.OBSTACLE, st.ABSENT, st.VEHICLE
    ENABLE_LANE_CHANGE, ERR_NONFINITE = st.ENABLE_LANE_CHANGE, st.ERR_NONFINITE
    ZERO, ONE, TWO = F(0.0), F(1.0), F(2.0)
    PI = F(math.pi)
    TWO_PI = F(2.0 * math.pi)
    MARGIN = F(ON_LANE_MARGIN)
    HUGE = F(1.0e30)
    HALF = F(0.5)
    QUARTER_PI = F(math.pi / 4.0)
    SIN_QUARTER_PI = F(math.sin(math.pi / 4.0))
    TAN_MAX_STEERING = F(math.tan(MAX_STEERING_ANGLE))

    @wp.func(inline=True)
    def fast_wrap_to_pi(a: F) -> F:
        """``wrap_to_pi`` without the modulo when ``a`` is already in [-pi, pi) (the usual case)."""
        b = a + PI
        r = a
        if b >= ZERO and b < TWO_PI:
            r = b - PI
        else:
            r = wrap_to_pi(a)
        return r

    # lane bookkeeping -------------------------------------------------------------------------
    @wp.func(inline=True)
    def refresh_vehicle(v: Vehicles, rd: Road, ep: Episodes, e: int, i: int, moved: bool):
        """highway-env ``on_state_update``: the closest lane (position and heading), the coordinates
        there, and the lanes the vehicle is on (1 m margin), appended to their member lists."""
        x = v.x[e, i]
        y = v.y[e, i]
        h = v.heading[e, i]
        if not (wp.abs(x) + wp.abs(y) + wp.abs(h) + wp.abs(v.speed[e, i]) < HUGE):  # false for NaN or inf
            ep.error[e] = ep.error[e] | ERR_NONFINITE
        best = int(-1)
        best_d = F(0.0)
        best_s = F(0.0)
        best_r = F(0.0)
        for ln in range(rd.lf.shape[0]):
            skip = bool(False)
            if rd.li[ln, KIND] != STRAIGHT and best >= 0:
                # a curved lane's coordinates cost an atan2 or a sine: skip the lane when its bounding
                # circle proves it can neither be closer than the best so far nor hold the vehicle
                bx = x - rd.lf[ln, BCX]
                by = y - rd.lf[ln, BCY]
                bound = wp.sqrt(bx * bx + by * by) - rd.lf[ln, BR]
                reach = rd.lf[ln, WIDTH] * HALF + MARGIN + F(rn.VEHICLE_LENGTH)
                skip = bound - F(1.0e-3) >= best_d and bound > reach  # 1 mm against rounding
            if not skip:
                c = local_coordinates(rd.lf, rd.li, ln, x, y)
                length = rd.lf[ln, LENGTH]
                # highway-env's distance_with_heading; the heading term is >= 0, so a lane already at
                # least as far without it cannot win and its heading is not computed (the same result)
                d = wp.abs(c[1]) + wp.max(c[0] - length, ZERO) + wp.max(ZERO - c[0], ZERO)
                if best < 0 or d < best_d:
                    d = d + wp.abs(fast_wrap_to_pi(h - heading_at(rd.lf, rd.li, ln, c[0])))
                    if best < 0 or d < best_d:
                        best = ln
                        best_d = d
                        best_s = c[0]
                        best_r = c[1]
                if on_lane(rd.lf, ln, c[0], c[1], MARGIN):
                    k = v.mem_n[e, ln]
                    v.mem_j[e, ln, k] = i
                    v.mem_s[e, ln, k] = c[0]
                    v.mem_n[e, ln] = k + 1
        if moved:
            v.lane[e, i] = best
        v.cos_h[e, i] = wp.cos(h)
        v.sin_h[e, i] = wp.sin(h)
        # coordinates on the vehicle's lane (differs from the closest only for an object's fixed lane)
        if v.lane[e, i] == best:
            v.s_own[e, i] = best_s
            v.r_own[e, i] = best_r
        else:
            c = local_coordinates(rd.lf, rd.li, v.lane[e, i], x, y)
            v.s_own[e, i] = c[0]
            v.r_own[e, i] = c[1]

    @wp.func(inline=True)
    def sort_members(v: Vehicles, rd: Road, e: int):
        """Sort every lane's member list by (longitudinal coordinate, slot): insertion sort, linear when
        the lists are built in nearly the right order (slots visited by x)."""
        for ln in range(rd.lf.shape[0]):
            for r in range(1, v.mem_n[e, ln]):
                j = v.mem_j[e, ln, r]
                sj = v.mem_s[e, ln, r]
                q = r - 1
                moving = bool(True)
                while moving:
                    moving = bool(False)
                    if q >= 0:
                        sq = v.mem_s[e, ln, q]
                        if sq > sj or (sq == sj and v.mem_j[e, ln, q] > j):
                            v.mem_j[e, ln, q + 1] = v.mem_j[e, ln, q]
                            v.mem_s[e, ln, q + 1] = sq
                            q = q - 1
                            moving = bool(True)
                v.mem_j[e, ln, q + 1] = j
                v.mem_s[e, ln, q + 1] = sj

    @wp.func(inline=True)
    def refresh_all(v: Vehicles, rd: Road, ep: Episodes, e: int):
        """Lanes and member lists of every slot (after a spawn or a loaded scene), and the x order."""
        for ln in range(rd.lf.shape[0]):
            v.mem_n[e, ln] = 0
        n = v.x.shape[1]
        for i in range(n):
            v.order[e, i] = i
            if v.kind[e, i] != ABSENT:
                refresh_vehicle(v, rd, ep, e, i, True)
        sort_members(v, rd, e)

    # neighbours and IDM -----------------------------------------------------------------------
    @wp.func(inline=True)
    def lane_s(v: Vehicles, rd: Road, e: int, i: int, ln: int) -> F:
        """Longitudinal coordinate of vehicle i on lane ln."""
        s = v.s_own[e, i]
        if ln != v.lane[e, i]:
            s = local_coordinates(rd.lf, rd.li, ln, v.x[e, i], v.y[e, i])[0]
        return s

    @wp.func(inline=True)
    def lane_coords(v: Vehicles, rd: Road, e: int, i: int, ln: int) -> V2:
        """(longitudinal, lateral) coordinates of vehicle i on lane ln (cached for its own lane)."""
        c = V2(v.s_own[e, i], v.r_own[e, i])
        if ln != v.lane[e, i]:
            c = local_coordinates(rd.lf, rd.li, ln, v.x[e, i], v.y[e, i])
        return c

    @wp.func(inline=True)
    def neighbours(v: Vehicles, rd: Road, e: int, i: int, ln: int) -> wp.vec2i:
        """(front, rear) of vehicle i on lane ln (-1: none), highway-env ``neighbour_vehicles``: among the
        vehicles and objects on lane ln, the nearest at or ahead of i (the last of equals, in slot order)
        and the nearest strictly behind (the first of equals). Lane l's member list is sorted by
        (coordinate, slot), so both are found by a binary search and a step to each side."""
        s = lane_s(v, rd, e, i, ln)
        n = v.mem_n[e, ln]
        lo = int(0)
        hi = int(n)
        while lo < hi:  # first member at or ahead of s
            mid = (lo + hi) // 2
            if v.mem_s[e, ln, mid] < s:
                lo = mid + 1
            else:
                hi = mid
        front = int(-1)
        k = int(lo)
        if k < n:
            if v.mem_j[e, ln, k] == i:
                k = k + 1
        if k < n:  # the last of the members sharing the nearest coordinate, skipping i
            value = v.mem_s[e, ln, k]
            front = v.mem_j[e, ln, k]
            k = k + 1
            more = bool(True)
            while more:
                more = bool(False)
                if k < n:
                    if v.mem_s[e, ln, k] == value:
                        if v.mem_j[e, ln, k] != i:
                            front = v.mem_j[e, ln, k]
                        k = k + 1
                        more = bool(True)
        rear = int(-1)
        k = lo - 1
        if k >= 0:  # the first of the members sharing the nearest coordinate behind
            value = v.mem_s[e, ln, k]
            more = bool(True)
            while more:
                more = bool(False)
                if k > 0:
                    if v.mem_s[e, ln, k - 1] == value:
                        k = k - 1
                        more = bool(True)
            rear = v.mem_j[e, ln, k]
        return wp.vec2i(front, rear)

    @wp.func(inline=True)
    def desired_gap(v: Vehicles, p: Params, e: int, a: int, f: int) -> F:
        """IDM desired distance [m] of vehicle a behind f (velocities projected on a's heading)."""
        va = v.speed[e, a]
        ca = v.cos_h[e, a]
        sa = v.sin_h[e, a]
        vf = v.speed[e, f]
        dv = (va * ca - vf * v.cos_h[e, f]) * ca + (va * sa - vf * v.sin_h[e, f]) * sa
        return p.idm[IDM_DISTANCE_WANTED] + va * F(TIME_WANTED) + va * dv * p.idm[IDM_GAP_COEFFICIENT]

    @wp.func(inline=True)
    def is_vehicle(v: Vehicles, e: int, a: int) -> bool:
        k = v.kind[e, a]
        return k == CONTROLLED or k == IDM or k == VEHICLE

    @wp.func(inline=True)
    def free_acceleration(v: Vehicles, rd: Road, p: Params, e: int, me: int, a: int) -> F:
        """The free-road part of vehicle a's IDM acceleration, with ``me``'s exponent (0 if a is -1 or
        not a vehicle). Computed once and shared by the calls with different front vehicles."""
        acc = F(0.0)
        if a >= 0:
            if is_vehicle(v, e, a):
                target = v.target_speed[e, a]
                limit = rd.lf[v.lane[e, a], SPEED_LIMIT]
                if limit < NO_SPEED_LIMIT:
                    target = wp.clamp(target, ZERO, limit)
                ratio = wp.max(v.speed[e, a], ZERO) / wp.abs(not_zero(target))
                acc = p.idm[IDM_COMFORT_ACC_MAX] * (ONE - wp.pow(ratio, v.delta[e, me]))
        return acc

    @wp.func(inline=True)
    def acceleration(v: Vehicles, rd: Road, p: Params, e: int, free: F, a: int, f: int) -> F:
        """IDM acceleration [m/s2] of vehicle a behind f (-1: free road) given its free-road part
        (highway-env ``IDMVehicle.acceleration``: 0 for no vehicle)."""
        acc = free
        if a >= 0 and f >= 0:
            if is_vehicle(v, e, a):
                d = lane_s(v, rd, e, f, v.lane[e, a]) - v.s_own[e, a]
                g = desired_gap(v, p, e, a, f) / not_zero(d)
                acc = acc - p.idm[IDM_COMFORT_ACC_MAX] * (g * g)
        return acc

    # routes ------------------------------------------------------------------------------------
    @wp.func(inline=True)
    def next_lane_on_road(rd: Road, cur: int, road: int, lane_id: int, px: F, py: F) -> V2:
        """highway-env ``next_lane_given_next_road``: (lane row, its distance to the point)."""
        nid = lane_id
        count = rd.road_lanes[road]
        if rd.li[cur, ROAD_LANES] == count:
            if nid < 0:
                nid = rd.li[cur, LANE_ID]
        else:
            best_d = F(0.0)
            for k in range(count):
                d = distance(rd.lf, rd.li, rd.road_first[road] + k, px, py)
                if k == 0 or d < best_d:
                    best_d = d
                    nid = k
        row = rd.road_first[road] + nid
        return V2(F(row), distance(rd.lf, rd.li, row, px, py))

    @wp.func(inline=True)
    def next_lane(v: Vehicles, rd: Road, ep: Episodes, e: int, i: int, cur: int) -> int:
        """highway-env ``RoadNetwork.next_lane``: follow the route if it continues from this road,
        otherwise take the next road whose lane is closest to the projected position; stay put at a
        dead end."""
        road = rd.li[cur, ROAD]
        to = rd.road_to[road]
        next_road = int(-1)
        next_id = int(-1)
        head = v.route_head[e, i]
        if v.route_len[e, i] > 0:
            if v.route_road[e, i, head] == road:  # the first route step is done: drop it
                head = head + 1
                v.route_head[e, i] = head
                v.route_len[e, i] = v.route_len[e, i] - 1
            if v.route_len[e, i] > 0:
                if rd.road_from[v.route_road[e, i, head]] == to:
                    next_road = v.route_road[e, i, head]
                    next_id = v.route_lane[e, i, head]
        c = local_coordinates(rd.lf, rd.li, cur, v.x[e, i], v.y[e, i])
        p = position(rd.lf, rd.li, cur, c[0], ZERO)
        result = cur
        if next_road >= 0:
            result = int(next_lane_on_road(rd, cur, next_road, next_id, p[0], p[1])[0])
        elif rd.node_count[to] >= 0:
            best_d = F(0.0)
            for k in range(rd.node_count[to]):
                r = rd.node_roads[rd.node_first[to] + k]
                cand = next_lane_on_road(rd, cur, r, -1, p[0], p[1])
                if k == 0 or cand[1] < best_d:
                    best_d = cand[1]
                    result = int(cand[0])
        return result

    @wp.func(inline=True)
    def follow_road(v: Vehicles, rd: Road, ep: Episodes, e: int, i: int):
        """At the end of the target lane, switch to the next one (``ControlledVehicle.follow_road``)."""
        tl = v.target_lane[e, i]
        if after_end(rd.lf, tl, lane_s(v, rd, e, i, tl)):
            v.target_lane[e, i] = next_lane(v, rd, ep, e, i, tl)

    # lane changes --------------------------------------------------------------------------------
    @wp.func(inline=True)
    def mobil(v: Vehicles, rd: Road, p: Params, e: int, i: int, side: int) -> bool:
        """highway-env ``IDMVehicle.mobil``: is a change to lane ``side`` safe and worth it?"""
        nb_new = neighbours(v, rd, e, i, side)
        new_free = free_acceleration(v, rd, p, e, i, nb_new[1])
        new_following_a = acceleration(v, rd, p, e, new_free, nb_new[1], nb_new[0])
        new_following_pred_a = acceleration(v, rd, p, e, new_free, nb_new[1], i)
        ok = bool(True)
        if new_following_pred_a < -F(LANE_CHANGE_MAX_BRAKING_IMPOSED):
            ok = bool(False)
        else:
            nb_old = neighbours(v, rd, e, i, v.lane[e, i])
            self_free = free_acceleration(v, rd, p, e, i, i)
            self_pred_a = acceleration(v, rd, p, e, self_free, i, nb_new[0])
            head = v.route_head[e, i]
            if v.route_len[e, i] > 0 and v.route_lane[e, i, head] >= 0:
                target_id = rd.li[v.target_lane[e, i], LANE_ID]
                want = v.route_lane[e, i, head] - target_id
                got = rd.li[side, LANE_ID] - target_id
                if (want > 0) != (got > 0) or (want < 0) != (got < 0):  # np.sign differs
                    ok = bool(False)
                elif self_pred_a < -F(LANE_CHANGE_MAX_BRAKING_IMPOSED):
                    ok = bool(False)
            else:
                self_a = acceleration(v, rd, p, e, self_free, i, nb_old[0])
                old_free = free_acceleration(v, rd, p, e, i, nb_old[1])
                old_following_a = acceleration(v, rd, p, e, old_free, nb_old[1], i)
                old_following_pred_a = acceleration(v, rd, p, e, old_free, nb_old[1], nb_old[0])
                jerk = (
                    self_pred_a
                    - self_a
                    + F(POLITENESS)
                    * (new_following_pred_a - new_following_a + old_following_pred_a - old_following_a)
                )
                if jerk < F(LANE_CHANGE_MIN_ACC_GAIN):
                    ok = bool(False)
        return ok

    @wp.func(inline=True)
    def change_lane_policy(v: Vehicles, rd: Road, p: Params, e: int, i: int):
        """highway-env ``IDMVehicle.change_lane_policy``: abort a lane change that conflicts with
        another vehicle's, or, when the timer is due, ask MOBIL about each side lane."""
        lane = v.lane[e, i]
        target = v.target_lane[e, i]
        if lane != target:
            if rd.li[lane, ROAD] == rd.li[target, ROAD]:
                aborted = bool(False)
                for j in range(v.x.shape[1]):
                    if not aborted and j != i and is_vehicle(v, e, j):
                        if v.lane[e, j] != target and v.target_lane[e, j] == target:
                            d = lane_s(v, rd, e, j, lane) - v.s_own[e, i]
                            if ZERO < d and d < desired_gap(v, p, e, i, j):
                                v.target_lane[e, i] = lane
                                aborted = bool(True)
        elif v.timer[e, i] > F(LANE_CHANGE_DELAY):
            v.timer[e, i] = ZERO
            lane_id = rd.li[lane, LANE_ID]
            first = rd.li[lane, ROAD_FIRST]
            for k in range(2):
                side_id = lane_id - 1 + 2 * k
                if side_id >= 0 and side_id < rd.li[lane, ROAD_LANES]:
                    side = first + side_id
                    if is_reachable_from(rd.lf, rd.li, side, v.x[e, i], v.y[e, i]):
                        if wp.abs(v.speed[e, i]) >= ONE:
                            if mobil(v, rd, p, e, i, side):
                                v.target_lane[e, i] = side

    # controllers -------------------------------------------------------------------------------
    @wp.func(inline=True)
    def steering_control(v: Vehicles, rd: Road, e: int, i: int, tl: int) -> F:
        """Steer to the centre of lane tl: lateral P -> heading P -> steering (``ControlledVehicle``).

        Returns the *tangent* of the steering angle, which is all the bicycle model needs: with
        ``q = sin(slip)``, ``tan(steering) = 2 tan(slip) = 2 q / sqrt(1 - q^2)`` (no atan/tan pair),
        and highway-env's clip of the angle to +/-MAX_STEERING_ANGLE is a clip of the tangent."""
        c = lane_coords(v, rd, e, i, tl)
        speed = v.speed[e, i]
        future_heading = heading_at(rd.lf, rd.li, tl, c[0] + speed * F(TAU_PURSUIT))
        lateral_speed = -F(KP_LATERAL) * c[1]
        sine = lateral_speed / not_zero(speed)
        heading_command = QUARTER_PI * wp.sign(sine)  # asin(sine) clipped to +/-pi/4
        if wp.abs(sine) < SIN_QUARTER_PI:
            heading_command = wp.asin(sine)
        heading_ref = future_heading + heading_command
        heading_rate = F(KP_HEADING) * fast_wrap_to_pi(heading_ref - v.heading[e, i])
        q = wp.clamp(v.length[e, i] * HALF / not_zero(speed) * heading_rate, -ONE, ONE)
        tangent = TAN_MAX_STEERING * wp.sign(q)
        if wp.abs(q) < ONE:
            tangent = wp.clamp(TWO * q / wp.sqrt(ONE - q * q), -TAN_MAX_STEERING, TAN_MAX_STEERING)
        return tangent

    @wp.func(inline=True)
    def speed_to_index(p: Params, speed: F) -> int:
        n = p.target_speeds.shape[0]
        frac = (speed - p.target_speeds[0]) / (p.target_speeds[n - 1] - p.target_speeds[0])
        return wp.clamp(int(wp.rint(frac * F(n - 1))), 0, n - 1)

    @wp.func(inline=True)
    def meta_action(v: Vehicles, rd: Road, p: Params, ep: Episodes, e: int, i: int, code: int):
        """``MDPVehicle.act(action)`` of a controlled vehicle: set-point or target lane changes."""
        if code == FASTER or code == SLOWER:
            index = speed_to_index(p, v.speed[e, i]) + 1
            if code == SLOWER:
                index = index - 2
            index = wp.clamp(index, 0, p.target_speeds.shape[0] - 1)
            v.target_speed[e, i] = p.target_speeds[index]
            follow_road(v, rd, ep, e, i)
        else:
            follow_road(v, rd, ep, e, i)
            if code == LANE_LEFT or code == LANE_RIGHT:
                tl = v.target_lane[e, i]
                step = int(1)
                if code == LANE_LEFT:
                    step = int(-1)
                cand = rd.li[tl, ROAD_FIRST] + wp.clamp(
                    rd.li[tl, LANE_ID] + step, 0, rd.li[tl, ROAD_LANES] - 1
                )
                if is_reachable_from(rd.lf, rd.li, cand, v.x[e, i], v.y[e, i]):
                    v.target_lane[e, i] = cand

    @wp.func(inline=True)
    def continuous_action(v: Vehicles, p: Params, e: int, i: int, a0: wp.float32, a1: wp.float32):
        """highway-env ``ContinuousAction.act``: (clipped) commands in [-1, 1] mapped onto the acceleration
        and steering ranges, held by controlled vehicle i's plain ``Vehicle`` for the whole policy step."""
        x0 = F(a0)
        x1 = F(a1)
        if p.control_i[2] != 0:
            x0 = wp.clamp(x0, -ONE, ONE)
            x1 = wp.clamp(x1, -ONE, ONE)
        lon = p.control_i[0] != 0
        lat = p.control_i[1] != 0
        acc = ZERO
        steering = ZERO
        if lon:
            acc = p.control_f[0] + (x0 + ONE) * F(0.5) * (p.control_f[1] - p.control_f[0])
        if lat:
            x = x0
            if lon:
                x = x1
            steering = p.control_f[2] + (x + ONE) * F(0.5) * (p.control_f[3] - p.control_f[2])
        v.acc[e, i] = acc
        v.steer[e, i] = wp.tan(steering)  # the bicycle model takes the tangent of the angle

    @wp.func(inline=True)
    def decide(v: Vehicles, rd: Road, p: Params, ep: Episodes, e: int, i: int):
        """The lane decisions of ``road.act()`` for one vehicle: follow the road, then (IDM) abort or
        start lane changes. Sequential in slot order: a vehicle sees the earlier ones' new targets."""
        kind = v.kind[e, i]
        crashed = v.crashed[e, i]
        if (kind == CONTROLLED and p.continuous != 0) or kind == VEHICLE:
            # highway-env's plain ``Vehicle`` (ContinuousAction, or parked): no target lane of its own, so
            # the lane it is on stands in (as highway-env's rewards read it), and no other vehicle yields to
            # a target
            v.target_lane[e, i] = v.lane[e, i]
        elif kind == CONTROLLED or (kind == IDM and not crashed):
            follow_road(v, rd, ep, e, i)
            if kind == IDM and (v.flags[e, i] & ENABLE_LANE_CHANGE) != 0:
                change_lane_policy(v, rd, p, e, i)

    @wp.func(inline=True)
    def control(v: Vehicles, rd: Road, p: Params, e: int, i: int):
        """The commands of ``road.act()`` for one vehicle, from its decided target lane and speed: they
        depend on no other vehicle's decision, so this runs as a loop of its own after ``decide``."""
        kind = v.kind[e, i]
        crashed = v.crashed[e, i]
        if (
            kind == CONTROLLED and p.continuous == 0
        ):  # a continuous ego keeps its commands (``continuous_action``)
            v.steer[e, i] = steering_control(v, rd, e, i, v.target_lane[e, i])
            v.acc[e, i] = F(KP_A) * (v.target_speed[e, i] - v.speed[e, i])
        elif kind == IDM and not crashed:
            target = v.target_lane[e, i]
            v.steer[e, i] = steering_control(v, rd, e, i, target)
            free = free_acceleration(v, rd, p, e, i, i)
            acc = acceleration(v, rd, p, e, free, i, neighbours(v, rd, e, i, v.lane[e, i])[0])
            if v.lane[e, i] != target:  # while changing lane, also keep distance on the target lane
                acc = wp.min(acc, acceleration(v, rd, p, e, free, i, neighbours(v, rd, e, i, target)[0]))
            v.acc[e, i] = wp.clamp(acc, -F(ACC_MAX), F(ACC_MAX))

    @wp.func(inline=True)
    def act_all(v: Vehicles, rd: Road, p: Params, ep: Episodes, e: int):
        """``road.act()``: every vehicle decides, then every vehicle computes its commands."""
        for i in range(v.x.shape[1]):
            decide(v, rd, p, ep, e, i)
        for i in range(v.x.shape[1]):
            control(v, rd, p, e, i)

    @wp.func(inline=True)
    def integrate(v: Vehicles, p: Params, e: int, i: int):
        """Kinematic bicycle model (highway-env ``Vehicle.step``); a crashed vehicle brakes to a stop."""
        speed = v.speed[e, i]
        steer = v.steer[e, i]  # tangent of the steering angle
        acc = v.acc[e, i]
        if v.kind[e, i] == IDM:
            v.timer[e, i] = v.timer[e, i] + p.dt
        crashed = v.crashed[e, i]
        if crashed:
            steer = ZERO
            acc = -ONE * speed
        top = F(MAX_SPEED)
        bottom = F(MIN_SPEED)
        if i == 0 and p.continuous != 0:  # ContinuousAction's speed_range sets the ego's bounds
            bottom = p.control_f[4]
            top = p.control_f[5]
        if speed > top:
            acc = wp.min(acc, ONE * (top - speed))
        elif speed < bottom:
            acc = wp.max(acc, ONE * (bottom - speed))
        # slip angle beta = atan(tan(steer) / 2); cos/sin of heading + beta by the sum formulas
        t = F(0.5) * steer
        cos_b = ONE / wp.sqrt(ONE + t * t)
        sin_b = t * cos_b
        h = v.heading[e, i]
        ch = v.cos_h[e, i]
        sh = v.sin_h[e, i]
        x = v.x[e, i] + speed * (ch * cos_b - sh * sin_b) * p.dt
        y = v.y[e, i] + speed * (sh * cos_b + ch * sin_b) * p.dt
        hit = v.has_impact[e, i]  # (a local: Warp re-reads an array condition after the branch)
        if hit:
            x = x + v.impact_x[e, i]
            y = y + v.impact_y[e, i]
            v.crashed[e, i] = True
            v.has_impact[e, i] = False
        v.x[e, i] = x
        v.y[e, i] = y
        v.heading[e, i] = h + speed * sin_b / (v.length[e, i] * HALF) * p.dt
        v.speed[e, i] = speed + acc * p.dt

    @wp.func(inline=True)
    def move_all(v: Vehicles, rd: Road, p: Params, ep: Episodes, e: int):
        """``road.step(dt)`` before collisions: every vehicle moves, then lanes and member lists."""
        for ln in range(rd.lf.shape[0]):
            v.mem_n[e, ln] = 0
        for i in range(v.x.shape[1]):  # a tight loop of its own: the CPU overlaps the vehicles
            kind = v.kind[e, i]
            if kind != ABSENT and kind != OBSTACLE:
                integrate(v, p, e, i)
        for r in range(v.x.shape[1]):  # by x (as last sorted): member lists come out nearly sorted
            i = v.order[e, r]
            kind = v.kind[e, i]
            if kind != ABSENT:
                refresh_vehicle(v, rd, ep, e, i, kind != OBSTACLE)
        sort_members(v, rd, e)

    return SimpleNamespace(
        refresh_vehicle=refresh_vehicle, refresh_all=refresh_all, sort_members=sort_members, neighbours=neighbours, lane_s=lane_s,
        desired_gap=desired_gap, acceleration=acceleration, free_acceleration=free_acceleration, next_lane=next_lane, follow_road=follow_road,
        mobil=mobil, change_lane_policy=change_lane_policy, steering_control=steering_control,
        speed_to_index=speed_to_index, meta_action=meta_action, continuous_action=continuous_action, act_all=act_all, integrate=integrate,
        move_all=move_all, is_vehicle=is_vehicle, fast_wrap_to_pi=fast_wrap_to_pi,
    )  # fmt: skip
