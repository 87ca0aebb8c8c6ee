"""Traffic dynamics as pure functions over batched arrays: neighbours, IDM, MOBIL, controllers, bicycle.

Each function mirrors one piece of highway-env (``vehicle/behavior.py``, ``vehicle/controller.py``,
``vehicle/kinematics.py``, ``road/road.py``), with highway-env's constants, formulas and operation order
(so that floating-point results agree). Arrays are shaped (num_envs, num_vehicles); ``xp`` is the backend
(``envs/highway/backend.py``). One physics sub-step is ``substep``: act (decide) -> integrate -> collide,
exactly like highway-env's ``road.act(); road.step(dt)``.
"""

from __future__ import annotations

import math
from typing import Any

from envs.highway.collision import collide
from envs.highway.config import HighwayConfig
from envs.highway.state import EGO, LANE_WIDTH, ROAD_LENGTH, SPEED_LIMIT, VEHICLE_LENGTH, TrafficState

# Kinematics (highway-env ``Vehicle``)
MAX_SPEED = 40.0  # [m/s]
MIN_SPEED = -40.0  # [m/s]
# Low-level controllers (highway-env ``ControlledVehicle``)
TAU_ACC = 0.6  # [s]
TAU_HEADING = 0.2  # [s]
TAU_LATERAL = 0.6  # [s]
KP_A = 1 / TAU_ACC  # [1/s]
KP_HEADING = 1 / TAU_HEADING  # [1/s]
KP_LATERAL = 1 / TAU_LATERAL  # [1/s]
MAX_STEERING_ANGLE = math.pi / 3  # [rad]
# IDM longitudinal model (highway-env ``IDMVehicle``)
ACC_MAX = 6.0  # [m/s2]
COMFORT_ACC_MAX = 3.0  # [m/s2]
COMFORT_ACC_MIN = -5.0  # [m/s2]
DISTANCE_WANTED = 5.0 + VEHICLE_LENGTH  # [m] jam distance
TIME_WANTED = 1.5  # [s]
DELTA = 4.0  # [] default velocity exponent
DELTA_RANGE = (3.5, 4.5)  # [] randomised exponent range
# MOBIL lane-change model. highway-env's POLITENESS is 0, so the followers' terms of the jerk vanish and
# are not computed here.
LANE_CHANGE_MIN_ACC_GAIN = 0.2  # [m/s2]
LANE_CHANGE_MAX_BRAKING_IMPOSED = 2.0  # [m/s2]
LANE_CHANGE_DELAY = 1.0  # [s]
# Lane membership for neighbour search: ``lane.on_lane(position, margin=1)``
ON_LANE_HALF_WIDTH = LANE_WIDTH / 2 + 1.0  # [m]
SQRT_AB = math.sqrt(-COMFORT_ACC_MAX * COMFORT_ACC_MIN)  # [m/s2]


def not_zero(xp: Any, v: Any, eps: float = 1e-2) -> Any:
    return xp.where(xp.abs(v) > eps, v, xp.where(v >= 0, eps, -eps))


def wrap_to_pi(xp: Any, a: Any) -> Any:
    return xp.remainder(a + math.pi, 2 * math.pi) - math.pi


def closest_lane(xp: Any, y: Any, lanes_count: int) -> Any:
    """Index of the lane whose centre is nearest to ``y`` (ties to the lower index, like ``np.argmin``)."""
    return xp.astype(xp.clip(-xp.floor(-(y - LANE_WIDTH / 2) / LANE_WIDTH), 0, lanes_count - 1), xp.int)


def is_reachable(xp: Any, x: Any, y: Any, lane: Any) -> Any:
    """highway-env ``lane.is_reachable_from(position)`` for straight lanes."""
    return (xp.abs(y - lane * LANE_WIDTH) <= 2 * LANE_WIDTH) & (x >= 0) & (x < ROAD_LENGTH + VEHICLE_LENGTH)


