"""A conditional DCGAN that draws labelled camera frames: config -> condition -> networks -> loop -> files.

The condition is the scene's *layout*, the label itself: the perception CNN's dense target map
(objectness, sub-cell offset and relative velocity of every vehicle per output cell, see
:func:`perception.decode.targets`) plus the ego state (lateral position, speed, heading, odometer),
broadcast over the map, plus fixed coordinate planes. The occupancy grid is a coarse view of that
layout (``perception.augment.occupancy_of``); conditioning on the finer map is what makes a generated
frame a complete training sample: its targets are exactly its condition, and layouts edited to be rare
(``perception.augment.synthesise_rare``) become frames the CNN can train on.

DCGAN parts (Radford et al. 2016): transposed-conv generator with batch norm and ReLU, strided-conv
discriminator with leaky ReLU, Adam(2e-4, beta1=0.5), non-saturating loss; the discriminator sees the
condition as extra input planes (a patch discriminator, as in pix2pix), and the generator also gets a
pix2pix L1 term towards the real frame of its condition, which makes training on a few hundred
labelled frames converge in a few hundred steps.

Files in ``out``: ``generator.safetensors``, ``discriminator.safetensors``, ``gan.json`` (config,
camera, progress), ``samples-step{N}.png`` (one row per condition), all written atomically.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from envs.highway.camera import CameraSpec
from envs.io import atomic_write_bytes, read_json, save_arrays, write_json
from perception import decode as dec
from perception.dataset import Dataset
from perception.model import DENSE, EGO, STRIDE, ModelConfig

COORDS = 3  # condition planes: row, column, metres per column (the camera's two zones)
COND_CHANNELS = len(DENSE) + len(EGO) + COORDS


@dataclass(frozen=True)
class GanConfig:
    steps: int = 600
    batch_size: int = 32
    z_dim: int = 32
    g_channels: int = 48
    d_channels: int = 32
    lr: float = 2e-4
    beta1: float = 0.5
    l1_weight: float = 20.0  # pix2pix reconstruction term; 0 gives a pure conditional DCGAN
    seed: int = 0
    threads: int = 2
    sample_every: int = 200  # steps between sample grids and checkpoints (0: only at the end)

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch_size < 2 or self.z_dim < 1 or self.lr <= 0 or self.l1_weight < 0:
            raise ValueError("need steps >= 1, batch_size >= 2, z_dim >= 1, lr > 0, l1_weight >= 0")


# ---------------------------------------------------------------- condition


def coordinate_planes(mcfg: ModelConfig, rows: int, cols: int) -> torch.Tensor:
    """(3, rows, cols): row and column position in [0, 1], and metres per column (fine vs far zone)."""
    cam = mcfg.camera
    r = torch.linspace(0, 1, rows)[:, None].expand(rows, cols)
    c = torch.linspace(0, 1, cols)[None, :].expand(rows, cols)
    mpp = np.diff(cam.x_edges).astype(np.float32).reshape(cols, -1).mean(1)  # (cols,) cols divides W
    m = torch.from_numpy(mpp / mpp.max())[None, :].expand(rows, cols)
    return torch.stack([r, c, m])


def condition(vehicles: np.ndarray, ego: np.ndarray, mcfg: ModelConfig) -> tuple[torch.Tensor, ...]:
    """Scene labels -> (condition (B, 12, R, C), dense targets (B, 5, R, C), ego targets (B, 4))."""
    dense_t, ego_t = dec.targets(vehicles, ego, mcfg)
    dense, ego_v = torch.from_numpy(dense_t), torch.from_numpy(ego_t)
    b, _, rows, cols = dense.shape
    planes = coordinate_planes(mcfg, rows, cols).expand(b, -1, -1, -1)
    cond = torch.cat([dense, ego_v[:, :, None, None].expand(-1, -1, rows, cols), planes], dim=1)
    return cond, dense, ego_v


# ---------------------------------------------------------------- networks


class Generator(nn.Module):
    """(z (B, Z), condition (B, 12, H/2, W/4)) -> frames (B, S*C, H, W) in [-1, 1]."""

    def __init__(self, cfg: GanConfig, mcfg: ModelConfig) -> None:
        super().__init__()
        self.mcfg = mcfg  # the camera and grid its frames and conditions have
        c, (rows, cols) = cfg.g_channels, mcfg.grid
        self.noise_shape = (c, rows // 2, cols // 2)
        self.project = nn.Linear(cfg.z_dim, c * (rows // 2) * (cols // 2))
        self.up_noise = nn.Sequential(nn.BatchNorm2d(c), nn.ReLU(), nn.ConvTranspose2d(c, c, 4, 2, 1))
        self.body = nn.Sequential(
            nn.Conv2d(c + COND_CHANNELS, c, 3, padding=1),
            nn.BatchNorm2d(c),
            nn.ReLU(),
            nn.Conv2d(c, c, 3, padding=(1, 2), dilation=(1, 2)),
            nn.BatchNorm2d(c),
            nn.ReLU(),
            nn.Conv2d(c, c, 3, padding=(1, 4), dilation=(1, 4)),
            nn.BatchNorm2d(c),
            nn.ReLU(),
        )
        kernel = (2 * STRIDE[0], 2 * STRIDE[1])
        pad = (STRIDE[0] // 2, STRIDE[1] // 2)
        self.up = nn.ConvTranspose2d(c + COND_CHANNELS, c // 2, kernel, stride=STRIDE, padding=pad)
        self.out = nn.Sequential(
            nn.BatchNorm2d(c // 2), nn.ReLU(), nn.Conv2d(c // 2, mcfg.in_channels, 3, padding=1)
        )

    def forward(self, z: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        n = self.up_noise(self.project(z).view(-1, *self.noise_shape))  # (B, c, H/2, W/4)
        f = self.body(torch.cat([n, cond], dim=1))  # (B, c, H/2, W/4)
        f = self.up(torch.cat([f, cond], dim=1))  # (B, c/2, H, W)
        return torch.tanh(self.out(f))  # (B, S*C, H, W)


class Discriminator(nn.Module):
    """(frames (B, S*C, H, W) in [-1, 1], condition (B, 12, H/2, W/4)) -> patch logits (B, 1, H/8, W/16)."""

    def __init__(self, cfg: GanConfig, mcfg: ModelConfig) -> None:
        super().__init__()
        d = cfg.d_channels
        kernel = (2 * STRIDE[0], 2 * STRIDE[1])
        pad = (STRIDE[0] // 2, STRIDE[1] // 2)
        self.patchify = nn.Conv2d(mcfg.in_channels, d, kernel, stride=STRIDE, padding=pad)
        self.net = nn.Sequential(
            nn.LeakyReLU(0.2),
            nn.Conv2d(d + COND_CHANNELS, 2 * d, 4, 2, 1),
            nn.BatchNorm2d(2 * d),
            nn.LeakyReLU(0.2),
            nn.Conv2d(2 * d, 2 * d, 4, 2, 1),
            nn.BatchNorm2d(2 * d),
            nn.LeakyReLU(0.2),
            nn.Conv2d(2 * d, 1, 3, padding=1),
        )

    def forward(self, frames: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        f = self.patchify(frames)  # (B, d, H/2, W/4)
        return self.net(torch.cat([f, cond], dim=1))  # (B, 1, H/8, W/16)


def to_unit(frames: torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] -> float [-1, 1]."""
    return frames.float() * (2 / 255) - 1


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    return ((x + 1) * 127.5 + 0.5).clamp(0, 255).to(torch.uint8)


