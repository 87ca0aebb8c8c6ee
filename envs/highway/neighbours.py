"""Preceding/following vehicles on every lane, for every vehicle at once (highway-env ``Road.neighbour_vehicles``).

highway-env loops over all vehicles for each query. Here vehicles are sorted by x once per sub-step
(nearly sorted already, so the stable sort is cheap); a vehicle's front vehicle on lane l is then the
next lane-l member in x order, found for all vehicles and lanes with one cumulative min/max. A vehicle is
a member of lane l when within ``ON_LANE_HALF_WIDTH`` of its centre (``lane.on_lane(margin=1)``), so it
can belong to two lanes while changing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from envs.highway.state import LANE_WIDTH, ROAD_LENGTH, VEHICLE_LENGTH

ON_LANE_HALF_WIDTH = LANE_WIDTH / 2 + 1.0  # [m] lane half width + highway-env's margin of 1 m


@dataclass(frozen=True)
class Neighbours:
    """Lookup tables in x-rank space: ``front[r, b, l]`` is the vehicle ahead of x-rank ``r`` on lane ``l``."""

    front: Any  # (N, B, L) vehicle index, -1 for none
    rear: Any  # (N, B, L)
    rank: Any  # (B, N) rank of each vehicle in x order

    def query(self, xp: Any, table: Any, env: Any, lane: Any, vehicle: Any) -> Any:
        """Neighbour of vehicles (env, vehicle) on ``lane``: broadcastable index arrays -> vehicle indexes."""
        n, b, lanes = self.front.shape
        rank = xp.take(self.rank, env * n + vehicle)
        return xp.take(table, (rank * b + env) * lanes + lane)

    def dense(self, xp: Any, table: Any, lane: Any) -> Any:
        """Neighbour of every vehicle on lanes ``lane`` (B, N) -> (B, N) vehicle indexes."""
        n, b, lanes = self.front.shape
        return xp.take(table, (self.rank * b + xp.arange(b)[:, None]) * lanes + lane)


def neighbours(xp: Any, x: Any, y: Any, lanes_count: int) -> Neighbours:
    """Sweep the vehicles in x order once backwards (fronts) and once forwards (rears), keeping the
    last vehicle seen on each lane: the sweeps are loops over ranks of (B, L) operations."""
    b, n = x.shape
    base = xp.arange(b)[:, None] * n
    order = xp.argsort(x, axis=1)  # (B, N) vehicle indexes by increasing x
    flat_order = order + base
    xs, ys = xp.take(x, flat_order).T, xp.take(y, flat_order).T  # (N, B) by rank
    lane_y = xp.astype(xp.arange(lanes_count), x.dtype) * LANE_WIDTH
    in_x = (xs >= -VEHICLE_LENGTH) & (xs < ROAD_LENGTH + VEHICLE_LENGTH)
    member = (xp.abs(ys[:, :, None] - lane_y) <= ON_LANE_HALF_WIDTH) & in_x[:, :, None]  # (N, B, L)
    vid = (order.T)[:, :, None]  # (N, B, 1) vehicle index at each rank
    front = xp.sweep_last(member, vid, reverse=True)
    rear = xp.sweep_last(member, vid, reverse=False)
    rank = xp.zeros((b * n,), dtype=xp.int)
    rank[flat_order.reshape(-1)] = (xp.arange(n)[None, :] + 0 * base).reshape(-1)
    return Neighbours(front=front, rear=rear, rank=rank.reshape(b, n))
