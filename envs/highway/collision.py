"""Vehicle-vehicle collisions as in highway-env (``RoadObject.handle_collisions``, ``utils.are_polygons_intersecting``).

highway-env checks every pair (i < j) after each sub-step: a distance pre-check, then a separating-axis
test on the two rectangles. Intersecting pairs crash; pairs that *will* intersect within ``dt`` at constant
velocity get an impact displacement (half the minimal translation each) that is applied, and marks the
vehicle crashed, on its next sub-step. Instead of all N^2 pairs we sort by x and only test pairs closer
in x than the pre-check distance, compacted into 1-D arrays; the test itself is exact. The dense backend
(``backend.rows``) tests every pair under a mask instead, so that it compiles.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from envs.highway.backend import both, keep, no_rows, rows
from envs.highway.state import EGO, VEHICLE_LENGTH, VEHICLE_WIDTH, TrafficState

DIAGONAL = math.sqrt(VEHICLE_LENGTH**2 + VEHICLE_WIDTH**2)  # [m]
#: rectangle corners in the body frame, in highway-env's ``polygon()`` order
_CORNERS = ((-1, -1), (-1, 1), (1, 1), (1, -1))


def _near(xp: Any, s: TrafficState, env: Any, a: Any, b: Any, dt: float) -> Any:
    """highway-env's pre-check ``|p_b - p_a| <= diagonal + v_a dt`` for pairs (env, a, b)."""
    dx, dy = s.x[env, b] - s.x[env, a], s.y[env, b] - s.y[env, a]
    return xp.sqrt(dx * dx + dy * dy) <= (DIAGONAL + DIAGONAL) / 2 + s.speed[env, a] * dt


