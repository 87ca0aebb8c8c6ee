#!/usr/bin/env python
"""Search an algorithm's hyperparameters on an env with Ray Tune (Optuna's sampler, ASHA early stopping).

autodrive tune --algo ppo --env autodrive/HighwayFast-v0 --trials 16 --out runs/sweep-ppo
autodrive tune --resume runs/sweep-ppo            # after a crash or Ctrl-C: finished trials stay
autodrive tune --algo ppo --env CartPole-v1 --trials 2 --steps 8192 --hp eval_interval=4096 eval_episodes=5
autodrive tune ... --address 10.0.0.1:6379        # on a running Ray cluster (`ray start --head`)

The search space is the algorithm's block in agents/hyperparams/search/<algo>.yaml (or --space FILE).
Each trial is a run directory under OUT/runs/; OUT/best.yaml is the best trial's hyperparameters, which
`autodrive train --hyperparams OUT/best.yaml` takes as is. The first trial is the current recipe.

From a checkout without installing, python scripts/tune.py takes the same arguments.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from agents import algo_names  # noqa: E402
from agents.common.hparams import parse_key_values, read_hyperparams_file  # noqa: E402


def add_ray_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags ``tune`` and ``train --seeds`` share: where Ray runs and what each trial gets."""
    parser.add_argument(
        "--address", default=None, help="a running Ray cluster (host:port); default: Ray on this machine"
    )
    parser.add_argument("--cpus-per-trial", type=float, default=1.0, help="torch threads follow it")
    parser.add_argument("--gpus-per-trial", type=float, default=0.0)
    parser.add_argument(
        "--max-concurrent", type=int, default=0, help="trials at once (default: as many as fit)"
    )


def shared_kwargs(args: argparse.Namespace) -> dict:
    """The keyword arguments ``agents.sweep.sweep`` and ``run_seeds`` take alike, from the shared flags."""
    return {
        "env_kwargs": parse_key_values(args.env_kwargs),
        "steps": args.steps,
        "hp_overrides": parse_key_values(args.hp),
        "hyperparams_table": read_hyperparams_file(args.hyperparams) if args.hyperparams else None,
        "eval_episodes": args.eval_episodes,
        "cpus_per_trial": args.cpus_per_trial,
        "gpus_per_trial": args.gpus_per_trial,
        "max_concurrent": args.max_concurrent,
        "address": args.address,
    }


def run_on_ray(parser: argparse.ArgumentParser, work) -> int:
    """Run ``work()`` (it returns the sweep directory); a bad input is one error line; Ray stops after."""
    from agents import sweep

    try:
        out = work()
    except (ValueError, FileExistsError, FileNotFoundError) as exc:
        parser.error(str(exc))
    finally:
        sweep.shutdown_ray()
    print(sweep.describe(out))
    return 0


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--algo", default="ppo", help=f"one of: {', '.join(algo_names())}")
    parser.add_argument("--env", default="autodrive/HighwayFast-v0", help="Gymnasium env id")
    parser.add_argument("--env-kwargs", nargs="*", default=[], metavar="K=V", help="env config fields")
    parser.add_argument("--hp", nargs="*", default=[], metavar="K=V", help="fixed hyperparameter overrides")
    parser.add_argument(
        "--hyperparams", default=None, metavar="FILE", help="a hyperparameter YAML instead of the shipped one"
    )
    parser.add_argument(
        "--space", default=None, metavar="FILE", help="a search-space YAML (the shipped one's shape)"
    )
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--steps", type=int, default=None, help="env steps per trial (default: the recipe's)")
    parser.add_argument(
        "--grace-steps", type=int, default=None, help="ASHA's first rung (default: a quarter of the steps)"
    )
    parser.add_argument("--seed", type=int, default=0, help="the trials' training seed and the searcher's")
    parser.add_argument(
        "--eval-episodes", type=int, default=100, help="each finished trial's final evaluation"
    )
    parser.add_argument(
        "--out", default=None, help="sweep directory (default: runs/tune-<algo>-<env>-<time>)"
    )
    parser.add_argument("--resume", default=None, metavar="OUT", help="continue the sweep in OUT")
    add_ray_arguments(parser)
    args = parser.parse_args(argv)

    import yaml

    from agents import sweep

    def work():
        if args.resume:
            return sweep.resume(args.resume, address=args.address)
        space = None
        if args.space:
            if not os.path.isfile(args.space):
                raise FileNotFoundError(f"no search-space file {args.space}")
            space = yaml.safe_load(Path(args.space).read_text())
        import time

        default_out = (
            Path("runs") / f"tune-{args.algo}-{args.env.split('/')[-1]}-{time.strftime('%Y%m%d-%H%M%S')}"
        )
        return sweep.sweep(
            args.algo,
            args.env,
            args.out or default_out,
            trials=args.trials,
            seed=args.seed,
            space_table=space,
            grace_steps=args.grace_steps,
            **shared_kwargs(args),
        )

    return run_on_ray(parser, work)


if __name__ == "__main__":
    sys.exit(main())
