"""Perception distillation: a small CNN student trained on the outputs of the perception CNN.

Knowledge distillation (Hinton et al. 2015) for a dense detector: the student, the same architecture
(:class:`perception.model.PerceptionCNN`) with a narrower trunk and ego head, trains through
:func:`perception.train.train` on batches whose targets are the teacher's outputs on the same frames
(:class:`TeacherTargets`): the teacher's objectness probabilities are soft targets of the objectness
BCE, its offsets, velocities and ego state the regression targets (``label_weight`` mixes in the labels).

:func:`run` trains the teacher on labels, then the student on the teacher, and measures both on
held-out frames: occupancy F1, the F1 the student keeps, CNN frames/s at batch 1 and 1024, parameters.
Driving through each model is measured by the caller (``agents.distill``: agents drive, perception sees).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from perception import decode as dec
from perception.dataset import Dataset
from perception.model import ModelConfig, PerceptionCNN


def parameters(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def tile(x: np.ndarray, n: int = 1024) -> np.ndarray:
    """``n`` rows of ``x``, its rows repeated when it has fewer (a batch of exactly ``n`` to time)."""
    return np.resize(x, (n, *x.shape[1:])) if len(x) < n else x[:n]


def share(part: float, whole: float) -> float | None:
    """``part / whole``, None for a zero whole (e.g. an untrained teacher's F1)."""
    return part / whole if whole else None


class TeacherTargets:
    """``batch_fn`` of :func:`perception.train.train`: the frames of ``index`` with the teacher's outputs as
    targets, ``label_weight`` of the simulator's labels mixed in (0: the teacher's alone)."""

    def __init__(self, teacher: PerceptionCNN, label_weight: float = 0.0) -> None:
        if not 0.0 <= label_weight <= 1.0:
            raise ValueError(f"label_weight must be in [0, 1], got {label_weight}")
        self.teacher = teacher.eval()
        self.label_weight = label_weight

    def __call__(self, data: Dataset, index: np.ndarray, mcfg: ModelConfig) -> tuple[torch.Tensor, ...]:
        check_camera(self.teacher.cfg, mcfg)
        frames = torch.from_numpy(data.stacked_frames(index))  # (B, S*C, H, W) uint8
        with torch.no_grad():  # not inference_mode: the loss keeps its targets for backward
            dense, ego = self.teacher(frames)  # (B, 5, R, C), (B, 4)
        dense_t = torch.cat([torch.sigmoid(dense[:, :1]), dense[:, 1:]], dim=1)
        if self.label_weight > 0:
            labels, ego_l = dec.targets(data.arrays["vehicles"][index], data.arrays["ego"][index], mcfg)
            w = self.label_weight
            dense_t = w * torch.from_numpy(labels) + (1 - w) * dense_t
            ego = w * torch.from_numpy(ego_l) + (1 - w) * ego
        return frames, dense_t.contiguous(), ego.contiguous()


def check_camera(teacher: ModelConfig, student: ModelConfig) -> None:
    if teacher.camera != student.camera or teacher.sensors != student.sensors:
        raise ValueError(
            f"the teacher reads {teacher.sensors} {teacher.camera}, the student {student.sensors} "
            f"{student.camera}: distil on a dataset of the teacher's camera"
        )


@dataclass(frozen=True)
class PerceptionDistillConfig:
    env_id: str = "autodrive/HighwayFast-v0"
    train_frames: int = 65_536
    test_frames: int = 8192
    teacher_steps: int = 6000  # training steps of the teacher, on labels
    student_steps: int = 6000  # training steps of the student, on the teacher's outputs
    teacher_channels: int = 16
    # 8 channels: 4 keep ~90% of the F1 but place vehicles ~25 m off (position MAE), and cannot drive
    student_channels: int = 8
    student_ego_hidden: int = 32  # the teacher's ego head is ModelConfig's default, 64 wide
    label_weight: float = 0.0
    seed: int = 0
    workers: int = 2  # dataset generation processes

    def __post_init__(self) -> None:
        if self.student_channels >= self.teacher_channels:
            raise ValueError(
                f"student_channels={self.student_channels} >= teacher_channels={self.teacher_channels}: "
                "a distilled student must be narrower than its teacher"
            )
        if min(self.train_frames, self.test_frames, self.teacher_steps, self.student_steps) < 1:
            raise ValueError("train_frames, test_frames, teacher_steps and student_steps must be >= 1")


def datasets(cfg: PerceptionDistillConfig, work_dir: Path, progress: bool = False) -> dict[str, Dataset]:
    """The labelled training frames and the held-out ones (other seeds), generated under ``work_dir``."""
    from perception.dataset import GenerateConfig, generate, load_dataset

    out = {}
    for name, frames, seed in (
        ("train", cfg.train_frames, cfg.seed),
        ("test", cfg.test_frames, 1000 + cfg.seed),
    ):
        gen = GenerateConfig(
            env_id=cfg.env_id, frames=frames, seed=seed, workers=cfg.workers, num_envs=min(512, frames)
        )
        generate(gen, work_dir / name, progress=progress)
        out[name] = load_dataset(work_dir / name)
    return out


@torch.inference_mode()
def frames_per_second(model: PerceptionCNN, frames: np.ndarray, seconds: float = 1.0) -> dict[str, float]:
    """CNN forward passes per second on one frame at a time and on batches of (up to) 1024."""
    from perception.metrics import inference_rate

    return {
        "batch_1": inference_rate(model, frames[:1], seconds=seconds),
        "batch_1024": inference_rate(model, tile(frames), seconds=seconds),
    }


def run(
    cfg: PerceptionDistillConfig,
    work_dir: str | Path,
    progress: bool = False,
    data: dict | None = None,
    threads: int = 2,
) -> dict[str, Any]:
    """Train the teacher on labels and the student on the teacher; F1, frames/s and size of each.

    ``data`` ({"train", "test"} datasets) skips generation. The models are saved in
    ``work_dir/teacher`` and ``work_dir/student`` (their paths are in the result)."""
    from perception.metrics import evaluate
    from perception.train import TrainConfig, env_config_of, train

    work_dir = Path(work_dir)
    t0 = time.perf_counter()
    data = data or datasets(cfg, work_dir, progress)
    env_config = env_config_of(data["test"].manifest)
    frames = data["test"].stacked_frames(np.arange(min(1024, len(data["test"]))))
    common = {"minutes": 1e6, "seed": cfg.seed, "threads": threads}
    teacher_cfg = TrainConfig(max_steps=cfg.teacher_steps, channels=cfg.teacher_channels, **common)
    teacher = train(teacher_cfg, data["train"], work_dir / "teacher", progress=progress)
    student_cfg = TrainConfig(
        max_steps=cfg.student_steps,
        channels=cfg.student_channels,
        ego_hidden=cfg.student_ego_hidden,
        **common,
    )
    targets = TeacherTargets(teacher["model"], cfg.label_weight)
    student = train(student_cfg, data["train"], work_dir / "student", progress=progress, batch_fn=targets)
    models: dict[str, Any] = {}
    for name, trained in (("teacher", teacher), ("student", student)):
        model = trained.pop("model")
        quality = evaluate(model, data["test"], env_config, rates=False)
        models[name] = {
            "dir": str(work_dir / name),
            "parameters": parameters(model),
            "channels": model.cfg.channels,
            "ego_hidden": model.cfg.ego_hidden,
            "occupancy_f1": quality["occupancy_f1"],
            "occupancy_f1_without_ego_cell": quality["occupancy_f1_without_ego_cell"],
            "position_mae_m": quality.get("position_mae_m"),
            "cnn_frames_per_s": frames_per_second(model, frames),
            "training": {k: trained[k] for k in ("steps", "seconds", "first_loss", "last_loss")},
        }
    t, s = models["teacher"], models["student"]
    return {
        "config": dataclasses.asdict(cfg),
        **models,
        "parameter_ratio": t["parameters"] / s["parameters"],
        "f1_retained": share(s["occupancy_f1"], t["occupancy_f1"]),
        "f1_retained_without_ego_cell": share(
            s["occupancy_f1_without_ego_cell"], t["occupancy_f1_without_ego_cell"]
        ),
        "frames_per_s_gain": {
            k: s["cnn_frames_per_s"][k] / t["cnn_frames_per_s"][k] for k in t["cnn_frames_per_s"]
        },
        "seconds": time.perf_counter() - t0,
    }