def candidate_pairs(
    xp: Any, s: TrafficState, dt: float, check_npc_collisions: bool
) -> tuple[Any, Any, Any, Any]:
    """Pairs (env, a, b, valid), a < b, that pass the pre-check (as rows: see ``backend.rows``)."""
    n = s.num_vehicles
    if n < 2:
        empty = xp.arange(0)
        return empty, empty, empty, None
    if not check_npc_collisions:  # highway-fast: only the ego's pairs, ego first
        dx, dy = s.x[:, 1:] - s.x[:, :1], s.y[:, 1:] - s.y[:, :1]
        near = xp.sqrt(dx * dx + dy * dy) <= (DIAGONAL + DIAGONAL) / 2 + s.speed[:, :1] * dt
        env, other, valid = rows(xp, near)
        return env, xp.zeros(env.shape, dtype=xp.int) + EGO, other + 1, valid
    if xp.dense:  # every pair a < b, masked by the pre-check (no data-dependent pruning)
        grid = (s.num_envs, n * (n - 1) // 2)
        env = xp.broadcast_to(xp.arange(grid[0])[:, None], grid).reshape(-1)
        a, b = (xp.broadcast_to(xp.asarray(k)[None, :], grid).reshape(-1) for k in np.triu_indices(n, 1))
        return env, a, b, _near(xp, s, env, a, b, dt)
    order = xp.argsort(s.x, axis=1)
    xs = xp.take_along_axis(s.x, order, axis=1)
    reach = (
        DIAGONAL + max(float(xp.scalar(xp.amax(xp.abs(s.speed)))), 0.0) * dt
    )  # bound on the pre-check distance
    envs, firsts, seconds = [], [], []
    for k in range(1, n):  # pairs k apart in x order; none close at k means none beyond
        close = (xs[:, k:] - xs[:, :-k]) <= reach
        env, r = xp.nonzero(close)
        if env.shape[0] == 0:
            break
        envs.append(env)
        firsts.append(order[env, r])
        seconds.append(order[env, r + k])
    if not envs:
        empty = xp.arange(0)
        return empty, empty, empty, None
    env, u, v = xp.concatenate(envs), xp.concatenate(firsts), xp.concatenate(seconds)
    a, b = xp.minimum(u, v), xp.maximum(u, v)
    (idx,) = xp.nonzero(_near(xp, s, env, a, b, dt))
    return env[idx], a[idx], b[idx], None


def _corners(xp: Any, x: Any, y: Any, heading: Any) -> tuple[Any, Any]:
    c, s = xp.cos(heading)[:, None], xp.sin(heading)[:, None]
    px = xp.asarray([VEHICLE_LENGTH / 2 * u for u, _ in _CORNERS], dtype=xp.float)[None, :]
    py = xp.asarray([VEHICLE_WIDTH / 2 * w for _, w in _CORNERS], dtype=xp.float)[None, :]
    return c * px + -s * py + x[:, None], s * px + c * py + y[:, None]  # (P, 4) each


def _interval_distance(xp: Any, min_a: Any, max_a: Any, min_b: Any, max_b: Any) -> Any:
    return xp.where(min_a < min_b, min_b - max_a, min_a - max_b)


def _normals(xp: Any, px: Any, py: Any, edges: int) -> tuple[Any, Any]:
    """Unit normals of the first ``edges`` edges of polygons with corners (P, 4), highway-env's formula."""
    ex = xp.concatenate([px[:, 1:], px[:, :1]], 1)[:, :edges] - px[:, :edges]
    ey = xp.concatenate([py[:, 1:], py[:, :1]], 1)[:, :edges] - py[:, :edges]
    norm = xp.sqrt(ey * ey + ex * ex)
    return -ey / norm, ex / norm


def _axis_distances(
    xp: Any, s: TrafficState, pair: tuple, corners: tuple, nx: Any, ny: Any, dt: float
) -> tuple:
    """Static and swept interval distances of the pairs on the axes (nx, ny) (P, K)."""
    env, a, b = pair
    ax, ay, bx, by = corners
    proj_a = ax[:, None, :] * nx[:, :, None] + ay[:, None, :] * ny[:, :, None]  # (P, K, 4)
    proj_b = bx[:, None, :] * nx[:, :, None] + by[:, None, :] * ny[:, :, None]
    min_a, max_a = xp.amin(proj_a, 2), xp.amax(proj_a, 2)
    min_b, max_b = xp.amin(proj_b, 2), xp.amax(proj_b, 2)
    static = _interval_distance(xp, min_a, max_a, min_b, max_b)
    va, vb = s.speed[env, a], s.speed[env, b]
    ha, hb = s.heading[env, a], s.heading[env, b]
    ddx = (va * xp.cos(ha) * dt - vb * xp.cos(hb) * dt)[:, None]
    ddy = (va * xp.sin(ha) * dt - vb * xp.sin(hb) * dt)[:, None]
    proj_v = nx * ddx + ny * ddy
    swept_min = xp.where(proj_v < 0, min_a + proj_v, min_a)
    swept_max = xp.where(proj_v < 0, max_a, max_a + proj_v)
    return static, _interval_distance(xp, swept_min, swept_max, min_b, max_b)


def _pair_corners(xp: Any, s: TrafficState, env: Any, a: Any, b: Any) -> tuple:
    ax, ay = _corners(xp, s.x[env, a], s.y[env, a], s.heading[env, a])
    bx, by = _corners(xp, s.x[env, b], s.y[env, b], s.heading[env, b])
    return ax, ay, bx, by


def separated_on_own_axes(xp: Any, s: TrafficState, env: Any, a: Any, b: Any, dt: float) -> Any:
    """Pairs whose swept intervals are disjoint on one of a's first two edge normals. The full test
    computes these two axes identically, so it would find such a pair neither intersecting nor about to:
    a cheap exact filter (most candidates are side by side on adjacent lanes)."""
    corners = _pair_corners(xp, s, env, a, b)
    nx, ny = _normals(xp, corners[0], corners[1], 2)
    _, swept = _axis_distances(xp, s, (env, a, b), corners, nx, ny, dt)
    return xp.any(swept > 0, axis=1)


def separating_axis_test(
    xp: Any, s: TrafficState, env: Any, a: Any, b: Any, dt: float
) -> tuple[Any, Any, Any, Any]:
    """Exact port of ``are_polygons_intersecting`` for P pairs: (intersecting, will_intersect, tx, ty)."""
    corners = _pair_corners(xp, s, env, a, b)
    ax, ay, bx, by = corners
    # the 8 edge normals: 4 of polygon a, then 4 of polygon b
    nax, nay = _normals(xp, ax, ay, 4)
    nbx, nby = _normals(xp, bx, by, 4)
    nx, ny = xp.concatenate([nax, nbx], 1), xp.concatenate([nay, nby], 1)  # (P, 8)
    static, distance = _axis_distances(xp, s, (env, a, b), corners, nx, ny, dt)
    intersecting = xp.all(static <= 0, axis=1)
    will_intersect = xp.all(distance <= 0, axis=1)
    best = xp.argmin(xp.abs(distance), axis=1)[:, None]  # first minimal |distance|, as highway-env's strict <
    min_distance = xp.take_along_axis(xp.abs(distance), best, axis=1)[:, 0]
    bnx, bny = xp.take_along_axis(nx, best, axis=1)[:, 0], xp.take_along_axis(ny, best, axis=1)[:, 0]
    cdx, cdy = ax.mean(1) - bx.mean(1), ay.mean(1) - by.mean(1)
    sign = xp.astype(xp.where(cdx * bnx + cdy * bny > 0, 1.0, -1.0), xp.float)
    return intersecting, will_intersect, min_distance * sign * bnx, min_distance * sign * bny


def collide(xp: Any, s: TrafficState, dt: float, check_npc_collisions: bool) -> TrafficState:
    """Crash intersecting pairs; give pairs about to intersect their impact for the next sub-step."""
    env, a, b, valid = candidate_pairs(xp, s, dt, check_npc_collisions)
    if no_rows(env, valid):
        return s
    valid, env, a, b = keep(xp, ~separated_on_own_axes(xp, s, env, a, b, dt), valid, env, a, b)
    if no_rows(env, valid):
        return s
    intersecting, will, tx, ty = separating_axis_test(xp, s, env, a, b, dt)
    n = s.num_vehicles
    cells = s.num_envs * n
    hit = xp.astype(both(valid, intersecting), xp.index)
    hits = xp.scatter_add(cells, xp.concatenate([env * n + a, env * n + b]), xp.concatenate([hit, hit]))
    crashed = s.crashed | (hits > 0).reshape(s.x.shape)
    valid, env, a, b, tx, ty = keep(xp, will, valid, env, a, b, tx, ty)
    if no_rows(env, valid):
        return s.replace(crashed=crashed)
    # a vehicle in several such pairs keeps the impact of the last pair in highway-env's (a, b) loop order
    vehicle = xp.concatenate([env * n + a, env * n + b])
    key = xp.concatenate([a * n + b, a * n + b])
    dx, dy = xp.concatenate([tx / 2, -tx / 2]), xp.concatenate([ty / 2, -ty / 2])
    ok = None if valid is None else xp.concatenate([valid, valid])
    last = -xp.scatter_min(cells, vehicle, -key if ok is None else xp.where(ok, -key, 1), fill=1)
    sel = both(ok, key == xp.take(last, vehicle))  # one pair per vehicle: the sums below copy its value
    impact = xp.scatter_add(cells, vehicle, xp.astype(sel, xp.index)).reshape(s.x.shape) > 0
    impact_x = xp.scatter_add(cells, vehicle, xp.where(sel, dx, 0.0)).reshape(s.x.shape)
    impact_y = xp.scatter_add(cells, vehicle, xp.where(sel, dy, 0.0)).reshape(s.x.shape)
    return s.replace(
        crashed=crashed,
        impact_x=xp.where(impact, impact_x, s.impact_x),
        impact_y=xp.where(impact, impact_y, s.impact_y),
        has_impact=s.has_impact | impact,
    )
