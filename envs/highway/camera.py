"""A batched bird's-eye camera: ego-centred grayscale or RGB pixels of any world, drawn from the simulator.

``observation="camera"`` selects it (see ``envs/highway/observation.py``); frames are uint8, channels
first, ``(camera_stack * camera_channels, camera_height, camera_width)``, newest last. A Warp kernel
(``envs/highway/camera_kernel.py``) draws every env of a batch on the simulator's device, from the
simulator's own arrays and lane table: nothing is copied to the host on CUDA.

Geometry (metres, in the camera frame: x along the view = image right, y to the view's left = image down,
so on the highway lane 0 is at the top, as in highway-env's viewer). The view is centred on the ego and
turned to the heading of the ego's lane at the ego's position: along the straight highway the image axes
are the world's; on curved roads (roundabout, merge's sine lane) the view turns with the road.

- rows: ``camera_height`` pixels of ``1 / camera_scale`` m, centred on the ego;
- columns: a fine zone ``[-camera_behind, camera_near]`` at ``camera_scale`` px/m, then the remaining
  columns at ``camera_far_scale`` px/m up to :attr:`CameraSpec.ahead` (a long-range "fovea": the
  occupancy grid's +/-27.5 m at full resolution, and the Kinematics range of 200 m ahead still in view).

Drawing: the off-road ground, every lane's surface, the painted side lines (highway-env's line types;
dashed lines are drawn solid), then every vehicle as its rotated box, each with exact area coverage per
pixel (anti-aliased, so sub-pixel positions are visible); the ego has its own colour.

The bottom :data:`HUD_ROWS` rows are a dashboard, like Gymnasium's CarRacing: bars for the ego's speed,
heading relative to the view, and x coordinate (up to 200 m; on the highway, the distance along the
road): the proprioception a real car has, which a top-down camera alone cannot show.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import warp as wp

from envs.highway.camera_kernel import HUD_HEADING_RANGE, HUD_ODOMETER_RANGE, LINE_WIDTH, camera_kernels
from envs.physics.device import init_warp
from envs.physics.engine import DEFAULT_THREADS
from envs.road.network import LineType

__all__ = [
    "GRAY", "HUD_HEADING_RANGE", "HUD_ODOMETER_RANGE", "HUD_ROWS", "LINE_WIDTH", "RGB", "CameraObservation",
    "CameraSpec", "FrameStack", "Rasteriser", "render",
]  # fmt: skip

HUD_ROWS = 3  # bottom rows: speed, heading, odometer bars
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


def _lines(network: Any) -> np.ndarray:
    """(lanes, 2) int32: 1 where a lane side has a painted line (highway-env's ``line_types``: side 0 at
    lateral -width/2, side 1 at +width/2), in lane-table order."""
    return np.array(
        [[int(t != LineType.NONE) for t in network.get_lane(i).line_types] for i in network.lane_indexes()],
        np.int32,
    ).reshape(-1, 2)


class Rasteriser:
    """Draws every env of one simulator through :func:`~envs.highway.camera_kernel.camera_kernel`, into
    buffers it keeps (the simulator's device): frames (B, channels, H, W) uint8 and the camera poses
    (B, 3) float64: the ego's x, y [m] and the view's heading [rad]."""

    def __init__(self, sim: Any, spec: CameraSpec) -> None:
        init_warp()
        self.sim, self.spec = sim, spec
        dev = sim.device
        palette = GRAY if spec.channels == 1 else RGB
        rows = [palette[k] for k in ("offroad", "road", "line", "vehicle", "ego", "hud")]
        rgb = np.broadcast_to(np.array(rows, np.float32).reshape(6, -1), (6, 3))  # gray: one value, 3 times
        self._palette = wp.array(np.ascontiguousarray(rgb), dtype=wp.float32, device=dev)
        tables = sim.network.tables()
        self._lf = wp.array(tables.lane_f, dtype=sim.F, device=dev)
        self._li = wp.array(tables.lane_i, dtype=wp.int32, device=dev)
        self._lines = wp.array(_lines(sim.network), dtype=wp.int32, device=dev)
        self._xe = wp.array(spec.x_edges, dtype=sim.F, device=dev)
        self._ye = wp.array(spec.y_edges, dtype=sim.F, device=dev)
        b = sim.num_envs
        self.frames = wp.zeros((b, spec.channels, spec.height, spec.width), dtype=wp.uint8, device=dev)
        self.pose = wp.zeros((b, 3), dtype=wp.float64, device=dev)
        self.row_n = wp.zeros((b, spec.height), dtype=wp.int32, device=dev)  # vehicles reaching each row
        self.row_j = wp.zeros((b, spec.height, sim.slots), dtype=wp.int32, device=dev)  # and their slots
        # on CPU, slices of the batch drawn by parallel launches (Warp runs one CPU launch on one thread)
        slices = 1 if str(dev).startswith("cuda") else max(1, min(DEFAULT_THREADS, b))
        bounds = np.linspace(0, b, slices + 1).astype(int)
        self._launches = [self._record(int(lo), int(hi)) for lo, hi in zip(bounds[:-1], bounds[1:])]
        self._pool = ThreadPoolExecutor(slices - 1, thread_name_prefix="camera") if slices > 1 else None

    def __call__(self) -> None:
        if len(self._launches) == 1:
            for cmd in self._launches[0]:
                cmd.launch()
            return
        futures = [self._pool.submit(_launch_all, cmds) for cmds in self._launches[1:]]
        _launch_all(self._launches[0])
        for f in futures:
            f.result()

    def _record(self, lo: int, hi: int) -> list[Any]:
        sim, a, spec = self.sim, self.sim.arrays, self.spec
        k = camera_kernels(sim.F)
        v = {
            name: a[name][lo:hi] for name in ("x", "y", "heading", "speed", "length", "width", "kind", "lane")
        }
        rows = (self.row_n[lo:hi], self.row_j[lo:hi])
        cull = [self._lf, self._li, *(v[n] for n in ("x", "y", "heading", "length", "width", "kind", "lane"))]
        cull += [self._ye, self.pose[lo:hi], *rows]
        draw = [
            self._lf,
            self._li,
            self._lines,
            *(v[n] for n in ("x", "y", "heading", "speed", "length", "width")),
        ]
        draw += [self._xe, self._ye, self._palette, HUD_ROWS, self.pose[lo:hi], *rows, self.frames[lo:hi]]
        dev = sim.device
        return [
            wp.launch(k.cull, dim=(hi - lo, spec.height), inputs=cull, device=dev, record_cmd=True),
            wp.launch(
                k.camera, dim=(hi - lo, spec.height, spec.width), inputs=draw, device=dev, record_cmd=True
            ),
        ]

    def view(self, xp: Any, name: str) -> Any:
        """Buffer ``name`` as the backend's array, no copy (NumPy on CPU, torch otherwise)."""
        arr = getattr(self, name)
        return wp.to_torch(arr) if xp.name == "torch" else arr.numpy()


def _launch_all(cmds: list[Any]) -> None:
    for cmd in cmds:
        cmd.launch()


def render(sim: Any, spec: CameraSpec) -> tuple[np.ndarray, np.ndarray]:
    """One frame per env of a CPU simulator: (frames (B, channels, H, W) uint8, poses (B, 3)), copies."""
    r = Rasteriser(sim, spec)
    r()
    return r.frames.numpy().copy(), r.pose.numpy().copy()


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
            return xp.copy(frame)  # the rasteriser's buffer is overwritten by the next frame
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
    """``observation="camera"``: a stateful observer (it keeps each env's frame stack and the rasteriser's
    buffers), one per simulator. :attr:`pose` is the latest frame's camera pose per env (x, y, heading)."""

    name = "camera"

    def __init__(self) -> None:
        self._stack: FrameStack | None = None
        self._raster: Rasteriser | None = None

    def space(self, cfg: Any) -> Any:
        from gymnasium import spaces

        return spaces.Box(0, 255, shape=CameraSpec.from_config(cfg).shape, dtype=np.uint8)

    def observe(self, xp: Any, sim: Any, cfg: Any) -> Any:
        spec = CameraSpec.from_config(cfg)
        if self._raster is None or self._raster.spec != spec or self._raster.sim is not sim:
            self._raster = Rasteriser(sim, spec)
            self._stack = FrameStack(spec)
        self._raster()
        time = xp.asarray(sim.torch("time") if xp.name == "torch" else sim.host["time"])
        return self._stack.push(xp, self._raster.view(xp, "frames"), time)

    @property
    def pose(self) -> np.ndarray:
        """(B, 3) float64 copy on the host: the ego's x, y [m] and the view's heading [rad] per env."""
        if self._raster is None:
            raise RuntimeError("no frame rendered yet")
        return self._raster.pose.numpy().copy()
