"""Hyperparameter sweeps and multi-seed runs on Ray Tune: Optuna searches, ASHA stops weak trials early.

Each trial is an ordinary run directory (``agents.run.train_run``), so anything that reads runs reads
trials. Ray is the engine because it already schedules across cores, GPUs and machines; we do not keep
a process pool or a scheduler of our own. Layout of a sweep (or multi-seed) directory::

    OUT/
      sweep.yaml       what was asked (algo, env, steps, search space, objective): ``--resume`` reads it
      runs/<name>/     one run directory per trial (a trial id, or ``seed-<k>`` for multi-seed runs)
      ray/             Ray Tune's experiment state (searcher, scheduler, trial table)
      trials.csv       every trial: its sampled values, the env steps it reached, its objective
      best.yaml        the best trial's full hyperparameters: ``autodrive train --hyperparams best.yaml``
      seeds.json       multi-seed runs: each seed's final evaluation and the aggregate over seeds

The objective a trial reports at each greedy evaluation during training (``eval_interval``), and once
more for its final evaluation, is ``eval_return - crash_cost * eval_crash_rate`` (``crash_cost`` is 0
unless the search space's block sets it). Killing a trial or the driver loses at most the work since the
trial's last checkpoint: a restarted trial resumes its run directory, and ``resume`` continues the sweep.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import math
import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from agents.common.checkpoint import checkpoint_step
from agents.common.hparams import resolve_hyperparams, unknown_key_error
from agents.common.io import atomic_write_text, read_json, read_yaml, write_json, write_yaml
from agents.registry import get_algorithm

SWEEP_FILE = "sweep.yaml"
# search-space kinds: YAML name -> the ray.tune sampler (Optuna reads Tune's space)
KINDS = {
    "uniform": "uniform",
    "loguniform": "loguniform",
    "int": "randint",
    "logint": "lograndint",
    "choice": "choice",
}


@dataclass(frozen=True)
class SearchSpace:
    """A block of ``agents/hyperparams/search/<algo>.yaml``: hyperparameter -> ``{kind: args}``."""

    params: dict[str, dict[str, list]]
    crash_cost: float = 0.0  # the objective: greedy return - crash_cost * crash rate

    def to_tune(self) -> dict[str, Any]:
        from ray import tune

        out = {}
        for name, spec in self.params.items():
            ((kind, args),) = spec.items()
            if kind == "choice":
                out[name] = tune.choice(list(args))
            elif kind in ("int", "logint"):  # inclusive bounds, as YAML readers expect
                out[name] = getattr(tune, KINDS[kind])(int(args[0]), int(args[1]) + 1)
            else:
                out[name] = getattr(tune, KINDS[kind])(float(args[0]), float(args[1]))
        return out


def search_file(algo: str) -> dict:
    path = resources.files("agents") / "hyperparams" / "search" / f"{algo}.yaml"
    if not path.is_file():
        raise ValueError(f"no search space ships for {algo!r}: pass --space FILE")
    return yaml.safe_load(path.read_text()) or {}


def load_search_space(algo: str, env_id: str, table: Mapping | None = None) -> SearchSpace:
    """The ``default`` block merged with the ``env_id`` block (of ``table``, else the shipped file),
    every name checked against the algorithm's hyperparameters and every range against its kind."""
    table = search_file(algo) if table is None else table
    if not isinstance(table, Mapping):
        raise ValueError("a search-space file is a mapping of `default` / env id -> {space:, crash_cost:}")
    params: dict[str, dict] = {}
    crash_cost = 0.0
    for block_name in ("default", env_id):
        block = table.get(block_name) or {}
        for key in block:
            if key not in ("space", "crash_cost"):
                raise unknown_key_error(
                    f"search-space key in block {block_name!r}", key, ["space", "crash_cost"]
                )
        params.update(block.get("space") or {})
        crash_cost = float(block.get("crash_cost", crash_cost))
    if not params:
        raise ValueError(f"the search space for {algo} on {env_id} is empty: give a `space` block")
    fields = [f.name for f in dataclasses.fields(get_algorithm(algo).hyperparams)]
    for name, spec in params.items():
        if name not in fields:
            raise unknown_key_error(f"hyperparameter for {algo}", name, fields)
        if not isinstance(spec, Mapping) or len(spec) != 1 or next(iter(spec)) not in KINDS:
            raise ValueError(f"{name}: expected one of {{{', '.join(KINDS)}: ...}}, got {spec!r}")
        ((kind, args),) = spec.items()
        if kind == "choice":
            if not isinstance(args, list) or not args:
                raise ValueError(f"{name}: choice needs a non-empty list, got {args!r}")
            continue
        if not isinstance(args, list) or len(args) != 2 or not float(args[0]) < float(args[1]):
            raise ValueError(f"{name}: {kind} needs [low, high] with low < high, got {args!r}")
        if kind in ("loguniform", "logint") and float(args[0]) <= 0:
            raise ValueError(f"{name}: {kind} needs a positive low bound, got {args[0]}")
    return SearchSpace(params=params, crash_cost=crash_cost)


