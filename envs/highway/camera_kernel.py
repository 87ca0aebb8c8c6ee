"""The camera's rasteriser: one Warp thread per pixel, exact area coverage of lanes, lines and vehicles.

Every shape the camera draws is a convex quadrilateral near the pixel: a vehicle's rotated box, and, per
lane, the piece of its surface (or of a side line) between the lane coordinates ``s_c -/+ reach`` around
the pixel centre's ``s_c``, with corners from the kernels' own ``position`` function (straight lanes
exactly; sine and circular lanes by a chord a few metres long, off the true curve by millimetres). The
pixel is a rectangle, so the covered area of each quad is exact, by Green's theorem: the boundary of
``quad & pixel`` is the part of the quad's edges inside the pixel plus the part of the pixel's edges inside
the quad, each clipped in closed form (Liang-Barsky / Cyrus-Beck), no polygon buffers. Exact coverage is
anti-aliasing for free: sub-pixel positions stay visible, also in the coarse long-range columns.

Green's theorem counts an edge twice where a quad edge lies exactly on a pixel edge (a lane border on a
pixel row when the ego sits on a lane centre, which happens at every reset), so quads are shifted by
:data:`JITTER` (a millionth of a pixel area's worth of coverage) off the pixel grid.

The camera looks along the ego's lane at the ego's position (the lane's heading there): on the straight
highway the image axes are the world's, on curved roads the view turns with the road. A lane table's
bounding circles (``envs/road/network.py``) skip lanes far from the pixel.
"""

import functools
import math
from types import SimpleNamespace

import warp as wp

from envs.physics import structs as st
from envs.physics.traffic import MAX_SPEED
from envs.road import network as rn
from envs.road.lanes import lane_funcs

LINE_WIDTH = 0.3  # [m] painted lane lines
JITTER = (1.0e-4, 0.7e-4)  # [m] quads' offset off the pixel grid (see the module docstring)
HUD_HEADING_RANGE = math.pi / 4  # [rad] the heading bar spans +/- this from its centre
HUD_ODOMETER_RANGE = 200.0  # [m] the odometer bar is full at this x (Kinematics' ego x saturates there)
# palette rows (``palette[layer, channel]``)
OFFROAD, ROAD, LINE, VEHICLE, EGO, HUD = range(6)


