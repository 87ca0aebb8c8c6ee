"""Tracking through occlusion: a memory of the vehicles perception has lost, checked against the LiDAR.

A perception CNN sees one instant. A vehicle that drives into another's LiDAR shadow, or that a damaged
camera stops showing, drops out of the planner's observation although it is still there. ``Tracker`` keeps
every detected vehicle as a track in the world's frame, predicts it with constant velocity (the model of
SORT, Bewley et al. 2016, without the Kalman gain: the detections are already filtered by the CNN), matches
the next detections to the predictions greedily within a gate, and *coasts* an unmatched track for up to
``coast_steps`` steps. A coasted track is dropped as soon as a LiDAR ray crosses its core without a return
there (the sensor saw that space empty: negative information, as occupancy-grid trackers use it), or a
detection overlaps it. Detections pass through unchanged, so a track only adds vehicles the sensors lost.

Written here rather than taken from a tracking library (e.g. ``motpy``, ``filterpy``): those track one scene
with a Python object per track; this one is arrays over a batch of envs, and the LiDAR veto needs the scan.
"""

from __future__ import annotations

import numpy as np

from envs.highway.state import VEHICLE_LENGTH, VEHICLE_WIDTH, TrafficState
from perception.lidar import LidarSpec, objects

# the part of a vehicle a LiDAR ray must cross, with no return before it is out again, to prove it absent:
# smaller than a car, so that a position a metre off is not refuted by a ray past the real car's end
CORE = (VEHICLE_LENGTH - 2.0, VEHICLE_WIDTH - 1.0)


class Tracker:
    """Tracks of ``slots`` vehicles per env: world x, y, vx, vy [m, m/s] and steps since last detected.

    ``gate`` (dx, dy) [m]: how far a detection may lie from a track's prediction and still be that vehicle
    (the lanes are 4 m apart, so dy stays under half a lane). ``core`` (length, width) [m]: the part of a
    coasted vehicle a LiDAR ray must cross, with no return before it is out again, to prove it gone; it is
    smaller than a car so that a prediction a metre off is not refuted by a ray past the real car's end."""

    def __init__(
        self,
        coast_steps: int,
        dt: float,
        slots: int = 64,
        gate: tuple[float, float] = (8.0, 1.8),
        core: tuple[float, float] = CORE,
        margin: float = 1.0,
    ) -> None:
        if coast_steps < 0 or not dt > 0:
            raise ValueError(f"coast_steps={coast_steps} must be >= 0 and dt={dt} > 0")
        self.coast_steps, self.dt, self.slots = coast_steps, dt, slots
        self.gate, self.core, self.margin = gate, core, margin
        self.tracks: np.ndarray | None = None  # (B, slots, 4) x, y, vx, vy
        self.age: np.ndarray | None = None  # (B, slots) steps since detected; > coast_steps: free

    def update(
        self,
        s: TrafficState,
        present: np.ndarray,
        fresh: np.ndarray,
        scans: np.ndarray | None = None,
        lidar_angles: np.ndarray | None = None,
        max_range: float = np.inf,
    ) -> tuple[TrafficState, np.ndarray]:
        """This step's perceived scene (``s`` (B, 1+K), slot 0 the ego; ``present`` (B, 1+K)), the envs
        whose episode has just begun (``fresh`` (B,)) and, when there is one, the LiDAR scans (B, cells, 2)
        with their rays' world angles -> the scene with the coasted tracks appended (B, 1+K+slots)."""
        b = s.x.shape[0]
        if self.tracks is None or self.tracks.shape[0] != b:
            self.tracks = np.zeros((b, self.slots, 4))
            self.age = np.full((b, self.slots), self.coast_steps + 1, np.int64)
        self.age[np.asarray(fresh, bool)] = self.coast_steps + 1
        det = np.stack(
            [s.x[:, 1:], s.y[:, 1:], s.speed[:, 1:] * np.cos(s.heading[:, 1:]),
             s.speed[:, 1:] * np.sin(s.heading[:, 1:])], axis=-1,
        )  # fmt: skip
        seen = np.asarray(present, bool)[:, 1:]
        alive = self.age <= self.coast_steps
        self.tracks[..., :2] += self.tracks[..., 2:] * self.dt
        matched, track_of = self._associate(det, seen, alive)  # (B, slots), (B, K)
        self._refresh(det, seen, matched, track_of, alive)
        coasted = (self.age >= 1) & (self.age <= self.coast_steps)
        coasted &= ~self._overlaps(det, seen)
        if scans is not None:
            heading = np.arctan2(self.tracks[..., 3], self.tracks[..., 2])
            ego = np.stack([s.x[:, 0], s.y[:, 0]], axis=1)
            coasted &= ~refuted(
                self.tracks[..., :2], heading, ego, scans, lidar_angles, max_range, self.core, self.margin
            )
        self.age[(self.age >= 1) & ~coasted] = self.coast_steps + 1  # refuted tracks end now
        return _append(s, present, self.tracks, coasted)

    def _associate(self, det: np.ndarray, seen: np.ndarray, alive: np.ndarray) -> tuple[np.ndarray, ...]:
        """Greedy nearest-first matching of predictions to detections inside the gate, per env at once."""
        d = (self.tracks[:, :, None, :2] - det[:, None, :, :2]) / np.asarray(self.gate)
        cost = np.where(alive[:, :, None] & seen[:, None, :], (d**2).sum(-1), np.inf)  # (B, slots, K)
        cost[cost > 1.0] = np.inf
        b, slots, k = cost.shape
        track_of = np.full((b, k), -1, np.int64)
        rows = np.arange(b)
        for _ in range(min(slots, k)):
            flat = cost.reshape(b, -1).argmin(1)
            ok = np.isfinite(cost.reshape(b, -1)[rows, flat])
            if not ok.any():
                break
            ti, ki = flat // k, flat % k
            track_of[rows[ok], ki[ok]] = ti[ok]
            cost[rows[ok], ti[ok], :] = np.inf
            cost[rows[ok], :, ki[ok]] = np.inf
        matched = np.zeros((b, slots), bool)
        bi, ki = np.nonzero(track_of >= 0)
        matched[bi, track_of[bi, ki]] = True
        return matched, track_of

    def _refresh(
        self, det: np.ndarray, seen: np.ndarray, matched: np.ndarray, track_of: np.ndarray, alive: np.ndarray
    ) -> None:
        """Matched tracks take their detection; new detections open tracks in free slots; the rest age."""
        self.age[alive & ~matched] += 1
        bi, ki = np.nonzero(track_of >= 0)
        self.tracks[bi, track_of[bi, ki]] = det[bi, ki]
        self.age[bi, track_of[bi, ki]] = 0
        new = seen & (track_of < 0)  # (B, K)
        free = self.age > self.coast_steps  # (B, slots)
        order = np.argsort(~free, axis=1, kind="stable")  # free slots first
        rank = np.cumsum(new, axis=1) - 1  # the j-th new detection of an env takes its j-th free slot
        bi, ki = np.nonzero(new & (rank < free.sum(1, keepdims=True)))
        slot = order[bi, rank[bi, ki]]
        self.tracks[bi, slot] = det[bi, ki]
        self.age[bi, slot] = 0

    def _overlaps(self, det: np.ndarray, seen: np.ndarray) -> np.ndarray:
        """(B, slots): a track whose box overlaps a detection's (one vehicle, already in the scene)."""
        heading = np.arctan2(self.tracks[..., 3], self.tracks[..., 2])[..., None]
        return (
            _overlapping(self.tracks[:, :, None, :2], det[:, None, :, :2], heading) & seen[:, None, :]
        ).any(-1)


