"""Learning-curve figure from a run's ``metrics.csv`` (matplotlib, headless)."""

from __future__ import annotations

import csv
from pathlib import Path

from agents.common.io import atomic_write_bytes


def read_metrics(path: str | Path) -> dict[str, list[float]]:
    """Columns of a metrics.csv as float lists (empty cells become NaN)."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    cols: dict[str, list[float]] = {}
    for row in rows:
        for key, value in row.items():
            cols.setdefault(key, []).append(float(value) if value not in ("", None) else float("nan"))
    return cols


def plot_learning_curve(
    metrics_csv: str | Path,
    out_png: str | Path,
    title: str,
    reference: dict[str, float] | None = None,
) -> Path:
    """Mean episode return (± std over the recent window) against env steps; optional reference lines."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    cols = read_metrics(metrics_csv)
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=110)
    if cols.get("return_mean"):
        step = np.array(cols["step"])
        mean = np.array(cols["return_mean"])
        std = np.array(cols.get("return_std", [0.0] * len(mean)))
        ok = ~np.isnan(mean)
        ax.plot(step[ok], mean[ok], color="tab:blue", label="episode return (recent mean)")
        ax.fill_between(step[ok], (mean - std)[ok], (mean + std)[ok], color="tab:blue", alpha=0.2)
    for i, (label, value) in enumerate((reference or {}).items()):
        ax.axhline(value, linestyle="--", color=f"C{i + 1}", label=label)
    ax.set_xlabel("environment steps")
    ax.set_ylabel("return")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return atomic_write_bytes(out_png, buf.getvalue())
