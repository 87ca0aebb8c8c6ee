"""The LiDAR sensor of the perception chain: scans of a state, their bird's-eye projection, degradations.

A scan is highway-env's ``LidarObservation`` computed by the simulator's own step kernel
(``envs.physics.observe.lidar``) on the true state: per ray, the distance to the nearest vehicle
rectangle and that vehicle's speed relative to the ego along the ray, raw (metres, m/s), rays in the
world's frame (ray ``k`` points at ``k * 360 / cells`` degrees). ``project`` draws a scan into the
camera's pixel grid, in the camera's view (the view's heading comes from the pose), as channels
(returns, their speeds, and the free space the rays crossed) the CNN reads beside the camera's: early fusion on a shared bird's-eye grid, as LiDAR-camera detectors
do, so every output cell sees both sensors at the same place.

Degradations (what the fusion results measure): ``camera_noise`` and ``camera_blackout`` touch the
scene rows of the frames only; the dashboard rows below them are the ego's own odometry (speed,
heading, distance), which no camera fault takes away. ``lidar_dropout`` loses rays (they read NaN).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from envs.highway.camera import HUD_ROWS, CameraSpec

# projected channels: a return in the pixel; its relative speed / SPEED_SCALE; space a ray saw empty
CHANNELS = ("hit", "speed", "free")
SPEED_SCALE = 10.0  # [m/s]
FREE_STEP = 1.0  # [m] free-space samples along each ray


@dataclass(frozen=True)
class LidarSpec:
    # a driving LiDAR's resolution and reach, beside highway-env's default (16 rays of 60 m: too coarse
    # to place a car); rays every 2.8 degrees are 5 m apart at 100 m, and every vehicle also gets the ray
    # through its centre
    cells: int = 128
    maximum_range: float = 100.0  # [m]

    def __post_init__(self) -> None:
        if self.cells < 4 or not self.maximum_range > 0:
            raise ValueError(
                f"LiDAR cells={self.cells}, maximum_range={self.maximum_range}: need cells >= 4, range > 0"
            )

    def env_config(self, cfg: Any) -> Any:
        """``cfg`` observing this LiDAR (raw distances and speeds), for ``observe_state``."""
        options = (("cells", self.cells), ("maximum_range", self.maximum_range), ("normalize", False))
        return dataclasses.replace(cfg, observation="lidar", observation_options=options)

    @property
    def angles(self) -> np.ndarray:
        """(cells,) [rad] each ray's direction in the world's frame."""
        return np.arange(self.cells) * (2 * np.pi / self.cells)


def scan(s: Any, cfg: Any, present: np.ndarray | None, spec: LidarSpec) -> np.ndarray:
    """LiDAR scans (B, cells, 2) float32 of NumPy states ``s`` (slot 0 the ego) on ``cfg``'s world."""
    from envs.highway.observation import observe_state

    return observe_state("lidar", s, spec.env_config(cfg), present)


def check_spec(model: LidarSpec, sensor: LidarSpec | dict, where: str) -> None:
    """A model reads scans of one LiDAR: any other (cells, range) is an error naming both."""
    sensor = sensor if isinstance(sensor, LidarSpec) else LidarSpec(**sensor)
    if sensor != model:
        raise ValueError(
            f"the model reads a LiDAR of cells={model.cells}, maximum_range={model.maximum_range}; "
            f"{where} has cells={sensor.cells}, maximum_range={sensor.maximum_range}"
        )