@torch.no_grad()
def generate(generator: Generator, cond: torch.Tensor, seed: int | torch.Generator = 0) -> torch.Tensor:
    """Condition (B, 12, R, C) -> uint8 frames (B, S*C, H, W); ``generator`` is put in eval mode."""
    gen = seed if isinstance(seed, torch.Generator) else torch.Generator().manual_seed(seed)
    generator.eval()
    z = torch.randn(len(cond), generator.project.in_features, generator=gen)
    return to_uint8(generator(z, cond))


# ---------------------------------------------------------------- training


def train_gan(
    cfg: GanConfig,
    data: Dataset,
    index: np.ndarray | None = None,
    out: str | Path | None = None,
    progress: bool = True,
    grid_conditions: tuple[np.ndarray, np.ndarray] | None = None,
) -> dict[str, Any]:
    """Train on the labelled frames ``data[index]`` (all frames if None); returns the generator and a summary.

    ``grid_conditions`` (vehicles (K, N, 4), ego (K, 4)) are the rows of the sample grids written to
    ``out`` every ``cfg.sample_every`` steps (default: the first 4 training frames).
    """
    from tqdm import tqdm

    from perception.train import model_config_of

    torch.manual_seed(cfg.seed)
    torch.set_num_threads(cfg.threads)
    rng = np.random.default_rng(cfg.seed)
    index = np.arange(len(data)) if index is None else np.asarray(index)
    mcfg = model_config_of(data.manifest, 24)
    g, d = Generator(cfg, mcfg), Discriminator(cfg, mcfg)
    opt_g = torch.optim.Adam(g.parameters(), lr=cfg.lr, betas=(cfg.beta1, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), lr=cfg.lr, betas=(cfg.beta1, 0.999))
    if grid_conditions is None:
        grid_conditions = (data.arrays["vehicles"][index[:4]], data.arrays["ego"][index[:4]])
    history: list[dict[str, float]] = []
    t0 = time.perf_counter()
    bar = tqdm(range(1, cfg.steps + 1), disable=not progress, desc="gan")
    for step in bar:
        pick = index[rng.integers(len(index), size=cfg.batch_size)]
        real = to_unit(torch.from_numpy(data.stacked_frames(pick)))  # (B, S*C, H, W)
        cond, _, _ = condition(data.arrays["vehicles"][pick], data.arrays["ego"][pick], mcfg)
        g.train()
        fake = g(torch.randn(len(pick), cfg.z_dim), cond)  # (B, S*C, H, W)

        # discriminator: real (frame, condition) pairs vs generated ones
        real_logit, fake_logit = d(real, cond), d(fake.detach(), cond)
        loss_d = F.binary_cross_entropy_with_logits(
            real_logit, torch.ones_like(real_logit)
        ) + F.binary_cross_entropy_with_logits(fake_logit, torch.zeros_like(fake_logit))
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()

        # generator: fool the discriminator (non-saturating) + L1 towards the condition's real frame
        fake_logit = d(fake, cond)
        adv = F.binary_cross_entropy_with_logits(fake_logit, torch.ones_like(fake_logit))
        l1 = (fake - real).abs().mean()
        loss_g = adv + cfg.l1_weight * l1
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()

        history.append({"d": loss_d.item(), "g_adv": adv.item(), "l1": l1.item()})
        if step % 25 == 0:
            bar.set_postfix({k: f"{np.mean([h[k] for h in history[-25:]]):.3f}" for k in history[-1]})
        if out is not None and (step == cfg.steps or (cfg.sample_every and step % cfg.sample_every == 0)):
            save_gan(g, d, cfg, mcfg, out, {"step": step, "losses": history[-1]})
            write_sample_grid(
                g, mcfg, *grid_conditions, Path(out) / f"samples-step{step:05d}.png", seed=cfg.seed
            )
    g.eval()
    last = {k: float(np.mean([h[k] for h in history[-50:]])) for k in history[-1]}
    return {"generator": g, "steps": cfg.steps, "seconds": time.perf_counter() - t0, "final_losses": last}


