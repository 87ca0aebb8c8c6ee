"""Lane geometry as Warp functions over the lane table: highway-env's ``road/lane.py``, one row per lane.

``lane_funcs(F)`` builds the functions for one float type (``wp.float32`` or ``wp.float64``): the same
source serves both precisions and both devices. Every function takes the lane table ``lf`` (floats) /
``li`` (ints) and a lane row ``ln`` and dispatches on the lane kind; formulas and operation order follow
highway-env's ``StraightLane``, ``SineLane`` and ``CircularLane`` (tested against them to 1e-9 in float64).
"""

import functools
import math
from types import SimpleNamespace

import warp as wp

from envs.road import network as rn


@functools.cache
def lane_funcs(F: type) -> SimpleNamespace:  # noqa: N803 - F is the float type, as in Warp's docs
    V2 = wp.types.vector(2, F)
    LF = wp.array2d(dtype=F)
    LI = wp.array2d(dtype=wp.int32)
    PI = F(math.pi)
    TWO_PI = F(2.0 * math.pi)
    HALF_PI = F(math.pi / 2.0)
    VEHICLE_LENGTH = F(rn.VEHICLE_LENGTH)
    SX, SY, DX, DY, LX, LY = rn.SX, rn.SY, rn.DX, rn.DY, rn.LX, rn.LY
    HEADING, LENGTH, WIDTH, AMPLITUDE, PULSATION, PHASE = (
        rn.HEADING, rn.LENGTH, rn.WIDTH, rn.AMPLITUDE, rn.PULSATION, rn.PHASE,
    )  # fmt: skip
    CX, CY, RADIUS, START_PHASE, CDIR = rn.CX, rn.CY, rn.RADIUS, rn.START_PHASE, rn.CDIR
    KIND, FORBIDDEN = rn.KIND, rn.FORBIDDEN
    SINE, CIRCULAR = rn.SINE, rn.CIRCULAR

    @wp.func
    def py_mod(a: F, b: F) -> F:
        """Python's float ``a % b`` (the result takes b's sign), not C's fmod."""
        m = wp.mod(a, b)
        if m != F(0.0):
            if (b < F(0.0)) != (m < F(0.0)):
                m = m + b
        return m

    @wp.func
    def wrap_to_pi(a: F) -> F:
        return py_mod(a + PI, TWO_PI) - PI

    @wp.func
    def not_zero(v: F) -> F:
        r = v
        if wp.abs(v) <= F(0.01):
            if v >= F(0.0):
                r = F(0.01)
            else:
                r = F(-0.01)
        return r

    @wp.func
    def local_coordinates(lf: LF, li: LI, ln: int, x: F, y: F) -> V2:
        """(longitudinal, lateral) [m] of the world point (x, y) in lane l's frame."""
        out = V2()
        if li[ln, KIND] == CIRCULAR:
            dx = x - lf[ln, CX]
            dy = y - lf[ln, CY]
            start = lf[ln, START_PHASE]
            phi = start + wrap_to_pi(wp.atan2(dy, dx) - start)
            r = wp.sqrt(dx * dx + dy * dy)
            out = V2(lf[ln, CDIR] * (phi - start) * lf[ln, RADIUS], lf[ln, CDIR] * (lf[ln, RADIUS] - r))
        else:
            dx = x - lf[ln, SX]
            dy = y - lf[ln, SY]
            s = dx * lf[ln, DX] + dy * lf[ln, DY]
            r = dx * lf[ln, LX] + dy * lf[ln, LY]
            if li[ln, KIND] == SINE:
                r = r - lf[ln, AMPLITUDE] * wp.sin(lf[ln, PULSATION] * s + lf[ln, PHASE])
            out = V2(s, r)
        return out

    @wp.func
    def position(lf: LF, li: LI, ln: int, s: F, r: F) -> V2:
        """World point at lane coordinates (s, r)."""
        out = V2()
        if li[ln, KIND] == CIRCULAR:
            phi = lf[ln, CDIR] * s / lf[ln, RADIUS] + lf[ln, START_PHASE]
            k = lf[ln, RADIUS] - r * lf[ln, CDIR]
            out = V2(lf[ln, CX] + k * wp.cos(phi), lf[ln, CY] + k * wp.sin(phi))
        else:
            lat = r
            if li[ln, KIND] == SINE:
                lat = r + lf[ln, AMPLITUDE] * wp.sin(lf[ln, PULSATION] * s + lf[ln, PHASE])
            out = V2(
                lf[ln, SX] + s * lf[ln, DX] + lat * lf[ln, LX], lf[ln, SY] + s * lf[ln, DY] + lat * lf[ln, LY]
            )
        return out

    @wp.func
    def heading_at(lf: LF, li: LI, ln: int, s: F) -> F:
        h = lf[ln, HEADING]
        if li[ln, KIND] == CIRCULAR:
            phi = lf[ln, CDIR] * s / lf[ln, RADIUS] + lf[ln, START_PHASE]
            h = phi + HALF_PI * lf[ln, CDIR]
        elif li[ln, KIND] == SINE:
            h = h + wp.atan(
                lf[ln, AMPLITUDE] * lf[ln, PULSATION] * wp.cos(lf[ln, PULSATION] * s + lf[ln, PHASE])
            )
        return h

    @wp.func
    def width_at(lf: LF, ln: int, s: F) -> F:
        return lf[ln, WIDTH]

    @wp.func
    def on_lane(lf: LF, ln: int, s: F, r: F, margin: F) -> bool:
        return (
            wp.abs(r) <= lf[ln, WIDTH] / F(2.0) + margin
            and -VEHICLE_LENGTH <= s
            and (s < lf[ln, LENGTH] + VEHICLE_LENGTH)
        )

    @wp.func
    def is_reachable_from(lf: LF, li: LI, ln: int, x: F, y: F) -> bool:
        ok = bool(False)
        if li[ln, FORBIDDEN] == 0:
            c = local_coordinates(lf, li, ln, x, y)
            ok = (
                wp.abs(c[1]) <= F(2.0) * lf[ln, WIDTH]
                and F(0.0) <= c[0]
                and c[0] < lf[ln, LENGTH] + VEHICLE_LENGTH
            )
        return ok

    @wp.func
    def after_end(lf: LF, ln: int, s: F) -> bool:
        return s > lf[ln, LENGTH] - VEHICLE_LENGTH / F(2.0)

    @wp.func
    def distance(lf: LF, li: LI, ln: int, x: F, y: F) -> F:
        """highway-env ``lane.distance``: L1 distance [m] from a point to the lane."""
        c = local_coordinates(lf, li, ln, x, y)
        return wp.abs(c[1]) + wp.max(c[0] - lf[ln, LENGTH], F(0.0)) + wp.max(F(0.0) - c[0], F(0.0))

    @wp.func
    def local_angle(lf: LF, li: LI, ln: int, heading: F, s: F) -> F:
        return wrap_to_pi(heading - heading_at(lf, li, ln, s))

    @wp.func
    def distance_with_heading(lf: LF, li: LI, ln: int, x: F, y: F, heading: F) -> F:
        c = local_coordinates(lf, li, ln, x, y)
        angle = wp.abs(local_angle(lf, li, ln, heading, c[0]))
        return wp.abs(c[1]) + wp.max(c[0] - lf[ln, LENGTH], F(0.0)) + wp.max(F(0.0) - c[0], F(0.0)) + angle

    @wp.func
    def closest_lane(lf: LF, li: LI, x: F, y: F, heading: F) -> int:
        """highway-env ``get_closest_lane_index(position, heading)``: the first lane of minimal distance."""
        best = int(0)
        best_d = distance_with_heading(lf, li, 0, x, y, heading)
        for ln in range(1, lf.shape[0]):
            d = distance_with_heading(lf, li, ln, x, y, heading)
            if d < best_d:
                best_d = d
                best = ln
        return best

    return SimpleNamespace(
        F=F, V2=V2, LF=LF, LI=LI, py_mod=py_mod, wrap_to_pi=wrap_to_pi, not_zero=not_zero,
        local_coordinates=local_coordinates, position=position, heading_at=heading_at, width_at=width_at,
        on_lane=on_lane, is_reachable_from=is_reachable_from, after_end=after_end, distance=distance,
        local_angle=local_angle, distance_with_heading=distance_with_heading, closest_lane=closest_lane,
    )  # fmt: skip
