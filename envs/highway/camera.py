"""A batched bird's-eye camera: ego-centred grayscale or RGB pixels drawn straight from a TrafficState.

Array code over the backend shim (NumPy or torch, CPU or CUDA), no pygame, so it keeps up with the
batched simulator. ``observation="camera"`` selects it (see ``envs/highway/observation.py``); frames are
uint8, channels first, ``(camera_stack * camera_channels, camera_height, camera_width)``, newest last.

Geometry (all in metres, relative to the ego's centre; x forward = image right, y = image down, so lane
0 is at the top as in highway-env's viewer):

- rows: ``camera_height`` pixels of ``1 / camera_scale`` m, centred on the ego;
- columns: a fine zone ``[-camera_behind, camera_near]`` at ``camera_scale`` px/m, then the remaining
  columns at ``camera_far_scale`` px/m up to :attr:`CameraSpec.ahead` (a long-range "fovea": the
  occupancy grid's +/-27.5 m at full resolution, and the Kinematics range of 200 m ahead still in view).

Drawing: the road surface, lane lines, then every vehicle as an axis-aligned 5 m x 2 m box, each with
exact area coverage per pixel (anti-aliased, so sub-pixel positions are visible). Boxes are separable, so
all vehicles of all envs are one batched matmul ``(B, H, N) @ (B, N, W)``; the ego is drawn in its own
colour. Headings are not drawn (a few
degrees in lane changes move a corner by < 0.3 m); lateral motion shows across stacked frames.

The bottom :data:`HUD_ROWS` rows are a dashboard, like Gymnasium's CarRacing: bars for the ego's speed,
heading and odometer (distance along the road, up to 200 m): the proprioception a real car has, which a
top-down camera alone cannot show.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from envs.highway.state import LANE_WIDTH, MAX_SPEED, ROAD_LENGTH, VEHICLE_LENGTH, VEHICLE_WIDTH, TrafficState

HUD_ROWS = 3  # bottom rows: speed, heading, odometer bars
HUD_HEADING_RANGE = math.pi / 4  # [rad] the heading bar spans +/- this from its centre
HUD_ODOMETER_RANGE = (
    200.0  # [m] the odometer bar is full at this distance (Kinematics' ego x saturates there)
)
LINE_WIDTH = 0.3  # [m] painted lane lines
# Intensities (grayscale) and colours (RGB) of the layers, drawn bottom to top.
GRAY = {"offroad": 0.0, "road": 70.0, "line": 150.0, "vehicle": 255.0, "ego": 200.0, "hud": 255.0}
RGB = {
    "offroad": (40.0, 90.0, 40.0),
    "road": (90.0, 90.0, 90.0),
    "line": (230.0, 230.0, 230.0),
    "vehicle": (60.0, 120.0, 255.0),
    "ego": (60.0, 220.0, 60.0),
    "hud": (255.0, 200.0, 0.0),
}


@dataclass(frozen=True)
class CameraSpec:
    """Camera geometry; built from a HighwayConfig's ``camera_*`` fields by :meth:`from_config`."""

    width: int = 128  # [px] along x (forward)
    height: int = 32  # [px] along y (lateral), HUD rows included
    channels: int = 1  # 1 grayscale, 3 RGB
    stack: int = 2  # frames per observation (newest last)
    scale: float = 1.0  # [px/m] rows, and columns in the fine zone
    behind: float = 32.5  # [m] seen behind the ego
    near: float = 32.5  # [m] end of the fine zone ahead of the ego
    far_scale: float = 1 / 3  # [px/m] columns beyond ``near``

    def __post_init__(self) -> None:
        problems = []
        if self.width < 8 or self.height < HUD_ROWS + 4:
            problems.append(
                f"camera {self.width}x{self.height}: need width >= 8 and height >= {HUD_ROWS + 4}"
            )
        if self.channels not in (1, 3):
            problems.append(f"camera_channels={self.channels}: choose 1 (grayscale) or 3 (RGB)")
        if self.stack < 1:
            problems.append(f"camera_stack={self.stack}: need at least 1 frame")
        if not (self.scale > 0 and self.far_scale > 0 and self.behind >= 0 and self.near > -self.behind):
            problems.append(
                "camera_scale, camera_far_scale must be > 0, camera_behind >= 0, camera_near > -behind"
            )
        if problems:
            raise ValueError("invalid camera: " + "; ".join(problems))

    @classmethod
    def from_config(cls, cfg: Any) -> CameraSpec:
        return cls(
            width=cfg.camera_width,
            height=cfg.camera_height,
            channels=cfg.camera_channels,
            stack=cfg.camera_stack,
            scale=cfg.camera_scale,
            behind=cfg.camera_behind,
            near=cfg.camera_near,
            far_scale=cfg.camera_far_scale,
        )

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.stack * self.channels, self.height, self.width)

    @property
    def fine_columns(self) -> int:
        return min(self.width, int(round((self.behind + self.near) * self.scale)))

    @property
    def x_edges(self) -> np.ndarray:
        """(W + 1,) [m] column edges relative to the ego."""
        fine = -self.behind + np.arange(self.fine_columns + 1) / self.scale
        far = fine[-1] + np.arange(1, self.width - self.fine_columns + 1) / self.far_scale
        return np.concatenate([fine, far])

    @property
    def y_edges(self) -> np.ndarray:
        """(H + 1,) [m] row edges relative to the ego."""
        return (np.arange(self.height + 1) - self.height / 2) / self.scale

    @property
    def ahead(self) -> float:
        """[m] the far edge of the view."""
        return float(self.x_edges[-1])

    def x_to_column(self, dx: np.ndarray) -> np.ndarray:
        """Continuous column coordinate (0 = left edge of column 0) of relative positions ``dx`` [m]."""
        return np.interp(dx, self.x_edges, np.arange(self.width + 1))

    def column_to_x(self, u: np.ndarray) -> np.ndarray:
        return np.interp(u, np.arange(self.width + 1), self.x_edges)


