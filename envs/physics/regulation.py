"""Right of way at junctions: highway-env's ``RegulatedRoad``, and the physics sub-step that runs it.

A regulated road (``Params.regulation`` > 0, intersection-v0's) checks every ``regulation`` sub-steps,
after ``road.act()`` and before the vehicles move (``RegulatedRoad.step``), which pairs of vehicles may
collide within the next 3 s if both kept their speed along their routes, and stops the one that must
give way (``enforce_road_rules``):

- every vehicle's pose is predicted at t = 0.25, 0.5, ..., 2.75 s along its route
  (``predict_trajectory_constant_speed`` / ``position_heading_along_route``), into ``Vehicles.pred``;
- a pair conflicts at the first t where the centres are within the first vehicle's length and the
  rectangles (1.5 x length, 0.9 x width) intersect (``rotated_rectangles_intersect``: a corner, edge
  midpoint or centre of one inside the other, with highway-env's rotation convention);
- the vehicle on the lower-priority lane yields, or on equal priority the one behind; only IDM
  vehicles yield (the controlled vehicle never does): their cruise speed becomes 0;
- yielding vehicles are released at the next check (highway-env's ``YIELD_DURATION`` is 0): their
  cruise speed becomes their lane's speed limit, and the check may stop them again.

``substep`` is one physics sub-step, ``road.act()`` then ``road.step(dt)``, as the fused kernel and a
world's warm-up (intersection-v0 simulates its traffic before the ego arrives) both run it.
"""

import functools
from types import SimpleNamespace

import warp as wp

from envs.physics import structs as st
from envs.physics.collision import collision_funcs
from envs.physics.traffic import traffic_funcs
from envs.road import network as rn
from envs.road.lanes import lane_funcs

PREDICTION_STEP, PREDICTION_HORIZON = 0.25, 3.0  # [s] highway-env's is_conflict_possible defaults
PREDICTIONS = 11  # len(np.arange(0.25, 3, 0.25))
PRED_SIZE = 3 * PREDICTIONS  # per vehicle: (x, y, heading) at each predicted time
CONFLICT_LENGTH, CONFLICT_WIDTH = 1.5, 0.9  # the conflict rectangles, relative to the vehicle's size