# ---------------------------------------------------------------------------------------------------
# Neighbours: highway-env ``Road.neighbour_vehicles`` for every vehicle and every lane at once.
# ---------------------------------------------------------------------------------------------------
def neighbour_table(xp: Any, x: Any, y: Any, lanes_count: int) -> tuple[Any, Any]:
    """Preceding and following vehicle of each vehicle, projected on each lane.

    Returns ``front, rear`` shaped (num_envs, lanes_count, num_vehicles): vehicle indexes, -1 for none.
    A vehicle is on a lane when within ``ON_LANE_HALF_WIDTH`` of its centre. Sorting by x once replaces
    highway-env's loop over all vehicles: the next lane member after a vehicle in x order is its front.
    """
    num_envs, n = x.shape
    lane_y = xp.astype(xp.arange(lanes_count), xp.float) * LANE_WIDTH
    in_x = (x >= -VEHICLE_LENGTH) & (x < ROAD_LENGTH + VEHICLE_LENGTH)
    on_lane = (xp.abs(y[:, None, :] - lane_y[None, :, None]) <= ON_LANE_HALF_WIDTH) & in_x[:, None, :]
    order = xp.argsort(x, axis=1)  # (B, N) vehicles by increasing x
    on_sorted = xp.take_along_axis(on_lane, order[:, None, :], axis=2)  # (B, L, N)
    pos = xp.arange(n)
    none_idx = xp.full((num_envs, lanes_count, 1), n, dtype=xp.int)
    nearest_ahead = xp.flip(xp.cummin(xp.flip(xp.where(on_sorted, pos, n), 2), 2), 2)
    nxt = xp.concatenate([nearest_ahead[:, :, 1:], none_idx], axis=2)
    nearest_behind = xp.cummax(xp.where(on_sorted, pos, -1), 2)
    prv = xp.concatenate([none_idx * 0 - 1, nearest_behind[:, :, :-1]], axis=2)
    prv = xp.where(prv < 0, n, prv)
    order_ext = xp.concatenate([order, xp.full((num_envs, 1), -1, dtype=xp.int)], axis=1)[:, None, :]
    front_sorted = xp.take_along_axis(order_ext, nxt, axis=2)
    rear_sorted = xp.take_along_axis(order_ext, prv, axis=2)
    rank = xp.zeros((num_envs, n), dtype=xp.int)
    rank[xp.arange(num_envs)[:, None], order] = pos[None, :]
    front = xp.take_along_axis(front_sorted, rank[:, None, :], axis=2)
    rear = xp.take_along_axis(rear_sorted, rank[:, None, :], axis=2)
    return front, rear


def lookup(xp: Any, table: Any, lane: Any) -> Any:
    """``table[b, lane[b, i], i]`` for a (B, L, N) neighbour table and a (B, N) lane array."""
    return xp.take_along_axis(table, lane[:, None, :], axis=1)[:, 0, :]


def gather(xp: Any, field: Any, idx: Any) -> Any:
    """``field[b, idx[b, i]]`` for (B, N) arrays, with -1 (no vehicle) read as vehicle 0."""
    return xp.take_along_axis(field, xp.where(idx >= 0, idx, 0), axis=1)


# ---------------------------------------------------------------------------------------------------
# IDM
# ---------------------------------------------------------------------------------------------------
def desired_gap(xp: Any, speed: Any, heading: Any, front_speed: Any, front_heading: Any) -> Any:
    """IDM desired distance [m] to the front vehicle (velocities projected on the follower's heading)."""
    c, s = xp.cos(heading), xp.sin(heading)
    dv = (speed * c - front_speed * xp.cos(front_heading)) * c + (
        speed * s - front_speed * xp.sin(front_heading)
    ) * s
    return DISTANCE_WANTED + speed * TIME_WANTED + speed * dv / (2 * SQRT_AB)