@functools.cache
def coverage_funcs(F: type) -> SimpleNamespace:  # noqa: N803 - the simulator's float type
    L = lane_funcs(F)
    V2 = wp.types.vector(2, F)
    A2 = wp.array2d(dtype=F)
    I2 = wp.array2d(dtype=wp.int32)
    position = L.position
    ZERO, ONE, HALF = F(0.0), F(1.0), F(0.5)
    JX, JY = F(JITTER[0]), F(JITTER[1])

    @wp.func
    def clip_t(p: F, q: F, t: V2) -> V2:
        """Liang-Barsky: restrict the parameter interval ``t`` to ``p * t <= q`` (empty when t0 > t1)."""
        out = t
        if p == ZERO:
            if q < ZERO:
                out = V2(ONE, ZERO)
        elif p < ZERO:
            out = V2(wp.max(t[0], q / p), t[1])
        else:
            out = V2(t[0], wp.min(t[1], q / p))
        return out

    @wp.func
    def piece(a: V2, d: V2, t: V2) -> F:
        """Green's-theorem term ``(x dy - y dx) / 2`` of the segment ``a + [t0, t1] d`` (0 if empty)."""
        out = ZERO
        if t[0] < t[1]:
            p0 = a + t[0] * d
            p1 = a + t[1] * d
            out = HALF * (p0[0] * p1[1] - p1[0] * p0[1])
        return out

    @wp.func
    def edge_in_pixel(a: V2, b: V2, hx: F, hy: F) -> F:
        """The term of the part of segment a->b inside the pixel ``[-hx, hx] x [-hy, hy]``."""
        d = b - a
        t = V2(ZERO, ONE)
        t = clip_t(-d[0], a[0] + hx, t)
        t = clip_t(d[0], hx - a[0], t)
        t = clip_t(-d[1], a[1] + hy, t)
        t = clip_t(d[1], hy - a[1], t)
        return piece(a, d, t)

    @wp.func
    def inside_edge(a: V2, d: V2, e: V2, f: V2, t: V2) -> V2:
        """Restrict ``a + t d`` to the left of the directed edge e->f (a counter-clockwise quad's inside)."""
        n = V2(e[1] - f[1], f[0] - e[0])
        return clip_t(-wp.dot(n, d), wp.dot(n, a - e), t)

    @wp.func
    def edge_in_quad(a: V2, b: V2, q0: V2, q1: V2, q2: V2, q3: V2) -> F:
        d = b - a
        t = V2(ZERO, ONE)
        t = inside_edge(a, d, q0, q1, t)
        t = inside_edge(a, d, q1, q2, t)
        t = inside_edge(a, d, q2, q3, t)
        t = inside_edge(a, d, q3, q0, t)
        return piece(a, d, t)

    @wp.func
    def coverage(q0: V2, q1: V2, q2: V2, q3: V2, hx: F, hy: F) -> F:
        """Fraction of the pixel ``[-hx, hx] x [-hy, hy]`` covered by the counter-clockwise quad q0..q3."""
        j = V2(JX, JY)
        a0 = q0 + j
        a1 = q1 + j
        a2 = q2 + j
        a3 = q3 + j
        area = edge_in_pixel(a0, a1, hx, hy) + edge_in_pixel(a1, a2, hx, hy)
        area += edge_in_pixel(a2, a3, hx, hy) + edge_in_pixel(a3, a0, hx, hy)
        c0 = V2(-hx, -hy)
        c1 = V2(hx, -hy)
        c2 = V2(hx, hy)
        c3 = V2(-hx, hy)
        area += edge_in_quad(c0, c1, a0, a1, a2, a3) + edge_in_quad(c1, c2, a0, a1, a2, a3)
        area += edge_in_quad(c2, c3, a0, a1, a2, a3) + edge_in_quad(c3, c0, a0, a1, a2, a3)
        return wp.clamp(area / (F(4.0) * hx * hy), ZERO, ONE)

    @wp.func
    def to_pixel(p: V2, origin: V2, cs: F, sn: F, centre: V2) -> V2:
        """A world point in the camera frame (x along the view, y to its left), relative to a pixel centre."""
        d = p - origin
        return V2(cs * d[0] + sn * d[1], -sn * d[0] + cs * d[1]) - centre

    @wp.func
    def strip(
        lf: A2, li: I2, ln: int, sa: F, sb: F, r0: F, r1: F, origin: V2, cs: F, sn: F, centre: V2,
        hx: F, hy: F,
    ) -> F:  # fmt: skip
        """Coverage of the lane piece ``s in [sa, sb], r in [r0, r1]`` (lateral r to the lane's left)."""
        q0 = to_pixel(position(lf, li, ln, sa, r0), origin, cs, sn, centre)
        q1 = to_pixel(position(lf, li, ln, sb, r0), origin, cs, sn, centre)
        q2 = to_pixel(position(lf, li, ln, sb, r1), origin, cs, sn, centre)
        q3 = to_pixel(position(lf, li, ln, sa, r1), origin, cs, sn, centre)
        return coverage(q0, q1, q2, q3, hx, hy)

    @wp.func
    def bar(c: int, lo: F, hi: F) -> F:
        """Coverage of HUD column c by the bar [lo, hi] (in columns)."""
        return wp.max(wp.min(hi, F(c + 1)) - wp.max(lo, F(c)), ZERO)

    return SimpleNamespace(coverage=coverage, to_pixel=to_pixel, strip=strip, bar=bar)


