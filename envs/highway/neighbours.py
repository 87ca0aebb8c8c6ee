"""Preceding/following vehicles on every lane, for every vehicle at once (highway-env ``Road.neighbour_vehicles``).

highway-env loops over all vehicles for each query. Here vehicles are sorted by x once per sub-step
(nearly sorted already, so the stable sort is cheap). A vehicle is a member of lane l when within
``ON_LANE_HALF_WIDTH`` of its centre (``lane.on_lane(margin=1)``), so it can belong to two lanes while
changing. The members of every (env, lane) are listed in x order in one flat array; a running count of
members along the x ranks then turns "the next lane-l member after rank r" into one gather: it is list
entry ``count[r]`` (members at ranks <= r come before it). No loop over ranks, O(1) per query.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from envs.highway.state import LANE_WIDTH, ROAD_LENGTH, VEHICLE_LENGTH

ON_LANE_HALF_WIDTH = LANE_WIDTH / 2 + 1.0  # [m] lane half width + highway-env's margin of 1 m


@dataclass(frozen=True)
class Neighbours:
    """Per (env, lane): a running count of members along the x ranks, and the members in x order."""

    rank: Any  # (B, N) rank of each vehicle in x order
    count: Any  # (B * L * N,) members of lane l at ranks <= r, flat index (env * L + lane) * N + rank
    member: Any  # (B * L * N,) bool, same flat index
    listed: Any  # (B * L * N + 1,) entry (env * L + lane) * N + k: lane l's k-th member in x order
    lanes: int

    def front(self, xp: Any, env: Any, lane: Any, vehicle: Any) -> Any:
        """Vehicle ahead of vehicles (env, vehicle) on ``lane`` (broadcastable index arrays), -1 for none."""
        n = self.rank.shape[1]
        return self._front(xp, env * self.lanes + lane, xp.take(self.rank, env * n + vehicle))

    def dense_front(self, xp: Any, lane: Any) -> Any:
        """Vehicle ahead of every vehicle on lanes ``lane`` (B, N) -> (B, N), -1 for none."""
        b = self.rank.shape[0]
        return self._front(xp, xp.arange(b)[:, None] * self.lanes + lane, self.rank)

    def _front(self, xp: Any, env_lane: Any, rank: Any) -> Any:
        n = self.rank.shape[1]
        first = env_lane * n
        k = xp.take(self.count, first + rank)  # members at ranks <= r: the front is list entry k
        return xp.where(k < xp.take(self.count, first + (n - 1)), xp.take(self.listed, first + k), -1)

    def rear(self, xp: Any, env: Any, lane: Any, vehicle: Any) -> Any:
        """Vehicle behind vehicles (env, vehicle) on ``lane``, -1 for none."""
        n = self.rank.shape[1]
        first = (env * self.lanes + lane) * n
        at = first + xp.take(self.rank, env * n + vehicle)
        before = xp.take(self.count, at) - xp.astype(xp.take(self.member, at), xp.int)  # members at ranks < r
        return xp.where(before > 0, xp.take(self.listed, first + before - 1), -1)


def neighbours(xp: Any, x: Any, y: Any, lanes_count: int) -> Neighbours:
    b, n = x.shape
    base = xp.arange(b)[:, None] * n
    order = xp.argsort(x, axis=1)  # (B, N) vehicle indexes by increasing x
    flat_order = order + base
    xs, ys = xp.take(x, flat_order), xp.take(y, flat_order)  # (B, N) by rank
    lane_y = xp.astype(xp.arange(lanes_count), x.dtype)[:, None] * LANE_WIDTH  # (L, 1)
    in_x = (xs >= -VEHICLE_LENGTH) & (xs < ROAD_LENGTH + VEHICLE_LENGTH)
    member = (xp.abs(ys[:, None, :] - lane_y) <= ON_LANE_HALF_WIDTH) & in_x[:, None, :]  # (B, L, N)
    count = xp.cumsum(member, axis=2, dtype=xp.index)
    # list every member at its slot (its count - 1); non-members all write to one spare slot at the end
    size = b * lanes_count * n
    first = xp.arange(b * lanes_count).reshape(b, lanes_count, 1) * n
    listed = xp.zeros((size + 1,), dtype=order.dtype)
    listed[xp.where(member, first + count - 1, size)] = xp.broadcast_to(order[:, None, :], member.shape)
    rank = xp.zeros((b * n,), dtype=xp.int)
    rank[flat_order.reshape(-1)] = (xp.arange(n)[None, :] + 0 * base).reshape(-1)
    return Neighbours(
        rank=rank.reshape(b, n),
        count=count.reshape(-1),
        member=member.reshape(-1),
        listed=listed,
        lanes=lanes_count,
    )
