"""Self-supervised pretraining of the perception CNN's encoder on unlabelled frames.

The encoder *is* a :class:`~perception.model.PerceptionCNN` (its ``stem`` and ``trunk``; the features
are read with a forward hook on ``trunk``, so the CNN's own ``forward`` is the only definition of the
encoder). A small decoder maps the features (B, c, H/2, W/4) back to pixels. Two objectives:

- ``"autoencoder"``: a denoising, masked autoencoder of the input stack. Whole output cells are blanked
  and pixels get noise, so the encoder has to see vehicles rather than copy pixels.
- ``"predictive"`` (the default): from the noisy stack (t-1, t), reconstruct frame t *and predict frame
  t+1*, with the decoder told the ego's action. Moving every vehicle by its own motion needs what detection
  needs: where each vehicle is, and how fast it moves relative to the ego. The ego's action is logged with
  the frames (no labels), and giving it to the decoder keeps the ego's own lane change out of the encoder.

Vehicle pixels are rare and are what perception needs, so the pixel error is weighted up on them.

``pretrain(config, frames, mcfg, next_frames, actions)`` returns the trained encoder's state dict
(``stem.*`` and ``trunk.*`` keys). ``match_init_scale`` then rescales it so that each layer's activations
have the size of a fresh initialisation (pretraining grows them ~1,000x, which wrecks fine-tuning at the
from-scratch learning rate); the result goes to ``perception.train.train(..., init_state=...)``.
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

from envs.io import save_arrays, write_json
from perception.dataset import NUM_ACTIONS, Dataset
from perception.model import STRIDE, ModelConfig, PerceptionCNN

ENCODER_PREFIXES = ("stem.", "trunk.")
ENCODER_CONVS = ("stem", "trunk.1", "trunk.3", "trunk.5")  # in order; ReLUs between them
VEHICLE_LEVEL = 190  # [grey level] pixels at or above: vehicles (255) and the ego (200), not lines (150)
OBJECTIVES = ("autoencoder", "predictive")


@dataclass(frozen=True)
class PretrainConfig:
    objective: str = "predictive"
    steps: int = 300
    batch_size: int = 32
    lr: float = 2e-3
    mask_ratio: float = 0.0  # fraction of output cells (STRIDE pixels) blanked in the input
    noise_std: float = 0.03  # input pixel noise, in [0, 1] units
    vehicle_weight: float = 5.0  # loss weight of vehicle pixels relative to the rest
    seed: int = 0
    threads: int = 2

    def __post_init__(self) -> None:
        if self.objective not in OBJECTIVES:
            raise ValueError(f"objective {self.objective!r}: choose from {OBJECTIVES}")
        if self.steps < 1 or self.batch_size < 1 or self.lr <= 0 or not 0 <= self.mask_ratio < 1:
            raise ValueError("need steps >= 1, batch_size >= 1, lr > 0 and 0 <= mask_ratio < 1")


class Autoencoder(nn.Module):
    """uint8 frames (B, S*C, H, W) [+ actions (B,)] -> pixels (B, out, H, W) in [0, 1], through the CNN's trunk.

    ``objective="autoencoder"``: out = S*C, the input stack. ``"predictive"``: out = 2*C, frame t and frame
    t+1, and the decoder also sees the action (one-hot maps beside the features).
    """

    def __init__(self, mcfg: ModelConfig, objective: str = "autoencoder") -> None:
        super().__init__()
        self.cnn = PerceptionCNN(mcfg)
        self.predictive = objective == "predictive"
        c = mcfg.channels
        kernel = (2 * STRIDE[0], 2 * STRIDE[1])
        pad = (STRIDE[0] // 2, STRIDE[1] // 2)
        c_in = c + (NUM_ACTIONS if self.predictive else 0)
        c_out = 2 * mcfg.camera.channels if self.predictive else mcfg.in_channels
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(c_in, c, kernel, stride=STRIDE, padding=pad),  # (B, c, H, W)
            nn.ReLU(),
            nn.Conv2d(c, c_out, 3, padding=1),
        )
        self._features: list[torch.Tensor] = []
        self.cnn.trunk.register_forward_hook(lambda _m, _i, out: self._features.append(out))

    def encode(self, frames: torch.Tensor) -> torch.Tensor:
        """(B, S*C, H, W) uint8 -> trunk features (B, c, H/2, W/4), via the CNN's own forward."""
        self._features.clear()
        self.cnn(frames)
        return self._features.pop()

    def forward(self, frames: torch.Tensor, actions: torch.Tensor | None = None) -> torch.Tensor:
        f = self.encode(frames)
        if self.predictive:
            if actions is None:
                raise ValueError("the predictive objective's decoder needs the actions (B,)")
            one_hot = nn.functional.one_hot(actions.long(), NUM_ACTIONS).float()  # (B, A)
            f = torch.cat([f, one_hot[:, :, None, None].expand(-1, -1, *f.shape[2:])], dim=1)
        return torch.sigmoid(self.decoder(f))  # (B, out, H, W)

    def encoder_state(self) -> dict[str, torch.Tensor]:
        return {k: v.clone() for k, v in self.cnn.state_dict().items() if k.startswith(ENCODER_PREFIXES)}


