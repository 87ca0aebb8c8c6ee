"""A tiny array namespace so that the physics is written once for NumPy and for torch.

The dynamics functions receive ``xp`` (a :class:`NumpyOps` or :class:`TorchOps`) and only call what is
defined here; everything else they use (``+``, ``*``, ``&``, ``~``, comparisons, advanced indexing
``a[b, i]`` and ``a[b, i] = v``) behaves the same for ``np.ndarray`` and ``torch.Tensor``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

try:  # the ufunc behind np.clip: same results, a fraction of the call overhead
    from numpy._core.umath import clip as _UFUNC_CLIP
except ImportError:  # pragma: no cover - older NumPy
    _UFUNC_CLIP = np.clip


class NumpyOps:
    """NumPy backend: float64 state, host arrays."""

    name = "numpy"
    device = "cpu"
    dense = False  # sparse work is compacted (see ``rows``)

    def __init__(self, float_dtype: Any = np.float64) -> None:
        self.float = np.dtype(float_dtype)
        self.time = np.dtype(np.float64)
        self.int = np.dtype(np.int64)
        self.bool = np.dtype(bool)
        self.index = np.dtype(np.int32)  # compact counts and vehicle indexes (int64 cumsum is ~7x slower)

    # construction -------------------------------------------------------------------------------
    def asarray(self, a: Any, dtype: Any = None) -> np.ndarray:
        return np.asarray(a, dtype=dtype)

    def zeros(self, shape: tuple[int, ...], dtype: Any = None) -> np.ndarray:
        return np.zeros(shape, dtype=dtype or self.float)

    def full(self, shape: tuple[int, ...], value: Any, dtype: Any = None) -> np.ndarray:
        return np.full(shape, value, dtype=dtype or self.float)

    def arange(self, n: int) -> np.ndarray:
        return np.arange(n, dtype=self.int)

    def to_numpy(self, a: Any) -> np.ndarray:
        return np.asarray(a)

    def copy(self, a: np.ndarray) -> np.ndarray:
        return a.copy()

    def broadcast_to(self, a: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        return np.broadcast_to(a, shape)

    def astype(self, a: np.ndarray, dtype: Any) -> np.ndarray:
        return a.astype(dtype, copy=False)

    # elementwise ---------------------------------------------------------------------------------
    where = staticmethod(np.where)

    @staticmethod
    def clip(a: Any, lo: Any, hi: Any) -> Any:
        """np.clip without its Python wrapper (a large share of a single env's per-call overhead)."""
        if lo is None:
            return np.minimum(a, hi)
        if hi is None:
            return np.maximum(a, lo)
        return _UFUNC_CLIP(a, lo, hi)

    abs = staticmethod(np.abs)
    sqrt = staticmethod(np.sqrt)
    sin = staticmethod(np.sin)
    cos = staticmethod(np.cos)
    tan = staticmethod(np.tan)
    arctan = staticmethod(np.arctan)
    arcsin = staticmethod(np.arcsin)
    floor = staticmethod(np.floor)
    round = staticmethod(np.round)  # half to even, like torch.round
    minimum = staticmethod(np.minimum)
    maximum = staticmethod(np.maximum)
    power = staticmethod(np.power)
    remainder = staticmethod(np.remainder)
    isfinite = staticmethod(np.isfinite)
    exp = staticmethod(np.exp)

    # reductions and indexing ---------------------------------------------------------------------
    def any(self, a: np.ndarray, axis: int | None = None) -> Any:
        return np.any(a, axis=axis)

    def all(self, a: np.ndarray, axis: int | None = None) -> Any:
        return np.all(a, axis=axis)

    def argsort(self, a: np.ndarray, axis: int = -1) -> np.ndarray:
        return np.argsort(a, axis=axis, kind="stable")

    def argmin(self, a: np.ndarray, axis: int) -> np.ndarray:
        return np.argmin(a, axis=axis)

    def amin(self, a: np.ndarray, axis: int | None = None) -> Any:
        return np.min(a, axis=axis)

    def amax(self, a: np.ndarray, axis: int | None = None) -> Any:
        return np.max(a, axis=axis)

    def take_along_axis(self, a: np.ndarray, idx: np.ndarray, axis: int) -> np.ndarray:
        return np.take_along_axis(a, idx, axis=axis)

    def take(self, a: np.ndarray, flat_idx: np.ndarray) -> np.ndarray:
        """``a.ravel()[flat_idx]``, the fastest gather (the method skips NumPy's dispatch layer)."""
        return a.take(flat_idx)

    def nonzero(self, a: np.ndarray) -> tuple[np.ndarray, ...]:
        return np.nonzero(a)

    def cumsum(self, a: np.ndarray, axis: int, dtype: Any = None) -> np.ndarray:
        return np.cumsum(a, axis=axis, dtype=dtype)

    def flip(self, a: np.ndarray, axis: int) -> np.ndarray:
        return np.flip(a, axis=axis)

    def stack(self, arrays: list, axis: int = 0) -> np.ndarray:
        return np.stack(arrays, axis=axis)

    def concatenate(self, arrays: list, axis: int = 0) -> np.ndarray:
        return np.concatenate(arrays, axis=axis)

    def scatter_min(self, n: int, index: np.ndarray, values: np.ndarray, fill: int) -> np.ndarray:
        """``out[k] = min(values[index == k])`` over a flat output of size ``n`` (``fill`` where empty)."""
        out = np.full(n, fill, dtype=values.dtype)
        np.minimum.at(out, index, values)
        return out

    def scatter_add(self, n: int, index: np.ndarray, values: np.ndarray) -> np.ndarray:
        """``out[k] = sum(values[index == k])`` over a flat output of size ``n``."""
        out = np.zeros(n, dtype=values.dtype)
        np.add.at(out, index, values)
        return out

    def jit(self, fn: Any) -> Any:
        return fn

    def scalar(self, a: Any) -> Any:
        return a.item() if hasattr(a, "item") else a

    # random numbers --------------------------------------------------------------------------------
    def make_rng(self, seed: int | None) -> np.random.Generator:
        return np.random.default_rng(seed)

    def uniform(
        self, rng: np.random.Generator, low: float, high: float, shape: tuple[int, ...]
    ) -> np.ndarray:
        return rng.uniform(low, high, size=shape).astype(self.float, copy=False)

    def integers(self, rng: np.random.Generator, high: int, shape: tuple[int, ...]) -> np.ndarray:
        return rng.integers(high, size=shape).astype(self.int)


class TorchOps:
    """torch backend on any device (float32 unless ``float_dtype`` says otherwise).

    ``compile=True`` runs the physics dense (every row computed, masks instead of compaction; see
    ``rows``) so that no shape depends on the data, and ``jit`` hands a function to ``torch.compile``
    for fixed shapes (the single env's ``compile=True`` fuses a whole step into one graph this way).
    """

    name = "torch"

    def __init__(self, device: Any = "cpu", float_dtype: Any = None, compile: bool = False) -> None:
        import torch

        self.torch = torch
        self.device = torch.device(device)
        self.dense = bool(compile)
        if float_dtype is None:
            float_dtype = torch.float32
        elif not isinstance(float_dtype, torch.dtype):
            float_dtype = {"float32": torch.float32, "float64": torch.float64}[np.dtype(float_dtype).name]
        self.float = float_dtype
        self.time = torch.float64
        self.int = torch.int64
        self.bool = torch.bool
        self.index = torch.int32
        t = torch
        self.where = t.where
        self.clip = t.clip
        self.abs = t.abs
        self.sqrt = t.sqrt
        self.sin = t.sin
        self.cos = t.cos
        self.tan = t.tan
        self.arctan = t.arctan
        self.arcsin = t.arcsin
        self.floor = t.floor
        self.round = t.round
        self.minimum = t.minimum
        self.maximum = t.maximum
        self.power = t.pow
        self.remainder = t.remainder
        self.isfinite = t.isfinite
        self.exp = t.exp

    def asarray(self, a: Any, dtype: Any = None) -> Any:
        if isinstance(a, np.ndarray) and dtype is None:
            dtype = {np.dtype(bool): self.bool, np.dtype(np.int64): self.int}.get(a.dtype, None)
            if dtype is None and a.dtype.kind == "f":
                dtype = self.float
        return self.torch.as_tensor(a, dtype=dtype, device=self.device)

    def zeros(self, shape: tuple[int, ...], dtype: Any = None) -> Any:
        return self.torch.zeros(shape, dtype=dtype or self.float, device=self.device)

    def full(self, shape: tuple[int, ...], value: Any, dtype: Any = None) -> Any:
        return self.torch.full(shape, value, dtype=dtype or self.float, device=self.device)

    def arange(self, n: int) -> Any:
        return self.torch.arange(n, dtype=self.int, device=self.device)

    def to_numpy(self, a: Any) -> np.ndarray:
        return a.detach().cpu().numpy() if hasattr(a, "detach") else np.asarray(a)

    def copy(self, a: Any) -> Any:
        return a.clone()

    def broadcast_to(self, a: Any, shape: tuple[int, ...]) -> Any:
        return a.expand(shape)

    def astype(self, a: Any, dtype: Any) -> Any:
        return a.to(dtype)

    def any(self, a: Any, axis: int | None = None) -> Any:
        return a.any() if axis is None else a.any(dim=axis)

    def all(self, a: Any, axis: int | None = None) -> Any:
        return a.all() if axis is None else a.all(dim=axis)

    def argsort(self, a: Any, axis: int = -1) -> Any:
        return self.torch.argsort(a, dim=axis, stable=True)

    def argmin(self, a: Any, axis: int) -> Any:
        return self.torch.argmin(a, dim=axis)

    def amin(self, a: Any, axis: int | None = None) -> Any:
        return a.min() if axis is None else self.torch.amin(a, dim=axis)

    def amax(self, a: Any, axis: int | None = None) -> Any:
        return a.max() if axis is None else self.torch.amax(a, dim=axis)

    def take_along_axis(self, a: Any, idx: Any, axis: int) -> Any:
        return self.torch.take_along_dim(a, idx, dim=axis)

    def take(self, a: Any, flat_idx: Any) -> Any:
        return self.torch.take(a, flat_idx)

    def nonzero(self, a: Any) -> tuple:
        return self.torch.nonzero(a, as_tuple=True)

    def cumsum(self, a: Any, axis: int, dtype: Any = None) -> Any:
        return self.torch.cumsum(a, dim=axis, dtype=dtype)

    def flip(self, a: Any, axis: int) -> Any:
        return self.torch.flip(a, dims=(axis,))

    def stack(self, arrays: list, axis: int = 0) -> Any:
        return self.torch.stack(arrays, dim=axis)

    def concatenate(self, arrays: list, axis: int = 0) -> Any:
        return self.torch.cat(arrays, dim=axis)

    def scatter_min(self, n: int, index: Any, values: Any, fill: int) -> Any:
        out = self.torch.full((n,), fill, dtype=values.dtype, device=self.device)
        return out.scatter_reduce(0, index, values, reduce="amin", include_self=True)

    def scatter_add(self, n: int, index: Any, values: Any) -> Any:
        out = self.torch.zeros((n,), dtype=values.dtype, device=self.device)
        return out.index_add(0, index, values)

    def jit(self, fn: Any) -> Any:
        """``fn`` compiled for fixed shapes when this backend runs dense, else ``fn`` itself."""
        return (
            self.torch.compile(fn, dynamic=False, options={"cpp_wrapper": True, "cpp.threads": 1})
            if self.dense
            else fn
        )

    def scalar(self, a: Any) -> Any:
        return a.item() if hasattr(a, "item") else a

    def make_rng(self, seed: int | None) -> Any:
        gen = self.torch.Generator(device=self.device)
        if seed is None:
            gen.seed()
        else:
            gen.manual_seed(int(seed) % 2**63)
        return gen

    def uniform(self, rng: Any, low: float, high: float, shape: tuple[int, ...]) -> Any:
        u = self.torch.rand(shape, generator=rng, device=self.device, dtype=self.float)
        return low + (high - low) * u

    def integers(self, rng: Any, high: int, shape: tuple[int, ...]) -> Any:
        return self.torch.randint(high, shape, generator=rng, device=self.device, dtype=self.int)


def make_ops(
    device: Any = "cpu", backend: str | None = None, float_dtype: Any = np.float32
) -> NumpyOps | TorchOps:
    """Pick the backend: NumPy for ``device="cpu"`` without ``backend``; torch for ``backend="torch"`` or CUDA.

    The batch runs in float32 by default (NumPy's float64 sin/cos are ~20x slower than float32 here);
    the single env uses float64, which reproduces highway-env bit for bit.
    """
    device_str = str(device)
    if backend not in (None, "numpy", "torch"):
        raise ValueError(f"backend={backend!r}: choose None, 'numpy' or 'torch'")
    if backend == "torch" or device_str.startswith("cuda"):
        if backend == "numpy":
            raise ValueError("backend='numpy' runs on the CPU only; use backend='torch' for a CUDA device")
        return TorchOps(device, float_dtype)
    if device_str != "cpu":
        raise ValueError(
            f"device={device!r}: the NumPy backend runs on 'cpu'; pass backend='torch' for others"
        )
    return NumpyOps(float_dtype)


PI = math.pi


# ---------------------------------------------------------------------------------------------------
# Sparse work (a few vehicles or pairs of a batch): compacted on NumPy and eager torch, masked when dense
# ---------------------------------------------------------------------------------------------------
def rows(xp: Any, mask: Any) -> tuple[Any, Any, Any]:
    """The set cells of a (B, N) ``mask`` as 1-D (env, index, valid).

    Compacting backends return only the set cells and ``valid=None``; the dense backend returns every
    cell in row-major order with ``valid`` = the flattened mask, so shapes never depend on the data.
    Code over the rows is the same either way: it combines its own conditions with ``valid`` (``both``)
    and writes back with ``put``.
    """
    if not xp.dense:
        env, index = xp.nonzero(mask)
        return env, index, None
    b, n = mask.shape
    env = xp.broadcast_to(xp.arange(b)[:, None], (b, n)).reshape(-1)
    index = xp.broadcast_to(xp.arange(n)[None, :], (b, n)).reshape(-1)
    return env, index, mask.reshape(-1)


def no_rows(rows_env: Any, valid: Any) -> bool:
    """Nothing to do (only ever true when compacting; the dense backend always computes)."""
    return valid is None and rows_env.shape[0] == 0


def both(valid: Any, cond: Any) -> Any:
    return cond if valid is None else valid & cond


def keep(xp: Any, cond: Any, valid: Any, *arrays: Any) -> tuple[Any, ...]:
    """Narrow rows to those where ``cond``: compacting backends drop the others, the dense one masks them.
    Returns (valid, *arrays)."""
    if xp.dense:
        return (both(valid, cond), *arrays)
    (k,) = xp.nonzero(cond)
    return (None, *(a[k] for a in arrays))


def put(xp: Any, arr: Any, env: Any, index: Any, valid: Any, values: Any) -> Any:
    """A copy of (B, N) ``arr`` with the rows (env, index) of ``rows`` set to ``values``."""
    if valid is None:
        out = xp.copy(arr)
        out[env, index] = values
        return out
    return xp.where(valid.reshape(arr.shape), values.reshape(arr.shape), arr)