@dataclass(frozen=True)
class Setup:
    """What every trial of a sweep shares; written to ``OUT/sweep.yaml`` so that a resume rebuilds it."""

    algo: str
    env_id: str
    out: str
    mode: str = "sweep"  # "sweep" (trials named by id) or "seeds" (named seed-<k>)
    env_kwargs: dict = field(default_factory=dict)
    steps: int | None = None
    seed: int = 0
    hp_overrides: dict = field(default_factory=dict)
    hyperparams_table: dict | None = None
    eval_episodes: int = 100
    crash_cost: float = 0.0
    cpus_per_trial: float = 1.0
    gpus_per_trial: float = 0.0
    space: dict = field(default_factory=dict)

    def save(self) -> None:
        write_yaml(Path(self.out) / SWEEP_FILE, dataclasses.asdict(self))

    @classmethod
    def load(cls, out: str | Path) -> Setup:
        path = Path(out) / SWEEP_FILE
        if not path.exists():
            raise FileNotFoundError(f"{out} has no {SWEEP_FILE}: not a sweep or multi-seed directory")
        return cls(**{**read_yaml(path), "out": str(Path(out).resolve())})


def objective(result: Mapping, crash_cost: float) -> float:
    return float(result["mean_return"]) - crash_cost * float(result.get("crash_rate", 0.0))


def trial_name(setup: Setup, config: Mapping, trial_id: str) -> str:
    return f"seed-{config['seed']}" if setup.mode == "seeds" else trial_id


def run_trial(config: dict, setup: Setup) -> None:
    """The Ray Tune trainable: one run directory, its greedy evaluations reported as they happen."""
    from ray import tune

    from agents.run import resume_run, train_run

    config = dict(config)
    seed = int(config.pop("seed", setup.seed))
    run_dir = Path(setup.out) / "runs" / trial_name(setup, {"seed": seed}, tune.get_context().get_trial_id())

    steps = _total_steps(setup)

    def report(row: dict) -> None:
        # the evaluation at the last step is not reported: the final evaluation (new episodes) stands for
        # it, and a scheduler's rung there must not stop the trial before that evaluation runs
        if "eval_return" not in row or int(row["step"]) >= steps:
            return
        result = {"mean_return": row["eval_return"], "crash_rate": row.get("eval_crash_rate", 0.0)}
        tune.report({
            "env_steps": int(row["step"]),
            "eval_return": row["eval_return"],
            "eval_crash_rate": result["crash_rate"],
            "objective": objective(result, setup.crash_cost),
        })  # fmt: skip

    if not (run_dir / "eval.json").exists():
        if (run_dir / "config.yaml").exists() and checkpoint_step(run_dir) > 0:
            resume_run(run_dir, progress=False, on_log=report)  # a restarted trial: from its last checkpoint
        else:
            shutil.rmtree(run_dir, ignore_errors=True)  # died before its first checkpoint: start over
            hp = {**setup.hp_overrides, **config}
            fields = {f.name for f in dataclasses.fields(get_algorithm(setup.algo).hyperparams)}
            if "cpu_threads" in fields and "cpu_threads" not in hp:  # torch threads follow Ray's CPUs
                hp["cpu_threads"] = max(1, math.floor(setup.cpus_per_trial))
            train_run(
                setup.algo,
                setup.env_id,
                env_kwargs=setup.env_kwargs,
                steps=setup.steps,
                seed=seed,
                out=run_dir,
                hp_overrides=hp,
                eval_episodes=setup.eval_episodes,
                progress=False,
                hyperparams_table=setup.hyperparams_table,
                on_log=report,
            )
    final = read_json(run_dir / "eval.json")
    tune.report({
        "env_steps": int(read_yaml(run_dir / "config.yaml")["steps"]),
        "final_return": final["mean_return"],
        "final_crash_rate": final.get("crash_rate", 0.0),
        "final_episodes": final["episodes"],
        "objective": objective(final, setup.crash_cost),
        "finished": True,
    })  # fmt: skip


