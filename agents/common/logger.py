"""Training telemetry written once for every algorithm: progress bar, metrics.csv, TensorBoard.

``metrics.csv`` has a fixed header (``FIELDS`` plus the algorithm's own scalars) and is appended
row by row with a flush, so a killed run keeps every row written before it died, and ``--resume``
continues the same file.
"""

from __future__ import annotations

import csv
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np

FIELDS = (
    "step",
    "time_s",
    "steps_per_s",
    "episodes",
    "return_mean",
    "return_std",
    "length_mean",
    "crash_rate",
)


class RunLogger:
    """Collects finished episodes and scalars; ``log(step)`` writes one row everywhere."""

    def __init__(
        self,
        run_dir: str | Path,
        total_steps: int,
        extra_fields: Sequence[str] = (),
        window: int = 100,
        tensorboard: bool = True,
        progress: bool = True,
        start_step: int = 0,
        on_row: Callable[[dict[str, float]], None] | None = None,
    ) -> None:
        self.run_dir = Path(run_dir)
        self.on_row = on_row  # called with every row written (a sweep reports evaluations from it)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.fields = tuple(FIELDS) + tuple(f for f in extra_fields if f not in FIELDS)
        self.total_steps = int(total_steps)
        self.returns: deque[float] = deque(maxlen=window)
        self.lengths: deque[int] = deque(maxlen=window)
        self.crashes: deque[float] = deque(maxlen=window)
        self.episodes = 0
        self._saw_crash_info = False
        self._t0 = time.perf_counter()
        self._last_step = start_step
        self._last_t = self._t0
        path = self.run_dir / "metrics.csv"
        append = path.exists() and start_step > 0
        self._csv_file = open(path, "a" if append else "w", newline="")  # noqa: SIM115 - closed in close()
        self._csv = csv.DictWriter(self._csv_file, fieldnames=self.fields, extrasaction="ignore")
        if not append:
            self._csv.writeheader()
            self._csv_file.flush()
        self._tb = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self._tb = SummaryWriter(log_dir=str(self.run_dir / "tb"), purge_step=start_step or None)
        self._bar = None
        if progress:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=self.total_steps, initial=start_step, unit="step", dynamic_ncols=True)

    def add_episodes(
        self, returns: Iterable[float], lengths: Iterable[int], crashed: Iterable[bool] | None = None
    ) -> None:
        """Record finished episodes (any iterables of equal length)."""
        returns = [float(r) for r in returns]
        self.returns.extend(returns)
        self.lengths.extend(int(n) for n in lengths)
        if crashed is not None:
            self._saw_crash_info = True
            self.crashes.extend(float(c) for c in crashed)
        self.episodes += len(returns)

    def log(self, step: int, **scalars: float) -> dict[str, float]:
        """Write a row of metrics at ``step`` (env steps so far) and update the progress bar."""
        now = time.perf_counter()
        sps = (step - self._last_step) / max(now - self._last_t, 1e-9)
        self._last_step, self._last_t = step, now
        row: dict[str, float] = {
            "step": int(step),
            "time_s": round(now - self._t0, 3),
            "steps_per_s": round(sps, 1),
        }
        row["episodes"] = self.episodes
        if self.returns:
            row["return_mean"] = float(np.mean(self.returns))
            row["return_std"] = float(np.std(self.returns))
            row["length_mean"] = float(np.mean(self.lengths))
        if self._saw_crash_info and self.crashes:
            row["crash_rate"] = float(np.mean(self.crashes))
        row.update({k: float(v) for k, v in scalars.items()})
        self._csv.writerow(row)
        self._csv_file.flush()
        if self._tb is not None:
            for key, value in row.items():
                if key not in ("step",) and value is not None:
                    self._tb.add_scalar(f"train/{key}", value, int(step))
        if self._bar is not None:
            self._bar.n = min(int(step), self.total_steps)
            post = {"sps": f"{sps:,.0f}"}
            if "return_mean" in row:
                post["return"] = f"{row['return_mean']:.3g}"
            if "crash_rate" in row:
                post["crash"] = f"{row['crash_rate']:.0%}"
            self._bar.set_postfix(post, refresh=False)
            self._bar.refresh()
        if self.on_row is not None:
            self.on_row(row)
        return row

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        if self._tb is not None:
            self._tb.close()
        self._csv_file.close()


class EpisodeTracker:
    """Accumulates per-env returns of a vector env with NEXT_STEP autoreset.

    ``update`` takes one step's rewards and done flags; it returns the finished episodes'
    (returns, lengths) and ignores the reset step that follows a done (Gymnasium's NEXT_STEP mode).
    """

    def __init__(self, num_envs: int) -> None:
        self.returns = np.zeros(num_envs, dtype=np.float64)
        self.lengths = np.zeros(num_envs, dtype=np.int64)
        self.prev_done = np.zeros(num_envs, dtype=bool)

    def update(self, rewards: np.ndarray, done: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        rewards = np.asarray(rewards, dtype=np.float64)
        done = np.asarray(done, dtype=bool)
        live = ~self.prev_done
        self.returns += np.where(live, rewards, 0.0)
        self.lengths += live
        finished = done & live
        out_r, out_l = self.returns[finished].copy(), self.lengths[finished].copy()
        self.returns[finished] = 0.0
        self.lengths[finished] = 0
        self.prev_done = done & live
        return out_r, out_l, finished