def idm_acceleration(
    xp: Any, speed: Any, target_speed: Any, heading: Any, delta: Any,
    has_front: Any, front_dx: Any, front_speed: Any, front_heading: Any,
) -> Any:  # fmt: skip
    """IDM acceleration [m/s2] of a vehicle; ``delta`` is the exponent of the vehicle *computing* it."""
    target = xp.clip(target_speed, 0, SPEED_LIMIT)
    acc = COMFORT_ACC_MAX * (1 - xp.power(xp.maximum(speed, 0) / xp.abs(not_zero(xp, target)), delta))
    gap = desired_gap(xp, speed, heading, front_speed, front_heading)
    braking = COMFORT_ACC_MAX * xp.power(gap / not_zero(xp, front_dx), 2)
    return xp.where(has_front, acc - braking, acc)


def idm_behind(xp: Any, s: TrafficState, front: Any, delta: Any) -> Any:
    """IDM acceleration of every vehicle following the vehicles ``front`` (B, N), -1 for none."""
    return idm_acceleration(
        xp, s.speed, s.target_speed, s.heading, delta,
        front >= 0, gather(xp, s.x, front) - s.x, gather(xp, s.speed, front), gather(xp, s.heading, front),
    )  # fmt: skip


# ---------------------------------------------------------------------------------------------------
# MOBIL lane changes and aborts (highway-env ``IDMVehicle.change_lane_policy``)
# ---------------------------------------------------------------------------------------------------
def mobil(xp: Any, s: TrafficState, front: Any, rear: Any, cfg: HighwayConfig) -> tuple[Any, Any]:
    """Lane decisions of NPCs whose timer expired. Returns (target_lane, timer).

    Only the due vehicles (about one in ``simulation_frequency``) are evaluated, compacted into 1-D arrays.
    """
    n = s.num_vehicles
    npc = xp.arange(n)[None, :] != EGO
    due = npc & ~s.crashed & (s.lane == s.target_lane) & (s.timer > LANE_CHANGE_DELAY)
    timer = xp.where(due, 0.0, s.timer)
    b, i = xp.nonzero(due)
    if b.shape[0] == 0:
        return s.target_lane, timer
    x, y, v, h, d = s.x[b, i], s.y[b, i], s.speed[b, i], s.heading[b, i], s.delta[b, i]
    lane = s.lane[b, i]
    old_front = front[b, lane, i]
    self_a = _idm_pair(xp, s, b, i, old_front, d)
    new_target = lane
    for side in (-1, 1):  # highway-env's side_lanes order: left first, then right (right wins if both pass)
        cand = xp.clip(lane + side, 0, cfg.lanes_count - 1)
        ok = (
            (lane + side >= 0)
            & (lane + side < cfg.lanes_count)
            & is_reachable(xp, x, y, cand)
            & (xp.abs(v) >= 1)
        )
        new_front, new_rear = front[b, cand, i], rear[b, cand, i]
        # Is the manoeuvre unsafe for the new follower? (it brakes behind us, with our IDM exponent)
        r = xp.where(new_rear >= 0, new_rear, 0)
        new_rear_pred_a = idm_acceleration(
            xp, s.speed[b, r], s.target_speed[b, r], s.heading[b, r], d, True, x - s.x[b, r], v, h
        )
        ok = ok & ~((new_rear >= 0) & (new_rear_pred_a < -LANE_CHANGE_MAX_BRAKING_IMPOSED))
        jerk = _idm_pair(xp, s, b, i, new_front, d) - self_a
        ok = ok & ~(jerk < LANE_CHANGE_MIN_ACC_GAIN)
        new_target = xp.where(ok, cand, new_target)
    target_lane = xp.copy(s.target_lane)
    target_lane[b, i] = new_target
    return target_lane, timer


def _idm_pair(xp: Any, s: TrafficState, b: Any, i: Any, f: Any, delta: Any) -> Any:
    """IDM acceleration of vehicles (b, i) behind vehicles (b, f) (f = -1: free road), 1-D arrays."""
    fc = xp.where(f >= 0, f, 0)
    return idm_acceleration(
        xp, s.speed[b, i], s.target_speed[b, i], s.heading[b, i], delta,
        f >= 0, s.x[b, fc] - s.x[b, i], s.speed[b, fc], s.heading[b, fc],
    )  # fmt: skip


