"""Pixels from a scene: a pygame view following the ego, like highway-env's ``EnvViewer``.

The only module that imports pygame (lazily, on first use). It reads a :class:`Scene` (NumPy arrays),
never the simulator, so rendering can't change the physics. ``rgb_array`` returns (H, W, 3) uint8 frames;
``human`` opens a window. Layout follows highway-env's defaults: ``screen_width`` x ``screen_height``
pixels, ``scaling`` px/m, the ego at ``centering_position`` of the frame.
"""

from __future__ import annotations

import numpy as np

from envs.highway.config import HighwayConfig
from envs.highway.state import LANE_WIDTH, VEHICLE_LENGTH, VEHICLE_WIDTH, Scene

GREY = (100, 100, 100)
WHITE = (255, 255, 255)
EGO_COLOR = (50, 200, 0)  # highway-env's green
NPC_COLOR = (200, 200, 0)  # highway-env's yellow
CRASHED_COLOR = (255, 100, 100)
BACKGROUND = (50, 50, 50)
STRIPE_LENGTH = 5.0  # [m]
STRIPE_SPACING = 5.0  # [m] gap between stripes (highway-env: 3 m stripe every 9 m; close enough for a view)


def _pygame():
    try:
        import pygame
    except ImportError as err:  # pragma: no cover - pygame-ce is a dependency
        raise ImportError("rendering needs pygame: pip install pygame-ce") from err
    return pygame


class HighwayRenderer:
    """Draws scenes; one window (``human``) or off-screen surface (``rgb_array``)."""

    def __init__(self, config: HighwayConfig, render_mode: str) -> None:
        self.config = config
        self.render_mode = render_mode
        self.pygame = _pygame()
        size = (config.screen_width, config.screen_height)
        if render_mode == "human":
            self.pygame.display.init()  # display only: no audio device needed
            self.screen = self.pygame.display.set_mode(size)
            self.pygame.display.set_caption("autodrive highway")
        else:
            self.screen = self.pygame.Surface(size)
        self.clock = self.pygame.time.Clock()

    def _to_px(self, x: float, y: float, origin: tuple[float, float]) -> tuple[float, float]:
        s = self.config.scaling
        return (x - origin[0]) * s, (y - origin[1]) * s

    def render(self, scene: Scene) -> np.ndarray | None:
        pg, cfg, s = self.pygame, self.config, self.config.scaling
        w, h = cfg.screen_width, cfg.screen_height
        ego_x, ego_y = float(scene.x[0]), float(scene.y[0])
        # world point shown at the top-left corner so that the ego sits at centering_position
        origin = (ego_x - cfg.centering_position[0] * w / s, ego_y - cfg.centering_position[1] * h / s)
        self.screen.fill(BACKGROUND)
        road_top = self._to_px(0, -LANE_WIDTH / 2, origin)[1]
        road_height = cfg.lanes_count * LANE_WIDTH * s
        pg.draw.rect(self.screen, GREY, pg.Rect(0, road_top, w, road_height))
        for k in range(cfg.lanes_count + 1):  # lane borders: continuous outside, striped inside
            y = self._to_px(0, (k - 0.5) * LANE_WIDTH, origin)[1]
            if k in (0, cfg.lanes_count):
                pg.draw.line(self.screen, WHITE, (0, y), (w, y), 2)
                continue
            period = STRIPE_LENGTH + STRIPE_SPACING
            x0 = np.floor(origin[0] / period) * period
            for x in np.arange(x0, origin[0] + w / s + period, period):
                a, b = self._to_px(x, 0, origin)[0], self._to_px(x + STRIPE_LENGTH, 0, origin)[0]
                pg.draw.line(self.screen, WHITE, (a, y), (b, y), 1)
        for i in range(len(scene.x) - 1, -1, -1):  # ego drawn last, on top
            color = CRASHED_COLOR if scene.crashed[i] else (EGO_COLOR if i == 0 else NPC_COLOR)
            self._draw_vehicle(float(scene.x[i]), float(scene.y[i]), float(scene.heading[i]), color, origin)
        if self.render_mode == "human":
            pg.event.pump()
            pg.display.flip()
            self.clock.tick(2 * cfg.policy_frequency)
            return None
        return np.transpose(pg.surfarray.array3d(self.screen), (1, 0, 2)).copy()

    def _draw_vehicle(
        self, x: float, y: float, heading: float, color: tuple, origin: tuple[float, float]
    ) -> None:
        c, s = np.cos(heading), np.sin(heading)
        corners = []
        for u, v in ((-1, -1), (-1, 1), (1, 1), (1, -1)):
            px, py = u * VEHICLE_LENGTH / 2, v * VEHICLE_WIDTH / 2
            corners.append(self._to_px(x + c * px - s * py, y + s * px + c * py, origin))
        self.pygame.draw.polygon(self.screen, color, corners)
        self.pygame.draw.polygon(self.screen, (60, 60, 60), corners, 1)

    def close(self) -> None:
        if self.render_mode == "human":
            self.pygame.display.quit()
