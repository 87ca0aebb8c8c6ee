"""Initial traffic, batched: highway-env's ``Vehicle.create_random`` placement for every env at once.

The ego comes first at 25 m/s on a random (or ``initial_lane_id``) lane; each NPC is placed ahead of the
previous vehicle by ``spacing * (12 + speed) * exp(-5/40 * lanes_count)`` times U(0.9, 1.1), with a speed
U(21, 24) m/s (0.7 to 0.8 of the speed limit) and an IDM exponent U(3.5, 4.5), on a uniformly random lane.
"""

from __future__ import annotations

import math
from typing import Any

from envs.highway.config import HighwayConfig
from envs.highway.dynamics import DELTA, DELTA_RANGE, LANE_CHANGE_DELAY, speed_to_index
from envs.highway.state import LANE_WIDTH, SPEED_LIMIT, TrafficState

EGO_INITIAL_SPEED = 25.0  # [m/s]
NPC_SPEED_RANGE = (0.7 * SPEED_LIMIT, 0.8 * SPEED_LIMIT)  # [m/s]
SPACING_BASE = 12.0  # [m] default gap at zero speed
SPACING_PER_SPEED = 1.0  # [s] extra gap per m/s
SPACING_JITTER = (0.9, 1.1)  # []


def spawn(xp: Any, rng: Any, cfg: HighwayConfig, num_envs: int) -> TrafficState:
    """A fresh batch of ``num_envs`` episodes drawn from ``rng`` (a backend random generator)."""
    b, n, npcs = num_envs, cfg.num_vehicles, cfg.vehicles_count
    lane_factor = math.exp(-5 / 40 * cfg.lanes_count)
    if cfg.initial_lane_id is None:
        ego_lane = xp.integers(rng, cfg.lanes_count, (b, 1))
    else:
        ego_lane = xp.full((b, 1), cfg.initial_lane_id, dtype=xp.int)
    npc_lane = xp.integers(rng, cfg.lanes_count, (b, npcs))
    npc_speed = xp.uniform(rng, *NPC_SPEED_RANGE, (b, npcs))
    jitter = xp.uniform(rng, *SPACING_JITTER, (b, n))
    npc_delta = xp.uniform(rng, *DELTA_RANGE, (b, npcs))

    ego_speed = xp.full((b, 1), EGO_INITIAL_SPEED)
    speed = xp.concatenate([ego_speed, npc_speed], axis=1)
    spacing = xp.concatenate(
        [xp.full((b, 1), cfg.ego_spacing), xp.full((b, npcs), 1 / cfg.vehicles_density)], 1
    )
    offset = spacing * (SPACING_BASE + SPACING_PER_SPEED * speed) * lane_factor
    start = 3 * offset[:, :1]  # the first vehicle on an empty road
    x = start + xp.cumsum(offset * jitter, axis=1)  # each vehicle ahead of the previous (farthest) one
    lane = xp.concatenate([ego_lane, npc_lane], axis=1)
    y = xp.astype(lane, xp.float) * LANE_WIDTH

    target_speeds = xp.asarray(cfg.target_speeds, dtype=xp.float)
    ego_target = target_speeds[speed_to_index(xp, ego_speed, target_speeds)]
    zeros = xp.zeros((b, n))
    return TrafficState(
        x=x,
        y=y,
        heading=zeros,
        speed=speed,
        target_speed=xp.concatenate([ego_target, npc_speed], axis=1),
        delta=xp.concatenate([xp.full((b, 1), DELTA), npc_delta], axis=1),
        timer=xp.remainder((x + y) * math.pi, LANE_CHANGE_DELAY),  # highway-env: sum(position) * pi % delay
        impact_x=zeros,
        impact_y=zeros,
        lane=lane,
        target_lane=lane,
        crashed=xp.zeros((b, n), dtype=xp.bool),
        has_impact=xp.zeros((b, n), dtype=xp.bool),
        time=xp.zeros((b,), dtype=xp.time),
    )
