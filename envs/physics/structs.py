"""The simulator's state as Warp structs of arrays, built for one float type ``F``.

``Vehicles`` holds every per-vehicle field shaped (envs, slots); ``Episodes`` the per-env fields;
``Road`` the lane tables of ``envs/road``; ``Params`` the scalars and small tables of a config;
``Outputs`` what a step returns, per env and per agent (row ``e * agents + k``: env e's k-th
controlled vehicle, in slot k) (with ``Params.trace``, also every sub-step's vehicle poses, so that
a renderer can draw the traffic at the simulation frequency as highway-env's viewer does). Field lists (:data:`VEHICLE_FIELDS`, ...) name each array with its
element type, so the host side (``envs/physics/engine.py``) allocates them from one place.
"""

import functools
from types import SimpleNamespace

import warp as wp

# Slot kinds (``Vehicles.kind``). A world places vehicles in slots; the physics reads only these codes.
# VEHICLE is highway-env's plain ``Vehicle`` that nobody controls (parking-v0's parked cars): it holds its
# action (zero) and moves only when pushed by an impact.
ABSENT, CONTROLLED, IDM, OBSTACLE, VEHICLE = 0, 1, 2, 3, 4
KIND_NAMES = {
    ABSENT: "absent",
    CONTROLLED: "controlled",
    IDM: "idm",
    OBSTACLE: "obstacle",
    VEHICLE: "vehicle",
}
# Slot flags (``Vehicles.flags``, bits): highway-env's per-object switches.
CHECK_COLLISIONS, ENABLE_LANE_CHANGE, COLLIDABLE, SOLID = 1, 2, 4, 8
# Error bits (``Episodes.error``), raised by the host with a message.
ERR_ACTION, ERR_NONFINITE, ERR_ROUTE = 1, 2, 4

# name -> element kind ("f": the float type, "i": int32, "b": bool), per-vehicle arrays (envs, slots).
VEHICLE_FIELDS = {
    "x": "f", "y": "f", "heading": "f", "speed": "f", "target_speed": "f", "delta": "f", "timer": "f",
    "impact_x": "f", "impact_y": "f", "length": "f", "width": "f", "s_own": "f", "r_own": "f",
    "steer": "f", "acc": "f", "okey": "f", "cos_h": "f", "sin_h": "f",
    "lane": "i", "target_lane": "i", "kind": "i", "flags": "i", "order": "i", "route_head": "i",
    "route_len": "i", "ikey": "i", "born": "i",
    "crashed": "b", "has_impact": "b", "yielding": "b",
}  # fmt: skip
ROUTE_FIELDS = ("route_road", "route_lane")  # (envs, slots, route capacity) int32; lane -1 = any lane
MEMBER_FIELDS = {"mem_n": "i"}  # (envs, lanes): members of each lane; mem_j/mem_s (envs, lanes, slots)
EPISODE_FIELDS = {
    "time": "d", "seed": "i", "episode": "i", "mode": "i", "error": "i", "obs_lanes": "i", "road_steps": "i",
}  # fmt: skip
# Episode modes (``Episodes.mode``), set by the host before a launch and by the kernel after a done.
STEP, RESPAWN, REFRESH = 0, 1, 2
# When an episode ends (``Params.episode_end``): highway-env's rule (the world's: most end when the first
# controlled vehicle is done, the intersection on any crash or when all have arrived), or when every agent
# is done (the multi-agent and self-play envs, where a crashed agent stays on the road as an obstacle).
END_HIGHWAY_ENV, END_ALL_AGENTS = 0, 1


