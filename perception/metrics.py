"""Perception metrics against the simulator's labels: occupancy F1 per cell, position/speed MAE, frames/s."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch

from envs.highway.observation import PERCEPTION_DISTANCE
from envs.highway.state import LANE_WIDTH, MAX_SPEED
from perception import decode as dec
from perception.dataset import Dataset
from perception.lidar import Degradation
from perception.model import PerceptionCNN
from perception.train import lidar_input


def denormalise_kinematics(kin: np.ndarray, lanes_count: int) -> dict[str, np.ndarray]:
    """Kinematics rows (B, 5, 5) in [-1, 1] -> presence and x, y [m], vx, vy [m/s] (inverse of lmap)."""
    return {
        "presence": kin[..., 0] > 0.5,
        "x": kin[..., 1] * PERCEPTION_DISTANCE,
        "y": kin[..., 2] * LANE_WIDTH * lanes_count,
        "vx": kin[..., 3] * 2 * MAX_SPEED,
        "vy": kin[..., 4] * 2 * MAX_SPEED,
    }


@torch.inference_mode()
def predict(
    model: PerceptionCNN,
    frames: np.ndarray,
    env_config: Any,
    pose: np.ndarray | None = None,
    batch_size: int = 1024,
    lidar: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Stacked uint8 frames (B, S*C, H, W) and the camera's poses (B, 3) -> predicted ``kinematics`` and
    ``occupancy`` (simulator layouts). ``pose`` None: the straight highway's (see ``decode.pseudo_state``).
    ``lidar``: the projected LiDAR channels (B, 3*lidar_stack, H, W) of a model that reads them."""
    out: dict[str, list] = {"kinematics": [], "occupancy": []}
    for i in range(0, len(frames), batch_size):
        extra = () if lidar is None else (torch.from_numpy(lidar[i : i + batch_size]),)
        dense, ego = model(torch.from_numpy(frames[i : i + batch_size]), *extra)
        obs = dec.observe(
            dec.decode(dense, ego, model.cfg),
            env_config,
            pose=None if pose is None else pose[i : i + batch_size],
        )
        for name in out:
            out[name].append(obs[name])
    return {name: np.concatenate(v) for name, v in out.items()}


def occupancy_f1(pred: np.ndarray, true: np.ndarray) -> dict[str, Any]:
    """Presence layers (B, 11, 11) -> micro F1 over all cells, without the ego's cell, and per cell."""
    p, t = pred > 0.5, true > 0.5
    tp, fp, fn = (p & t).sum(0), (p & ~t).sum(0), (~p & t).sum(0)  # (11, 11)
    per_cell = 2 * tp / np.maximum(2 * tp + fp + fn, 1)
    centre = tuple(s // 2 for s in tp.shape)
    others = np.ones(tp.shape, dtype=bool)
    others[centre] = False

    def f1(mask: np.ndarray) -> float:
        a, b, c = tp[mask].sum(), fp[mask].sum(), fn[mask].sum()
        return float(2 * a / max(2 * a + b + c, 1))

    return {
        "occupancy_f1": f1(np.ones(tp.shape, dtype=bool)),
        "occupancy_f1_without_ego_cell": f1(others),
        "occupancy_f1_per_cell": np.round(per_cell, 4).tolist(),
    }


def kinematics_errors(
    pred: np.ndarray, true: np.ndarray, lanes_count: int, rows: int = 4
) -> dict[str, float]:
    """Errors on the nearest ``rows`` vehicles (Kinematics rows 1..rows) that are truly present."""
    p = denormalise_kinematics(pred[:, 1 : rows + 1], lanes_count)
    t = denormalise_kinematics(true[:, 1 : rows + 1], lanes_count)
    m = t["presence"]
    ex, ey = p["x"][m] - t["x"][m], p["y"][m] - t["y"][m]
    evx, evy = p["vx"][m] - t["vx"][m], p["vy"][m] - t["vy"][m]
    pe = denormalise_kinematics(pred[:, 0], lanes_count)
    te = denormalise_kinematics(true[:, 0], lanes_count)
    return {
        "vehicles_scored": int(m.sum()),
        "presence_accuracy": float(np.mean(p["presence"] == t["presence"])),
        "position_mae_m": float(np.mean(np.hypot(ex, ey))),
        "x_mae_m": float(np.mean(np.abs(ex))),
        "y_mae_m": float(np.mean(np.abs(ey))),
        "speed_mae_m_s": float(np.mean(np.hypot(evx, evy))),
        "vx_mae_m_s": float(np.mean(np.abs(evx))),
        "vy_mae_m_s": float(np.mean(np.abs(evy))),
        "ego_y_mae_m": float(np.mean(np.abs(pe["y"] - te["y"]))),
        "ego_vx_mae_m_s": float(np.mean(np.abs(pe["vx"] - te["vx"]))),
    }


def evaluate(
    model: PerceptionCNN,
    data: Dataset,
    env_config: Any,
    max_frames: int | None = None,
    degradation: Degradation | None = None,
    seed: int = 0,
    rates: bool = True,
) -> dict[str, Any]:
    """All metrics of ``model`` on ``data`` (held-out episodes), plus (``rates``) CNN and full-pipeline
    frames/s; ``degradation`` (drawn with ``seed``) damages the sensors first."""
    n = len(data) if max_frames is None else min(max_frames, len(data))
    index = np.arange(n)
    frames = data.stacked_frames(index)
    scans = data.lidar(index, model.cfg.lidar, model.cfg.lidar_stack) if model.cfg.uses_lidar else None
    if degradation is not None:
        frames, scans = degradation.apply(frames, scans, np.random.default_rng(seed), model.cfg.lidar)
    lidar = None if scans is None else lidar_input(data, index, model.cfg, scans).numpy()
    t0 = time.perf_counter()
    pred = predict(model, frames, env_config, data.arrays["pose"][:n], lidar=lidar)
    pipeline_fps = n / (time.perf_counter() - t0)
    result = {"frames": n}
    result.update(occupancy_f1(pred["occupancy"][:, 0], data.arrays["occupancy"][:n, 0]))
    if hasattr(env_config, "lanes_count"):  # Kinematics' y is scaled by the lanes of straight roads
        errors = kinematics_errors(pred["kinematics"], data.arrays["kinematics"][:n], env_config.lanes_count)
        result.update(errors)
    if rates:
        result["pipeline_frames_per_s"] = pipeline_fps
        lidar = None if lidar is None else lidar[:1024]
        result["cnn_frames_per_s"] = inference_rate(model, frames[:1024], lidar)
    return result


@torch.inference_mode()
def inference_rate(
    model: PerceptionCNN, frames: np.ndarray, lidar: np.ndarray | None = None, seconds: float = 2.0
) -> float:
    """Batched CNN forward passes per second on ``frames`` (one batch, repeated)."""
    x = (torch.from_numpy(np.ascontiguousarray(frames)),)
    x += () if lidar is None else (torch.from_numpy(lidar),)
    model(*x)
    done, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        model(*x)
        done += len(x[0])
    return done / (time.perf_counter() - t0)


def evaluate_run(model_dir: str, data_dir: str, max_frames: int | None = None) -> dict[str, Any]:
    """Load a trained model and a held-out dataset, and measure everything (for the CLI)."""
    from perception.dataset import load_dataset
    from perception.model import load_model
    from perception.train import env_config_of

    data = load_dataset(data_dir)
    model = load_model(model_dir)
    torch.set_num_threads(2)
    result = {"model": str(model_dir), "data": str(data_dir), "data_seed": data.manifest["seed"]}
    result.update(evaluate(model, data, env_config_of(data.manifest), max_frames))
    return result
