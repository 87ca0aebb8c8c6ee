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

import gymnasium as gym
import numpy as np

from envs.physics import structs as st
from envs.physics.scene import Scene
from envs.physics.traffic import DELTA


def _kind(vehicle: Any, ego: bool = False) -> int:
    from highway_env.vehicle.behavior import IDMVehicle
    from highway_env.vehicle.controller import MDPVehicle
    from highway_env.vehicle.kinematics import Vehicle
    from highway_env.vehicle.objects import Landmark, Obstacle

    if isinstance(vehicle, MDPVehicle) or (ego and type(vehicle) is Vehicle):  # Vehicle: ContinuousAction
        return st.CONTROLLED
    if type(vehicle) is IDMVehicle:
        return st.IDM
    if type(vehicle) is Vehicle:  # nobody controls it: parking-v0's parked cars
        return st.VEHICLE
    if type(vehicle) in (Obstacle, Landmark):  # a Landmark is an object that is not solid (a goal)
        return st.OBSTACLE
    raise ValueError(
        f"{type(vehicle).__name__} is not supported: the ego must be MDPVehicle (DiscreteMetaAction) or "
        "Vehicle (ContinuousAction), the others IDMVehicle (highway-env's default traffic) or Vehicle "
        "(parked), objects Obstacle or Landmark"
    )


def _flags(v: Any) -> int:
    bits = st.CHECK_COLLISIONS * bool(v.check_collisions) | st.COLLIDABLE * bool(v.collidable)
    bits |= st.SOLID * bool(v.solid) | st.ENABLE_LANE_CHANGE * bool(getattr(v, "enable_lane_change", False))
    return bits


#: highway-env env classes -> the world that simulates them
HIGHWAY_ENV_WORLDS = {
    "HighwayEnv": "highway",
    "HighwayEnvFast": "highway",
    "MergeEnv": "merge",
    "RoundaboutEnv": "roundabout",
    "ExitEnv": "exit",
    "RacetrackEnv": "racetrack",
    "ParkingEnv": "parking",
    "IntersectionEnv": "intersection",
    "MultiAgentIntersectionEnv": "intersection",
}


def world_of(he_env: Any) -> str:
    """The world of a highway-env env (by its class), or a clear error naming the supported ones."""
    env = getattr(he_env, "unwrapped", he_env)
    name = type(env).__name__
    if name not in HIGHWAY_ENV_WORLDS:
        raise ValueError(f"highway-env's {name} has no world here; supported: {sorted(HIGHWAY_ENV_WORLDS)}")
    return HIGHWAY_ENV_WORLDS[name]


def scene_from_highway_env(he_env: Any, world: str | None = None) -> Scene:
    """Every vehicle and object of ``he_env`` (wrapped or not): positions, headings, speeds, target
    speeds and lanes, routes, IDM exponents, MOBIL timers, crash flags, pending impacts, collision
    switches. The controlled vehicles come first (in ``controlled_vehicles`` order: the slots the
    policy drives), then the other vehicles in road order, then objects.
    ``world``: the world to load it into (default: the one simulating ``he_env``'s class)."""
    env = getattr(he_env, "unwrapped", he_env)
    world = world or world_of(env)
    road = getattr(env, "road", None)
    if road is None or not getattr(env, "controlled_vehicles", None):
        raise ValueError("the highway-env env has no road yet: call reset() first")
    controlled = list(env.controlled_vehicles)
    chosen = {id(v) for v in controlled}
    slots = [*controlled, *[v for v in road.vehicles if id(v) not in chosen], *road.objects]
    kinds = [_kind(v, ego=k < len(controlled)) for k, v in enumerate(slots)]
    for k, vehicle in enumerate(controlled):
        if kinds[k] != st.CONTROLLED:
            raise ValueError(
                f"controlled vehicles must be driven by DiscreteMetaAction (MDPVehicle) or ContinuousAction "
                f"(Vehicle), got {type(vehicle).__name__}"
            )

    order = {id(v): k for k, v in enumerate([*road.vehicles, *road.objects])}  # highway-env's list order

    def column(fn: Any, dtype: Any) -> np.ndarray:
        return np.array([fn(v) for v in slots], dtype=dtype)

    impacts = [getattr(v, "impact", None) if kinds[k] != st.OBSTACLE else None for k, v in enumerate(slots)]
    lane = tuple(tuple(v.lane_index) for v in slots)
    return Scene(
        x=column(lambda v: v.position[0], np.float64),
        y=column(lambda v: v.position[1], np.float64),
        heading=column(lambda v: v.heading, np.float64),
        speed=column(lambda v: v.speed, np.float64),
        target_speed=column(lambda v: getattr(v, "target_speed", 0.0), np.float64),
        delta=column(lambda v: getattr(v, "DELTA", DELTA), np.float64),
        timer=column(lambda v: getattr(v, "timer", 0.0), np.float64),
        impact_x=np.array([0.0 if im is None else im[0] for im in impacts], np.float64),
        impact_y=np.array([0.0 if im is None else im[1] for im in impacts], np.float64),
        length=column(lambda v: v.LENGTH, np.float64),
        width=column(lambda v: v.WIDTH, np.float64),
        crashed=column(lambda v: v.crashed, bool),
        has_impact=np.array([im is not None for im in impacts], bool),
        yielding=column(lambda v: bool(getattr(v, "is_yielding", False)), bool),
        kind=np.array(kinds, np.int32),
        born=np.array([order.get(id(v), k) for k, v in enumerate(slots)], np.int32),
        flags=column(_flags, np.int32),
        lane=lane,
        target_lane=tuple(tuple(getattr(v, "target_lane_index", None) or v.lane_index) for v in slots),
        route=tuple(tuple(tuple(r) for r in (getattr(v, "route", None) or ())) for v in slots),
        time=float(env.time),
        world=world,
        simulation_frequency=int(env.config["simulation_frequency"]),
        policy_frequency=int(env.config["policy_frequency"]),
        road_steps=int(getattr(road, "steps", 0)),  # a RegulatedRoad's sub-step count
    )


class ArrivalInfo(gym.Wrapper):
    """highway-env's ``intersection-v0`` family with ``info["is_success"]``: the controlled vehicle has
    arrived (its ``has_arrived``, the same test as ours), so that the same evaluation reports the
    arrival rate in both simulators; with several controlled vehicles also ``agents_is_success`` and
    ``agents_crashed``, as ours report them."""

    def step(self, action: Any):
        obs, reward, terminated, truncated, info = self.env.step(action)
        env = self.env.unwrapped
        info["is_success"] = bool(env.has_arrived(env.vehicle))
        if len(env.controlled_vehicles) > 1:  # intersection-multi-agent-v0: every vehicle's, as ours report
            info["agents_is_success"] = tuple(bool(env.has_arrived(v)) for v in env.controlled_vehicles)
            info["agents_crashed"] = tuple(bool(v.crashed) for v in env.controlled_vehicles)
        return obs, reward, terminated, truncated, info


def highway_env_wrapper(spec: Any) -> type[gym.Wrapper] | None:
    """The wrapper a highway-env env id needs to report what ours report (by its entry point), if any."""
    entry = str(getattr(spec, "entry_point", ""))
    return ArrivalInfo if entry.endswith("IntersectionEnv") else None