@functools.cache
def camera_kernel(F: type):  # noqa: N803 - the simulator's float type
    L = lane_funcs(F)
    C = coverage_funcs(F)
    V2 = wp.types.vector(2, F)
    V3 = wp.types.vector(3, F)
    A2 = wp.array2d(dtype=F)
    I2 = wp.array2d(dtype=wp.int32)
    local_coordinates, heading_at = L.local_coordinates, L.heading_at
    coverage, to_pixel, strip, bar = C.coverage, C.to_pixel, C.strip, C.bar
    WIDTH, LENGTH, BCX, BCY, BR = rn.WIDTH, rn.LENGTH, rn.BCX, rn.BCY, rn.BR
    ABSENT = st.ABSENT
    ZERO, ONE, HALF = F(0.0), F(1.0), F(0.5)
    LW2 = F(LINE_WIDTH / 2)
    SPEED_RANGE = F(MAX_SPEED)
    HEAD_RANGE = F(HUD_HEADING_RANGE)
    ODO_RANGE = F(HUD_ODOMETER_RANGE)
    PI, TWO_PI = F(math.pi), F(2 * math.pi)

    @wp.func
    def hud_colour(
        palette: wp.array2d(dtype=wp.float32), k: int, c: int, w: int, speed: F, rel: F, ox: F
    ) -> V3:
        """Dashboard row k, column c: bars of the speed, the heading relative to the view, the x."""
        fw = F(w)
        lo = F(0.0)
        hi = F(0.0)
        if k == 0:
            hi = wp.clamp(speed / SPEED_RANGE, ZERO, ONE) * fw
        elif k == 1:
            wrapped = rel - TWO_PI * wp.floor((rel + PI) / TWO_PI)
            tip = fw * HALF + wp.clamp(wrapped / HEAD_RANGE, -ONE, ONE) * fw * HALF
            lo = wp.min(fw * HALF, tip)
            hi = wp.max(fw * HALF, tip)
        else:
            hi = wp.clamp(ox / ODO_RANGE, ZERO, ONE) * fw
        fill = bar(c, lo, hi)
        return fill * V3(F(palette[HUD, 0]), F(palette[HUD, 1]), F(palette[HUD, 2]))

    @wp.func
    def scene_colour(
        lf: A2, li: I2, lines: I2, x: A2, y: A2, heading: A2, length: A2, width: A2, kind: I2,
        palette: wp.array2d(dtype=wp.float32), e: int, x0: F, x1: F, y0: F, y1: F, origin: V2, theta: F,
    ) -> V3:  # fmt: skip
        """The pixel [x0, x1] x [y0, y1] of the camera frame: ground, lanes, lines, then vehicles."""
        cs = wp.cos(theta)
        sn = wp.sin(theta)
        hx = HALF * (x1 - x0)
        hy = HALF * (y1 - y0)
        centre = V2(HALF * (x0 + x1), HALF * (y0 + y1))
        reach = wp.sqrt(hx * hx + hy * hy)  # the pixel's half diagonal
        world = origin + V2(cs * centre[0] - sn * centre[1], sn * centre[0] + cs * centre[1])
        road = F(0.0)
        paint_line = F(0.0)
        for ln in range(lf.shape[0]):
            half_w = HALF * lf[ln, WIDTH]
            if wp.length(world - V2(lf[ln, BCX], lf[ln, BCY])) - lf[ln, BR] > half_w + LW2 + reach:
                continue
            lc = local_coordinates(lf, li, ln, world[0], world[1])
            span = F(2.0) * reach + ONE
            if lc[0] < -span or lc[0] > lf[ln, LENGTH] + span:
                continue
            # the pixel's half extent across the lane (exact for straight lanes; curves and sine slants
            # stretch lane coordinates a little, hence 10% of the half diagonal on top)
            phi = heading_at(lf, li, ln, lc[0]) - theta
            margin = hx * wp.abs(wp.sin(phi)) + hy * wp.abs(wp.cos(phi)) + F(0.1) * reach
            if wp.abs(lc[1]) > half_w + LW2 + margin:
                continue
            sa = wp.max(lc[0] - span, ZERO)
            sb = wp.min(lc[0] + span, lf[ln, LENGTH])
            if sb <= sa:
                continue
            if wp.abs(lc[1]) + margin <= half_w and sa + reach <= lc[0] and lc[0] + reach <= sb:
                road += ONE  # the pixel lies inside the lane: no edge crosses it
            else:
                road += strip(lf, li, ln, sa, sb, -half_w, half_w, origin, cs, sn, centre, hx, hy)
            for side in range(2):
                at = F(2 * side - 1) * half_w  # side 0 at lateral -width/2, side 1 at +width/2
                if lines[ln, side] != 0 and wp.abs(lc[1] - at) <= LW2 + margin:
                    paint_line += strip(
                        lf, li, ln, sa, sb, at - LW2, at + LW2, origin, cs, sn, centre, hx, hy
                    )
        road = wp.min(road, ONE)
        paint_line = wp.min(paint_line, ONE)
        alpha = F(0.0)
        paint = V3()
        for j in range(x.shape[1]):
            if kind[e, j] == ABSENT:
                continue
            body = V2(x[e, j], y[e, j])
            hl = HALF * length[e, j]
            hw = HALF * width[e, j]
            gap = body - world
            if wp.dot(gap, gap) > (reach + hl + hw) * (reach + hl + hw):  # beyond the box's circle
                continue
            mid = to_pixel(body, origin, cs, sn, centre)
            rel = heading[e, j] - theta
            u = V2(wp.cos(rel), wp.sin(rel))
            v = V2(-u[1], u[0])
            cov = coverage(
                mid + hl * u - hw * v,
                mid + hl * u + hw * v,
                mid - hl * u + hw * v,
                mid - hl * u - hw * v,
                hx,
                hy,
            )
            alpha += cov
            layer = int(VEHICLE)
            if j == 0:
                layer = EGO
            paint += cov * V3(F(palette[layer, 0]), F(palette[layer, 1]), F(palette[layer, 2]))
        alpha = wp.min(alpha, ONE)
        out = V3()
        for ch in range(3):
            background = F(palette[OFFROAD, ch]) + road * F(palette[ROAD, ch] - palette[OFFROAD, ch])
            background += (F(palette[LINE, ch]) - background) * paint_line
            out[ch] = background * (ONE - alpha) + wp.min(paint[ch], F(255.0))
        return out

    @wp.kernel(enable_backward=False)
    def camera(
        lf: A2, li: I2, lines: I2, x: A2, y: A2, heading: A2, speed: A2, length: A2, width: A2, kind: I2,
        lane: I2, xe: wp.array(dtype=F), ye: wp.array(dtype=F), palette: wp.array2d(dtype=wp.float32),
        hud_rows: int, pose: wp.array2d(dtype=wp.float64), frames: wp.array4d(dtype=wp.uint8),
    ):  # fmt: skip
        e, r, c = wp.tid()
        h = frames.shape[2]
        origin = V2(x[e, 0], y[e, 0])
        ego_lane = lane[e, 0]
        s_ego = local_coordinates(lf, li, ego_lane, origin[0], origin[1])[0]
        theta = heading_at(lf, li, ego_lane, s_ego)
        if r == 0 and c == 0:
            pose[e, 0] = wp.float64(origin[0])
            pose[e, 1] = wp.float64(origin[1])
            pose[e, 2] = wp.float64(theta)
        colour = V3()
        if r >= h - hud_rows:
            k = r - (h - hud_rows)
            colour = hud_colour(palette, k, c, frames.shape[3], speed[e, 0], heading[e, 0] - theta, origin[0])
        else:
            colour = scene_colour(
                lf,
                li,
                lines,
                x,
                y,
                heading,
                length,
                width,
                kind,
                palette,
                e,
                xe[c],
                xe[c + 1],
                ye[r],
                ye[r + 1],
                origin,
                theta,
            )
        for ch in range(frames.shape[1]):
            frames[e, ch, r, c] = wp.uint8(wp.clamp(colour[ch] + HALF, ZERO, F(255.0)))

    return camera
