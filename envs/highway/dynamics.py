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

from envs.highway.backend import no_rows, put, rows
from envs.highway.collision import collide
from envs.highway.config import HighwayConfig
from envs.highway.neighbours import Neighbours, neighbours
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
SQRT_AB = math.sqrt(-COMFORT_ACC_MAX * COMFORT_ACC_MIN)  # [m/s2]


def not_zero(xp: Any, v: Any, eps: float = 1e-2) -> Any:
    return xp.where(xp.abs(v) > eps, v, xp.astype(xp.where(v >= 0, eps, -eps), v.dtype))


def wrap_to_pi(xp: Any, a: Any) -> Any:
    return xp.remainder(a + math.pi, 2 * math.pi) - math.pi


def closest_lane(xp: Any, y: Any, lanes_count: int) -> Any:
    """Index of the lane whose centre is nearest to ``y`` (ties to the lower index, like ``np.argmin``)."""
    return xp.astype(xp.clip(-xp.floor(-(y - LANE_WIDTH / 2) / LANE_WIDTH), 0, lanes_count - 1), xp.int)


def is_reachable(xp: Any, x: Any, y: Any, lane: Any) -> Any:
    """highway-env ``lane.is_reachable_from(position)`` for straight lanes."""
    return (xp.abs(y - lane * LANE_WIDTH) <= 2 * LANE_WIDTH) & (x >= 0) & (x < ROAD_LENGTH + VEHICLE_LENGTH)


# ---------------------------------------------------------------------------------------------------
# IDM
# ---------------------------------------------------------------------------------------------------
def desired_gap(xp: Any, speed: Any, c: Any, s: Any, front_speed: Any, front_c: Any, front_s: Any) -> Any:
    """IDM desired distance [m] to the front vehicle; velocities projected on the follower's heading
    (``c``, ``s`` = cos/sin of headings)."""
    dv = (speed * c - front_speed * front_c) * c + (speed * s - front_speed * front_s) * s
    return DISTANCE_WANTED + speed * TIME_WANTED + speed * dv / (2 * SQRT_AB)


def idm_acceleration(
    xp: Any, speed: Any, target_speed: Any, c: Any, s: Any, delta: Any,
    has_front: Any, front_dx: Any, front_speed: Any, front_c: Any, front_s: Any,
) -> Any:  # fmt: skip
    """IDM acceleration [m/s2] of a vehicle; ``delta`` is the exponent of the vehicle *computing* it."""
    target = xp.clip(target_speed, 0, SPEED_LIMIT)
    acc = COMFORT_ACC_MAX * (1 - xp.power(xp.clip(speed, 0, None) / xp.abs(not_zero(xp, target)), delta))
    gap = desired_gap(xp, speed, c, s, front_speed, front_c, front_s)
    braking = COMFORT_ACC_MAX * xp.power(gap / not_zero(xp, front_dx), 2)
    return xp.where(has_front, acc - braking, acc)


class Kin:
    """Per-sub-step kinematic arrays (B, N), flattened gathers by flat index ``env * N + vehicle``."""

    def __init__(self, xp: Any, s: TrafficState) -> None:
        self.xp, self.s = xp, s
        self.n = s.num_vehicles
        self.c, self.sin = xp.cos(s.heading), xp.sin(s.heading)

    def follower_acc(self, idx: Any, front: Any, delta: Any) -> Any:
        """IDM acceleration of vehicles at flat indexes ``idx`` behind vehicles ``front`` (same env, -1: none)."""
        xp, s = self.xp, self.s
        env_base = idx - idx % self.n
        f = env_base + xp.where(front >= 0, front, 0)
        take = xp.take
        return idm_acceleration(
            xp, take(s.speed, idx), take(s.target_speed, idx), take(self.c, idx), take(self.sin, idx), delta,
            front >= 0, take(s.x, f) - take(s.x, idx), take(s.speed, f), take(self.c, f), take(self.sin, f),
        )  # fmt: skip


