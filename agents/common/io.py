"""Atomic, code-free persistence: every file is written to a temp file and renamed into place.

A run killed at any instant leaves either the old file or the new one, never a torn one. Weights go
to safetensors (no pickle, nothing executes on load).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import yaml

# One implementation of atomic files and safetensors for the whole suite, at the bottom of the data flow.
from envs.io import (  # noqa: F401  (re-exported)
    _jsonable,
    atomic_path,
    atomic_write_bytes,
    load_arrays,
    load_metadata,
    read_json,
    save_arrays,
    write_json,
)


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def write_yaml(path: str | os.PathLike, obj: Any) -> Path:
    return atomic_write_text(
        path, yaml.safe_dump(json.loads(json.dumps(obj, default=_jsonable)), sort_keys=False)
    )


def read_yaml(path: str | os.PathLike) -> Any:
    return yaml.safe_load(Path(path).read_text())
