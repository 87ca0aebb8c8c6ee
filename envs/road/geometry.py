"""Lane geometry on the host, for drawing: world points of lane coordinates, computed by the kernels'
own ``position`` function (``envs/road/lanes.py``) in a float64 Warp kernel, so a drawn road is exactly
the road the physics simulates. Roads are static: a renderer samples them once.
"""

from __future__ import annotations

import functools

import numpy as np
import warp as wp

from envs.physics.device import init_warp
from envs.road.lanes import lane_funcs
from envs.road.network import LaneTables


@functools.cache
def _positions_kernel():
    L = lane_funcs(wp.float64)

    @wp.kernel(module="unique", enable_backward=False)
    def positions(
        lf: wp.array2d(dtype=wp.float64), li: wp.array2d(dtype=wp.int32), rows: wp.array(dtype=wp.int32),
        s: wp.array(dtype=wp.float64), r: wp.array(dtype=wp.float64), out: wp.array2d(dtype=wp.float64),
    ):  # fmt: skip
        k = wp.tid()
        p = L.position(lf, li, rows[k], s[k], r[k])
        out[k, 0] = p[0]
        out[k, 1] = p[1]

    return positions


def lane_positions(tables: LaneTables, rows: np.ndarray, s: np.ndarray, r: np.ndarray) -> np.ndarray:
    """(N, 2) world points [m] of lane ``rows[k]`` at coordinates ``(s[k], r[k])`` (broadcast)."""
    init_warp()
    rows, s, r = np.broadcast_arrays(np.asarray(rows, np.int32), np.asarray(s, float), np.asarray(r, float))
    n = rows.size
    out = np.zeros((max(n, 1), 2))
    if n:
        args = [
            wp.array(tables.lane_f, dtype=wp.float64, device="cpu"),
            wp.array(tables.lane_i, dtype=wp.int32, device="cpu"),
            wp.array(rows.ravel().copy(), dtype=wp.int32, device="cpu"),
            wp.array(s.ravel().copy(), dtype=wp.float64, device="cpu"),
            wp.array(r.ravel().copy(), dtype=wp.float64, device="cpu"),
        ]
        result = wp.array(out, dtype=wp.float64, device="cpu", copy=False)
        wp.launch(_positions_kernel(), dim=n, inputs=[*args, result], device="cpu")
    return out[:n]
