"""Reward as named terms, combined and normalised like highway-env's ``HighwayEnv._reward``.

Terms (highway-env's names, also returned in ``info["rewards"]``):

- ``collision_reward``: 1 if the ego crashed;
- ``right_lane_reward``: ego *target* lane index / (lanes_count - 1), 1 on the rightmost lane;
- ``high_speed_reward``: forward speed mapped from ``reward_speed_range`` to [0, 1], clipped;
- ``on_road_reward``: 1 while the ego is on a lane.

reward = sum(config weight * term) over the three weighted terms, mapped from
[collision_reward, high_speed_reward + right_lane_reward] to [0, 1] if ``normalize_reward``, times on_road.
"""

from __future__ import annotations

from typing import Any

from envs.highway.config import HighwayConfig
from envs.highway.state import EGO, LANE_WIDTH, ROAD_LENGTH, VEHICLE_LENGTH, TrafficState

REWARD_TERMS = ("collision_reward", "right_lane_reward", "high_speed_reward", "on_road_reward")


def on_road(xp: Any, s: TrafficState) -> Any:
    """Is the ego on its (closest) lane? highway-env ``lane.on_lane(position)`` (B,) bool."""
    x, y, lane = s.x[:, EGO], s.y[:, EGO], s.lane[:, EGO]
    lateral = y - xp.astype(lane, y.dtype) * LANE_WIDTH
    return (xp.abs(lateral) <= LANE_WIDTH / 2) & (x >= -VEHICLE_LENGTH) & (x < ROAD_LENGTH + VEHICLE_LENGTH)


def reward_terms(xp: Any, s: TrafficState, cfg: HighwayConfig) -> dict[str, Any]:
    """The named terms, each (B,) float."""
    forward_speed = s.speed[:, EGO] * xp.cos(s.heading[:, EGO])
    lo, hi = cfg.reward_speed_range
    scaled_speed = 0 + (forward_speed - lo) * (1 - 0) / (hi - lo)
    lane = xp.astype(s.target_lane[:, EGO], s.x.dtype)
    return {
        "collision_reward": xp.astype(s.crashed[:, EGO], xp.float),
        "right_lane_reward": lane / max(cfg.lanes_count - 1, 1),
        "high_speed_reward": xp.clip(scaled_speed, 0, 1),
        "on_road_reward": xp.astype(on_road(xp, s), xp.float),
    }


def combine(terms: dict[str, Any], cfg: HighwayConfig) -> Any:
    """Weighted sum of the terms, normalised as highway-env does. (B,) float."""
    reward = (
        cfg.collision_reward * terms["collision_reward"]
        + cfg.right_lane_reward * terms["right_lane_reward"]
        + cfg.high_speed_reward * terms["high_speed_reward"]
    )
    if cfg.normalize_reward:
        lo, hi = cfg.collision_reward, cfg.high_speed_reward + cfg.right_lane_reward
        reward = 0 + (reward - lo) * (1 - 0) / (hi - lo)
    return reward * terms["on_road_reward"]


def terminated(xp: Any, s: TrafficState, cfg: HighwayConfig) -> Any:
    """Crash, or leaving the road when ``offroad_terminal``. (B,) bool."""
    done = s.crashed[:, EGO]
    if cfg.offroad_terminal:
        done = done | ~on_road(xp, s)
    return done


def truncated(xp: Any, s: TrafficState, cfg: HighwayConfig) -> Any:
    """Time limit: ``time >= duration``. (B,) bool."""
    return s.time >= cfg.duration
