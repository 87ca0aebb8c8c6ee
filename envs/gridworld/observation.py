"""Observation views of the gridworld state (the robot's state index), batched over envs.

``index``: the state id (tabular agents). ``grid``: C x H x W one-hot planes (wall, goal, hazard,
robot). ``rgb``: H x W x 3 top-down pixels. ``camera`` / ``camera_gray``: the same pixels channels
first, (3, H, W) or (1, H, W) uint8, as CNNs take them. All are views of the same state array.
"""

from __future__ import annotations

import numpy as np
from gymnasium import spaces

from envs.gridworld.dynamics import Tables
from envs.gridworld.maps import Layout
from envs.gridworld.render import GridPainter

GRID_PLANES = ("wall", "goal", "hazard", "robot")


class Observer:
    def __init__(self, kind: str, layout: Layout, tables: Tables, cell_px: int) -> None:
        self.kind = kind
        self.tables = tables
        h, w = layout.shape
        if kind == "index":
            self.space = spaces.Discrete(tables.n_states)
        elif kind == "grid":
            self.static = np.stack([layout.walls, layout.goals, layout.hazards]).astype(
                np.float32
            )  # (3, H, W)
            self.space = spaces.Box(0.0, 1.0, shape=(len(GRID_PLANES), h, w), dtype=np.float32)
        elif kind == "rgb":
            self.painter = GridPainter(layout, cell_px)
            self.space = spaces.Box(0, 255, shape=self.painter.shape, dtype=np.uint8)
        elif kind in ("camera", "camera_gray"):
            self.painter = GridPainter(layout, cell_px)
            self.channels = 3 if kind == "camera" else 1
            h_px, w_px, _ = self.painter.shape
            self.space = spaces.Box(0, 255, shape=(self.channels, h_px, w_px), dtype=np.uint8)
        else:  # config validation lists the valid kinds
            raise ValueError(f"unknown observation {kind!r}")

    def batch(self, states: np.ndarray) -> np.ndarray:
        """Observations for ``states`` (N,) -> (N, *space.shape)."""
        states = np.asarray(states)
        if self.kind == "index":
            return states.astype(np.int64)
        cells = self.tables.cells[states]  # (N, 2)
        if self.kind == "grid":
            n = len(states)
            robot = np.zeros((n, 1, *self.static.shape[1:]), dtype=np.float32)
            robot[np.arange(n), 0, cells[:, 0], cells[:, 1]] = 1.0
            return np.concatenate([np.broadcast_to(self.static, (n, *self.static.shape)), robot], axis=1)
        if self.kind in ("camera", "camera_gray"):
            return camera_frames(self.painter.frames(cells), self.channels)
        return self.painter.frames(cells)

    def single(self, state: int):
        if self.kind == "index":
            return int(state)
        return self.batch(np.array([state]))[0]


def camera_frames(rgb: np.ndarray, channels: int) -> np.ndarray:
    """(N, H, W, 3) uint8 -> (N, C, H, W) uint8; grayscale is ITU-R 601 luma."""
    frames = np.ascontiguousarray(rgb.transpose(0, 3, 1, 2))
    if channels == 3:
        return frames
    r, g, b = (frames[:, k].astype(np.uint32) for k in range(3))
    luma = (299 * r + 587 * g + 114 * b + 500) // 1000
    return luma.astype(np.uint8)[:, None]
