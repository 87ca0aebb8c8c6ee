"""Pixels from a scene: a pygame view following the ego, like highway-env's ``EnvViewer``.

The only module that imports pygame (lazily, on first use). It reads a :class:`Scene` (NumPy arrays),
never the simulator, so rendering can't change the physics. The road is drawn from the world's lane
table (every lane kind: straight, sine, circular), sampled once through the kernels' own lane geometry
(``envs/road/geometry.py``), with highway-env's line types (continuous, striped, none). ``rgb_array``
returns (H, W, 3) uint8 frames; ``human`` opens a window. Layout follows highway-env's defaults:
``screen_width`` x ``screen_height`` pixels, ``scaling`` px/m, the ego at ``centering_position``.
"""

from __future__ import annotations

import numpy as np

from envs.highway.config import DrivingConfig
from envs.highway.state import Scene
from envs.physics import structs as st
from envs.road.geometry import lane_positions
from envs.road.network import LineType, RoadNetwork

GREY = (100, 100, 100)
WHITE = (255, 255, 255)
EGO_COLOR = (50, 200, 0)  # highway-env's green
NPC_COLOR = (200, 200, 0)  # highway-env's yellow
OBSTACLE_COLOR = (200, 200, 200)
CRASHED_COLOR = (255, 100, 100)
GOAL_COLOR = (100, 200, 255)  # highway-env's Landmark (an object that is not solid: parking-v0's goal)
BACKGROUND = (50, 50, 50)
STRIPE_LENGTH = 3.0  # [m] highway-env LaneGraphics.STRIPE_LENGTH
STRIPE_SPACING = 4.33  # [m] highway-env LaneGraphics.STRIPE_SPACING (stripe starts this far apart)
SAMPLE_STEP = 2.0  # [m] lane sampling for borders and road surface
VIEW_MARGIN = 10.0  # [m] lane points this far outside the frame are still drawn


def _pygame():
    try:
        import pygame
    except ImportError as err:  # pragma: no cover - pygame-ce is a dependency
        raise ImportError("rendering needs pygame: pip install pygame-ce") from err
    return pygame


class RoadDrawing:
    """A network's lanes as world-coordinate polylines: each lane's two borders and its stripes."""

    def __init__(self, network: RoadNetwork) -> None:
        tables = network.tables()
        self.lanes = []
        for row, index in enumerate(network.lane_indexes()):
            lane = network.get_lane(index)
            length, half = lane.length, lane.width / 2
            s = np.linspace(0.0, length, max(2, int(np.ceil(length / SAMPLE_STEP)) + 1))
            borders = [lane_positions(tables, row, s, side * half) for side in (-1.0, 1.0)]
            stripes = []
            for side, kind in zip((-1.0, 1.0), lane.line_types):
                if kind == LineType.STRIPED:
                    starts = np.arange(0.0, length, STRIPE_SPACING)
                    ends = np.minimum(starts + STRIPE_LENGTH, length)
                    stripes.append(
                        np.stack([lane_positions(tables, row, starts, side * half),
                                  lane_positions(tables, row, ends, side * half)], axis=1)
                    )  # fmt: skip
            self.lanes.append((borders, tuple(lane.line_types), stripes))


