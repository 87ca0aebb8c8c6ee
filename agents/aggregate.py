"""Results over training seeds, with interval estimates: rliable's interquartile mean (IQM) and
stratified bootstrap confidence intervals, probability of improvement and performance profiles.

A run's score is its final greedy evaluation (``eval.json``: the mean return over its episodes, and the
crash rate where the env reports crashes); an algorithm's result is the distribution of those scores
over training seeds. rliable (Agarwal et al., 2021, "Deep RL at the edge of the statistical precipice")
is used rather than a hand-written bootstrap: it is the field's reference for these estimates.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from agents.common.io import atomic_path, read_json

CONFIDENCE = 0.95
REPS = 20_000  # bootstrap resamples (rliable's default is 50,000; 20,000 keeps intervals stable to ~0.01)


def _rliable():
    import warnings

    # rliable hands arch a RandomState, which arch deprecates (FutureWarning) but still honours
    warnings.filterwarnings("ignore", category=FutureWarning, module="arch.bootstrap")
    from rliable import library, metrics

    return library, metrics


def interval(scores: Sequence[float], statistic: str = "iqm", seed: int = 0) -> list[float]:
    """``[point, low, high]``: the IQM (or mean) of ``scores`` over runs with its 95% stratified
    bootstrap confidence interval."""
    library, metrics = _rliable()
    func = {"iqm": metrics.aggregate_iqm, "mean": metrics.aggregate_mean}[statistic]
    matrix = np.asarray(scores, dtype=np.float64).reshape(-1, 1)  # (runs, tasks=1)
    points, cis = library.get_interval_estimates(
        {"x": matrix},
        lambda x: np.array([func(x)]),
        reps=REPS,
        confidence_interval_size=CONFIDENCE,
        random_state=np.random.RandomState(seed),
    )
    return [float(points["x"][0]), float(cis["x"][0, 0]), float(cis["x"][1, 0])]


def eval_curve(run_dir: str | Path) -> tuple[list[int], list[float]]:
    """The greedy evaluations during training (``eval_return`` rows of ``metrics.csv``), one per step in
    step order: a resumed run logs again the evaluations after its checkpoint, and the last one counts."""
    by_step: dict[int, float] = {}
    path = Path(run_dir) / "metrics.csv"
    if path.exists():
        with open(path, newline="") as f:
            for row in csv.DictReader(f):
                if row.get("eval_return"):
                    by_step[int(float(row["step"]))] = float(row["eval_return"])
    steps = sorted(by_step)
    return steps, [by_step[s] for s in steps]


def run_score(run_dir: str | Path) -> dict:
    config_seed = None
    config = Path(run_dir) / "config.yaml"
    if config.exists():
        from agents.common.io import read_yaml

        config_seed = read_yaml(config)["seed"]
    result = read_json(Path(run_dir) / "eval.json")
    steps, values = eval_curve(run_dir)
    score = {
        "run_dir": str(run_dir),
        "seed": config_seed,
        "mean_return": result["mean_return"],
        "episodes": result["episodes"],
        "curve_steps": steps,
        "curve_returns": values,
    }
    for key in ("crash_rate", "train_seconds"):
        if key in result:
            score[key] = result[key]
    return score


def seed_summary(run_dirs: Sequence[str | Path]) -> dict:
    """Each finished run's score and the aggregate over them (runs without ``eval.json`` are listed as
    missing, never silently averaged in)."""
    done = [Path(d) for d in run_dirs if (Path(d) / "eval.json").exists()]
    missing = [str(d) for d in run_dirs if not (Path(d) / "eval.json").exists()]
    runs = [run_score(d) for d in done]
    out: dict = {"runs": runs, "missing": missing, "seeds": len(runs), "confidence": CONFIDENCE}
    if not runs:
        return out
    returns = [r["mean_return"] for r in runs]
    out["return_iqm"] = interval(returns, "iqm")
    out["return_mean"] = interval(returns, "mean")
    if all("crash_rate" in r for r in runs):
        out["crash_rate_mean"] = interval([r["crash_rate"] for r in runs], "mean")
    out["episodes_per_seed"] = min(r["episodes"] for r in runs)
    return out


def compare(groups: Mapping[str, Sequence[str | Path]]) -> dict:
    """Several algorithms (or recipes), each over its seeds: the summaries and, for every ordered pair,
    the probability that a run of the first beats a run of the second (with its 95% interval)."""
    library, metrics = _rliable()
    summaries = {name: seed_summary(dirs) for name, dirs in groups.items()}
    pairs = {}
    names = [n for n, s in summaries.items() if s["runs"]]
    for a in names:
        for b in names:
            if a == b:
                continue
            x = np.array([[r["mean_return"]] for r in summaries[a]["runs"]])
            y = np.array([[r["mean_return"]] for r in summaries[b]["runs"]])
            points, cis = library.get_interval_estimates(
                {"p": (x, y)},
                lambda x, y: np.array([metrics.probability_of_improvement(x, y)]),
                reps=REPS // 4,
                confidence_interval_size=CONFIDENCE,
                random_state=np.random.RandomState(0),
            )
            pairs[f"{a} > {b}"] = [float(points["p"][0]), float(cis["p"][0, 0]), float(cis["p"][1, 0])]
    return {"groups": summaries, "probability_of_improvement": pairs}


def curve_band(runs: Sequence[Mapping]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Steps every run evaluated at, the mean greedy return over runs there, and its 95% bootstrap band."""
    common = sorted(set.intersection(*(set(r["curve_steps"]) for r in runs))) if runs else []
    if not common:
        return np.zeros(0), np.zeros(0), np.zeros((2, 0))
    table = np.array([[dict(zip(r["curve_steps"], r["curve_returns"]))[s] for s in common] for r in runs])
    library, metrics = _rliable()
    points, cis = library.get_interval_estimates(
        {"c": table[:, :, None]},
        lambda x: np.array([metrics.aggregate_mean(x[:, t]) for t in range(x.shape[1])]),
        reps=2_000,
        confidence_interval_size=CONFIDENCE,
        random_state=np.random.RandomState(0),
    )
    return np.array(common), points["c"], cis["c"]


