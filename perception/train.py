"""Training the perception CNN on a generated dataset: config -> batches -> loss -> loop -> checkpoint."""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from envs.highway.camera import CameraSpec
from envs.io import write_json
from perception import decode as dec
from perception.dataset import Dataset, load_dataset
from perception.lidar import LidarSpec, project_stack
from perception.model import ModelConfig, PerceptionCNN, save_model


@dataclass(frozen=True)
class TrainConfig:
    minutes: float = 12.0  # [min] wall-clock budget (the loop also stops after max_steps)
    max_steps: int = 1_000_000
    batch_size: int = 128
    lr: float = 4e-3
    weight_decay: float = 1e-4
    channels: int = 16
    ego_hidden: int = 64  # width of the ego head's hidden layer (perception.model.ModelConfig)
    sensors: str = "camera"  # what the model reads: "camera", "lidar" or "fused" (perception.model)
    lidar_stack: int = 1  # LiDAR scans it reads, the newest last (perception.model.ModelConfig)
    seed: int = 0
    threads: int = 2
    positive_weight: float = 4.0  # objectness BCE weight of the (rare) cells that hold a vehicle
    offset_weight: float = 5.0
    log_every: int = 50
    # Fine-tuning from ``init_state`` (LP-FT, Kumar et al. 2022): the initialised weights stay frozen for
    # the first ``freeze_init_steps`` steps while the rest learns on top of them, then train at
    # ``init_lr_scale`` times the learning rate.
    freeze_init_steps: int = 0
    init_lr_scale: float = 1.0

    def __post_init__(self) -> None:
        if self.minutes <= 0 or self.batch_size < 1 or self.lr <= 0 or self.max_steps < 1:
            raise ValueError("minutes, batch_size, lr and max_steps must be positive")
        if self.freeze_init_steps < 0 or self.init_lr_scale < 0:
            raise ValueError("freeze_init_steps and init_lr_scale must be >= 0")


def env_config_of(manifest: dict[str, Any]):
    """The config (of the dataset's world) a dataset was generated with."""
    from envs import ENV_SPECS
    from envs.highway.config import make_config

    return make_config(ENV_SPECS[manifest["env_id"]][2]["preset"], dict(manifest["env_config"]))


def model_config_of(manifest: dict[str, Any], channels: int, sensors: str = "camera") -> ModelConfig:
    return ModelConfig(
        camera=CameraSpec(**manifest["camera"]),
        lanes_count=manifest["env_config"].get("lanes_count", 2),  # worlds without the key: 2-lane roads
        channels=channels,
        sensors=sensors,
        lidar=LidarSpec(**manifest["lidar"]),
    )


def loss_fn(
    dense: torch.Tensor, ego: torch.Tensor, dense_t: torch.Tensor, ego_t: torch.Tensor, cfg: TrainConfig
) -> tuple[torch.Tensor, dict[str, float]]:
    obj_t = dense_t[:, 0]  # (B, R, C)
    weight = 1.0 + (cfg.positive_weight - 1.0) * obj_t
    obj = F.binary_cross_entropy_with_logits(dense[:, 0], obj_t, weight=weight)
    pos = obj_t[:, None] > 0.5  # (B, 1, R, C)
    n_pos = pos.sum().clamp(min=1)
    offset = (
        F.smooth_l1_loss(dense[:, 1:3], dense_t[:, 1:3], reduction="none", beta=0.05) * pos
    ).sum() / n_pos
    velocity = (
        F.smooth_l1_loss(dense[:, 3:5], dense_t[:, 3:5], reduction="none", beta=0.1) * pos
    ).sum() / n_pos
    ego_l = F.smooth_l1_loss(ego, ego_t, beta=0.01)
    total = obj + cfg.offset_weight * offset + velocity + 10 * ego_l
    return total, {
        "objectness": obj.item(),
        "offset": offset.item(),
        "velocity": velocity.item(),
        "ego": ego_l.item(),
    }


def lidar_input(data: Dataset, index: np.ndarray, mcfg: ModelConfig, scans: np.ndarray | None = None):
    """The projected LiDAR channels (B, 3*lidar_stack, H, W) of frames ``index`` (their scan stacks, or
    ``scans`` (B, lidar_stack, cells, 2))."""
    scans = data.lidar(index, mcfg.lidar, mcfg.lidar_stack) if scans is None else scans
    heading = data.arrays["pose"][data.scan_history(index, mcfg.lidar_stack), 2]  # (B, S)
    return torch.from_numpy(project_stack(scans, heading, mcfg.lidar, mcfg.camera))


def batch(data: Dataset, index: np.ndarray, mcfg: ModelConfig) -> tuple[torch.Tensor, ...]:
    """(frames, dense targets, ego targets), and the projected LiDAR for a model that reads it."""
    frames = torch.from_numpy(data.stacked_frames(index))
    dense_t, ego_t = dec.targets(data.arrays["vehicles"][index], data.arrays["ego"][index], mcfg)
    out = (frames, torch.from_numpy(dense_t), torch.from_numpy(ego_t))
    return out + (lidar_input(data, index, mcfg),) if mcfg.uses_lidar else out