class HighwayRenderer:
    """Draws scenes of any world; one window (``human``) or off-screen surface (``rgb_array``)."""

    def __init__(self, config: DrivingConfig, render_mode: str) -> None:
        from envs.worlds import WORLDS

        self.config = config
        self.render_mode = render_mode
        self.road = RoadDrawing(WORLDS[config.world](config).network())
        self.pygame = _pygame()
        size = (config.screen_width, config.screen_height)
        if render_mode == "human":
            self.pygame.display.init()  # display only: no audio device needed
            self.screen = self.pygame.display.set_mode(size)
            self.pygame.display.set_caption(f"autodrive {config.world}")
        else:
            self.screen = self.pygame.Surface(size)
        self.clock = self.pygame.time.Clock()

    def _to_px(self, points: np.ndarray, origin: np.ndarray) -> np.ndarray:
        return (points - origin) * self.config.scaling

    def _visible(self, points: np.ndarray, origin: np.ndarray) -> slice | None:
        """The index range of a polyline's points inside the frame (plus a margin), or None."""
        cfg = self.config
        lo = origin - VIEW_MARGIN
        hi = origin + np.array([cfg.screen_width, cfg.screen_height]) / cfg.scaling + VIEW_MARGIN
        inside = np.flatnonzero(np.all((points >= lo) & (points <= hi), axis=1))
        if inside.size == 0:
            return None
        return slice(max(inside[0] - 1, 0), inside[-1] + 2)

    def _draw_road(self, origin: np.ndarray) -> None:
        pg = self.pygame
        visible = []
        for borders, line_types, stripes in self.road.lanes:
            view = self._visible(borders[0], origin) or self._visible(borders[1], origin)
            if view is None:
                continue
            left, right = (self._to_px(b[view], origin) for b in borders)
            if len(left) > 1:
                pg.draw.polygon(self.screen, GREY, np.concatenate([left, right[::-1]]).tolist())
            visible.append((left, right, line_types, stripes))
        for left, right, line_types, stripes in visible:  # lines over every lane's surface
            for border, kind in zip((left, right), line_types):
                if kind in (LineType.CONTINUOUS, LineType.CONTINUOUS_LINE) and len(border) > 1:
                    pg.draw.lines(self.screen, WHITE, False, border.tolist(), 2)
            for segments in stripes:
                px = self._to_px(segments, origin)
                w, h = self.config.screen_width, self.config.screen_height
                on_screen = np.any((px[..., 0] >= -5) & (px[..., 0] <= w + 5), axis=1) & np.any(
                    (px[..., 1] >= -5) & (px[..., 1] <= h + 5), axis=1
                )
                for a, b in px[on_screen]:
                    pg.draw.line(self.screen, WHITE, a.tolist(), b.tolist(), 1)

    def render(self, scene: Scene) -> np.ndarray | None:
        pg, cfg, s = self.pygame, self.config, self.config.scaling
        w, h = cfg.screen_width, cfg.screen_height
        # world point shown at the top-left corner so that the ego sits at centering_position
        origin = np.array([float(scene.x[0]) - cfg.centering_position[0] * w / s,
                           float(scene.y[0]) - cfg.centering_position[1] * h / s])  # fmt: skip
        self.screen.fill(BACKGROUND)
        self._draw_road(origin)
        for i in range(len(scene.x) - 1, -1, -1):  # controlled vehicles drawn last, on top
            kind = int(scene.kind[i])
            if kind == st.ABSENT:
                continue
            color = (
                EGO_COLOR if kind == st.CONTROLLED else (OBSTACLE_COLOR if kind == st.OBSTACLE else NPC_COLOR)
            )
            if kind == st.OBSTACLE and not scene.flags[i] & st.SOLID:
                color = GOAL_COLOR
            color = CRASHED_COLOR if scene.crashed[i] else color
            self._draw_vehicle(scene, i, color, origin)
        if self.render_mode == "human":
            pg.event.pump()
            pg.display.flip()
            self.clock.tick(cfg.simulation_frequency)  # sub-steps in real time
            return None
        return np.transpose(pg.surfarray.array3d(self.screen), (1, 0, 2)).copy()

    def _draw_vehicle(self, scene: Scene, i: int, color: tuple, origin: np.ndarray) -> None:
        x, y, heading = float(scene.x[i]), float(scene.y[i]), float(scene.heading[i])
        half_l, half_w = float(scene.length[i]) / 2, float(scene.width[i]) / 2
        c, s = np.cos(heading), np.sin(heading)
        corners = [
            (x + c * u * half_l - s * v * half_w, y + s * u * half_l + c * v * half_w)
            for u, v in ((-1, -1), (-1, 1), (1, 1), (1, -1))
        ]
        px = self._to_px(np.array(corners), origin).tolist()
        self.pygame.draw.polygon(self.screen, color, px)
        self.pygame.draw.polygon(self.screen, (60, 60, 60), px, 1)

    def close(self) -> None:
        if self.render_mode == "human":
            self.pygame.display.quit()
