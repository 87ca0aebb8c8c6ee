"""What every world shares with its highway-env env: the road network, lane for lane."""

from __future__ import annotations

import numpy as np
import pytest

from envs.road.network import RoadNetwork
from envs.worlds.exit import exit_network
from envs.worlds.intersection import intersection_network
from envs.worlds.merge import merge_network
from envs.worlds.parking import parking_network
from envs.worlds.racetrack import racetrack_network
from envs.worlds.roundabout import roundabout_network

# highway-env id, its config, our builder of the same road
ROADS = {
    "merge": ("merge-v0", {}, merge_network),
    "exit-6-lanes": ("exit-v0", {"lanes_count": 6}, lambda: exit_network(6)),
    "exit-3-lanes": ("exit-v0", {"lanes_count": 3}, lambda: exit_network(3)),
    "roundabout": ("roundabout-v0", {}, roundabout_network),
    "racetrack": ("racetrack-v0", {}, racetrack_network),
    "parking": ("parking-v0", {}, parking_network),
    "intersection": ("intersection-v0", {}, intersection_network),
}


@pytest.mark.parametrize("name", sorted(ROADS))
def test_road_is_highway_envs(name: str, highway_env_env) -> None:
    """The same lanes in the same order (so the same rows), tables equal to the bit, same line types."""
    env_id, config, build = ROADS[name]
    he = highway_env_env(env_id, **config)
    he.reset(seed=0)
    theirs = RoadNetwork.from_highway_env(he.road.network)
    ours = build()
    assert ours.lane_indexes() == theirs.lane_indexes()
    for table, a in ours.tables().arrays().items():
        np.testing.assert_array_equal(a, getattr(theirs.tables(), table), err_msg=table)
    for index in ours.lane_indexes():
        assert ours.get_lane(index).line_types == theirs.get_lane(index).line_types, index