def refuted(
    xy: np.ndarray,
    heading: np.ndarray,
    ego: np.ndarray,
    scans: np.ndarray,
    angles: np.ndarray,
    max_range: float,
    core: tuple[float, float],
    margin: float,
) -> np.ndarray:
    """(B, N) bool: boxes of ``core`` (length, width) [m] centred at ``xy`` (B, N, 2) with ``heading`` (B, N)
    that a ray of the scans (B, cells, 2) from ``ego`` (B, 2) crosses entirely, its return (or, with none,
    its full range) ``margin`` beyond: space the LiDAR saw empty. A lost ray (NaN) proves nothing."""
    dist = scans[..., 0].astype(np.float64)
    dist = np.where(dist >= max_range * (1 - 1e-6), np.inf, dist)
    c, sn = np.cos(heading)[..., None], np.sin(heading)[..., None]
    ox, oy = ego[:, None, 0:1] - xy[..., 0:1], ego[:, None, 1:2] - xy[..., 1:2]  # (B, N, 1)
    ox, oy = c * ox + sn * oy, -sn * ox + c * oy  # the ego in each box's frame
    dx, dy = np.cos(angles)[None, None, :], np.sin(angles)[None, None, :]
    dx, dy = c * dx + sn * dy, -sn * dx + c * dy  # (B, N, cells) ray directions in that frame
    half = np.asarray(core) / 2
    with np.errstate(divide="ignore", invalid="ignore"):  # slab test; a ray parallel to a side: +-inf
        t1x, t2x = (-half[0] - ox) / dx, (half[0] - ox) / dx
        t1y, t2y = (-half[1] - oy) / dy, (half[1] - oy) / dy
        t_in = np.maximum(np.minimum(t1x, t2x), np.minimum(t1y, t2y))
        t_out = np.minimum(np.maximum(t1x, t2x), np.maximum(t1y, t2y))
    crosses = (t_in < t_out) & (t_in > 0) & (t_out < max_range)
    return (crosses & (dist[:, None, :] > t_out + margin)).any(-1)


