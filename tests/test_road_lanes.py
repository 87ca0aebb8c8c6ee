"""The lane functions of the road core against highway-env's ``road/lane.py``, to 1e-9 in float64.

Random straight, sine and circular lanes (both circle directions) and random points around them: every
lane function the kernels use, evaluated by a float64 Warp kernel over the lane table, against the
same lane built by highway-env.
"""

from __future__ import annotations

import numpy as np
import pytest
import warp as wp

from envs.physics.device import init_warp
from envs.road.lanes import lane_funcs
from envs.road.network import CircularLane, RoadNetwork, SineLane, StraightLane

highway_env = pytest.importorskip("highway_env")
from highway_env.road import lane as he_lane  # noqa: E402
from highway_env.road.road import RoadNetwork as HeNetwork  # noqa: E402

TOL = 1e-9
F = wp.float64
L = lane_funcs(F)
OUTPUTS = 13  # columns of the kernel's result row


@wp.kernel(module="unique")
def _evaluate(
    lf: wp.array2d(dtype=F), li: wp.array2d(dtype=wp.int32), pts: wp.array2d(dtype=F),
    out: wp.array3d(dtype=F),
):  # fmt: skip
    ln, p = wp.tid()
    x, y, h, s_in, r_in = pts[p, 0], pts[p, 1], pts[p, 2], pts[p, 3], pts[p, 4]
    c = L.local_coordinates(lf, li, ln, x, y)
    pos = L.position(lf, li, ln, s_in, r_in)
    out[ln, p, 0] = c[0]
    out[ln, p, 1] = c[1]
    out[ln, p, 2] = pos[0]
    out[ln, p, 3] = pos[1]
    out[ln, p, 4] = L.heading_at(lf, li, ln, s_in)
    out[ln, p, 5] = F(0.0)
    if L.on_lane(lf, ln, c[0], c[1], F(1.0)):
        out[ln, p, 5] = F(1.0)
    out[ln, p, 6] = F(0.0)
    if L.is_reachable_from(lf, li, ln, x, y):
        out[ln, p, 6] = F(1.0)
    out[ln, p, 7] = L.distance(lf, li, ln, x, y)
    out[ln, p, 8] = L.distance_with_heading(lf, li, ln, x, y, h)
    out[ln, p, 9] = L.local_angle(lf, li, ln, h, s_in)
    out[ln, p, 10] = F(0.0)
    if L.after_end(lf, ln, c[0]):
        out[ln, p, 10] = F(1.0)
    out[ln, p, 11] = L.wrap_to_pi(h * F(7.0))
    out[ln, p, 12] = wp.float64(L.closest_lane(lf, li, x, y, h))


def _random_lanes(rng: np.random.Generator) -> tuple[list, list]:
    ours, theirs = [], []
    for k in range(24):
        kind = k % 4
        width = float(rng.uniform(3, 5))
        limit = float(rng.uniform(10, 30))
        forbidden = bool(rng.random() < 0.2)
        common = dict(width=width, forbidden=forbidden, speed_limit=limit)
        if kind in (0, 1):
            start = rng.uniform(-100, 100, 2)
            end = start + rng.uniform(-80, 80, 2)
            if kind == 0:
                ours.append(StraightLane(tuple(start), tuple(end), **common))
                theirs.append(he_lane.StraightLane(start, end, **common))
            else:
                amp, puls, phase = rng.uniform(0.5, 5), rng.uniform(0.01, 0.3), rng.uniform(-3, 3)
                ours.append(
                    SineLane(tuple(start), tuple(end), amplitude=amp, pulsation=puls, phase=phase, **common)
                )
                theirs.append(he_lane.SineLane(start, end, amp, puls, phase, **common))
        else:
            clockwise = kind == 2
            center = rng.uniform(-50, 50, 2)
            radius = float(rng.uniform(5, 40))
            a = float(rng.uniform(-np.pi, np.pi))
            b = a + float(rng.uniform(0.3, 2.5)) * (1 if clockwise else -1)
            ours.append(CircularLane(tuple(center), radius, a, b, clockwise, **common))
            theirs.append(he_lane.CircularLane(center, radius, a, b, clockwise, **common))
    return ours, theirs


def test_lane_functions_match_highway_env() -> None:
    init_warp()
    rng = np.random.default_rng(0)
    ours, theirs = _random_lanes(rng)
    net, he_net = RoadNetwork(), HeNetwork()
    for k, (lane, he) in enumerate(zip(ours, theirs)):
        net.add_lane(str(k), str(k + 1), lane)
        he_net.add_lane(str(k), str(k + 1), he)
    tables = net.tables()
    pts = np.column_stack(
        [
            rng.uniform(-150, 150, 400),
            rng.uniform(-150, 150, 400),
            rng.uniform(-4, 4, 400),
            rng.uniform(-20, 120, 400),
            rng.uniform(-6, 6, 400),
        ]
    )
    lf = wp.array(tables.lane_f, dtype=F, device="cpu")
    li = wp.array(tables.lane_i, dtype=wp.int32, device="cpu")
    out = wp.zeros((len(ours), len(pts), OUTPUTS), dtype=F, device="cpu")
    wp.launch(
        _evaluate, dim=(len(ours), len(pts)), inputs=[lf, li, wp.array(pts, dtype=F), out], device="cpu"
    )
    got = out.numpy()
    from highway_env.utils import wrap_to_pi

    indexes = he_net.lanes_dict()
    keys = list(indexes)
    for ln, he in enumerate(theirs):
        for p, (x, y, h, s, r) in enumerate(pts):
            pos = np.array([x, y])
            ls, lr = he.local_coordinates(pos)
            want = [
                ls, lr, *he.position(s, r), he.heading_at(s), float(he.on_lane(pos, margin=1)),
                float(he.is_reachable_from(pos)), he.distance(pos), he.distance_with_heading(pos, h),
                he.local_angle(h, s), float(he.after_end(pos)), wrap_to_pi(h * 7.0),
                float(keys.index(he_net.get_closest_lane_index(pos, h))),
            ]  # fmt: skip
            np.testing.assert_allclose(got[ln, p], want, rtol=0, atol=TOL, err_msg=f"lane {ln} point {p}")


def test_tables_follow_highway_env_order_and_reject_bad_lanes() -> None:
    net = RoadNetwork.straight_road_network(3, speed_limit=30)
    net.add_lane("1", "2", StraightLane((10000.0, 0.0), (10100.0, 0.0)))
    assert net.lane_indexes() == [("0", "1", 0), ("0", "1", 1), ("0", "1", 2), ("1", "2", 0)]
    t = net.tables()
    assert t.num_lanes == 4 and list(t.road_lanes) == [3, 1]
    assert net.lane_row(("1", "2", None)) == 3
    with pytest.raises(KeyError, match="no road"):
        net.lane_row(("0", "9", 0))
    with pytest.raises(KeyError, match="lanes 0..2"):
        net.lane_row(("0", "1", 3))
    with pytest.raises(ValueError, match="ends must differ"):
        StraightLane((1.0, 1.0), (1.0, 1.0))
    with pytest.raises(ValueError, match="radius"):
        CircularLane((0.0, 0.0), 0.0, 0.0, 1.0)
    he = HeNetwork.straight_road_network(4)
    assert RoadNetwork.from_highway_env(he).lane_indexes() == list(he.lanes_dict())