def require_ray() -> None:
    """A clear error when the sweep extras are missing (they are not core dependencies: Ray is large)."""
    import importlib.util

    missing = [m for m in ("ray", "optuna", "rliable") if importlib.util.find_spec(m) is None]
    if missing:
        raise ValueError(
            f"sweeps and multi-seed runs need {', '.join(missing)}: pip install 'autodrive-suite[sweep]'"
        )


def shutdown_ray() -> None:
    """Stop this driver's Ray (and the local instance it started); nothing when Ray never started."""
    import sys

    if "ray" in sys.modules and sys.modules["ray"].is_initialized():
        sys.modules["ray"].shutdown()


def init_ray(address: str | None, num_cpus: int | None = None) -> None:
    """Join the cluster at ``address``, or start Ray on this machine (no dashboard, this machine's CPUs)."""
    import ray

    if ray.is_initialized():
        return
    if address:
        ray.init(address=address, log_to_driver=False)
    else:
        ray.init(num_cpus=num_cpus or os.cpu_count(), include_dashboard=False, log_to_driver=False)


def _tuner(setup: Setup, trials: int, max_concurrent: int, grace_steps: int | None, search_seed: int):
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler
    from ray.tune.search.optuna import OptunaSearch

    trainable = tune.with_resources(
        tune.with_parameters(run_trial, setup=setup),
        {"cpu": setup.cpus_per_trial, "gpu": setup.gpus_per_trial},
    )
    run_config = tune.RunConfig(
        name="ray",
        storage_path=setup.out,
        failure_config=tune.FailureConfig(max_failures=2),  # a killed trial restarts from its checkpoint
        verbose=1,
    )
    if setup.mode == "seeds":
        seeds = setup.space["seed"]
        tune_config = tune.TuneConfig(num_samples=1, max_concurrent_trials=max_concurrent or None)
        return tune.Tuner(
            trainable,
            param_space={"seed": tune.grid_search(seeds)},
            tune_config=tune_config,
            run_config=run_config,
        )
    import optuna

    space = SearchSpace(params=setup.space, crash_cost=setup.crash_cost)
    steps = _total_steps(setup)
    point = _recipe_point(setup)
    searcher = OptunaSearch(
        space=None,
        sampler=optuna.samplers.TPESampler(seed=search_seed),
        points_to_evaluate=[point] if point else None,  # the first trial is the current recipe
    )
    scheduler = ASHAScheduler(
        time_attr="env_steps",
        max_t=2 * steps,  # never force-stops a trial; a rung at the last step judges final evaluations
        grace_period=grace_steps or max(1, steps // 4),
        reduction_factor=2,
    )
    tune_config = tune.TuneConfig(
        metric="objective",
        mode="max",
        search_alg=searcher,
        scheduler=scheduler,
        num_samples=trials,
        max_concurrent_trials=max_concurrent or None,
    )
    return tune.Tuner(trainable, param_space=space.to_tune(), tune_config=tune_config, run_config=run_config)


def _resolved(setup: Setup, extra: Mapping | None = None):
    algorithm = get_algorithm(setup.algo)
    overrides = {**setup.hp_overrides, **(extra or {})}
    return resolve_hyperparams(
        setup.algo, algorithm.hyperparams, setup.env_id, overrides, table=setup.hyperparams_table
    )


def _total_steps(setup: Setup) -> int:
    hp = _resolved(setup)
    return int(setup.steps or getattr(hp, "total_steps", 0) or get_algorithm(setup.algo).default_steps)


def _recipe_point(setup: Setup) -> dict | None:
    """The current recipe's values of the searched hyperparameters, the first point Optuna evaluates
    (None when the recipe lies outside the space: then every trial is sampled)."""
    hp = dataclasses.asdict(_resolved(setup))
    point = {}
    for name, spec in setup.space.items():
        value = list(hp[name]) if isinstance(hp[name], tuple) else hp[name]
        ((kind, args),) = spec.items()
        inside = value in args if kind == "choice" else float(args[0]) <= value <= float(args[1])
        if not inside:
            return None
        point[name] = value
    return point


def sweep(
    algo: str,
    env_id: str,
    out: str | Path,
    *,
    trials: int,
    env_kwargs: dict | None = None,
    steps: int | None = None,
    seed: int = 0,
    hp_overrides: dict | None = None,
    hyperparams_table: dict | None = None,
    space_table: dict | None = None,
    eval_episodes: int = 100,
    cpus_per_trial: float = 1.0,
    gpus_per_trial: float = 0.0,
    max_concurrent: int = 0,
    grace_steps: int | None = None,
    address: str | None = None,
) -> Path:
    """Search ``algo``'s hyperparameters on ``env_id`` with ``trials`` trials; returns ``OUT``."""
    require_ray()
    if trials < 1:
        raise ValueError(f"--trials must be >= 1, got {trials}")
    from agents.common.envs import check_env_kwargs

    check_env_kwargs(env_id, dict(env_kwargs or {}))
    space = load_search_space(algo, env_id, space_table)
    setup = Setup(
        algo=algo,
        env_id=env_id,
        out=str(Path(out).resolve()),
        env_kwargs=dict(env_kwargs or {}),
        steps=steps,
        seed=seed,
        hp_overrides=dict(hp_overrides or {}),
        hyperparams_table=hyperparams_table,
        eval_episodes=eval_episodes,
        crash_cost=space.crash_cost,
        cpus_per_trial=cpus_per_trial,
        gpus_per_trial=gpus_per_trial,
        space=space.params,
    )
    _check_new(setup)
    hp = _resolved(setup)  # a bad override is an error before anything is written
    if getattr(hp, "eval_interval", 0) <= 0:
        raise ValueError(
            f"{algo} on {env_id} does not evaluate during training, so the scheduler has nothing to compare: "
            "set --hp eval_interval=N"
        )
    setup.save()
    init_ray(address)
    tuner = _tuner(setup, trials, max_concurrent, grace_steps, seed)
    tuner.fit()
    return summarise(setup)


def run_seeds(
    algo: str,
    env_id: str,
    seeds: Sequence[int],
    out: str | Path,
    *,
    env_kwargs: dict | None = None,
    steps: int | None = None,
    hp_overrides: dict | None = None,
    hyperparams_table: dict | None = None,
    eval_episodes: int = 100,
    cpus_per_trial: float = 1.0,
    gpus_per_trial: float = 0.0,
    max_concurrent: int = 0,
    address: str | None = None,
) -> Path:
    """Train ``algo`` once per seed, in parallel on Ray; ``OUT/seeds.json`` aggregates them."""
    require_ray()
    seeds = [int(s) for s in seeds]
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"--seeds needs distinct seeds, got {seeds}")
    from agents.common.envs import check_env_kwargs

    check_env_kwargs(env_id, dict(env_kwargs or {}))
    setup = Setup(
        algo=algo,
        env_id=env_id,
        out=str(Path(out).resolve()),
        mode="seeds",
        env_kwargs=dict(env_kwargs or {}),
        steps=steps,
        hp_overrides=dict(hp_overrides or {}),
        hyperparams_table=hyperparams_table,
        eval_episodes=eval_episodes,
        cpus_per_trial=cpus_per_trial,
        gpus_per_trial=gpus_per_trial,
        space={"seed": seeds},
    )
    _check_new(setup)
    _resolved(setup)
    setup.save()
    init_ray(address)
    _tuner(setup, len(seeds), max_concurrent, None, 0).fit()
    return summarise(setup)


