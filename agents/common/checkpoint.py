"""Periodic training checkpoints: one safetensors file holding tensors and JSON state together.

Tensors and counters live in the same file, written atomically, so a checkpoint is never half new.
Loading never executes code (safetensors), unlike ``torch.load`` on a pickle.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from agents.common.io import load_arrays, load_metadata, save_arrays

CHECKPOINT = "checkpoints/last.safetensors"


def save_checkpoint(
    run_dir: str | Path, step: int, arrays: dict[str, Any], state: dict | None = None
) -> Path:
    """Atomically replace ``run_dir/checkpoints/last.safetensors`` with this step's arrays and state."""
    meta = {"step": str(int(step)), "state": json.dumps(state or {})}
    return save_arrays(Path(run_dir) / CHECKPOINT, arrays, meta)


def load_checkpoint(run_dir: str | Path) -> tuple[int, dict[str, np.ndarray], dict] | None:
    """``(step, arrays, state)`` of the last checkpoint, or None when the run has none."""
    path = Path(run_dir) / CHECKPOINT
    if not path.exists():
        return None
    meta = load_metadata(path)
    return int(meta["step"]), load_arrays(path), json.loads(meta.get("state", "{}"))


def checkpoint_step(run_dir: str | Path) -> int:
    path = Path(run_dir) / CHECKPOINT
    return int(load_metadata(path)["step"]) if path.exists() else 0
