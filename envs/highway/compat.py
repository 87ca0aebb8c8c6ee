"""Scene exchange with highway-env: read the full state of a running highway-env env into a :class:`Scene`.

    import gymnasium as gym, highway_env
    he = gym.make("highway-fast-v0"); he.reset(seed=3)
    scene = scene_from_highway_env(he)
    ours = gym.make("autodrive/HighwayFast-v0")
    obs, info = ours.reset(options={"scene": scene})  # now both simulate the same traffic

highway-env is imported lazily, by the caller: nothing here needs it at import time.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from envs.highway.dynamics import DELTA
from envs.highway.state import Scene


def scene_from_highway_env(he_env: Any) -> Scene:
    """Every vehicle of ``he_env`` (a highway-env ``highway-v0``/``highway-fast-v0``, wrapped or not).

    Reads lane, position, heading, speed, target speed and lane, IDM exponent, MOBIL timer, crashed flag
    and any pending collision impact; the ego (controlled vehicle) comes first, then the road's order.
    """
    from highway_env.vehicle.behavior import IDMVehicle
    from highway_env.vehicle.controller import MDPVehicle

    env = getattr(he_env, "unwrapped", he_env)
    road = getattr(env, "road", None)
    if road is None or not getattr(env, "controlled_vehicles", None):
        raise ValueError("the highway-env env has no road yet: call reset() first")
    if len(env.controlled_vehicles) != 1:
        raise ValueError("only one controlled vehicle is supported")
    ego = env.controlled_vehicles[0]
    if not isinstance(ego, MDPVehicle):
        raise ValueError(
            f"the ego must be driven by DiscreteMetaAction (MDPVehicle), got {type(ego).__name__}"
        )
    if not np.allclose(ego.target_speeds, [20.0, 25.0, 30.0]):
        raise ValueError(f"ego target_speeds {ego.target_speeds} differ from the default (20, 25, 30)")
    graph = road.network.graph
    if list(graph) != ["0"] or list(graph["0"]) != ["1"]:
        raise ValueError("only highway-env's straight road network ('0' -> '1') is supported")
    lanes = graph["0"]["1"]
    npcs = [v for v in road.vehicles if v is not ego]
    for v in npcs:
        if type(v) is not IDMVehicle:
            raise ValueError(f"NPCs must be IDMVehicle (highway-env's default), got {type(v).__name__}")
    if getattr(road, "objects", []):
        raise ValueError("static road objects are not supported")
    checks = {bool(v.check_collisions) for v in npcs}
    if len(checks) > 1:
        raise ValueError(
            "NPCs disagree on check_collisions; expected all on (highway-v0) or all off (highway-fast-v0)"
        )
    vehicles = [ego, *npcs]

    def column(fn: Any, dtype: Any) -> np.ndarray:
        return np.array([fn(v) for v in vehicles], dtype=dtype)

    impacts = [v.impact if getattr(v, "impact", None) is not None else None for v in vehicles]
    return Scene(
        x=column(lambda v: v.position[0], np.float64),
        y=column(lambda v: v.position[1], np.float64),
        heading=column(lambda v: v.heading, np.float64),
        speed=column(lambda v: v.speed, np.float64),
        target_speed=column(lambda v: v.target_speed, np.float64),
        delta=column(
            lambda v: getattr(v, "DELTA", DELTA) if isinstance(v, IDMVehicle) else DELTA, np.float64
        ),
        timer=column(lambda v: getattr(v, "timer", 0.0), np.float64),
        impact_x=np.array([0.0 if im is None else im[0] for im in impacts], dtype=np.float64),
        impact_y=np.array([0.0 if im is None else im[1] for im in impacts], dtype=np.float64),
        lane=column(lambda v: v.lane_index[2], np.int64),
        target_lane=column(lambda v: v.target_lane_index[2], np.int64),
        crashed=column(lambda v: v.crashed, bool),
        has_impact=np.array([im is not None for im in impacts], dtype=bool),
        time=float(env.time),
        lanes_count=len(lanes),
        simulation_frequency=int(env.config["simulation_frequency"]),
        policy_frequency=int(env.config["policy_frequency"]),
        check_npc_collisions=checks.pop() if checks else True,
    )