# ---------------------------------------------------------------- files


def save_gan(
    g: Generator, d: Discriminator, cfg: GanConfig, mcfg: ModelConfig, out: str | Path, extra: dict
) -> None:
    out = Path(out)
    save_arrays(out / "generator.safetensors", g.state_dict())
    save_arrays(out / "discriminator.safetensors", d.state_dict())
    meta = {"gan": dataclasses.asdict(cfg), "model": dataclasses.asdict(mcfg), **extra}
    write_json(out / "gan.json", meta)


def load_generator(out: str | Path) -> Generator:
    from safetensors.torch import load_file

    meta = read_json(Path(out) / "gan.json")
    m = meta["model"]
    mcfg = ModelConfig(**{**m, "camera": CameraSpec(**m["camera"])})
    g = Generator(GanConfig(**meta["gan"]), mcfg)
    g.load_state_dict(load_file(str(Path(out) / "generator.safetensors")))
    return g.eval()


def write_sample_grid(
    g: Generator,
    mcfg: ModelConfig,
    vehicles: np.ndarray,
    ego: np.ndarray,
    path: str | Path,
    samples: int = 4,
    seed: int = 0,
    real: np.ndarray | None = None,
    titles: list[str] | None = None,
) -> Path:
    """PNG: one row per condition, ``samples`` draws each (newest frame on top of the older one).

    ``real`` (K, S*C, H, W) uint8 adds the condition's real frame as the first column.
    """
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    k = len(vehicles)
    cond, _, _ = condition(vehicles, ego, mcfg)
    gen = torch.Generator().manual_seed(seed)
    draws = [generate(g, cond, gen).numpy() for _ in range(samples)]  # each (K, S*C, H, W)
    columns = ([real] if real is not None else []) + draws
    labels = (["real"] if real is not None else []) + [f"sample {i + 1}" for i in range(samples)]
    fig, axes = plt.subplots(k, len(columns), figsize=(2.6 * len(columns), 1.3 * k + 0.4), squeeze=False)
    for r in range(k):
        for c, frames in enumerate(columns):
            stack = frames[r]  # (S*C, H, W): show newest above older
            axes[r, c].imshow(np.concatenate(list(stack[::-1]), axis=0), cmap="gray", vmin=0, vmax=255)
            axes[r, c].set_xticks([])
            axes[r, c].set_yticks([])
            if r == 0:
                axes[r, c].set_title(labels[c], fontsize=8)
        if titles is not None:
            axes[r, 0].set_ylabel(titles[r], fontsize=7)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return atomic_write_bytes(path, buf.getvalue())
