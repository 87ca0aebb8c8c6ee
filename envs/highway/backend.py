"""A tiny array namespace so that array code (the camera rasteriser) is written once for NumPy and torch.

The physics is not array code (it is the kernel of ``envs/physics``); what stays array code receives
``xp`` (a :class:`NumpyOps` or :class:`TorchOps`) and only calls what is defined here, plus what behaves
the same for ``np.ndarray`` and ``torch.Tensor`` (arithmetic, comparisons, indexing). The Python Array
API standard would do this job, but torch does not implement it (array-api-compat's wrapper adds a
dependency and a layer for the eight functions used here).
"""

from __future__ import annotations

from typing import Any

import numpy as np


class NumpyOps:
    """NumPy: host arrays."""

    name = "numpy"
    device = "cpu"

    def __init__(self, float_dtype: Any = np.float64) -> None:
        self.float = np.dtype(float_dtype)
        self.bool = np.dtype(bool)

    where = staticmethod(np.where)
    clip = staticmethod(np.clip)
    sin = staticmethod(np.sin)
    cos = staticmethod(np.cos)
    minimum = staticmethod(np.minimum)
    maximum = staticmethod(np.maximum)

    def asarray(self, a: Any, dtype: Any = None) -> np.ndarray:
        return np.asarray(a, dtype=dtype)

    def zeros(self, shape: tuple[int, ...], dtype: Any = None) -> np.ndarray:
        return np.zeros(shape, dtype=dtype or self.float)

    def full(self, shape: tuple[int, ...], value: Any, dtype: Any = None) -> np.ndarray:
        return np.full(shape, value, dtype=dtype or self.float)

    def to_numpy(self, a: Any) -> np.ndarray:
        return np.asarray(a)

    def copy(self, a: np.ndarray) -> np.ndarray:
        return a.copy()

    def astype(self, a: np.ndarray, dtype: Any) -> np.ndarray:
        return a.astype(dtype, copy=False)

    def stack(self, arrays: list, axis: int = 0) -> np.ndarray:
        return np.stack(arrays, axis=axis)

    def concatenate(self, arrays: list, axis: int = 0) -> np.ndarray:
        return np.concatenate(arrays, axis=axis)


class TorchOps:
    """torch on any device (float32 unless ``float_dtype`` says otherwise)."""

    name = "torch"

    def __init__(self, device: Any = "cpu", float_dtype: Any = None) -> None:
        import torch

        self.torch = torch
        self.device = torch.device(device)
        if float_dtype is None:
            float_dtype = torch.float32
        elif not isinstance(float_dtype, torch.dtype):
            float_dtype = {"float32": torch.float32, "float64": torch.float64}[np.dtype(float_dtype).name]
        self.float = float_dtype
        self.bool = torch.bool
        self.where, self.clip, self.sin, self.cos = torch.where, torch.clip, torch.sin, torch.cos
        self.minimum, self.maximum = torch.minimum, torch.maximum

    def asarray(self, a: Any, dtype: Any = None) -> Any:
        if isinstance(a, np.ndarray) and dtype is None and a.dtype.kind == "f":
            dtype = self.float
        return self.torch.as_tensor(a, dtype=dtype, device=self.device)

    def zeros(self, shape: tuple[int, ...], dtype: Any = None) -> Any:
        return self.torch.zeros(shape, dtype=dtype or self.float, device=self.device)

    def full(self, shape: tuple[int, ...], value: Any, dtype: Any = None) -> Any:
        return self.torch.full(shape, value, dtype=dtype or self.float, device=self.device)

    def to_numpy(self, a: Any) -> np.ndarray:
        return a.detach().cpu().numpy() if hasattr(a, "detach") else np.asarray(a)

    def copy(self, a: Any) -> Any:
        return a.clone()

    def astype(self, a: Any, dtype: Any) -> Any:
        if not isinstance(dtype, self.torch.dtype):
            dtype = getattr(self.torch, np.dtype(dtype).name)
        return a.to(dtype)

    def stack(self, arrays: list, axis: int = 0) -> Any:
        return self.torch.stack(arrays, dim=axis)

    def concatenate(self, arrays: list, axis: int = 0) -> Any:
        return self.torch.cat(arrays, dim=axis)


def make_ops(
    device: Any = "cpu", backend: str | None = None, float_dtype: Any = np.float32
) -> NumpyOps | TorchOps:
    """The arrays a vector env hands out: NumPy for ``device="cpu"`` without ``backend``; torch for
    ``backend="torch"`` or a CUDA device."""
    device_str = str(device)
    if backend not in (None, "numpy", "torch"):
        raise ValueError(f"backend={backend!r}: choose None, 'numpy' or 'torch'")
    if backend == "torch" or device_str.startswith("cuda"):
        if backend == "numpy":
            raise ValueError("backend='numpy' runs on the CPU only; use backend='torch' for a CUDA device")
        return TorchOps(device, float_dtype)
    if device_str != "cpu":
        raise ValueError(f"device={device!r}: NumPy arrays live on 'cpu'; pass backend='torch' for others")
    return NumpyOps(float_dtype)
