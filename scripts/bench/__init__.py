"""Benchmark modules for ``scripts/benchmark.py``: each exposes ``add_arguments(parser)`` and ``run(args)``.

Every benchmark measures our code and its peer in the same process run and reports ratios; results
are written atomically as JSON under ``docs/results/`` for ``scripts/report.py``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from agents.scenarios import machine

__all__ = ["machine", "rate"]


def rate(step: Callable[[], int], min_seconds: float = 1.0, warmup: int = 3) -> float:
    """Items per second of ``step`` (it returns how many items one call processed), run for ≥ ``min_seconds``."""
    for _ in range(warmup):
        step()
    done, t0 = 0, time.perf_counter()
    while True:
        done += step()
        elapsed = time.perf_counter() - t0
        if elapsed >= min_seconds:
            return done / elapsed