BatchFn = Callable[[Dataset, np.ndarray, ModelConfig], tuple[torch.Tensor, ...]]
#: ``perturb(model, frames, dense_t, ego_t, *lidar) -> frames``: changes a batch's frames with the model at hand
PerturbFn = Callable[..., torch.Tensor]


def train(
    cfg: TrainConfig,
    data: Dataset | str | Path,
    out: str | Path | None = None,
    progress: bool = True,
    batch_fn: BatchFn | None = None,
    init_state: dict[str, torch.Tensor] | None = None,
    perturb: PerturbFn | None = None,
) -> dict[str, Any]:
    """Train a :class:`PerceptionCNN` on ``data``; saves ``out/model.safetensors`` + ``model.json``.

    ``batch_fn(data, index, mcfg) -> (frames, dense_t, ego_t[, lidar])`` draws each training batch (default
    :func:`batch`, and :class:`perception.fusion.SensorDropout` for a fused model; the augmentations of :mod:`perception.augment` have this signature). ``init_state``
    initialises part of the network (e.g. a pretrained encoder; the other weights keep their init).
    ``perturb`` changes each batch's frames with the current model before the step (adversarial training,
    :class:`perception.adversarial.AdversarialTraining`).
    Returns the model and a summary (steps, frames seen, seconds, first and last losses).
    """
    from tqdm import tqdm

    if not isinstance(data, Dataset):
        data = load_dataset(data)
    torch.manual_seed(cfg.seed)
    torch.set_num_threads(cfg.threads)
    rng = np.random.default_rng(cfg.seed)
    mcfg = dataclasses.replace(
        model_config_of(data.manifest, cfg.channels, cfg.sensors),
        ego_hidden=cfg.ego_hidden,
        lidar_stack=cfg.lidar_stack,
    )
    model = PerceptionCNN(mcfg)
    if init_state is not None:
        result = model.load_state_dict(init_state, strict=False)
        if result.unexpected_keys:
            raise ValueError(f"init_state has keys the CNN lacks: {result.unexpected_keys}")
    model = model.to(memory_format=torch.channels_last)  # ~1.5x faster convs on CPU
    if batch_fn is None and cfg.sensors == "fused":
        from perception.fusion import SensorDropout  # the fused model learns to drive on either sensor

        batch_fn = SensorDropout(cfg.seed)
    batch_fn = batch_fn or batch
    loaded = set(init_state or ())
    init_params = [p for k, p in model.named_parameters() if k in loaded]
    groups = [
        {"params": [p for k, p in model.named_parameters() if k not in loaded], "scale": 1.0},
        {"params": init_params, "scale": cfg.init_lr_scale},
    ]
    opt = torch.optim.AdamW([g for g in groups if g["params"]], lr=cfg.lr, weight_decay=cfg.weight_decay)
    for p in init_params:
        p.requires_grad_(cfg.freeze_init_steps == 0)
    budget = cfg.minutes * 60
    losses: list[float] = []
    bar = tqdm(total=cfg.max_steps if cfg.max_steps < 1_000_000 else None, disable=not progress, desc="train")
    t0 = time.perf_counter()
    step = 0
    while step < cfg.max_steps:
        elapsed = time.perf_counter() - t0
        frac = max(elapsed / budget, step / cfg.max_steps)
        if frac >= 1:
            break
        if step == cfg.freeze_init_steps and step > 0:
            for p in init_params:
                p.requires_grad_(True)
        for group in opt.param_groups:  # cosine decay over the budget, short warm-up
            lr = cfg.lr * min(1.0, (step + 1) / 50) * 0.5 * (1 + math.cos(math.pi * frac))
            group["lr"] = lr * group["scale"]
        frames, dense_t, ego_t, *lidar = batch_fn(data, rng.integers(len(data), size=cfg.batch_size), mcfg)
        if perturb is not None:
            frames = perturb(model, frames, dense_t, ego_t, *lidar)
        dense, ego = model(frames, *lidar)
        loss, parts = loss_fn(dense, ego, dense_t, ego_t, cfg)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        step += 1
        bar.update(1)
        if step % cfg.log_every == 0:
            bar.set_postfix(
                loss=f"{np.mean(losses[-cfg.log_every :]):.4f}", **{k: f"{v:.4f}" for k, v in parts.items()}
            )
    bar.close()
    for p in init_params:  # a budget shorter than the freeze leaves them frozen: hand back a normal model
        p.requires_grad_(True)
    model.eval()
    seconds = time.perf_counter() - t0
    window = max(1, min(50, len(losses) // 4))
    summary = {
        "steps": step,
        "frames_seen": step * cfg.batch_size,
        "seconds": seconds,
        "first_loss": float(np.mean(losses[:window])),
        "last_loss": float(np.mean(losses[-window:])),
        "train_frames": len(data),
        "dataset_seed": data.manifest["seed"],
        "config": dataclasses.asdict(cfg),
    }
    if out is not None:
        save_model(model, out, {"training": summary, "env_config": data.manifest["env_config"]})
        write_json(Path(out) / "training.json", summary)
    return {"model": model, **summary}