def abort_lane_changes(xp: Any, s: TrafficState, decided_target: Any) -> Any:
    """Abort a lane change if another vehicle merging into the same lane is within our desired gap ahead.

    highway-env checks vehicles in road order, seeing this sub-step's decisions of the vehicles before it:
    other vehicles' targets are ``decided_target`` for lower indexes and the previous ones for higher
    ones. (Aborts of lower-index vehicles in the same sub-step are not chained: that needs three vehicles
    merging into one lane at once.)
    """
    n = s.num_vehicles
    npc = xp.arange(n)[None, :] != EGO
    changing = npc & ~s.crashed & (s.lane != s.target_lane)
    b, i = xp.nonzero(changing)
    if b.shape[0] == 0:
        return decided_target
    target = s.target_lane[b, i][:, None]  # (C, 1)
    others = xp.arange(n)[None, :]
    others_target = xp.where(others < i[:, None], decided_target[b], s.target_lane[b])  # (C, N)
    dx = s.x[b] - s.x[b, i][:, None]
    gap = desired_gap(xp, s.speed[b, i][:, None], s.heading[b, i][:, None], s.speed[b], s.heading[b])
    blocking = (
        (others != i[:, None]) & (s.lane[b] != target) & (others_target == target) & (dx > 0) & (dx < gap)
    )
    out = xp.copy(decided_target)
    out[b, i] = xp.where(xp.any(blocking, axis=1), s.lane[b, i], target[:, 0])
    return out


# ---------------------------------------------------------------------------------------------------
# Ego meta-actions and low-level controllers
# ---------------------------------------------------------------------------------------------------
def speed_to_index(xp: Any, speed: Any, target_speeds: Any) -> Any:
    """Closest cruise set-point index (highway-env ``MDPVehicle.speed_to_index``)."""
    n = target_speeds.shape[0]
    frac = (speed - target_speeds[0]) / (target_speeds[n - 1] - target_speeds[0])
    return xp.astype(xp.clip(xp.round(frac * (n - 1)), 0, n - 1), xp.int)


def apply_meta_action(xp: Any, s: TrafficState, action: Any, cfg: HighwayConfig) -> TrafficState:
    """Ego DiscreteMetaAction: 0 LANE_LEFT, 1 IDLE, 2 LANE_RIGHT, 3 FASTER, 4 SLOWER. ``action`` is (B,)."""
    target_speeds = xp.asarray(cfg.target_speeds, dtype=xp.float)
    n_speeds = len(cfg.target_speeds)
    speed, tl = s.speed[:, EGO], s.target_lane[:, EGO]
    faster, slower = action == 3, action == 4
    index = xp.clip(speed_to_index(xp, speed, target_speeds) + xp.where(faster, 1, -1), 0, n_speeds - 1)
    target_speed = xp.copy(s.target_speed)
    target_speed[:, EGO] = xp.where(faster | slower, target_speeds[index], s.target_speed[:, EGO])
    lateral = (action == 0) | (action == 2)
    cand = xp.clip(tl + xp.where(action == 0, -1, 1), 0, cfg.lanes_count - 1)
    ok = lateral & is_reachable(xp, s.x[:, EGO], s.y[:, EGO], cand)
    target_lane = xp.copy(s.target_lane)
    target_lane[:, EGO] = xp.where(ok, cand, tl)
    return s.replace(target_speed=target_speed, target_lane=target_lane)


