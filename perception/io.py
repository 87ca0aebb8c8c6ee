"""Atomic, code-free files for perception: temp file + rename, safetensors for arrays, JSON for the rest.

(``agents.common.io`` has the same helpers, but data flows envs <- perception <- agents, so perception
keeps its own.)
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to a temp file beside ``path``, fsync, then ``os.replace``: never a torn file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot serialise {type(obj).__name__} to JSON")


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    return atomic_write_bytes(path, (json.dumps(obj, indent=2, default=_jsonable) + "\n").encode())


def read_json(path: str | os.PathLike) -> Any:
    return json.loads(Path(path).read_text())


def save_arrays(
    path: str | os.PathLike, arrays: Mapping[str, Any], metadata: Mapping[str, str] | None = None
) -> Path:
    """NumPy arrays or torch tensors -> a safetensors file, atomically."""
    from safetensors.numpy import save

    flat = {}
    for name, value in arrays.items():
        if hasattr(value, "detach"):
            value = value.detach().cpu().contiguous().numpy()
        flat[name] = np.ascontiguousarray(value)
    return atomic_write_bytes(
        path, save(flat, metadata={str(k): str(v) for k, v in (metadata or {}).items()})
    )


def load_arrays(path: str | os.PathLike) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    return load_file(str(path))


def load_metadata(path: str | os.PathLike) -> dict[str, str]:
    from safetensors import safe_open

    with safe_open(str(path), framework="numpy") as f:
        return dict(f.metadata() or {})
