"""The road core: highway-env's lane kinds and ``(from, to, id)`` road graph as flat tables (``network``),
and the lane geometry the kernels compute on them (``lanes``, Warp functions).

The physics (``envs/physics``) reads roads only through these tables, so every world that builds a
:class:`~envs.road.network.RoadNetwork` runs on the same kernels.
"""

from envs.road.network import (
    CircularLane,
    LaneIndex,
    LaneTables,
    LineType,
    RoadNetwork,
    SineLane,
    StraightLane,
)

__all__ = [
    "CircularLane",
    "LaneIndex",
    "LaneTables",
    "LineType",
    "RoadNetwork",
    "SineLane",
    "StraightLane",
]
