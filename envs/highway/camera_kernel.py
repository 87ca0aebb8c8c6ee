"""The camera's rasteriser: a cull pass per image row, then one Warp thread per pixel.

Lanes and painted lines: each pixel takes its centre's lane coordinates (the kernels' own
``local_coordinates``) on every lane near it, and the pixel's half extents across and along the lane
(from the lane's direction in the view); the covered fraction is that footprint against the lane's
strip ``|r| <= width / 2`` (or a line's ``|r -/+ width / 2| <= 0.15 m``) and its ends, per axis. On a
straight lane along the view (the highway) this is the exact area coverage; on curved or slanted lanes it
is the usual box-filter estimate. Cheap tests (bounding circle, a ring's annulus, a straight lane's band)
skip the lanes far from the pixel.

Vehicles: every box is a convex quadrilateral, drawn with its heading; the pixel is a rectangle, so the
covered area is exact, by Green's theorem: the boundary of ``box & pixel`` is the part of the box's
edges inside the pixel plus the part of the pixel's edges inside the box, each clipped in closed form
(Liang-Barsky / Cyrus-Beck), no polygon buffers. Green's theorem counts an edge twice where a box edge
lies exactly on a pixel edge (a vehicle centred on a lane when the ego is too, as at every reset), so
boxes are shifted by :data:`JITTER` (a ten-thousandth of a pixel's area at most) off the pixel grid.
The cull pass lists, per image row, the vehicles whose box reaches into it, so a pixel tests a few.

Exact coverage is anti-aliasing for free: sub-pixel positions stay visible, also in the coarse
long-range columns. The view looks along the ego's lane at the ego's position (the lane's heading there,
written to ``pose`` with the ego's x, y by the cull pass): on the straight highway the image axes are
the world's, on curved roads the view turns with the road.
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
    heading_at = L.heading_at
    ZERO, ONE, HALF = F(0.0), F(1.0), F(0.5)
    JX, JY = F(JITTER[0]), F(JITTER[1])
    DX, DY, CX, CY, CDIR, KIND = rn.DX, rn.DY, rn.CX, rn.CY, rn.CDIR, rn.KIND
    CIRCULAR, SINE = rn.CIRCULAR, rn.SINE

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
    def box(c: F, e: F, lo: F, hi: F) -> F:
        """Fraction of the interval [c - e, c + e] inside [lo, hi] (a pixel's extent against a strip)."""
        return wp.max(wp.min(hi, c + e) - wp.max(lo, c - e), ZERO) / (F(2.0) * e)

    @wp.func
    def lane_tangent(lf: A2, li: I2, ln: int, s: F, p: V2) -> V2:
        """Unit direction of lane ln at longitudinal s (p: the point, for circular lanes)."""
        out = V2(lf[ln, DX], lf[ln, DY])
        if li[ln, KIND] == CIRCULAR:
            u = wp.normalize(p - V2(lf[ln, CX], lf[ln, CY]))
            out = lf[ln, CDIR] * V2(-u[1], u[0])
        elif li[ln, KIND] == SINE:
            h = heading_at(lf, li, ln, s)
            out = V2(wp.cos(h), wp.sin(h))
        return out

    @wp.func
    def bar(c: int, lo: F, hi: F) -> F:
        """Coverage of HUD column c by the bar [lo, hi] (in columns)."""
        return wp.max(wp.min(hi, F(c + 1)) - wp.max(lo, F(c)), ZERO)

    return SimpleNamespace(coverage=coverage, to_pixel=to_pixel, box=box, lane_tangent=lane_tangent, bar=bar)


@functools.cache
def camera_kernels(F: type) -> SimpleNamespace:  # noqa: N803 - the simulator's float type
    L = lane_funcs(F)
    C = coverage_funcs(F)
    V2 = wp.types.vector(2, F)
    V3 = wp.types.vector(3, F)
    A2 = wp.array2d(dtype=F)
    I2 = wp.array2d(dtype=wp.int32)
    I3 = wp.array3d(dtype=wp.int32)
    local_coordinates, heading_at = L.local_coordinates, L.heading_at
    coverage, to_pixel, box, bar, lane_tangent = C.coverage, C.to_pixel, C.box, C.bar, C.lane_tangent
    WIDTH, LENGTH, BCX, BCY, BR = rn.WIDTH, rn.LENGTH, rn.BCX, rn.BCY, rn.BR
    KIND, CIRCULAR, CX, CY, RADIUS = rn.KIND, rn.CIRCULAR, rn.CX, rn.CY, rn.RADIUS
    SX, SY, DX, DY, LX, LY, AMPLITUDE = rn.SX, rn.SY, rn.DX, rn.DY, rn.LX, rn.LY, rn.AMPLITUDE
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
        lf: A2, li: I2, lines: I2, x: A2, y: A2, heading: A2, length: A2, width: A2, row_n: I2,
        row_j: I3, palette: wp.array2d(dtype=wp.float32), e: int, r: int, x0: F, x1: F, y0: F, y1: F,
        origin: V2, theta: F,
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
            gap = V2(lf[ln, BCX], lf[ln, BCY]) - world
            bound = lf[ln, BR] + half_w + LW2 + reach
            if wp.dot(gap, gap) > bound * bound:  # beyond the lane's bounding circle
                continue
            if li[ln, KIND] == CIRCULAR:  # outside the ring's annulus: no need for the angle
                radial = wp.length(world - V2(lf[ln, CX], lf[ln, CY])) - lf[ln, RADIUS]
                if wp.abs(radial) > half_w + LW2 + reach:
                    continue
            else:  # outside the straight band that holds the lane (a sine swings by its amplitude)
                offset = world - V2(lf[ln, SX], lf[ln, SY])
                s_base = wp.dot(offset, V2(lf[ln, DX], lf[ln, DY]))
                r_base = wp.dot(offset, V2(lf[ln, LX], lf[ln, LY]))
                if wp.abs(r_base) > wp.abs(lf[ln, AMPLITUDE]) + half_w + LW2 + reach:
                    continue
                if s_base < -reach or s_base > lf[ln, LENGTH] + reach:
                    continue
            lc = local_coordinates(lf, li, ln, world[0], world[1])
            t = lane_tangent(lf, li, ln, lc[0], world)
            c_phi = t[0] * cs + t[1] * sn  # the lane's direction in the view
            s_phi = t[1] * cs - t[0] * sn
            across = hx * wp.abs(s_phi) + hy * wp.abs(c_phi)  # the pixel's half extents across and
            along = hx * wp.abs(c_phi) + hy * wp.abs(s_phi)  # along the lane
            if wp.abs(lc[1]) - across > half_w + LW2:
                continue
            ends = box(lc[0], along, ZERO, lf[ln, LENGTH])
            if ends <= ZERO:
                continue
            road += box(lc[1], across, -half_w, half_w) * ends
            for side in range(2):
                at = F(2 * side - 1) * half_w  # side 0 at lateral -width/2, side 1 at +width/2
                if lines[ln, side] != 0:
                    paint_line += box(lc[1], across, at - LW2, at + LW2) * ends
        road = wp.min(road, ONE)
        paint_line = wp.min(paint_line, ONE)
        alpha = F(0.0)
        paint = V3()
        for k in range(row_n[e, r]):  # the vehicles that reach into this row (see ``cull``)
            j = row_j[e, r, k]
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
    def cull(
        lf: A2, li: I2, x: A2, y: A2, heading: A2, length: A2, width: A2, kind: I2, lane: I2,
        ye: wp.array(dtype=F), pose: wp.array2d(dtype=wp.float64), row_n: I2, row_j: I3,
    ):  # fmt: skip
        """Per (env, image row): the view's pose (row 0 writes it), and the vehicles whose box reaches
        into the row, so that a pixel tests a few vehicles instead of every slot."""
        e, r = wp.tid()
        origin = V2(x[e, 0], y[e, 0])
        ego_lane = lane[e, 0]
        theta = heading_at(lf, li, ego_lane, local_coordinates(lf, li, ego_lane, origin[0], origin[1])[0])
        if r == 0:
            pose[e, 0] = wp.float64(origin[0])
            pose[e, 1] = wp.float64(origin[1])
            pose[e, 2] = wp.float64(theta)
        cs = wp.cos(theta)
        sn = wp.sin(theta)
        n = int(0)
        if r < ye.shape[0] - 1:
            for j in range(x.shape[1]):
                if kind[e, j] == ABSENT:
                    continue
                mid = to_pixel(V2(x[e, j], y[e, j]), origin, cs, sn, V2(ZERO, ZERO))
                rel = heading[e, j] - theta
                reach = HALF * (wp.abs(wp.sin(rel)) * length[e, j] + wp.abs(wp.cos(rel)) * width[e, j])
                if mid[1] + reach >= ye[r] and mid[1] - reach <= ye[r + 1]:
                    row_j[e, r, n] = j
                    n += 1
        row_n[e, r] = n

    @wp.kernel(enable_backward=False)
    def camera(
        lf: A2, li: I2, lines: I2, x: A2, y: A2, heading: A2, speed: A2, length: A2, width: A2,
        xe: wp.array(dtype=F), ye: wp.array(dtype=F), palette: wp.array2d(dtype=wp.float32),
        hud_rows: int, pose: wp.array2d(dtype=wp.float64), row_n: I2, row_j: I3,
        frames: wp.array4d(dtype=wp.uint8),
    ):  # fmt: skip
        e, r, c = wp.tid()
        h = frames.shape[2]
        origin = V2(F(pose[e, 0]), F(pose[e, 1]))
        theta = F(pose[e, 2])
        colour = V3()
        if r >= h - hud_rows:
            k = r - (h - hud_rows)
            colour = hud_colour(palette, k, c, frames.shape[3], speed[e, 0], heading[e, 0] - theta, origin[0])
        else:
            colour = scene_colour(
                lf, li, lines, x, y, heading, length, width, row_n, row_j, palette, e, r, xe[c], xe[c + 1],
                ye[r], ye[r + 1], origin, theta,
            )  # fmt: skip
        for ch in range(frames.shape[1]):
            frames[e, ch, r, c] = wp.uint8(wp.clamp(colour[ch] + HALF, ZERO, F(255.0)))

    return SimpleNamespace(cull=cull, camera=camera)
