"""Between the CNN and the simulator's labels: dense training targets, and detections -> observations.

``targets`` turns the dataset's raw relative vehicle states into the CNN's dense maps; ``decode`` turns
the CNN's maps into a pseudo :class:`~envs.highway.state.TrafficState` (ego + detected vehicles), and
``observe`` runs the simulator's own Kinematics and OccupancyGrid (the step kernel's) on it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from envs.highway.camera import HUD_ODOMETER_RANGE, HUD_ROWS, CameraSpec
from envs.highway.observation import observe_state
from envs.highway.state import LANE_WIDTH, MAX_SPEED, VEHICLE_LENGTH, VEHICLE_WIDTH, TrafficState
from perception.model import STRIDE, ModelConfig

VX_SCALE = 10.0  # [m/s] relative vx target unit
VY_SCALE = 2.0  # [m/s] relative vy target unit
HEADING_SCALE = math.pi / 4  # [rad]
MAX_DETECTIONS = 32  # per frame
ABSENT = -1e4  # [m] dx of padding vehicles: behind every view and filter


def _y_scale(lanes_count: int) -> float:
    return LANE_WIDTH * max(lanes_count - 1, 1)


def targets(vehicles: np.ndarray, ego: np.ndarray, cfg: ModelConfig) -> tuple[np.ndarray, np.ndarray]:
    """Dataset ``vehicles`` (B, N, 4) and ``ego`` (B, 4) -> dense (B, 5, R, C) and ego (B, 4) targets."""
    cam = cfg.camera
    b, n, _ = vehicles.shape
    rows, cols = cfg.grid
    dx, dy, rvx, rvy = (vehicles[..., k].astype(np.float64) for k in range(4))
    u = cam.x_to_column(dx)  # (B, N) continuous column
    v = (dy - cam.y_edges[0]) * cam.scale  # continuous row
    seen = (dx >= cam.x_edges[0]) & (dx < cam.x_edges[-1]) & (v >= 0) & (v < cam.height - HUD_ROWS)
    r = np.clip(np.floor(v / STRIDE[0]), 0, rows - 1).astype(np.int64)
    c = np.clip(np.floor(u / STRIDE[1]), 0, cols - 1).astype(np.int64)
    dense = np.zeros((b, 5, rows, cols), dtype=np.float32)
    bi, ni = np.nonzero(seen)
    rr, cc = r[bi, ni], c[bi, ni]
    dense[bi, 0, rr, cc] = 1.0
    dense[bi, 1, rr, cc] = v[bi, ni] / STRIDE[0] - rr
    dense[bi, 2, rr, cc] = u[bi, ni] / STRIDE[1] - cc
    dense[bi, 3, rr, cc] = rvx[bi, ni] / VX_SCALE
    dense[bi, 4, rr, cc] = rvy[bi, ni] / VY_SCALE
    ego_t = np.stack(
        [
            ego[:, 1] / _y_scale(cfg.lanes_count),
            ego[:, 2] / MAX_SPEED,
            ego[:, 3] / HEADING_SCALE,
            np.clip(ego[:, 0] / HUD_ODOMETER_RANGE, 0.0, 1.0),
        ],
        axis=1,
    ).astype(np.float32)
    return dense, ego_t


def decode(
    dense: torch.Tensor, ego: torch.Tensor, cfg: ModelConfig, threshold: float = 0.5
) -> dict[str, np.ndarray]:
    """CNN outputs -> detections: ``present`` (B, K) and ``dx, dy, vx, vy`` (B, K) [m, m/s], ego (B, 4)."""
    cam: CameraSpec = cfg.camera
    rows, cols = cfg.grid
    k = min(MAX_DETECTIONS, rows * cols)
    flat = dense.float().flatten(2)  # (B, 5, R*C)
    score, idx = torch.topk(torch.sigmoid(flat[:, 0]), k, dim=1)  # (B, K), best first
    picked = torch.gather(flat[:, 1:], 2, idx[:, None, :].expand(-1, 4, -1)).cpu().numpy()  # (B, 4, K)
    score, idx = score.cpu().numpy(), idx.cpu().numpy()
    r, c = idx // cols, idx % cols
    v = (r + picked[:, 0]) * STRIDE[0]
    u = (c + picked[:, 1]) * STRIDE[1]
    dx = cam.column_to_x(u)
    dy = v / cam.scale + cam.y_edges[0]
    present = score > threshold
    # one vehicle read twice from neighbouring cells: keep the stronger (boxes cannot overlap that much)
    close = (np.abs(dx[:, :, None] - dx[:, None, :]) < VEHICLE_LENGTH / 2) & (
        np.abs(dy[:, :, None] - dy[:, None, :]) < VEHICLE_WIDTH / 2
    )  # (B, K, K)
    stronger = np.triu(np.ones((k, k), dtype=bool), 1)[None]  # i < j: i scored higher
    present &= ~np.any(close & stronger.transpose(0, 2, 1) & present[:, None, :], axis=2)
    e = ego.float().cpu().numpy()
    ego_state = np.stack(
        [
            np.where(
                e[:, 3] >= 0.995, 10 * HUD_ODOMETER_RANGE, e[:, 3] * HUD_ODOMETER_RANGE
            ),  # x: beyond 200 m
            e[:, 0] * _y_scale(cfg.lanes_count),
            e[:, 1] * MAX_SPEED,
            e[:, 2] * HEADING_SCALE,
        ],
        axis=1,
    )
    return {
        "present": present,
        "dx": dx,
        "dy": dy,
        "vx": picked[:, 2] * VX_SCALE,
        "vy": picked[:, 3] * VY_SCALE,
        "ego": ego_state,
        "score": score,
    }


def pseudo_state(det: dict[str, np.ndarray]) -> tuple[TrafficState, np.ndarray]:
    """Detections -> a NumPy TrafficState (the ego first, then the detections) and which slots are present."""
    ex, ey, es, eh = (det["ego"][:, i : i + 1] for i in range(4))
    evx, evy = es * np.cos(eh), es * np.sin(eh)
    present = det["present"]
    x = np.concatenate([ex, np.where(present, ex + det["dx"], ex + ABSENT)], axis=1)
    y = np.concatenate([ey, np.where(present, ey + det["dy"], ey)], axis=1)
    vx = np.concatenate([evx, evx + det["vx"]], axis=1)
    vy = np.concatenate([evy, evy + det["vy"]], axis=1)
    state = TrafficState(
        x=x, y=y, heading=np.arctan2(vy, vx), speed=np.hypot(vx, vy), time=np.zeros(x.shape[0])
    )
    return state, np.concatenate([np.ones_like(present[:, :1]), present], axis=1)


def observe(
    det: dict[str, np.ndarray], env_config: Any, names: tuple[str, ...] = ("kinematics", "occupancy")
) -> dict[str, np.ndarray]:
    """The simulator's Kinematics (B, 5, 5) and OccupancyGrid (B, 4, 11, 11) of the perceived scene."""
    s, present = pseudo_state(det)
    kernel_names = {"kinematics": "kinematics", "occupancy": "occupancy_grid"}
    return {name: observe_state(kernel_names[name], s, env_config, present) for name in names}