def _coverage(xp: Any, lo: Any, hi: Any, edges: Any) -> Any:
    """Fraction of each pixel ``[edges[k], edges[k+1]]`` covered by the interval ``[lo, hi]``.

    ``lo``/``hi`` (...,) -> (..., P): exact area coverage, hence anti-aliasing for free.
    """
    a, b = edges[:-1], edges[1:]
    overlap = xp.minimum(hi[..., None], b) - xp.maximum(lo[..., None], a)
    return xp.maximum(overlap, 0.0 * a) / (b - a)


def _coverage_t(xp: Any, lo: Any, hi: Any, edges: Any) -> Any:
    """:func:`_coverage` laid out pixels first: ``lo``/``hi`` (B, N) -> (B, P, N), contiguous for matmul."""
    a, b = edges[:-1, None], edges[1:, None]
    overlap = xp.minimum(hi[:, None, :], b) - xp.maximum(lo[:, None, :], a)
    return xp.maximum(overlap, 0.0 * a) / (b - a)


def _float32(xp: Any) -> Any:
    return np.float32 if xp.name == "numpy" else xp.torch.float32


def _uint8(xp: Any) -> Any:
    return np.uint8 if xp.name == "numpy" else xp.torch.uint8


def render(xp: Any, s: TrafficState, spec: CameraSpec, lanes_count: int) -> Any:
    """One frame per env: (B, channels, H, W) uint8 of the backend.

    Layers: a background that is separable (road rows x road columns, blended once per row), then the
    vehicles alpha-composited on top; every box's area coverage is ``cov_y (H,) x cov_x (W,)``.
    """
    f32 = _float32(xp)
    b, n = s.x.shape
    h = spec.height
    xe = xp.asarray(spec.x_edges.astype(np.float32), dtype=f32)  # (W+1,)
    ye = xp.asarray(spec.y_edges.astype(np.float32), dtype=f32)  # (H+1,)
    ex, ey = s.x[:, :1], s.y[:, :1]
    dx = xp.astype(s.x - ex, f32)  # (B, N) [m]
    dy = xp.astype(s.y - ey, f32)
    cov_x = _coverage(xp, dx - VEHICLE_LENGTH / 2, dx + VEHICLE_LENGTH / 2, xe)  # (B, N, W)
    cov_yt = _coverage_t(xp, dy - VEHICLE_WIDTH / 2, dy + VEHICLE_WIDTH / 2, ye)  # (B, H, N)
    alpha = xp.clip(cov_yt @ cov_x, 0.0, 1.0)  # (B, H, W) vehicle coverage, saturating where boxes overlap

    ex32, ey32 = xp.astype(ex[:, 0], f32), xp.astype(ey[:, 0], f32)  # (B,)
    road_x = _coverage(xp, -ex32, ROAD_LENGTH - ex32, xe)  # (B, W)
    top = -LANE_WIDTH / 2 - ey32  # (B,) road edge relative to the ego
    road_y = _coverage(xp, top, top + lanes_count * LANE_WIDTH, ye)  # (B, H)
    lines_at = top[:, None] + xp.asarray(np.arange(lanes_count + 1, dtype=np.float32) * LANE_WIDTH, dtype=f32)
    line_y = xp.clip(_coverage(xp, lines_at - LINE_WIDTH / 2, lines_at + LINE_WIDTH / 2, ye).sum(1), 0.0, 1.0)
    hud = _hud(xp, s, spec)  # (B, HUD_ROWS, W)

    palette = GRAY if spec.channels == 1 else RGB
    is_ego = xp.asarray((np.arange(n) == 0).astype(np.float32), dtype=f32)  # (N,)
    planes = []
    for c in range(spec.channels):
        pick = (lambda v: v) if spec.channels == 1 else (lambda v, c=c: v[c])
        off, road, line = pick(palette["offroad"]), pick(palette["road"]), pick(palette["line"])
        row = road_y * (road - off)  # (B, H) road over off-road, relative to off-road
        row = row + (line - off - row) * line_y  # lines over road
        background = off + row[:, :, None] * road_x[:, None, :]  # (B, H, W)
        colour = pick(palette["vehicle"]) + (pick(palette["ego"]) - pick(palette["vehicle"])) * is_ego  # (N,)
        paint = cov_yt @ (cov_x * colour[None, :, None])  # (B, H, W) sum of coverage x colour
        img = background * (1 - alpha) + xp.clip(paint, None, 255.0)
        img[:, h - HUD_ROWS :, :] = pick(palette["hud"]) * hud  # the dashboard replaces the bottom rows
        planes.append(img)
    frames = xp.stack(planes, axis=1)  # (B, C, H, W), in [0, 255]: alpha compositing of values in [0, 255]
    return xp.astype(frames + 0.5, _uint8(xp))  # round half up