def _check_new(setup: Setup) -> None:
    if (Path(setup.out) / SWEEP_FILE).exists():
        raise FileExistsError(f"{setup.out} already holds a sweep; pick another --out or --resume it")


def resume(out: str | Path, address: str | None = None) -> Path:
    """Continue a sweep or multi-seed run after its driver died: finished trials stay, the others resume
    from their last checkpoint, and the searcher continues where it stopped."""
    require_ray()
    from ray import tune

    setup = Setup.load(out)
    init_ray(address)
    trainable = tune.with_resources(
        tune.with_parameters(run_trial, setup=setup),
        {"cpu": setup.cpus_per_trial, "gpu": setup.gpus_per_trial},
    )
    tune.Tuner.restore(
        str(Path(setup.out) / "ray"), trainable, resume_unfinished=True, resume_errored=True
    ).fit()
    return summarise(setup)


def trial_rows(setup: Setup) -> list[dict]:
    """One row per trial: its sampled values, how far it ran, its last objective (from Tune's results)."""
    from ray.tune import ExperimentAnalysis

    analysis = ExperimentAnalysis(str(Path(setup.out) / "ray"))
    rows = []
    for trial in analysis.trials:
        last = trial.last_result or {}
        name = trial_name(setup, trial.config, trial.trial_id)
        row = {"trial": name, **{k: _plain(v) for k, v in trial.config.items()}}
        row |= {
            "env_steps": last.get("env_steps", 0),
            "finished": bool(last.get("finished", False)),
            "objective": last.get("objective", math.nan),
            "final_return": last.get("final_return", math.nan),
            "final_crash_rate": last.get("final_crash_rate", math.nan),
            "run_dir": str(Path("runs") / name),
        }
        rows.append(row)
    return rows