def fuse_lidar_objects(
    s: TrafficState,
    present: np.ndarray,
    scans: np.ndarray,
    pose: np.ndarray,
    spec: LidarSpec,
    core: tuple[float, float] = CORE,
    margin: float = 1.0,
) -> tuple[TrafficState, np.ndarray]:
    """Object-level fusion of a perceived scene (``s`` (B, 1+K), slot 0 the ego) with the LiDAR's own
    objects (:func:`perception.lidar.objects`): a detection whose core the scan saw empty, or that lies on
    the ego, is dropped (a ghost of a noisy camera); a detection a LiDAR object covers takes that object's
    velocity; and every LiDAR object that no remaining detection covers is added, so a vehicle the CNN
    missed but a ray hit is in the scene -> (B, 1+K+cells) and its present mask."""
    present = np.asarray(present, bool).copy()
    ego = np.stack([s.x[:, 0], s.y[:, 0]], axis=1)
    xy = np.stack([s.x[:, 1:], s.y[:, 1:]], axis=-1)
    present[:, 1:] &= ~refuted(
        xy, s.heading[:, 1:], ego, scans, spec.angles, spec.maximum_range, core, margin
    )
    theta = np.asarray(pose, np.float64)[:, 2]
    # a detection on the ego's own box is the ego seen again (a noisy camera's most dangerous ghost: rays
    # start inside it, so no scan can refute it); a real car that close is a LiDAR object and comes back
    present[:, 1:] &= ~_overlapping(xy, ego[:, None, :], theta[:, None])
    ego_v = np.stack([s.speed[:, 0] * np.cos(s.heading[:, 0]), s.speed[:, 0] * np.sin(s.heading[:, 0])], 1)
    found, obj = objects(scans, pose, ego_v, spec)
    # (B, K, cells): a LiDAR object on a kept detection is that vehicle, already in the scene
    pair = _overlapping(obj[:, None, :, :2], xy[:, :, None, :], theta[:, None, None]) & present[:, 1:, None]
    # a covered detection keeps its position and takes the velocity of its nearest LiDAR object: each ray
    # measures the relative speed along itself, which a CNN only infers from the frames' differences
    near = np.where(pair, np.abs(obj[:, None, :, 0] - xy[:, :, None, 0]), np.inf).argmin(-1)  # (B, K)
    bi, ki = np.nonzero(pair.any(-1))
    v = obj[bi, near[bi, ki], 2:]
    speed, heading = s.speed.copy(), s.heading.copy()
    speed[bi, ki + 1], heading[bi, ki + 1] = np.hypot(v[:, 0], v[:, 1]), np.arctan2(v[:, 1], v[:, 0])
    s = TrafficState(x=s.x, y=s.y, heading=heading, speed=speed, time=s.time)
    found &= ~pair.any(1)
    return _append(s, present, obj, found)


def _append(
    s: TrafficState, present: np.ndarray, extra: np.ndarray, shown: np.ndarray
) -> tuple[TrafficState, np.ndarray]:
    """The scene ``s`` (B, N) with vehicles of world x, y, vx, vy ``extra`` (B, M, 4) appended, and the
    present mask with ``shown`` (B, M) appended."""
    speed, heading = np.hypot(extra[..., 2], extra[..., 3]), np.arctan2(extra[..., 3], extra[..., 2])
    out = TrafficState(
        x=np.concatenate([s.x, extra[..., 0]], axis=1),
        y=np.concatenate([s.y, extra[..., 1]], axis=1),
        heading=np.concatenate([s.heading, heading], axis=1),
        speed=np.concatenate([s.speed, speed], axis=1),
        time=s.time,
    )
    return out, np.concatenate([present, shown], axis=1)


def _overlapping(a: np.ndarray, b: np.ndarray, view: np.ndarray) -> np.ndarray:
    """Whether vehicle boxes centred at ``a`` and ``b`` (..., 2) overlap, both along the view of heading
    ``view`` [rad] (broadcast against them)."""
    d = a - b
    c, s = np.cos(view), np.sin(view)
    along, across = np.abs(c * d[..., 0] + s * d[..., 1]), np.abs(-s * d[..., 0] + c * d[..., 1])
    return (along < VEHICLE_LENGTH) & (across < VEHICLE_WIDTH)
