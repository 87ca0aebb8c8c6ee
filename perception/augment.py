"""Augmentation for low-label perception training: rare-layout predicates, classic pixel/geometry
augmentation, and rare-layout scene synthesis (the conditions the GAN draws frames for).

Every augmentation here is a *batch function* with the signature of :func:`perception.train.batch`,
``(data, index, mcfg) -> (frames, dense_t, ego_t)``, so ``perception.train.train(..., batch_fn=...)``
uses it without knowing what it does.

Rare layouts are defined once, on the simulator's occupancy grid (presence and on_road layers, cell
``[i, j]`` = x cell i, y cell j, the ego in cell (5, 5); i > 5 is ahead, j < 5 is the lane above):

- ``wall_ahead``: every lane of the road holds a vehicle ahead within the grid (2.5 m < dx < 27.5 m);
- ``boxed_in``: a vehicle close ahead in the ego's lane (2.5 m < dx < 12.5 m) and both neighbouring
  columns blocked beside the ego (a vehicle within +/-7.5 m, or no road there).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from envs.highway.camera import HUD_ROWS
from envs.highway.state import LANE_WIDTH, VEHICLE_LENGTH, VEHICLE_WIDTH
from perception import decode as dec
from perception.dataset import Dataset
from perception.model import ModelConfig

CENTRE = 5  # grid cell of the ego on both axes
ABSENT = dec.ABSENT  # [m] dx of a removed vehicle: outside every view


def _wall_ahead(presence: np.ndarray, road: np.ndarray) -> np.ndarray:
    lanes = road.any(axis=1)  # (B, 11) y columns that hold a lane
    ahead = presence[:, CENTRE + 1 :, :].any(axis=1)  # (B, 11) a vehicle ahead in that column
    return np.all(~lanes | ahead, axis=1) & (lanes.sum(axis=1) >= 2)


def _boxed_in(presence: np.ndarray, road: np.ndarray) -> np.ndarray:
    lanes = road.any(axis=1)  # (B, 11)
    close = presence[:, CENTRE + 1 : CENTRE + 3, CENTRE].any(axis=1)
    beside = presence[:, CENTRE - 1 : CENTRE + 2, :].any(axis=1)  # (B, 11) within +/-7.5 m in x
    left = beside[:, CENTRE - 1] | ~lanes[:, CENTRE - 1]
    right = beside[:, CENTRE + 1] | ~lanes[:, CENTRE + 1]
    return close & left & right


#: name -> predicate over (presence (B, 11, 11) bool, on_road (B, 11, 11) bool) -> (B,) bool.
RARE_LAYOUTS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "wall_ahead": _wall_ahead,
    "boxed_in": _boxed_in,
}


def rare_masks(occupancy: np.ndarray) -> dict[str, np.ndarray]:
    """Occupancy grids (B, 4, 11, 11) -> {layout name: (B,) bool, ..., "any": (B,) bool}."""
    presence, road = occupancy[:, 0] > 0.5, occupancy[:, 3] > 0.5
    masks = {name: fn(presence, road) for name, fn in RARE_LAYOUTS.items()}
    masks["any"] = np.any(np.stack(list(masks.values())), axis=0)
    return masks


# ---------------------------------------------------------------- scene synthesis (GAN conditions)


def occupancy_of(vehicles: np.ndarray, ego: np.ndarray, env_config: Any) -> np.ndarray:
    """Scene ``vehicles`` (B, N, 4) + ``ego`` (B, 4) -> the simulator's occupancy grid (B, 4, 11, 11)."""
    det = {
        "present": vehicles[..., 0] > ABSENT / 2,
        "dx": vehicles[..., 0],
        "dy": vehicles[..., 1],
        "vx": vehicles[..., 2],
        "vy": vehicles[..., 3],
        "ego": ego,
    }
    return dec.observe(det, env_config, ("occupancy",))["occupancy"]


def _insert(vehicles: np.ndarray, new: np.ndarray) -> np.ndarray:
    """Add ``new`` (B, K, 4) vehicles (NaN rows skipped) to ``vehicles`` (B, N, 4), removing overlaps."""
    out = vehicles.copy()
    for k in range(new.shape[1]):
        nx, ny = new[:, k, :1], new[:, k, 1:2]  # (B, 1)
        clash = (np.abs(out[..., 0] - nx) < VEHICLE_LENGTH + 2.0) & (
            np.abs(out[..., 1] - ny) < VEHICLE_WIDTH + 0.5
        )
        clash &= ~np.isnan(nx)
        out[..., 0] = np.where(clash, ABSENT, out[..., 0])
    new = np.where(np.isnan(new), np.array([ABSENT, 0, 0, 0], dtype=np.float32), new)
    return np.concatenate([out, new.astype(np.float32)], axis=1)