# ---------------------------------------------------------------------------------------------------
# MOBIL lane changes and aborts (highway-env ``IDMVehicle.change_lane_policy``)
# ---------------------------------------------------------------------------------------------------
def mobil(xp: Any, s: TrafficState, k: Kin, nb: Neighbours, cfg: HighwayConfig) -> tuple[Any, Any]:
    """Lane decisions of NPCs whose timer expired. Returns (target_lane, timer).

    Only the due vehicles (about one in ``simulation_frequency``) are evaluated, as 1-D rows (``rows``).
    """
    n = s.num_vehicles
    npc = xp.arange(n)[None, :] != EGO
    due = npc & ~s.crashed & (s.lane == s.target_lane) & (s.timer > LANE_CHANGE_DELAY)
    b, i, valid = rows(xp, due)
    if no_rows(b, valid):
        return s.target_lane, s.timer
    timer = xp.where(due, 0.0, s.timer)
    idx = b * n + i
    x, y, v, d = xp.take(s.x, idx), xp.take(s.y, idx), xp.take(s.speed, idx), xp.take(s.delta, idx)
    c, sn = xp.take(k.c, idx), xp.take(k.sin, idx)
    lane = xp.take(s.lane, idx)
    self_a = k.follower_acc(idx, nb.front(xp, b, lane, i), d)
    # both side lanes in one pass: left candidates first, then right (highway-env's side_lanes order)
    q = b.shape[0]
    side = xp.concatenate([lane - 1, lane + 1])
    b2, i2, idx2 = xp.concatenate([b, b]), xp.concatenate([i, i]), xp.concatenate([idx, idx])
    x2, y2, v2, d2 = (
        xp.concatenate([x, x]),
        xp.concatenate([y, y]),
        xp.concatenate([v, v]),
        xp.concatenate([d, d]),
    )
    c2, s2 = xp.concatenate([c, c]), xp.concatenate([sn, sn])
    cand = xp.clip(side, 0, cfg.lanes_count - 1)
    ok = (side >= 0) & (side < cfg.lanes_count) & is_reachable(xp, x2, y2, cand) & (xp.abs(v2) >= 1)
    new_front, new_rear = nb.front(xp, b2, cand, i2), nb.rear(xp, b2, cand, i2)
    # Is the manoeuvre unsafe for the new follower? (it brakes behind us, with our IDM exponent)
    r = b2 * n + xp.where(new_rear >= 0, new_rear, 0)
    new_rear_pred_a = idm_acceleration(
        xp, xp.take(s.speed, r), xp.take(s.target_speed, r), xp.take(k.c, r), xp.take(k.sin, r), d2,
        new_rear >= 0, x2 - xp.take(s.x, r), v2, c2, s2,
    )  # fmt: skip
    ok = ok & ~((new_rear >= 0) & (new_rear_pred_a < -LANE_CHANGE_MAX_BRAKING_IMPOSED))
    jerk = k.follower_acc(idx2, new_front, d2) - xp.concatenate([self_a, self_a])
    ok = ok & ~(jerk < LANE_CHANGE_MIN_ACC_GAIN)
    # the right lane, evaluated last, wins when both qualify
    new_target = xp.where(ok[q:], cand[q:], xp.where(ok[:q], cand[:q], lane))
    return put(xp, s.target_lane, b, i, valid, new_target), timer


def abort_lane_changes(xp: Any, s: TrafficState, k: Kin, decided_target: Any) -> Any:
    """Abort a lane change if another vehicle merging into the same lane is within our desired gap ahead.

    highway-env checks vehicles in road order, seeing this sub-step's decisions of the vehicles before it:
    other vehicles' targets are ``decided_target`` for lower indexes and the previous ones for higher
    ones. (Aborts of lower-index vehicles in the same sub-step are not chained: that needs three vehicles
    merging into one lane at once.)
    """
    n = s.num_vehicles
    npc = xp.arange(n)[None, :] != EGO
    changing = npc & ~s.crashed & (s.lane != s.target_lane)
    b, i, valid = rows(xp, changing)
    if no_rows(b, valid):
        return decided_target
    target = s.target_lane[b, i][:, None]  # (C, 1)
    others = xp.arange(n)[None, :]
    others_target = xp.where(others < i[:, None], decided_target[b], s.target_lane[b])  # (C, N)
    dx = s.x[b] - s.x[b, i][:, None]
    gap = desired_gap(
        xp, s.speed[b, i][:, None], k.c[b, i][:, None], k.sin[b, i][:, None], s.speed[b], k.c[b], k.sin[b]
    )
    blocking = (
        (others != i[:, None]) & (s.lane[b] != target) & (others_target == target) & (dx > 0) & (dx < gap)
    )
    aborted = xp.where(xp.any(blocking, axis=1), s.lane[b, i], target[:, 0])
    return put(xp, decided_target, b, i, valid, aborted)


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
    b, n = s.x.shape
    k = Kin(xp, s)
    nb = neighbours(xp, s.x, s.y, cfg.lanes_count)
    decided, timer = mobil(xp, s, k, nb, cfg)
    target_lane = abort_lane_changes(xp, s, k, decided)
    s = s.replace(target_lane=target_lane, timer=timer)
    k.s = s
    flat = xp.arange(b)[:, None] * n + xp.arange(n)[None, :]
    acc = k.follower_acc(flat, nb.dense_front(xp, s.lane), s.delta)
    # while changing lane, also keep distance to the front vehicle on the target lane
    npc = xp.arange(n)[None, :] != EGO
    eb, ei, valid = rows(xp, npc & ~s.crashed & (s.lane != target_lane))
    if not no_rows(eb, valid):
        idx = eb * n + ei
        front = nb.front(xp, eb, xp.take(target_lane, idx), ei)
        merged = xp.minimum(xp.take(acc, idx), k.follower_acc(idx, front, xp.take(s.delta, idx)))
        acc = put(xp, acc, eb, ei, valid, merged)
    acc = xp.clip(acc, -ACC_MAX, ACC_MAX)
    acc[:, EGO] = KP_A * (s.target_speed[:, EGO] - s.speed[:, EGO])
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