def corrupt(frames: torch.Tensor, cfg: PretrainConfig, gen: torch.Generator) -> torch.Tensor:
    """Blank random STRIDE cells (both frames of the stack independently) and add noise; stays uint8."""
    b, s, h, w = frames.shape
    if cfg.mask_ratio == 0:
        x = frames.float() + torch.randn(frames.shape, generator=gen) * (255 * cfg.noise_std)
        return (x + 0.5).clamp(0, 255).to(torch.uint8)
    keep = torch.rand(b, s, h // STRIDE[0], w // STRIDE[1], generator=gen) >= cfg.mask_ratio  # (B, S, R, C)
    keep = keep.repeat_interleave(STRIDE[0], 2).repeat_interleave(STRIDE[1], 3)  # (B, S, H, W)
    x = frames.float() * keep + torch.randn(frames.shape, generator=gen) * (255 * cfg.noise_std)
    return (x + 0.5).clamp(0, 255).to(torch.uint8)


def successor_index(data: Dataset) -> np.ndarray:
    """(M,) index of each frame's next frame in the same episode, -1 where there is none (the shard's last
    step, or the env was reset). Shards are time-major: the next frame of index i is i + envs."""
    sizes = [s["steps"] * s["envs"] for s in data.manifest["shards"]]
    envs = np.repeat([s["envs"] for s in data.manifest["shards"]], sizes)
    shard_end = np.repeat(np.cumsum(sizes), sizes)
    successor = np.arange(len(data)) + envs
    inside = successor < shard_end
    inside[inside] &= ~data.arrays["first"][successor[inside]]
    return np.where(inside, successor, -1)


def transitions(data: Dataset, count: int, seed: int | list[int]) -> dict[str, np.ndarray]:
    """``count`` random frames that have a next frame in the same episode, as pretraining data (no labels):
    ``frames`` (M, S*C, H, W) stacks, ``next_frames`` (M, C, H, W) and the ``actions`` (M,) taken between.
    """
    successor = successor_index(data)
    candidates = np.flatnonzero(successor >= 0)
    if count > len(candidates):
        raise ValueError(f"{count} transitions asked, the dataset has {len(candidates)}")
    chosen = np.random.default_rng(seed).choice(candidates, count, replace=False)
    return {
        "frames": data.stacked_frames(chosen),
        "next_frames": data.arrays["frames"][successor[chosen]],
        "actions": data.arrays["actions"][chosen],
    }


def match_init_scale(state: dict[str, torch.Tensor], mcfg: ModelConfig, frames: np.ndarray, seed: int):
    """Rescale a pretrained encoder so each conv's output RMS on ``frames`` is that of a fresh CNN (seeded
    ``seed``, as the fine-tuning run's own init would be). With ReLUs between the convs, scaling conv l's
    weight by s_l / s_(l-1) and its bias by s_l multiplies its output by s_l and leaves what the encoder
    computes unchanged up to that factor. Only the convs present in ``state`` (a prefix of the encoder's
    order) are rescaled.
    """
    x = torch.from_numpy(frames)

    def rms(st: dict[str, torch.Tensor] | None) -> dict[str, float]:
        torch.manual_seed(seed)
        cnn = PerceptionCNN(mcfg)
        if st is not None:
            cnn.load_state_dict(st, strict=False)
        out: dict[str, float] = {}
        modules = dict(cnn.named_modules())
        for name in ENCODER_CONVS:
            modules[name].register_forward_hook(
                lambda _m, _i, o, name=name: out.__setitem__(name, o.pow(2).mean().sqrt().item())
            )
        with torch.no_grad():
            cnn(x)
        return out

    target, have = rms(None), rms(state)
    scaled, previous = dict(state), 1.0
    for name in ENCODER_CONVS:
        if f"{name}.weight" not in state:
            break
        s = target[name] / max(have[name], 1e-12)
        scaled[f"{name}.weight"] = state[f"{name}.weight"] * (s / previous)
        scaled[f"{name}.bias"] = state[f"{name}.bias"] * s
        previous = s
    return scaled


def pretrain(
    cfg: PretrainConfig,
    frames: np.ndarray,
    mcfg: ModelConfig,
    next_frames: np.ndarray | None = None,
    actions: np.ndarray | None = None,
    out: str | Path | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Pretrain on unlabelled stacked frames (M, S*C, H, W) uint8 (the predictive objective also needs each
    stack's ``next_frames`` (M, C, H, W) and ``actions`` (M,), see :func:`transitions`); returns
    ``encoder_state`` and a summary."""
    from tqdm import tqdm

    predictive = cfg.objective == "predictive"
    if predictive and (next_frames is None or actions is None):
        raise ValueError("the predictive objective needs next_frames and actions (see transitions())")
    torch.manual_seed(cfg.seed)
    torch.set_num_threads(cfg.threads)
    rng = np.random.default_rng(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    ae = Autoencoder(mcfg, cfg.objective)
    opt = torch.optim.AdamW(ae.parameters(), lr=cfg.lr, weight_decay=1e-4)
    losses: list[float] = []
    t0 = time.perf_counter()
    bar = tqdm(range(cfg.steps), disable=not progress, desc="pretrain")
    for step in bar:
        for group in opt.param_groups:  # warm-up, then cosine decay
            group["lr"] = cfg.lr * min(1.0, (step + 1) / 20) * 0.5 * (1 + np.cos(np.pi * step / cfg.steps))
        index = rng.integers(len(frames), size=cfg.batch_size)
        clean = torch.from_numpy(frames[index])  # (B, S*C, H, W)
        if predictive:
            c = mcfg.camera.channels  # targets: frame t (the stack's newest) and frame t+1
            target_px = torch.cat([clean[:, -c:], torch.from_numpy(next_frames[index])], dim=1)
            recon = ae(corrupt(clean, cfg, gen), torch.from_numpy(actions[index]))
        else:
            target_px = clean
            recon = ae(corrupt(clean, cfg, gen))
        target = target_px.float() / 255
        weight = 1 + (cfg.vehicle_weight - 1) * (target_px >= VEHICLE_LEVEL).float()
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
        "objective": cfg.objective,
        "config": dataclasses.asdict(cfg),
    }
    state = ae.encoder_state()
    if out is not None:
        save_arrays(Path(out) / "encoder.safetensors", state)
        write_json(Path(out) / "pretrain.json", summary)
    return {"encoder_state": state, "autoencoder": ae.eval(), **summary}
