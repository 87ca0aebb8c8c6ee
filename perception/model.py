"""The perception CNN: stacked camera frames -> a dense vehicle map (CenterNet-style) + the ego's state.

The network does not regress the Kinematics rows or the occupancy grid directly: it detects every
vehicle (objectness, sub-cell offset, relative velocity per output cell), and :mod:`perception.decode`
turns the detections into a pseudo traffic state that goes through the simulator's own Kinematics and
OccupancyGrid functions, so predictions and labels share one definition (sorting, clipping, cells).

With ``sensors="fused"`` the CNN also reads a LiDAR scan projected onto the camera's grid
(:func:`perception.lidar.project`, three more input channels per scan: the last ``lidar_stack`` scans, so a
vehicle another one hides now can still show where it was a step ago); ``sensors="lidar"`` reads the
projected scans and only the dashboard rows of the frames (the ego's odometry), never the camera's scene.

Output cells are ``STRIDE`` = (2, 4) input pixels (rows, columns): 2 m x 4 m in the camera's fine zone,
2 m x 12 m in its long-range zone; 5 m vehicles in one lane never share a fine-zone cell.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from envs.highway.camera import HUD_ROWS, CameraSpec
from envs.io import atomic_write_bytes, save_arrays
from perception.lidar import CHANNELS as LIDAR_CHANNELS
from perception.lidar import LidarSpec

STRIDE = (2, 4)  # [px] output cell (rows, columns)
DENSE = ("objectness", "offset_row", "offset_col", "vx", "vy")  # dense output channels
EGO = ("y", "speed", "heading", "odometer")  # ego head outputs (normalised, see perception.targets)
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "model.json"
SENSORS = ("camera", "lidar", "fused")


@dataclass(frozen=True)
class ModelConfig:
    camera: CameraSpec = CameraSpec()
    lanes_count: int = 3
    channels: int = 16  # trunk width
    ego_hidden: int = 64
    sensors: str = "camera"  # one of SENSORS
    lidar: LidarSpec = LidarSpec()  # the scan a "lidar" or "fused" model reads
    lidar_stack: int = 1  # scans it reads, the newest last (at most the camera's frame stack)

    def __post_init__(self) -> None:
        h, w = self.camera.height, self.camera.width
        if h % STRIDE[0] or w % STRIDE[1]:
            raise ValueError(
                f"camera {w}x{h}: width must be a multiple of {STRIDE[1]}, height of {STRIDE[0]}"
            )
        if self.sensors not in SENSORS:
            raise ValueError(f"sensors={self.sensors!r}: choose one of {SENSORS}")
        if not 1 <= self.lidar_stack <= self.camera.stack:
            raise ValueError(
                f"lidar_stack={self.lidar_stack}: a model reads 1 to camera stack={self.camera.stack} scans "
                "(datasets keep the history of the camera's stack)"
            )

    @property
    def uses_lidar(self) -> bool:
        return self.sensors != "camera"

    @property
    def in_channels(self) -> int:
        """Input channels: the stacked frames, and the projected LiDAR channels if the model reads them."""
        lidar = len(LIDAR_CHANNELS) * self.lidar_stack * self.uses_lidar
        return self.camera.stack * self.camera.channels + lidar

    @property
    def grid(self) -> tuple[int, int]:
        """(rows, columns) of the dense output."""
        return self.camera.height // STRIDE[0], self.camera.width // STRIDE[1]


class PerceptionCNN(nn.Module):
    """uint8 frames (B, stack*C, H, W) [+ projected LiDAR (B, 3*lidar_stack, H, W)] -> dense (B, 5, H/2,
    W/4) and ego (B, 4)."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        c, cam = cfg.channels, cfg.camera
        # metres per pixel of each column, so the same displacement reads as the right speed in both zones
        mpp = np.diff(cam.x_edges).astype(np.float32) / 3.0  # (W,)
        self.register_buffer(
            "column_scale", torch.from_numpy(np.broadcast_to(mpp, (1, 1, cam.height, cam.width)).copy())
        )
        self.stem = nn.Conv2d(cfg.in_channels + 1, c, kernel_size=STRIDE, stride=STRIDE)  # patchify
        self.trunk = nn.Sequential(
            nn.ReLU(),
            nn.Conv2d(c, c, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(c, c, 3, padding=(1, 2), dilation=(1, 2)),
            nn.ReLU(),
            nn.Conv2d(c, c, 3, padding=(1, 4), dilation=(1, 4)),
            nn.ReLU(),
        )
        self.dense = nn.Conv2d(c, len(DENSE), 1)
        nn.init.constant_(self.dense.bias[0], -4.0)  # objectness prior ~2%: few cells hold a vehicle
        rows = cfg.grid[0]
        self.ego = nn.Sequential(
            nn.Linear(cfg.in_channels * cam.height + c * rows, cfg.ego_hidden),
            nn.ReLU(),
            nn.Linear(cfg.ego_hidden, len(EGO)),
        )

    def forward(
        self, frames: torch.Tensor, lidar: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        x = frames.float().contiguous(memory_format=torch.channels_last) * (1 / 255)  # (B, S*C, H, W)
        b = x.shape[0]
        if self.cfg.uses_lidar:
            if lidar is None:
                raise ValueError(f"a sensors={self.cfg.sensors!r} model needs the projected LiDAR scan")
            if self.cfg.sensors == "lidar":  # the dashboard rows only: the camera's scene is not read
                x = torch.cat([torch.zeros_like(x[:, :, :-HUD_ROWS]), x[:, :, -HUD_ROWS:]], dim=2)
            x = torch.cat([x, lidar.float()], dim=1)  # (B, S*C+3*L, H, W)
        x_in = torch.cat([x, self.column_scale.expand(b, -1, -1, -1)], dim=1)  # (B, S*C+1, H, W)
        f = self.trunk(self.stem(x_in))  # (B, c, H/2, W/4)
        dense = self.dense(f)  # (B, 5, H/2, W/4)
        rows_in = x.mean(dim=3).flatten(1)  # (B, S*C*H): dashboard bars and road edges, averaged along x
        rows_f = f.mean(dim=3).flatten(1)  # (B, c*H/2)
        ego = self.ego(torch.cat([rows_in, rows_f], dim=1))  # (B, 4)
        return dense, ego


def save_model(model: PerceptionCNN, run_dir: str | Path, extra: dict | None = None) -> Path:
    """Weights (safetensors) + config (JSON), each written atomically."""
    run_dir = Path(run_dir)
    save_arrays(run_dir / WEIGHTS_FILE, {k: v for k, v in model.state_dict().items()})
    cfg = dataclasses.asdict(model.cfg)
    atomic_write_bytes(
        run_dir / CONFIG_FILE, (json.dumps({"model": cfg, **(extra or {})}, indent=2) + "\n").encode()
    )
    return run_dir


def load_model(run_dir: str | Path, device: str | torch.device = "cpu") -> PerceptionCNN:
    from safetensors.torch import load_file

    run_dir = Path(run_dir)
    meta: dict[str, Any] = json.loads((run_dir / CONFIG_FILE).read_text())["model"]
    lidar = LidarSpec(**meta.get("lidar", {}))
    cfg = ModelConfig(**{**meta, "camera": CameraSpec(**meta["camera"]), "lidar": lidar})
    model = PerceptionCNN(cfg)
    model.load_state_dict(load_file(str(run_dir / WEIGHTS_FILE)))
    return model.to(device, memory_format=torch.channels_last).eval()