def steering_control(xp: Any, s: TrafficState, target_lane: Any) -> Any:
    """Steering angle [rad] to follow the centre of ``target_lane``: lateral P -> heading P -> steering."""
    lateral = s.y - xp.astype(target_lane, s.y.dtype) * LANE_WIDTH
    speed = not_zero(xp, s.speed)
    heading_command = xp.arcsin(xp.clip(-KP_LATERAL * lateral / speed, -1, 1))
    heading_ref = 0.0 + xp.clip(heading_command, -math.pi / 4, math.pi / 4)  # straight lanes: heading 0
    heading_rate = KP_HEADING * wrap_to_pi(xp, heading_ref - s.heading)
    slip = xp.arcsin(xp.clip(VEHICLE_LENGTH / 2 / speed * heading_rate, -1, 1))
    steering = xp.arctan(2 * xp.tan(slip))
    return xp.clip(steering, -MAX_STEERING_ANGLE, MAX_STEERING_ANGLE)


# ---------------------------------------------------------------------------------------------------
# One sub-step
# ---------------------------------------------------------------------------------------------------
def act(xp: Any, s: TrafficState, cfg: HighwayConfig) -> tuple[TrafficState, Any, Any]:
    """Every vehicle decides (highway-env ``road.act()``): returns (state with new targets, steering, acc)."""
    front, rear = neighbour_table(xp, s.x, s.y, cfg.lanes_count)
    decided, timer = mobil(xp, s, front, rear, cfg)
    target_lane = abort_lane_changes(xp, s, decided)
    s = s.replace(target_lane=target_lane, timer=timer)
    acc = idm_behind(xp, s, lookup(xp, front, s.lane), s.delta)
    acc_target = idm_behind(xp, s, lookup(xp, front, target_lane), s.delta)
    acc = xp.where(s.lane != target_lane, xp.minimum(acc, acc_target), acc)
    acc = xp.clip(acc, -ACC_MAX, ACC_MAX)
    is_ego = xp.arange(s.num_vehicles)[None, :] == EGO
    acc = xp.where(is_ego, KP_A * (s.target_speed - s.speed), acc)
    return s, steering_control(xp, s, target_lane), acc


def integrate(xp: Any, s: TrafficState, steering: Any, acc: Any, cfg: HighwayConfig) -> TrafficState:
    """Kinematic bicycle model (highway-env ``Vehicle.step``), crashed vehicles braking to a stop."""
    dt = cfg.dt
    speed = s.speed
    steering = xp.where(s.crashed, 0.0, steering)
    acc = xp.where(s.crashed, -1.0 * speed, acc)
    acc = xp.where(speed > MAX_SPEED, xp.minimum(acc, 1.0 * (MAX_SPEED - speed)), acc)
    acc = xp.where(speed < MIN_SPEED, xp.maximum(acc, 1.0 * (MIN_SPEED - speed)), acc)
    beta = xp.arctan(1 / 2 * xp.tan(steering))
    x = s.x + speed * xp.cos(s.heading + beta) * dt
    y = s.y + speed * xp.sin(s.heading + beta) * dt
    x = xp.where(s.has_impact, x + s.impact_x, x)
    y = xp.where(s.has_impact, y + s.impact_y, y)
    return s.replace(
        x=x,
        y=y,
        heading=s.heading + speed * xp.sin(beta) / (VEHICLE_LENGTH / 2) * dt,
        speed=speed + acc * dt,
        crashed=s.crashed | s.has_impact,
        has_impact=s.has_impact & False,
        timer=s.timer + dt,
        lane=closest_lane(xp, y, cfg.lanes_count),
    )


def substep(xp: Any, s: TrafficState, cfg: HighwayConfig) -> TrafficState:
    s, steering, acc = act(xp, s, cfg)
    s = integrate(xp, s, steering, acc, cfg)
    return collide(xp, s, cfg.dt, cfg.check_npc_collisions)


def policy_step(xp: Any, s: TrafficState, action: Any, cfg: HighwayConfig) -> TrafficState:
    """One policy step: the meta-action on the first sub-step, then ``frames_per_action`` sub-steps."""
    s = apply_meta_action(xp, s, action, cfg)
    for _ in range(cfg.frames_per_action):
        s = substep(xp, s, cfg)
    return s.replace(time=s.time + 1 / cfg.policy_frequency)
