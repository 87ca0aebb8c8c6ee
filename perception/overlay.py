"""A picture of perception: camera frames with the true and the predicted vehicles overlaid (PNG)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch

from envs.highway.camera import HUD_ROWS
from envs.highway.state import VEHICLE_LENGTH, VEHICLE_WIDTH
from envs.io import atomic_write_bytes
from perception import decode as dec
from perception.dataset import Dataset
from perception.model import PerceptionCNN


def _box(ax, cam, dx: float, dy: float, **style) -> None:
    from matplotlib.patches import Rectangle

    u0, u1 = cam.x_to_column(np.array([dx - VEHICLE_LENGTH / 2, dx + VEHICLE_LENGTH / 2]))
    v0 = (dy - VEHICLE_WIDTH / 2 - cam.y_edges[0]) * cam.scale
    ax.add_patch(Rectangle((u0, v0), u1 - u0, VEHICLE_WIDTH * cam.scale, fill=False, **style))


@torch.inference_mode()
def overlay_png(model: PerceptionCNN, data: Dataset, out: str | Path, frames: int = 4, seed: int = 0) -> Path:
    """``frames`` random frames of ``data``: newest camera frame, true boxes (green), predicted (red)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cam = model.cfg.camera
    rng = np.random.default_rng(seed)
    index = np.sort(rng.choice(len(data), size=frames, replace=False))
    stacked = data.stacked_frames(index)
    dense, ego = model(torch.from_numpy(stacked))
    det = dec.decode(dense, ego, model.cfg)
    fig, axes = plt.subplots(frames, 1, figsize=(12, 1.9 * frames))
    for k, ax in enumerate(np.atleast_1d(axes)):
        newest = stacked[k, -cam.channels :]
        img = newest[0] if cam.channels == 1 else newest.transpose(1, 2, 0)
        ax.imshow(img, cmap="gray", vmin=0, vmax=255, interpolation="nearest", aspect="auto")
        veh = data.arrays["vehicles"][index[k]]
        for dx, dy, _, _ in veh:
            if cam.x_edges[0] <= dx < cam.x_edges[-1] and abs(dy) < cam.height / 2 / cam.scale - HUD_ROWS:
                _box(ax, cam, dx, dy, edgecolor="lime", linewidth=1.6)
        for j in np.flatnonzero(det["present"][k]):
            _box(ax, cam, det["dx"][k, j], det["dy"][k, j], edgecolor="red", linewidth=1.0, linestyle="--")
        ticks = [-30, 0, 30, 60, 100, 150, 200]
        ax.set_xticks(cam.x_to_column(np.array(ticks, dtype=float)), [f"{t} m" for t in ticks])
        ax.set_yticks([])
        ax.set_ylabel(f"frame {index[k]}", fontsize=8)
    fig.suptitle(
        "camera (newest frame of the stack): true vehicles green, CNN detections red dashed", fontsize=10
    )
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return atomic_write_bytes(out, buf.getvalue())


def camera_worlds_png(
    out: str | Path, env_ids: tuple[str, ...] | None = None, steps: tuple[int, ...] = (0, 4, 8), seed: int = 0
) -> Path:
    """What the camera sees on every driving world: one row per world (RGB frames after ``steps`` policy
    steps of IDLE from a seeded reset), scaled 3x, written atomically."""
    import gymnasium as gym
    import imageio.v3 as iio

    from envs import SINGLE_AGENT_IDS

    rows = []
    for env_id in env_ids or tuple(i for i in SINGLE_AGENT_IDS if i != "autodrive/Highway-v0"):
        env = gym.make(env_id, observation="camera", camera_channels=3, camera_stack=1, camera_height=64)
        obs, _ = env.reset(seed=seed)
        frames, step = [], 0
        for target in steps:
            while step < target:
                obs, _, terminated, truncated, _ = env.step(1)
                step += 1
                if terminated or truncated:
                    break
            frames.append(obs.transpose(1, 2, 0))
        env.close()
        gap = np.full((frames[0].shape[0], 2, 3), 255, np.uint8)
        rows.append(np.concatenate([x for f in frames for x in (f, gap)][:-1], axis=1))
    sep = np.full((2, rows[0].shape[1], 3), 255, np.uint8)
    image = np.concatenate([x for r in rows for x in (r, sep)][:-1], axis=0).repeat(3, 0).repeat(3, 1)
    return atomic_write_bytes(out, iio.imwrite("<bytes>", image, extension=".png"))