def _plain(value):
    return list(value) if isinstance(value, tuple) else value


def summarise(setup: Setup) -> Path:
    """``trials.csv``, and ``best.yaml`` (sweeps) or ``seeds.json`` (multi-seed runs)."""
    out = Path(setup.out)
    rows = trial_rows(setup)
    if rows:
        names = list(dict.fromkeys(k for row in rows for k in row))
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=names)
        writer.writeheader()
        writer.writerows(rows)
        atomic_write_text(out / "trials.csv", text.getvalue())
    if setup.mode == "seeds":
        from agents.aggregate import seed_summary

        runs = sorted((out / "runs").glob("seed-*"), key=lambda p: int(p.name.split("-")[1]))
        write_json(out / "seeds.json", seed_summary(runs))
        return out
    finished = [r for r in rows if r["finished"]]
    if not finished:
        return out
    best = max(finished, key=lambda r: r["objective"])
    config = read_yaml(out / best["run_dir"] / "config.yaml")
    header = (
        f"# The best of {len(rows)} trials ({len(finished)} ran to the end) of `autodrive tune --algo "
        f"{setup.algo} --env {setup.env_id}`: trial {best['trial']}, objective {best['objective']:.3f}\n"
        f"# (final greedy return {best['final_return']:.3f}, crash rate {best['final_crash_rate']:.3f}).\n"
        f"# Train with it: autodrive train --algo {setup.algo} --env {setup.env_id} --hyperparams best.yaml\n"
    )
    atomic_write_text(
        out / "best.yaml", header + yaml.safe_dump({setup.env_id: config["hyperparams"]}, sort_keys=False)
    )
    return out


def describe(out: str | Path) -> str:
    """A few lines on a finished sweep or multi-seed run, for the terminal."""
    out = Path(out)
    lines = []
    if (out / "seeds.json").exists():
        summary = read_json(out / "seeds.json")
        for run in summary["runs"]:
            crash = f", crash rate {run['crash_rate']:.1%}" if "crash_rate" in run else ""
            lines.append(
                f"  seed {run['seed']}: return {run['mean_return']:.3f}{crash} ({run['episodes']} episodes)"
            )
        lines += [f"  missing (did not finish): {d}" for d in summary["missing"]]
        if summary["runs"]:
            lines.append(f"{out}: {summary['seeds']} seeds, {format_summary(summary)}")
        return "\n".join(lines)
    rows = list(csv.DictReader(open(out / "trials.csv"))) if (out / "trials.csv").exists() else []
    finished = [r for r in rows if r["finished"] == "True"]
    lines.append(
        f"{out}: {len(rows)} trials, {len(finished)} ran to the end, "
        f"{len(rows) - len(finished)} stopped early by the scheduler (or unfinished)"
    )
    if (out / "best.yaml").exists():
        best = max(finished, key=lambda r: float(r["objective"]))
        lines.append(
            f"best: {best['trial']} (objective {float(best['objective']):.3f}, final return "
            f"{float(best['final_return']):.3f}, crash rate {float(best['final_crash_rate']):.1%}) -> {out / 'best.yaml'}"
        )
    return "\n".join(lines)


def format_summary(summary: dict) -> str:
    """``IQM return 25.1 [24.3, 25.9], crash rate 3.1% [2.0%, 4.2%] (95% CIs over seeds)``."""
    point, lo, hi = summary["return_iqm"]
    text = f"IQM return {point:.2f} [{lo:.2f}, {hi:.2f}]"
    if "crash_rate_mean" in summary:
        point, lo, hi = summary["crash_rate_mean"]
        text += f", mean crash rate {point:.1%} [{lo:.1%}, {hi:.1%}]"
    return text + f" ({summary['confidence']:.0%} bootstrap CIs over seeds)"


__all__ = ["describe", "load_search_space", "resume", "run_seeds", "shutdown_ray", "sweep"]