def _hud(xp: Any, s: TrafficState, spec: CameraSpec) -> Any:
    """(B, HUD_ROWS, W) coverage of the dashboard bars: speed, heading (from the middle), odometer."""
    f32 = _float32(xp)
    b, w = s.x.shape[0], spec.width
    cols = xp.asarray(np.arange(w + 1, dtype=np.float32), dtype=f32)
    speed = xp.astype(xp.clip(s.speed[:, 0] / MAX_SPEED, 0.0, 1.0), f32) * w  # (B,) [px]
    heading = xp.astype(xp.clip(s.heading[:, 0] / HUD_HEADING_RANGE, -1.0, 1.0), f32) * (w / 2)
    odometer = xp.astype(xp.clip(s.x[:, 0] / HUD_ODOMETER_RANGE, 0.0, 1.0), f32) * w
    zero, mid = xp.zeros((b,), dtype=f32), xp.full((b,), w / 2, dtype=f32)
    bars = [
        _coverage(xp, zero, speed, cols),
        _coverage(xp, xp.minimum(mid, mid + heading), xp.maximum(mid, mid + heading), cols),
        _coverage(xp, zero, odometer, cols),
    ]
    return xp.stack(bars, axis=1)


class FrameStack:
    """The last ``stack`` frames per env; an env whose episode time did not advance starts afresh.

    Episode time only grows within an episode, so ``time <= previous time`` marks a reset (autoreset,
    ``reset()``, a loaded scene); the stack is then filled with the new frame, as Gymnasium's
    ``FrameStackObservation(padding_type="reset")`` does.
    """

    def __init__(self, spec: CameraSpec) -> None:
        self.spec = spec
        self._frames = None  # (B, stack * C, H, W)
        self._time = None  # (B,)

    def push(self, xp: Any, frame: Any, time: Any) -> Any:
        spec = self.spec
        if spec.stack == 1:
            return frame
        tiled = xp.concatenate([frame] * spec.stack, axis=1)  # (B, stack * C, H, W)
        if self._frames is None or self._frames.shape[0] != frame.shape[0]:
            fresh = xp.full((frame.shape[0],), True, dtype=xp.bool)
        else:
            fresh = time <= self._time
        if self._frames is None or self._frames.shape[0] != frame.shape[0]:
            stacked = tiled
        else:
            rolled = xp.concatenate([self._frames[:, spec.channels :], frame], axis=1)
            stacked = xp.where(fresh[:, None, None, None], tiled, rolled)
        self._frames = stacked
        self._time = xp.copy(time)
        return xp.copy(stacked)


class CameraObservation:
    """``observation="camera"``: a stateful observer (it keeps each env's frame stack), one per simulator."""

    name = "camera"

    def __init__(self) -> None:
        self._stack: FrameStack | None = None

    def space(self, cfg: Any) -> Any:
        from gymnasium import spaces

        return spaces.Box(0, 255, shape=CameraSpec.from_config(cfg).shape, dtype=np.uint8)

    def observe(self, xp: Any, s: TrafficState, cfg: Any) -> Any:
        spec = CameraSpec.from_config(cfg)
        if self._stack is None or self._stack.spec != spec:
            self._stack = FrameStack(spec)
        return self._stack.push(xp, render(xp, s, spec, cfg.lanes_count), s.time)