@functools.cache
def make_structs(F: type) -> SimpleNamespace:  # noqa: N803
    A2 = wp.array2d(dtype=F)
    I2 = wp.array2d(dtype=wp.int32)
    B2 = wp.array2d(dtype=wp.bool)

    @wp.struct
    class Vehicles:
        x: A2  # [m] world position
        y: A2  # [m]
        heading: A2  # [rad]
        speed: A2  # [m/s]
        target_speed: A2  # [m/s] cruise set-point (controlled) or IDM desired speed
        delta: A2  # [] IDM velocity exponent of this vehicle
        timer: A2  # [s] MOBIL lane-change timer
        impact_x: A2  # [m] pending collision displacement, applied at the next sub-step
        impact_y: A2  # [m]
        length: A2  # [m]
        width: A2  # [m]
        s_own: A2  # [m] longitudinal coordinate on the vehicle's own lane
        r_own: A2  # [m] lateral coordinate on it
        steer: A2  # [] scratch: tangent of this sub-step's steering angle
        acc: A2  # [m/s2] scratch: this sub-step's acceleration command
        okey: A2  # scratch: the observation's sort key of each slot
        cos_h: A2  # cos(heading), kept with the heading (most functions need it)
        sin_h: A2  # sin(heading)
        lane: I2  # lane table row of the closest lane (highway-env ``lane_index``)
        target_lane: I2  # lane table row the steering controller tracks
        kind: I2  # ABSENT / CONTROLLED / IDM / OBSTACLE / VEHICLE
        flags: I2  # CHECK_COLLISIONS | ENABLE_LANE_CHANGE | COLLIDABLE | SOLID
        order: I2  # slots sorted by x (kept nearly sorted between sub-steps), for the collision sweep
        route_head: I2  # first remaining route entry
        route_len: I2  # remaining route entries
        ikey: I2  # scratch: the collision pair that last set this slot's impact (highway-env's loop order)
        crashed: B2
        has_impact: B2
        born: I2  # order of arrival on the road (highway-env's list order: right-of-way ties), ties by slot
        yielding: B2  # stopped to give way at a regulated junction (highway-env ``is_yielding``)
        route_road: wp.array3d(dtype=wp.int32)  # (envs, slots, R) road of each route entry
        route_lane: wp.array3d(dtype=wp.int32)  # (envs, slots, R) lane id on that road, -1 for any
        pred: wp.array3d(dtype=F)  # (envs, slots, 33) regulated roads: predicted poses (regulation.py)
        mem_n: I2  # (envs, lanes) how many slots are on each lane (on_lane with a 1 m margin)
        mem_j: wp.array3d(dtype=wp.int32)  # (envs, lanes, slots) those slots, in slot order
        mem_s: wp.array3d(dtype=F)  # (envs, lanes, slots) their longitudinal coordinates on the lane

    @wp.struct
    class Episodes:
        time: wp.array(dtype=wp.float64)  # [s] episode time (float64 as highway-env's Python float)
        seed: wp.array(dtype=wp.int32)  # per-env random stream: wp.rand_init(seed, episode)
        episode: wp.array(dtype=wp.int32)  # episodes started in this env
        mode: wp.array(dtype=wp.int32)  # STEP / RESPAWN / REFRESH
        error: wp.array(dtype=wp.int32)  # ERR_* bits
        obs_lanes: wp.array(dtype=wp.int32)  # lanes of the ego's road at reset (Kinematics y range)
        road_steps: wp.array(
            dtype=wp.int32
        )  # physics sub-steps since the road was made (RegulatedRoad.steps)

    @wp.struct
    class Road:
        lf: A2
        li: I2
        road_from: wp.array(dtype=wp.int32)
        road_to: wp.array(dtype=wp.int32)
        road_first: wp.array(dtype=wp.int32)
        road_lanes: wp.array(dtype=wp.int32)
        node_first: wp.array(dtype=wp.int32)
        node_count: wp.array(dtype=wp.int32)
        node_roads: wp.array(dtype=wp.int32)

    @wp.struct
    class Params:
        dt: F  # [s] physics sub-step
        frames: int  # sub-steps per policy step
        policy_dt: wp.float64  # [s] one policy step
        duration: wp.float64  # [s] episode length before truncation
        live: int  # 1: advance envs in STEP mode; 0: only respawn/refresh and observe
        autoreset: int  # 1: a finished env respawns at its next step (Gymnasium's NEXT_STEP)
        trace: int  # 1: write every sub-step's poses into ``Outputs.trace`` (for rendering)
        agents: int  # controlled vehicles, in slots 0 .. agents - 1 (highway-env ``controlled_vehicles``)
        shared_reward: int  # 1: the env's reward is the agents' mean (cooperative worlds); 0: the first's
        episode_end: int  # END_HIGHWAY_ENV: the world's own rule; END_ALL_AGENTS: when every agent is done
        actions: wp.array(dtype=wp.int32)  # action index -> meta-action code
        continuous: (
            int  # 1: the ego takes (acceleration, steering) commands (ContinuousAction), not meta-actions
        )
        control_f: wp.array(
            dtype=F
        )  # ContinuousAction: acceleration low, high; steering low, high; speed min, max
        control_i: wp.array(dtype=wp.int32)  # ContinuousAction: longitudinal, lateral, clip (0/1 each)
        target_speeds: wp.array(dtype=F)  # [m/s] cruise set-points of controlled vehicles
        idm: wp.array(dtype=F)  # IDM parameters (layout: traffic.IDM_*)
        regulation: int  # sub-steps between a regulated road's right-of-way checks (0: not regulated)
        world_f: wp.array(dtype=F)  # the world's float parameters (layout: the world module)
        world_i: wp.array(dtype=wp.int32)  # the world's int parameters
        obs_f: wp.array(dtype=F)  # the observation's float parameters
        obs_i: wp.array(dtype=wp.int32)  # the observation's int parameters

    @wp.struct
    class Outputs:
        obs: wp.array2d(dtype=wp.float32)  # (envs, observation size), flattened
        reward: wp.array(dtype=wp.float32)
        terminated: wp.array(dtype=wp.bool)
        truncated: wp.array(dtype=wp.bool)
        terms: wp.array2d(dtype=wp.float32)  # (envs * agents, reward terms)
        rewards: wp.array(dtype=wp.float32)  # (envs * agents) each agent's reward
        dones: wp.array(dtype=wp.bool)  # (envs * agents) each agent is done (crashed, arrived, ...)
        speed: wp.array(dtype=wp.float32)  # (envs * agents) [m/s] each agent's, for info
        crashed: wp.array(dtype=wp.bool)  # (envs * agents) each agent's, for info
        trace: wp.array3d(dtype=wp.float32)  # (envs, frames * slots, 4) x, y, heading, crashed per sub-step

    return SimpleNamespace(Vehicles=Vehicles, Episodes=Episodes, Road=Road, Params=Params, Outputs=Outputs)
