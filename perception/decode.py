"""Between the CNN and the simulator's labels: dense training targets, and detections -> observations.

``targets`` turns the dataset's raw vehicle states (relative to the camera's view) into the CNN's dense
maps; ``decode`` turns the CNN's maps into detections in the view; ``pseudo_state`` places them in the
world with the view's pose (the ego's x, y and the view's heading, as a car's GPS and map give them) into
a :class:`~envs.highway.state.TrafficState`, and ``observe`` runs the simulator's own observations (the
step kernel's Kinematics, OccupancyGrid, ExitObservation) on it, on the env's world.
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
    """Dataset ``vehicles`` (B, N, 4) and ``ego`` (B, 4) -> dense (B, 5, R, C) and ego (B, 4) targets.

    The ego targets are its lateral position across the road (from the road's edges in view: the
    straight highway's lanes; on curved roads the picture does not show it, so it is clipped to
    [-1.5, 1.5] and the pose gives the position), speed and heading relative to the view (the dashboard
    bars) and the odometer bar."""
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
            np.clip(ego[:, 1] / _y_scale(cfg.lanes_count), -1.5, 1.5),
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
    """CNN outputs -> detections in the view: ``present`` (B, K) and ``dx, dy, vx, vy`` (B, K) [m, m/s],
    ego (B, 4): x from the odometer, y across the road, speed, heading relative to the view."""
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


def pseudo_state(
    det: dict[str, np.ndarray], pose: np.ndarray | None = None
) -> tuple[TrafficState, np.ndarray]:
    """Detections -> a NumPy TrafficState (the ego first, then the detections) and which slots are present.

    ``pose`` (B, 3): the view's pose, the ego's x, y [m] and the view's heading [rad] (``camera_pose`` of
    the env); None takes the ego's position from the picture and the world's axes as the view's, which
    holds on the straight highway only.
    """
    if pose is None:
        pose = np.stack([det["ego"][:, 0], det["ego"][:, 1], np.zeros(len(det["ego"]))], axis=1)
    pose = np.asarray(pose, np.float64)
    ex, ey, theta = pose[:, 0:1], pose[:, 1:2], pose[:, 2:3]
    c, s = np.cos(theta), np.sin(theta)
    es, eh = det["ego"][:, 2:3], theta + det["ego"][:, 3:4]
    evx, evy = es * np.cos(eh), es * np.sin(eh)
    present = det["present"]
    dx, dy = np.where(present, det["dx"], ABSENT), np.where(present, det["dy"], 0.0)
    rvx, rvy = det["vx"], det["vy"]
    x = np.concatenate([ex, ex + c * dx - s * dy], axis=1)
    y = np.concatenate([ey, ey + s * dx + c * dy], axis=1)
    vx = np.concatenate([evx, evx + c * rvx - s * rvy], axis=1)
    vy = np.concatenate([evy, evy + s * rvx + c * rvy], axis=1)
    state = TrafficState(
        x=x, y=y, heading=np.arctan2(vy, vx), speed=np.hypot(vx, vy), time=np.zeros(x.shape[0])
    )
    return state, np.concatenate([np.ones_like(present[:, :1]), present], axis=1)


#: observation names of :func:`observe` -> the simulator's
KERNEL_NAMES = {"kinematics": "kinematics", "occupancy": "occupancy_grid", "exit": "exit"}


def observe(
    det: dict[str, np.ndarray],
    env_config: Any,
    names: tuple[str, ...] = ("kinematics", "occupancy"),
    pose: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """The simulator's observations of the perceived scene, on ``env_config``'s world (with its
    observation options for the observation it names): Kinematics (B, 5, 5), OccupancyGrid
    (B, 4, 11, 11), ExitObservation. ``pose``: see :func:`pseudo_state`."""
    s, present = pseudo_state(det, pose)
    return {name: observe_state(KERNEL_NAMES[name], s, env_config, present) for name in names}
