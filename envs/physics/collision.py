"""Collisions between vehicles and objects, as highway-env checks them after each sub-step.

highway-env tests every pair (vehicle i, later vehicle or object j): a distance pre-check, then the
separating-axis test of the two rectangles (``utils.are_polygons_intersecting``). Intersecting pairs
crash; a pair that *will* intersect within ``dt`` at constant velocity gets an impact (half the
minimal translation each, all of it against an obstacle) applied at the next sub-step. Here the slots
are kept sorted by x (insertion sort: the order barely changes between sub-steps) and only pairs
closer in x than any pre-check distance are tested; a slot keeps the impact of the pair that comes last
in highway-env's loop order, so the result does not depend on the sweep order.
"""

import functools
from types import SimpleNamespace

import warp as wp

from envs.physics import structs as st


@functools.cache
def collision_funcs(F: type) -> SimpleNamespace:  # noqa: N803
    S = st.make_structs(F)
    Vehicles, Params = S.Vehicles, S.Params
    V2 = wp.types.vector(2, F)
    V4 = wp.types.vector(4, F)
    ZERO, TWO, HALF = F(0.0), F(2.0), F(0.5)
    ABSENT, OBSTACLE = st.ABSENT, st.OBSTACLE
    CHECK, COLLIDABLE, SOLID = st.CHECK_COLLISIONS, st.COLLIDABLE, st.SOLID

    @wp.func(inline=True)
    def interval_distance(min_a: F, max_a: F, min_b: F, max_b: F) -> F:
        r = min_a - max_b
        if min_a < min_b:
            r = min_b - max_a
        return r

    @wp.func(inline=True)
    def half_extent(n: V2, c: F, s: F, hl: F, hw: F) -> F:
        """Half the length of a rectangle's projection on the unit axis n (heading cos c, sin s)."""
        return hl * wp.abs(n[0] * c + n[1] * s) + hw * wp.abs(-n[0] * s + n[1] * c)

    @wp.func
    def polygons_intersecting(v: Vehicles, p: Params, e: int, a: int, b: int) -> V4:
        """highway-env ``are_polygons_intersecting`` of slots a and b moving at velocity * dt:
        (intersecting, will intersect, translation x, translation y).

        highway-env tests the 4 edge normals of a's rectangle, then of b's, in its polygon's corner
        order: (-cos, -sin), (-sin, cos), (cos, sin), (sin, -cos). Opposite normals are not redundant:
        once the rectangles overlap, the interval distance (with a's displacement added on one side)
        differs between n and -n, and the smallest one sets the translation. Projections are centre
        +/- half extent."""
        ca = v.cos_h[e, a]
        sa = v.sin_h[e, a]
        cb = v.cos_h[e, b]
        sb = v.sin_h[e, b]
        hla = v.length[e, a] * HALF
        hwa = v.width[e, a] * HALF
        hlb = v.length[e, b] * HALF
        hwb = v.width[e, b] * HALF
        pa = V2(v.x[e, a], v.y[e, a])
        pb = V2(v.x[e, b], v.y[e, b])
        va = v.speed[e, a]
        vb = v.speed[e, b]
        disp = V2(va * ca * p.dt - vb * cb * p.dt, va * sa * p.dt - vb * sb * p.dt)
        centre = pa - pb
        intersecting = bool(True)
        will = bool(True)
        done = bool(False)
        min_distance = F(1.0e30)
        axis = V2(ZERO, ZERO)
        for k in range(8):
            c = ca
            s = sa
            if k >= 4:
                c = cb
                s = sb
            edge = k % 4
            n = V2(-c, -s)
            if edge == 1:
                n = V2(-s, c)
            elif edge == 2:
                n = V2(c, s)
            elif edge == 3:
                n = V2(s, -c)
            if not done:
                ea = half_extent(n, ca, sa, hla, hwa)
                eb = half_extent(n, cb, sb, hlb, hwb)
                min_a = wp.dot(pa, n) - ea
                max_a = wp.dot(pa, n) + ea
                min_b = wp.dot(pb, n) - eb
                max_b = wp.dot(pb, n) + eb
                if interval_distance(min_a, max_a, min_b, max_b) > ZERO:
                    intersecting = bool(False)
                vp = wp.dot(n, disp)
                if vp < ZERO:
                    min_a = min_a + vp
                else:
                    max_a = max_a + vp
                dist = interval_distance(min_a, max_a, min_b, max_b)
                if dist > ZERO:
                    will = bool(False)
                if not intersecting and not will:
                    done = bool(True)
                elif wp.abs(dist) < min_distance:
                    min_distance = wp.abs(dist)
                    if wp.dot(centre, n) > ZERO:
                        axis = n
                    else:
                        axis = -n
        out = V4(ZERO, ZERO, ZERO, ZERO)
        if intersecting:
            out[0] = F(1.0)
        if will:
            out[1] = F(1.0)
            out[2] = min_distance * axis[0]
            out[3] = min_distance * axis[1]
        return out

    @wp.func(inline=True)
    def set_impact(v: Vehicles, e: int, i: int, key: int, tx: F, ty: F):
        if key > v.ikey[e, i]:
            v.ikey[e, i] = key
            v.impact_x[e, i] = tx
            v.impact_y[e, i] = ty
            v.has_impact[e, i] = True

    @wp.func(inline=True)
    def near(v: Vehicles, p: Params, e: int, i: int, j: int) -> bool:
        """highway-env's checks before the polygon test: collision switches and the distance pre-check."""
        fi = v.flags[e, i]
        fj = v.flags[e, j]
        ok = bool(False)
        if ((fi | fj) & CHECK) != 0 and (fi & fj & COLLIDABLE) != 0:
            dx = v.x[e, j] - v.x[e, i]
            dy = v.y[e, j] - v.y[e, i]
            diag_i = wp.sqrt(v.length[e, i] * v.length[e, i] + v.width[e, i] * v.width[e, i])
            diag_j = wp.sqrt(v.length[e, j] * v.length[e, j] + v.width[e, j] * v.width[e, j])
            ok = wp.sqrt(dx * dx + dy * dy) <= (diag_i + diag_j) / TWO + v.speed[e, i] * p.dt
        return ok

    @wp.func(inline=True)
    def handle_pair(v: Vehicles, p: Params, e: int, i: int, j: int, key: int):
        """highway-env ``RoadObject.handle_collisions`` of slot i (a vehicle) with slot j, once ``near``;
        ``key`` orders the pair as highway-env's loop does (a later pair's impact wins)."""
        r = polygons_intersecting(v, p, e, i, j)
        solid = (v.flags[e, i] & v.flags[e, j] & SOLID) != 0
        if r[1] > ZERO and solid:
            if v.kind[e, j] == OBSTACLE:
                set_impact(v, e, i, key, r[2], r[3])
            elif v.kind[e, i] == OBSTACLE:
                set_impact(v, e, j, key, r[2], r[3])
            else:
                set_impact(v, e, i, key, r[2] / TWO, r[3] / TWO)
                set_impact(v, e, j, key, -r[2] / TWO, -r[3] / TWO)
        if r[0] > ZERO and solid:
            v.crashed[e, i] = True
            v.crashed[e, j] = True

    @wp.func(inline=True)
    def sort_by_x(v: Vehicles, e: int):
        """Insertion sort of ``order`` by x: linear when the previous order is almost right."""
        for r in range(1, v.x.shape[1]):
            k = v.order[e, r]
            xk = v.x[e, k]
            q = r - 1
            moving = bool(True)
            while moving:
                moving = bool(False)
                if q >= 0:
                    if v.x[e, v.order[e, q]] > xk:
                        v.order[e, q + 1] = v.order[e, q]
                        q = q - 1
                        moving = bool(True)
            v.order[e, q + 1] = k

    @wp.func(inline=True)
    def collide(v: Vehicles, p: Params, e: int):
        """Crash intersecting pairs, give pairs about to intersect their impacts (after ``move_all``)."""
        n = v.x.shape[1]
        sort_by_x(v, e)
        diag2 = F(0.0)  # no pre-check distance exceeds max diagonal + max |speed| * dt
        speed = F(0.0)
        top = int(0)  # the latest arrival: highway-env's loop runs over its list, in order of arrival
        for i in range(n):
            v.ikey[e, i] = -1
            if v.kind[e, i] != ABSENT:
                diag2 = wp.max(diag2, v.length[e, i] * v.length[e, i] + v.width[e, i] * v.width[e, i])
                speed = wp.max(speed, wp.abs(v.speed[e, i]))
                top = wp.max(top, v.born[e, i])
        span = n * (top + 1)  # rank(slot) = born * n + slot < span: the list order, ties by slot
        reach = wp.sqrt(diag2) + speed * p.dt
        for r in range(n):
            a = v.order[e, r]
            if v.kind[e, a] != ABSENT:
                q = r + 1
                scanning = bool(True)
                while scanning:
                    scanning = bool(False)
                    if q < n:
                        b = v.order[e, q]
                        if v.x[e, b] - v.x[e, a] <= reach:
                            scanning = bool(True)
                            q = q + 1
                            if v.kind[e, b] != ABSENT:
                                i = a
                                j = b
                                if v.born[e, b] * n + b < v.born[e, a] * n + a:
                                    i = b
                                    j = a
                                if v.kind[e, i] == OBSTACLE:  # highway-env's outer loop: vehicles
                                    k = i
                                    i = j
                                    j = k
                                if v.kind[e, i] != OBSTACLE and near(v, p, e, i, j):
                                    key = (v.born[e, i] * n + i) * span + v.born[e, j] * n + j
                                    handle_pair(v, p, e, i, j, key)

    return SimpleNamespace(collide=collide, polygons_intersecting=polygons_intersecting, sort_by_x=sort_by_x)
