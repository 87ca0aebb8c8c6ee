"""Pixels of the gridworld: a NumPy rasteriser (used for ``rgb`` observations and ``rgb_array``
renders) and a pygame window for ``render_mode="human"``. pygame is imported here only, and lazily.
"""

from __future__ import annotations

import numpy as np

from envs.gridworld.maps import Layout

FREE_RGB = (236, 236, 232)
WALL_RGB = (58, 62, 74)
GOAL_RGB = (70, 180, 95)
HAZARD_RGB = (232, 118, 42)
AGENT_RGB = (37, 99, 235)
GRID_RGB = (205, 205, 200)


class GridPainter:
    """Draws the static map once, then stamps the robot (a disc) at each env's cell."""

    def __init__(self, layout: Layout, cell_px: int, grid_lines: bool = False) -> None:
        self.cell_px = c = int(cell_px)
        h, w = layout.shape
        colours = np.empty((h, w, 3), dtype=np.uint8)
        colours[:] = FREE_RGB
        colours[layout.walls] = WALL_RGB
        colours[layout.goals] = GOAL_RGB
        colours[layout.hazards] = HAZARD_RGB
        self.background = np.repeat(np.repeat(colours, c, axis=0), c, axis=1)  # (H*c, W*c, 3)
        if grid_lines and c >= 8:
            free = ~layout.walls
            lines = np.zeros((h * c, w * c), dtype=bool)
            lines[::c, :] = True
            lines[:, ::c] = True
            self.background[lines & np.repeat(np.repeat(free, c, 0), c, 1)] = GRID_RGB
        yy, xx = np.mgrid[0:c, 0:c] + 0.5
        radius = 0.38 * c if c >= 4 else c  # tiny cells: fill the whole cell
        self.disc = (yy - c / 2) ** 2 + (xx - c / 2) ** 2 <= radius**2  # (c, c)
        self._dy, self._dx = np.nonzero(self.disc)

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.background.shape

    def frames(self, cells: np.ndarray) -> np.ndarray:
        """``cells`` (N, 2) row/col of the robot per env -> (N, H*c, W*c, 3) uint8."""
        cells = np.asarray(cells).reshape(-1, 2)
        n = len(cells)
        out = np.broadcast_to(self.background, (n, *self.background.shape)).copy()
        rows = cells[:, 0:1] * self.cell_px + self._dy[None, :]  # (N, K)
        cols = cells[:, 1:2] * self.cell_px + self._dx[None, :]
        out[np.arange(n)[:, None], rows, cols] = AGENT_RGB
        return out

    def frame(self, cell) -> np.ndarray:
        return self.frames(np.asarray(cell)[None])[0]


class PygameWindow:
    """A window that shows RGB frames; created on first ``show``."""

    def __init__(self, title: str, fps: int = 8) -> None:
        self.title, self.fps = title, fps
        self._screen = None
        self._clock = None

    def show(self, frame: np.ndarray) -> None:
        try:
            import pygame
        except ImportError as exc:  # pragma: no cover - pygame-ce is a dependency
            raise ImportError("render_mode='human' needs pygame-ce: pip install pygame-ce") from exc
        if self._screen is None:
            pygame.init()
            pygame.display.set_caption(self.title)
            self._screen = pygame.display.set_mode((frame.shape[1], frame.shape[0]))
            self._clock = pygame.time.Clock()
        pygame.event.pump()
        surface = pygame.surfarray.make_surface(np.ascontiguousarray(frame.transpose(1, 0, 2)))
        self._screen.blit(surface, (0, 0))
        pygame.display.flip()
        self._clock.tick(self.fps)

    def close(self) -> None:
        if self._screen is not None:
            import pygame

            pygame.display.quit()
            pygame.quit()
            self._screen = None
