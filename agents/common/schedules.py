"""Schedules of training progress (``step / total_steps`` in [0, 1])."""

from __future__ import annotations


def linear(start: float, end: float, fraction: float, progress: float) -> float:
    """``start`` → ``end`` linearly over the first ``fraction`` of training, then flat at ``end``."""
    if fraction <= 0.0:
        return end
    t = min(max(progress / fraction, 0.0), 1.0)
    return start + t * (end - start)


def crossed(prev_step: int, step: int, interval: int) -> bool:
    """True when a multiple of ``interval`` lies in ``(prev_step, step]`` (``interval <= 0``: never)."""
    return interval > 0 and step // interval > prev_step // interval