def plot_comparison(comparison: Mapping, out_png: str | Path, title: str) -> Path:
    """Learning curves (mean over seeds, 95% band) and the performance profile of final returns."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    library, _ = _rliable()
    groups = {n: g for n, g in comparison["groups"].items() if g["runs"]}
    fig, (ax_curve, ax_profile) = plt.subplots(1, 2, figsize=(11, 4))
    for name, group in groups.items():
        steps, mean, band = curve_band(group["runs"])
        if len(steps):
            line = ax_curve.plot(steps, mean, label=f"{name} ({group['seeds']} seeds)")[0]
            ax_curve.fill_between(steps, band[0], band[1], color=line.get_color(), alpha=0.2)
    ax_curve.set_xlabel("env steps")
    ax_curve.set_ylabel("greedy return during training")
    ax_curve.legend()
    scores = {n: np.array([[r["mean_return"]] for r in g["runs"]]) for n, g in groups.items()}
    lo = min(float(s.min()) for s in scores.values())
    hi = max(float(s.max()) for s in scores.values())
    taus = np.linspace(lo - 0.5, hi + 0.5, 81)
    profiles, profile_cis = library.create_performance_profile(scores, taus, reps=2_000)
    for name in groups:
        line = ax_profile.plot(taus, profiles[name], label=name)[0]
        ax_profile.fill_between(
            taus, profile_cis[name][0], profile_cis[name][1], color=line.get_color(), alpha=0.2
        )
    ax_profile.set_xlabel(r"final greedy return $\tau$")
    ax_profile.set_ylabel(r"fraction of seeds with return $> \tau$")
    ax_profile.legend()
    fig.suptitle(title)
    fig.tight_layout()
    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out_png) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return out_png