def project(scans: np.ndarray, view_heading: np.ndarray, spec: LidarSpec, camera: CameraSpec) -> np.ndarray:
    """Scans (B, cells, 2) and the views' headings (B,) [rad] -> (B, 3, H, W) float32 channels in the
    camera's view (its scene rows): 1 at the pixel of each return, its relative speed there, and 1 on the
    free space each ray saw before its return (every ``FREE_STEP`` m; to the maximum range when it met
    nothing). A lost ray (NaN, see :func:`lidar_dropout`) draws nothing: unseen is not free."""
    b = len(scans)
    dist, speed = scans[..., 0].astype(np.float64), scans[..., 1]
    a = spec.angles[None, :] - np.asarray(view_heading, np.float64)[:, None]  # (B, cells) in the view
    cos, sin = np.cos(a), np.sin(a)
    out = np.zeros((b, len(CHANNELS), camera.height, camera.width), np.float32)
    hit = dist < spec.maximum_range * (1 - 1e-6)  # False for NaN
    bi, ki = np.nonzero(hit)
    row, col, ok = _pixels(dist[bi, ki] * cos[bi, ki], dist[bi, ki] * sin[bi, ki], camera)
    bi, row, col = bi[ok], row[ok], col[ok]
    out[bi, 0, row, col] = 1.0
    out[bi, 1, row, col] = speed[hit][ok] / SPEED_SCALE
    # samples every FREE_STEP up to the return, and inside the view (most rays leave its box sideways)
    ys = (camera.y_edges[0], camera.y_edges[-1 - HUD_ROWS])
    with np.errstate(divide="ignore", invalid="ignore"):
        exit_x = np.where(
            cos > 0, camera.x_edges[-1] / cos, np.where(cos < 0, camera.x_edges[0] / cos, np.inf)
        )
        exit_y = np.where(sin > 0, ys[1] / sin, np.where(sin < 0, ys[0] / sin, np.inf))
    reach = np.minimum(dist - FREE_STEP / 2, np.minimum(exit_x, exit_y))
    count = np.ceil(np.nan_to_num(reach, nan=0.0).clip(0.0) / FREE_STEP).astype(np.int64).ravel() - 1
    count = count.clip(0)  # samples at FREE_STEP, 2 FREE_STEP, ... below reach; a lost ray (NaN) has none
    ray = np.repeat(np.arange(count.size), count)  # (N,) flat (env, ray) index of every sample
    t = FREE_STEP * (1 + np.arange(ray.size) - np.repeat(np.cumsum(count) - count, count))
    row, col, ok = _pixels(t * cos.ravel()[ray], t * sin.ravel()[ray], camera)
    out[ray[ok] // spec.cells, 2, row[ok], col[ok]] = 1.0
    return out


def project_stack(
    scans: np.ndarray, view_heading: np.ndarray, spec: LidarSpec, camera: CameraSpec
) -> np.ndarray:
    """Stacks of scans (B, S, cells, 2), oldest first, and their views' headings (B, S) [rad] -> (B, S*3,
    H, W) float32: each scan projected in its own view (:func:`project`), as stacked camera frames are
    each drawn around the ego of their time."""
    b, stack = scans.shape[:2]
    flat = project(scans.reshape(b * stack, *scans.shape[2:]), np.reshape(view_heading, -1), spec, camera)
    return flat.reshape(b, stack * len(CHANNELS), *flat.shape[2:])


class ScanHistory:
    """The last ``stack`` scans of each env of a driving loop and their views' headings, oldest first:
    what a model with ``lidar_stack > 1`` reads. An env whose episode has just begun (``fresh``) repeats
    its first scan, as the camera's frame stack repeats its first frame."""

    def __init__(self, stack: int) -> None:
        if stack < 1:
            raise ValueError(f"a LiDAR stack holds at least 1 scan, got {stack}")
        self.stack = stack
        self.scans: np.ndarray | None = None  # (B, S, cells, 2)
        self.headings: np.ndarray | None = None  # (B, S)

    def push(
        self, scans: np.ndarray, headings: np.ndarray, fresh: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """This step's scans (B, cells, 2), headings (B,) and fresh-episode mask (B,) -> the stacks
        (B, S, cells, 2) and their headings (B, S)."""
        scans, headings = np.asarray(scans, np.float32), np.asarray(headings, np.float64)
        fresh = np.asarray(fresh, bool).copy()
        if self.scans is None or self.scans.shape[0] != len(scans) or self.scans.shape[2:] != scans.shape[1:]:
            self.scans = np.empty((len(scans), self.stack, *scans.shape[1:]), np.float32)
            self.headings = np.empty((len(scans), self.stack), np.float64)
            fresh[:] = True
        self.scans[:, :-1], self.headings[:, :-1] = self.scans[:, 1:], self.headings[:, 1:]
        self.scans[:, -1], self.headings[:, -1] = scans, headings
        self.scans[fresh] = scans[fresh][:, None]
        self.headings[fresh] = headings[fresh][:, None]
        return self.scans.copy(), self.headings.copy()


def reached(
    scans: np.ndarray,
    view_heading: np.ndarray,
    vehicles: np.ndarray,
    spec: LidarSpec,
    size: tuple[float, float] = (5.0, 2.0),
    tolerance: float = 0.3,
) -> np.ndarray:
    """(B, N) bool: whether a return of each scan (B, cells, 2) lands on each vehicle, given as (B, N, >=2)
    dx, dy [m] from the ego in the view of heading ``view_heading`` (B,) [rad] (a dataset's ``vehicles``),
    each a ``size`` (length, width) [m] rectangle along the view, ``tolerance`` [m] wider: on a straight
    road a vehicle no return lands on is hidden behind others (or out of range)."""
    a = spec.angles[None, :] - np.asarray(view_heading, np.float64)[:, None]  # (B, cells) in the view
    dist = scans[..., 0].astype(np.float64)
    dist = np.where(dist < spec.maximum_range * (1 - 1e-6), dist, np.nan)  # no return (or a lost ray)
    px, py = dist * np.cos(a), dist * np.sin(a)  # (B, cells)
    dx, dy = vehicles[..., 0:1].astype(np.float64), vehicles[..., 1:2].astype(np.float64)  # (B, N, 1)
    on_x = np.abs(px[:, None, :] - dx) <= size[0] / 2 + tolerance  # NaN compares False
    on_y = np.abs(py[:, None, :] - dy) <= size[1] / 2 + tolerance
    return (on_x & on_y).any(axis=-1)


def objects(
    scans: np.ndarray,
    pose: np.ndarray,
    ego_velocity: np.ndarray,
    spec: LidarSpec,
    gap: float = 2.5,
    size: tuple[float, float] = (5.0, 2.0),
) -> tuple[np.ndarray, np.ndarray]:
    """Vehicles found in LiDAR scans by geometry alone, no learning: the classic segment-and-fit detector.

    Returns of neighbouring rays closer than ``gap`` [m] form one object (Euclidean clustering, as
    Autoware's LiDAR detector does); a box of the vehicles' ``size`` (length, width) [m] along the view is
    placed behind the faces the returns saw (the rear face of a car ahead, the side of one alongside), and
    its velocity is the least-squares fit of the rays' relative speeds (each ray measures the relative
    velocity along itself), with a weak prior of no relative motion for what the rays cannot resolve.
    Written here: ray-level clustering of a 2-D scan is a few array lines, and point-cloud libraries
    (e.g. Open3D's DBSCAN) work on one cloud at a time.

    ``scans`` (B, cells, 2) raw (NaN: a lost ray), ``pose`` (B, 3) the ego's x, y [m] and the view's heading
    [rad], ``ego_velocity`` (B, 2) [m/s] in the world's frame -> ``found`` (B, cells) and the objects'
    world x, y, vx, vy (B, cells, 4) (one object per segment, in its first ray's slot)."""
    b, cells = scans.shape[:2]
    dist, rel = scans[..., 0].astype(np.float64), scans[..., 1].astype(np.float64)
    hit = dist < spec.maximum_range * (1 - 1e-6)  # False for NaN
    a = spec.angles[None, :] - np.asarray(pose, np.float64)[:, 2:3]  # (B, cells) in the view
    cos, sin = np.cos(a), np.sin(a)
    px, py = np.where(hit, dist * cos, 0.0), np.where(hit, dist * sin, 0.0)
    # each ray's neighbour is the last ray before it that came back: a lost ray (NaN) does not split an object
    valid = ~np.isnan(dist)
    last = np.maximum.accumulate(np.where(np.tile(valid, 2), np.arange(2 * cells), -1), axis=1)
    prev = last[:, cells - 1 : 2 * cells - 1].clip(0) % cells  # (B, cells)
    rows = np.arange(b)[:, None]
    # neighbouring returns are one object when close, or when one box of ``size`` along the view holds both
    # (a far car's rear and side are seen by rays metres apart)
    ddx, ddy = np.abs(px - px[rows, prev]), np.abs(py - py[rows, prev])
    joined = hit & hit[rows, prev] & ((np.hypot(ddx, ddy) < gap) | ((ddx < size[0]) & (ddy < size[1])))
    # segments: a new one at every ray not joined to the one before; the rays before a scan's first start
    # belong to its last segment (one object across ray 0); a scan joined all around has none (bin ``cells``)
    start = hit & ~joined
    label = np.cumsum(start, axis=1) - 1  # (B, cells) the segment of each ray
    label = np.where(label < 0, label[:, -1:], label)
    label = np.where(hit & (label >= 0), label, cells)
    first = np.where(start, np.arange(cells)[None, :], cells)  # slot of each segment: its first ray
    slot = np.full((b, cells + 1), cells)
    np.minimum.at(slot, (np.repeat(np.arange(b), cells), label.ravel()), first.ravel())
    flat = (np.arange(b)[:, None] * (cells + 1) + label).ravel()[hit.ravel()]
    n = b * (cells + 1)

    def total(values: np.ndarray) -> np.ndarray:
        return np.bincount(flat, values[hit], n).reshape(b, cells + 1)

    def extreme(values: np.ndarray, fn: Any, fill: float) -> np.ndarray:
        out = np.full(n, fill)
        fn.at(out, flat, values[hit])
        return out.reshape(b, cells + 1)

    count = total(np.ones_like(px))
    found_seg = count > 0
    x_lo, x_hi = extreme(px, np.minimum, np.inf), extreme(px, np.maximum, -np.inf)
    y_lo, y_hi = extreme(py, np.minimum, np.inf), extreme(py, np.maximum, -np.inf)
    half_l, half_w = size[0] / 2, size[1] / 2
    # the faces seen: a car ahead shows its rear (its centre half a length beyond the nearest return) and
    # its rear's full width, one behind its front, one alongside its side (the centre half a width beyond)
    with np.errstate(invalid="ignore"):
        ahead, behind = x_lo > half_l, x_hi < -half_l
        cx = np.where(ahead, x_lo + half_l, np.where(behind, x_hi - half_l, (x_lo + x_hi) / 2))
        side = np.where(y_lo > 0, y_lo + half_w, y_hi - half_w)
        cy = np.where(ahead | behind, (y_lo + y_hi) / 2, side)
    # relative velocity: min sum (d.v - rel)^2 + prior |v|^2, a 2x2 solve per segment, in the view
    prior = 0.05
    axx, axy, ayy = total(cos * cos) + prior, total(cos * sin), total(sin * sin) + prior
    bx, by = total(cos * rel), total(sin * rel)
    det = axx * ayy - axy * axy  # >= prior^2 > 0
    rvx, rvy = (ayy * bx - axy * by) / det, (axx * by - axy * bx) / det
    theta = np.asarray(pose, np.float64)[:, 2:3]
    c, s_ = np.cos(theta), np.sin(theta)
    with np.errstate(invalid="ignore"):  # empty segments hold inf - inf
        world = np.stack(
            [pose[:, 0:1] + c * cx - s_ * cy, pose[:, 1:2] + s_ * cx + c * cy,
             ego_velocity[:, 0:1] + c * rvx - s_ * rvy, ego_velocity[:, 1:2] + s_ * rvx + c * rvy], axis=-1,
        )  # fmt: skip
    found = np.zeros((b, cells), bool)
    out = np.zeros((b, cells, 4))
    bi, li = np.nonzero(found_seg[:, :cells] & (slot[:, :cells] < cells))
    found[bi, slot[bi, li]] = True
    out[bi, slot[bi, li]] = world[bi, li]
    return found, out


def _pixels(dx: np.ndarray, dy: np.ndarray, camera: CameraSpec) -> tuple[np.ndarray, ...]:
    """Points relative to the ego in the view -> their pixel rows, columns and whether the scene shows them."""
    col = np.minimum(np.floor(camera.x_to_column(dx)).astype(np.int64), camera.width - 1)
    row = np.floor((dy - camera.y_edges[0]) * camera.scale).astype(np.int64)
    seen = (dx >= camera.x_edges[0]) & (dx < camera.x_edges[-1])  # x_to_column clips outside the view
    return row, col, seen & (row >= 0) & (row < camera.height - HUD_ROWS)


def lidar_dropout(scans: np.ndarray, rate: float, rng: np.random.Generator, spec: LidarSpec) -> np.ndarray:
    """Scans (..., cells, 2): each ray lost with probability ``rate``: it reads NaN (no measurement, neither a return nor free
    space; ``spec`` is the LiDAR's)."""
    lost = rng.random(scans.shape[:-1]) < rate  # (..., cells): scans of any leading shape
    out = scans.astype(np.float32, copy=True)
    out[lost] = np.nan
    return out


def camera_noise(frames: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Gaussian pixel noise of ``sigma`` (in 0-255 units) on the scene rows of uint8 frames (..., H, W)."""
    out = frames.copy()
    scene = out[..., : out.shape[-2] - HUD_ROWS, :]
    noisy = scene.astype(np.float32) + rng.normal(0.0, sigma, scene.shape).astype(np.float32)
    out[..., : out.shape[-2] - HUD_ROWS, :] = np.clip(np.rint(noisy), 0, 255).astype(np.uint8)
    return out


def camera_blackout(frames: np.ndarray) -> np.ndarray:
    """The camera lost: its scene rows read 0 (the dashboard rows stay)."""
    out = frames.copy()
    out[..., : out.shape[-2] - HUD_ROWS, :] = 0
    return out


def true_state(env: Any) -> tuple[Any, np.ndarray]:
    """A driving env's current state (``env.unwrapped`` of a single or a batched env on the CPU) as a
    float64 NumPy TrafficState (B, slots), and which slots hold a vehicle."""
    from envs.highway.state import TrafficState
    from envs.physics.structs import ABSENT

    s = env.state
    fields = ("x", "y", "heading", "speed", "time")
    state = TrafficState(**{k: np.array(np.asarray(getattr(s, k)), np.float64) for k in fields})
    return state, np.asarray(env.sim.host["kind"]).reshape(state.x.shape) != ABSENT


def env_scan(env: Any, spec: LidarSpec) -> np.ndarray:
    """LiDAR scans (B, cells, 2) of a driving env's current state (see :func:`true_state`): the second
    sensor of a camera env."""
    state, present = true_state(env)
    return scan(state, env.config, present, spec)


@dataclass(frozen=True)
class Degradation:
    """Sensor faults applied before perception: camera noise (sigma, 0-255 units) or blackout, and the
    share of LiDAR rays lost."""

    camera_noise: float = 0.0
    camera_blackout: bool = False
    lidar_dropout: float = 0.0

    def __post_init__(self) -> None:
        if self.camera_noise < 0 or not 0 <= self.lidar_dropout <= 1:
            raise ValueError(
                f"camera_noise={self.camera_noise} must be >= 0 and lidar_dropout={self.lidar_dropout} "
                "in [0, 1]"
            )

    def apply(
        self, frames: Any, scans: np.ndarray | None, rng: np.random.Generator, spec: LidarSpec
    ) -> tuple[Any, np.ndarray | None]:
        """Damaged copies of stacked uint8 frames (B, S*C, H, W) and scans (B, [S,] cells, 2) (None: no
        LiDAR)."""
        frames = np.asarray(frames)
        if self.camera_blackout:
            frames = camera_blackout(frames)
        elif self.camera_noise > 0:
            frames = camera_noise(frames, self.camera_noise, rng)
        if scans is not None and self.lidar_dropout > 0:
            scans = lidar_dropout(scans, self.lidar_dropout, rng, spec)
        return frames, scans


#: the sensor conditions the fusion results measure (one sensor degraded at a time)
DEGRADATIONS = {
    "clean": Degradation(),
    "camera_noise": Degradation(camera_noise=48.0),
    "camera_blackout": Degradation(camera_blackout=True),
    "lidar_dropout": Degradation(lidar_dropout=0.5),
}