def synthesise_rare(
    vehicles: np.ndarray, ego: np.ndarray, lanes_count: int, rng: np.random.Generator, kind: str
) -> np.ndarray:
    """Edit real scenes into rare layouts: (B, N, 4) -> (B, N + lanes, 4) with vehicles placed per ``kind``.

    Existing vehicles that would overlap a placed one are removed. Relative speeds of placed vehicles are
    drawn from the scenes' own vehicles (the label set), so the edit keeps their speed distribution.
    """
    b = len(vehicles)
    lane = np.arange(lanes_count) * LANE_WIDTH  # (L,) lane centres [m]
    dy = lane[None, :] - ego[:, 1:2] + rng.normal(0, 0.15, (b, lanes_count))  # (B, L)
    ego_lane = np.argmin(np.abs(dy), axis=1)  # (B,)
    if kind == "wall_ahead":
        dx = rng.uniform(6.0, 26.0, (b, lanes_count))
    elif kind == "boxed_in":
        offset = np.abs(np.arange(lanes_count)[None, :] - ego_lane[:, None])  # (B, L) lanes away from the ego
        dx = np.where(
            offset == 0, rng.uniform(6.0, 11.5, (b, lanes_count)), rng.uniform(-6.0, 6.0, (b, lanes_count))
        )
        dx = np.where(offset <= 1, dx, np.nan)  # two lanes away: nothing placed
    else:
        raise ValueError(f"kind={kind!r}: choose one of {sorted(RARE_LAYOUTS)}")
    seen = vehicles[..., 0] > ABSENT / 2
    pool = vehicles[seen][:, 2:] if seen.any() else np.zeros((1, 2), np.float32)  # (M, 2) relative vx, vy
    speeds = pool[rng.integers(len(pool), size=(b, lanes_count))]  # (B, L, 2)
    new = np.stack([dx, dy, speeds[..., 0], np.zeros_like(dx)], axis=2)  # lane keeping: vy 0
    new[np.isnan(dx)] = np.nan
    return _insert(vehicles, new)


# ---------------------------------------------------------------- classic augmentation


@dataclass(frozen=True)
class ClassicConfig:
    noise_std: float = 6.0  # [grey levels] Gaussian pixel noise
    brightness: float = 0.1  # +/- fraction, per sample
    max_shift: int = 2  # [px] lateral shift of the scene rows (the dashboard stays)
    mirror: float = 0.5  # probability of mirroring the road laterally (lane 0 <-> last lane)

    def __post_init__(self) -> None:
        if (
            self.noise_std < 0
            or not 0 <= self.brightness < 1
            or self.max_shift < 0
            or not 0 <= self.mirror <= 1
        ):
            raise ValueError("need noise_std >= 0, 0 <= brightness < 1, max_shift >= 0, 0 <= mirror <= 1")


