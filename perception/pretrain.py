"""Self-supervised pretraining of the perception CNN's encoder: a denoising, masked autoencoder.

The encoder *is* a :class:`~perception.model.PerceptionCNN` (its ``stem`` and ``trunk``; the features
are read with a forward hook on ``trunk``, so the CNN's own ``forward`` is the only definition of the
encoder). A small decoder maps the features (B, c, H/2, W/4) back to the frames; the input has pixel
noise and whole output cells blanked out, so the encoder has to *see* vehicles (and infer the hidden
ones from the other frame of the stack) rather than copy pixels. Vehicle pixels are rare and are what
perception needs, so the reconstruction error is weighted up on them.

``pretrain(config, frames)`` returns the trained encoder's state dict (``stem.*`` and ``trunk.*`` keys),
ready for ``perception.train.train(..., init_state=...)``.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from perception.io import save_arrays, write_json
from perception.model import STRIDE, ModelConfig, PerceptionCNN

ENCODER_PREFIXES = ("stem.", "trunk.")
VEHICLE_LEVEL = 190  # [grey level] pixels at or above: vehicles (255) and the ego (200), not lines (150)


@dataclass(frozen=True)
class PretrainConfig:
    steps: int = 300
    batch_size: int = 32
    lr: float = 2e-3
    mask_ratio: float = 0.25  # fraction of output cells (STRIDE pixels) blanked in the input
    noise_std: float = 0.03  # input pixel noise, in [0, 1] units
    vehicle_weight: float = 5.0  # loss weight of vehicle pixels relative to the rest
    seed: int = 0
    threads: int = 2

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch_size < 1 or self.lr <= 0 or not 0 <= self.mask_ratio < 1:
            raise ValueError("need steps >= 1, batch_size >= 1, lr > 0 and 0 <= mask_ratio < 1")


class Autoencoder(nn.Module):
    """uint8 frames (B, S*C, H, W) -> reconstruction (B, S*C, H, W) in [0, 1], through PerceptionCNN's trunk."""

    def __init__(self, mcfg: ModelConfig) -> None:
        super().__init__()
        self.cnn = PerceptionCNN(mcfg)
        c = mcfg.channels
        kernel = (2 * STRIDE[0], 2 * STRIDE[1])
        pad = (STRIDE[0] // 2, STRIDE[1] // 2)
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(c, c, kernel, stride=STRIDE, padding=pad),  # (B, c, H, W)
            nn.ReLU(),
            nn.Conv2d(c, mcfg.in_channels, 3, padding=1),
        )
        self._features: list[torch.Tensor] = []
        self.cnn.trunk.register_forward_hook(lambda _m, _i, out: self._features.append(out))

    def encode(self, frames: torch.Tensor) -> torch.Tensor:
        """(B, S*C, H, W) uint8 -> trunk features (B, c, H/2, W/4), via the CNN's own forward."""
        self._features.clear()
        self.cnn(frames)
        return self._features.pop()

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.decoder(self.encode(frames)))  # (B, S*C, H, W)

    def encoder_state(self) -> dict[str, torch.Tensor]:
        return {k: v.clone() for k, v in self.cnn.state_dict().items() if k.startswith(ENCODER_PREFIXES)}


def corrupt(frames: torch.Tensor, cfg: PretrainConfig, gen: torch.Generator) -> torch.Tensor:
    """Blank random STRIDE cells (both frames of the stack independently) and add noise; stays uint8."""
    b, s, h, w = frames.shape
    keep = torch.rand(b, s, h // STRIDE[0], w // STRIDE[1], generator=gen) >= cfg.mask_ratio  # (B, S, R, C)
    keep = keep.repeat_interleave(STRIDE[0], 2).repeat_interleave(STRIDE[1], 3)  # (B, S, H, W)
    x = frames.float() * keep + torch.randn(frames.shape, generator=gen) * (255 * cfg.noise_std)
    return (x + 0.5).clamp(0, 255).to(torch.uint8)


def pretrain(
    cfg: PretrainConfig,
    frames: np.ndarray,
    mcfg: ModelConfig,
    out: str | Path | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Autoencode unlabelled stacked frames (M, S*C, H, W) uint8; returns ``encoder_state`` and a summary."""
    from tqdm import tqdm

    torch.manual_seed(cfg.seed)
    torch.set_num_threads(cfg.threads)
    rng = np.random.default_rng(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    ae = Autoencoder(mcfg)
    opt = torch.optim.AdamW(ae.parameters(), lr=cfg.lr, weight_decay=1e-4)
    losses: list[float] = []
    t0 = time.perf_counter()
    bar = tqdm(range(cfg.steps), disable=not progress, desc="pretrain")
    for step in bar:
        for group in opt.param_groups:  # warm-up, then cosine decay
            group["lr"] = cfg.lr * min(1.0, (step + 1) / 20) * 0.5 * (1 + np.cos(np.pi * step / cfg.steps))
        clean = torch.from_numpy(frames[rng.integers(len(frames), size=cfg.batch_size)])  # (B, S*C, H, W)
        recon = ae(corrupt(clean, cfg, gen))
        target = clean.float() / 255
        weight = 1 + (cfg.vehicle_weight - 1) * (clean >= VEHICLE_LEVEL).float()
        loss = (weight * (recon - target) ** 2).sum() / weight.sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if step % 25 == 0:
            bar.set_postfix(loss=f"{np.mean(losses[-25:]):.5f}")
    window = max(1, min(25, len(losses) // 4))
    summary = {
        "steps": cfg.steps,
        "seconds": time.perf_counter() - t0,
        "first_loss": float(np.mean(losses[:window])),
        "last_loss": float(np.mean(losses[-window:])),
        "unlabelled_frames": len(frames),
        "config": dataclasses.asdict(cfg),
    }
    state = ae.encoder_state()
    if out is not None:
        save_arrays(Path(out) / "encoder.safetensors", state)
        write_json(Path(out) / "pretrain.json", summary)
    return {"encoder_state": state, "autoencoder": ae.eval(), **summary}