@functools.cache
def regulation_funcs(F: type) -> SimpleNamespace:  # noqa: N803 - the kernels' float type
    S = st.make_structs(F)
    L = lane_funcs(F)
    T = traffic_funcs(F)
    C = collision_funcs(F)
    Vehicles, Episodes, Road, Params = S.Vehicles, S.Episodes, S.Road, S.Params
    position, heading_at = L.position, L.heading_at
    LENGTH, SPEED_LIMIT, LANE_ID, PRIORITY = rn.LENGTH, rn.SPEED_LIMIT, rn.LANE_ID, rn.PRIORITY
    CONTROLLED, IDM = st.CONTROLLED, st.IDM
    ZERO, HALF = F(0.0), F(0.5)
    STEP = F(PREDICTION_STEP)
    LONG, WIDE = F(CONFLICT_LENGTH), F(CONFLICT_WIDTH)
    # the 9 points of highway-env's rect_corners(include_midpoints=True, include_center=True), in units
    # of (half length, half width)
    POINT_L = wp.constant(wp.types.vector(9, F)(*[F(a) for a in (-1, -1, 1, 1, 0, -1, 1, 0, 0)]))
    POINT_W = wp.constant(wp.types.vector(9, F)(*[F(a) for a in (-1, 1, 1, -1, 0, 0, 0, -1, 1)]))

    @wp.func(inline=True)
    def regulated(v: Vehicles, e: int, i: int) -> bool:
        k = v.kind[e, i]
        return k == CONTROLLED or k == IDM

    @wp.func
    def route_lane_row(v: Vehicles, rd: Road, e: int, i: int, m: int) -> int:
        """The lane of route entry m: its lane id, or (any lane) the vehicle's current lane id
        (``_get_route_head_with_id``; a road with fewer lanes falls back to its lane 0)."""
        road = v.route_road[e, i, m]
        lane_id = v.route_lane[e, i, m]
        if lane_id < 0:
            lane_id = rd.li[v.lane[e, i], LANE_ID]
            if lane_id >= rd.road_lanes[road]:
                lane_id = 0
        return rd.road_first[road] + lane_id

    @wp.func
    def predict(v: Vehicles, rd: Road, e: int, i: int):
        """Vehicle i's poses along its route at constant speed, at each predicted time, into ``pred``."""
        head = v.route_head[e, i]
        count = v.route_len[e, i]
        for k in range(PREDICTIONS):
            s = v.s_own[e, i] + v.speed[e, i] * (STEP * F(k + 1))
            ln = v.lane[e, i]  # no route: the current lane
            if count > 0:
                m = int(0)
                ln = route_lane_row(v, rd, e, i, head)
                while count - m > 1 and s > rd.lf[ln, LENGTH]:
                    s = s - rd.lf[ln, LENGTH]
                    m = m + 1
                    ln = route_lane_row(v, rd, e, i, head + m)
            pos = position(rd.lf, rd.li, ln, s, ZERO)
            v.pred[e, i, 3 * k] = pos[0]
            v.pred[e, i, 3 * k + 1] = pos[1]
            v.pred[e, i, 3 * k + 2] = heading_at(rd.lf, rd.li, ln, s)

    @wp.func
    def corner_inside(
        ax: F, ay: F, ah: F, al: F, aw: F, bx: F, by: F, bh: F, bl: F, bw: F
    ) -> bool:  # fmt: skip
        """``has_corner_inside(a, b)``: one of a's 9 points inside b (``point_in_rotated_rectangle``,
        which rotates by +angle, as highway-env does)."""
        ca = wp.cos(ah)
        sa = wp.sin(ah)
        cb = wp.cos(bh)
        sb = wp.sin(bh)
        inside = bool(False)
        for k in range(9):
            px = POINT_L[k] * al * HALF
            py = POINT_W[k] * aw * HALF
            qx = ax + ca * px - sa * py - bx
            qy = ay + sa * px + ca * py - by
            ux = cb * qx - sb * qy
            uy = sb * qx + cb * qy
            if -bl * HALF <= ux and ux <= bl * HALF and -bw * HALF <= uy and uy <= bw * HALF:
                inside = True
        return inside

    @wp.func
    def conflict(v: Vehicles, e: int, i: int, j: int) -> bool:
        """``is_conflict_possible(i, j)`` on the predicted poses."""
        found = bool(False)
        li = v.length[e, i]
        for k in range(PREDICTIONS):
            if not found:
                xi = v.pred[e, i, 3 * k]
                yi = v.pred[e, i, 3 * k + 1]
                xj = v.pred[e, j, 3 * k]
                yj = v.pred[e, j, 3 * k + 1]
                dx = xj - xi
                dy = yj - yi
                if wp.sqrt(dx * dx + dy * dy) <= li:
                    hi = v.pred[e, i, 3 * k + 2]
                    hj = v.pred[e, j, 3 * k + 2]
                    al = LONG * li
                    aw = WIDE * v.width[e, i]
                    bl = LONG * v.length[e, j]
                    bw = WIDE * v.width[e, j]
                    if corner_inside(xi, yi, hi, al, aw, xj, yj, hj, bl, bw) or corner_inside(
                        xj, yj, hj, bl, bw, xi, yi, hi, al, aw
                    ):
                        found = True
        return found

    @wp.func
    def give_way(v: Vehicles, rd: Road, e: int, a: int, b: int) -> int:
        """``respect_priorities(v1, v2)``: the slot that yields, by lane priority, else the one behind
        (v1 on a tie: v1 is the one that came on the road first, as in highway-env's vehicle list)."""
        i = a
        j = b
        if v.born[e, b] < v.born[e, a]:
            i = b
            j = a
        pi = rd.li[v.lane[e, i], PRIORITY]
        pj = rd.li[v.lane[e, j], PRIORITY]
        out = j
        if pi < pj:
            out = i
        elif pi == pj:
            dx = v.x[e, j] - v.x[e, i]
            dy = v.y[e, j] - v.y[e, i]
            front_i = v.cos_h[e, i] * dx + v.sin_h[e, i] * dy  # i.front_distance_to(j)
            front_j = -(v.cos_h[e, j] * dx + v.sin_h[e, j] * dy)  # j.front_distance_to(i)
            if front_i > front_j:
                out = i
        return out

    @wp.func
    def regulate(v: Vehicles, rd: Road, e: int):
        """``RegulatedRoad.enforce_road_rules``: release the yielding vehicles, then stop new ones."""
        n = v.x.shape[1]
        for i in range(n):
            if v.yielding[e, i]:
                v.target_speed[e, i] = rd.lf[v.lane[e, i], SPEED_LIMIT]
                v.yielding[e, i] = False
            if regulated(v, e, i):
                predict(v, rd, e, i)
        for i in range(n):
            if regulated(v, e, i):
                for j in range(i + 1, n):
                    if regulated(v, e, j):
                        if conflict(v, e, i, j):
                            y = give_way(v, rd, e, i, j)
                            if v.kind[e, y] == IDM:
                                v.target_speed[e, y] = ZERO
                                v.yielding[e, y] = True

    @wp.func(inline=True)
    def substep(v: Vehicles, ep: Episodes, rd: Road, p: Params, e: int):
        """One physics sub-step: ``road.act()``, the right-of-way check when due, ``road.step(dt)``."""
        T.act_all(v, rd, p, ep, e)
        ep.road_steps[e] = ep.road_steps[e] + 1
        if p.regulation > 0:
            if ep.road_steps[e] % p.regulation == 0:
                regulate(v, rd, e)
        T.move_all(v, rd, p, ep, e)
        C.collide(v, p, e)

    return SimpleNamespace(regulate=regulate, substep=substep, predict=predict, conflict=conflict)