class ClassicAugment:
    """Noise, brightness, lateral shifts and lane mirroring, with the labels moved to match.

    A lateral shift of ``s`` pixels moves every vehicle ``s`` m in the image, so the dense targets are
    rebuilt with ``dy + s``; the mirror flips the scene rows about the ego (``dy, vy, heading`` change
    sign, the ego's y becomes ``(lanes - 1) * 4 m - y``), exact because the road is symmetric.
    """

    def __init__(self, cfg: ClassicConfig, seed: int) -> None:
        self.cfg = cfg
        self.rng = np.random.default_rng(seed)

    def __call__(self, data: Dataset, index: np.ndarray, mcfg: ModelConfig) -> tuple[torch.Tensor, ...]:
        cfg, rng = self.cfg, self.rng
        frames = data.stacked_frames(index).astype(np.float32)  # (B, S*C, H, W)
        vehicles = data.arrays["vehicles"][index].copy()  # (B, N, 4)
        ego = data.arrays["ego"][index].copy()  # (B, 4)
        b, _, h, w = frames.shape
        scene = h - HUD_ROWS
        flip = rng.random(b) < cfg.mirror
        if flip.any():
            # scene row r <-> h - 1 - r (rows of dy and -dy); rows that would come from the dashboard are
            # 13+ m off the ego's centre, always off-road
            rows = np.arange(scene)
            src = h - 1 - rows
            mirrored = np.where(src[:, None] < scene, frames[flip][:, :, np.minimum(src, scene - 1)], 0.0)
            frames[np.ix_(flip, np.arange(frames.shape[1]), rows)] = mirrored
            frames[np.ix_(flip, np.arange(frames.shape[1]), [scene + 1])] = frames[flip][
                :, :, [scene + 1], ::-1
            ]
            vehicles[flip, :, 1] *= -1
            vehicles[flip, :, 3] *= -1
            ego[flip, 1] = (mcfg.lanes_count - 1) * LANE_WIDTH - ego[flip, 1]
            ego[flip, 3] *= -1
        shift = rng.integers(-cfg.max_shift, cfg.max_shift + 1, size=b)
        for s in np.unique(shift[shift != 0]):
            m = shift == s
            part = frames[m, :, :scene]
            rolled = np.roll(part, s, axis=2)
            edge = part[:, :, :1] if s > 0 else part[:, :, -1:]  # repeat the edge row that the shift exposes
            if s > 0:
                rolled[:, :, :s] = edge
            else:
                rolled[:, :, s:] = edge
            frames[m, :, :scene] = rolled
            vehicles[m, :, 1] += s / mcfg.camera.scale
        frames *= 1 + rng.uniform(-cfg.brightness, cfg.brightness, (b, 1, 1, 1)).astype(np.float32)
        frames += rng.normal(0, cfg.noise_std, frames.shape).astype(np.float32)
        frames = np.clip(frames + 0.5, 0, 255).astype(np.uint8)
        dense_t, ego_t = dec.targets(vehicles, ego, mcfg)
        return torch.from_numpy(frames), torch.from_numpy(dense_t), torch.from_numpy(ego_t)


# ---------------------------------------------------------------- GAN oversampling


class GanAugment:
    """Real batch + generated frames, a share of them for layouts edited to be rare.

    Each generated sample starts from a labelled scene of ``labelled`` (the regime's own labels); with
    probability ``rare_share`` its layout is edited into a rare kind (kinds in turn), then the generator
    draws a frame for it. The generated frame's targets are exactly its condition.
    """

    def __init__(
        self, generator: Any, labelled: Dataset, gan_share: float, rare_share: float, seed: int
    ) -> None:
        self.generator = generator.eval()
        self.labelled = labelled
        self.gan_share, self.rare_share = gan_share, rare_share
        self.rng = np.random.default_rng([seed, 5])
        self.gen = torch.Generator().manual_seed(seed)

    def conditions(self, count: int, lanes_count: int) -> tuple[np.ndarray, np.ndarray]:
        """``count`` scene layouts (vehicles (count, N', 4), ego (count, 4)), a ``rare_share`` of them rare."""
        rng = self.rng
        pick = rng.integers(len(self.labelled), size=count)
        vehicles = self.labelled.arrays["vehicles"][pick]
        ego = self.labelled.arrays["ego"][pick]
        kinds = list(RARE_LAYOUTS)
        which = np.where(rng.random(count) < self.rare_share, rng.integers(len(kinds), size=count), -1)
        width = vehicles.shape[1] + lanes_count
        out = np.tile(np.array([ABSENT, 0, 0, 0], dtype=np.float32), (count, width, 1))
        out[:, : vehicles.shape[1]] = vehicles
        for k, kind in enumerate(kinds):
            m = which == k
            if m.any():
                out[m] = synthesise_rare(vehicles[m], ego[m], lanes_count, rng, kind)
        return out, ego

    def __call__(self, data: Dataset, index: np.ndarray, mcfg: ModelConfig) -> tuple[torch.Tensor, ...]:
        from perception.gan import condition, generate
        from perception.train import batch

        frames, dense_t, ego_t = batch(data, index, mcfg)
        count = int(round(self.gan_share * len(index)))
        if count == 0:
            return frames, dense_t, ego_t
        vehicles, ego = self.conditions(count, mcfg.lanes_count)
        cond, g_dense, g_ego = condition(vehicles, ego, mcfg)
        g_frames = generate(self.generator, cond, self.gen)
        return torch.cat([frames, g_frames]), torch.cat([dense_t, g_dense]), torch.cat([ego_t, g_ego])
