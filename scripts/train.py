#!/usr/bin/env python
"""Train an agent, evaluate it greedily, and write a run directory (config, weights, metrics, plot).

autodrive train                                   # with no arguments: DQN on autodrive/HighwayFast-v0
autodrive train --algo qlearning --env autodrive/GridWorld-v0 --env-kwargs map_name=four_rooms slip=0.1
autodrive train --resume runs/<run>               # continue from the last checkpoint
autodrive train --algo ppo --env autodrive/Merge-v0 --help   # PPO's hyperparameter defaults on that env
autodrive train --algo ppo --seeds 0 1 2 --out runs/ppo-seeds   # one run per seed, in parallel on Ray
autodrive train --algo ppo --hyperparams runs/sweep-ppo/best.yaml   # a sweep's best (autodrive tune)

From a checkout without installing, python scripts/train.py takes the same arguments.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from agents import algo_names, resume_run, train_run  # noqa: E402
from agents.common.hparams import parse_key_values, read_hyperparams_file  # noqa: E402
from agents.registry import default_hyperparams  # noqa: E402

# With no arguments (the README's first command), learn to drive on the fast highway.
DEFAULT_ALGO = "dqn"
DEFAULT_ENV = "autodrive/HighwayFast-v0"


def hp_text(value) -> str:
    """A hyperparameter value as ``--hp`` reads it back (YAML, no spaces): true, null, [256,256], 0.001."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, tuple | list):
        return "[" + ",".join(hp_text(v) for v in value) + "]"
    return str(value)


def hyperparams_help(env_id: str, algos: list[str] | None = None, width: int = 100) -> str:
    """The ``--hp`` keys of ``algos`` (default: every algorithm) with the defaults a run on ``env_id`` gets."""
    intro = (
        f"hyperparameters (--hp KEY=VALUE) with their defaults on --env {env_id}: the algorithm's config, "
        "then the `default` block and the env's block of agents/hyperparams/<algo>.yaml "
        "(--algo NAME --env ID --help shows one algorithm on another env):"
    )
    lines = textwrap.wrap(intro, width)
    for name in algos or algo_names():
        pairs = " ".join(f"{k}={hp_text(v)}" for k, v in default_hyperparams(name, env_id).items())
        lines += [
            "",
            f"  {name}:",
            textwrap.fill(
                pairs,
                width,
                initial_indent="    ",
                subsequent_indent="    ",
                break_long_words=False,  # one KEY=VALUE is never split
                break_on_hyphens=False,
            ),
        ]
    return "\n".join(lines)


class TrainParser(argparse.ArgumentParser):
    """Its help ends with :func:`hyperparams_help`, built only when help is printed (it imports every
    algorithm, torch included)."""

    def __init__(self, help_env_id: str, help_algos: list[str] | None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.help_env_id, self.help_algos = help_env_id, help_algos

    def format_help(self) -> str:
        self.epilog = hyperparams_help(self.help_env_id, self.help_algos)
        return super().format_help()


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    # --help lists the hyperparameters of the algorithm and env the command line names (default: every
    # algorithm, on the default env)
    peek = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    peek.add_argument("--algo", default=None)
    peek.add_argument("--env", default=DEFAULT_ENV)
    named = peek.parse_known_args(argv)[0]
    parser = TrainParser(
        named.env,
        [named.algo] if named.algo in algo_names() else None,
        prog=prog,
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--algo", default=DEFAULT_ALGO, help=f"one of: {', '.join(algo_names())}")
    parser.add_argument("--env", default=DEFAULT_ENV, help="Gymnasium env id, e.g. autodrive/GridWorld-v0")
    parser.add_argument("--env-kwargs", nargs="*", default=[], metavar="K=V", help="env config fields")
    parser.add_argument("--hp", nargs="*", default=[], metavar="K=V", help="hyperparameter overrides")
    parser.add_argument(
        "--steps", type=int, default=None, help="env transitions (default: the hyperparameter file's)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        default=None,
        help="train once per seed, in parallel on Ray; OUT/seeds.json aggregates them (IQM, 95%% CIs)",
    )
    parser.add_argument(
        "--hyperparams",
        default=None,
        metavar="FILE",
        help="a hyperparameter YAML in the shipped files' shape, instead of agents/hyperparams/<algo>.yaml",
    )
    parser.add_argument("--num-envs", type=int, default=None, help="envs stepped as one batch")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda[:N]")
    parser.add_argument(
        "--out", default=None, help="run directory (default: runs/<algo>-<env>-s<seed>-<time>)"
    )
    parser.add_argument("--eval-episodes", type=int, default=100)
    parser.add_argument(
        "--resume", default=None, metavar="RUN_DIR", help="continue RUN_DIR from its last checkpoint"
    )
    parser.add_argument(
        "--record", default=None, metavar="PATH", help="episode video path (default RUN_DIR/episode.gif)"
    )
    parser.add_argument("--no-record", action="store_true", help="do not record an episode after training")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    from scripts.tune import add_ray_arguments

    add_ray_arguments(parser)
    args = parser.parse_args(argv)
    if args.seeds is not None or (args.resume and (Path(args.resume) / "sweep.yaml").exists()):
        return train_seeds(parser, args)
    try:
        if args.resume:
            run_dir = resume_run(args.resume, progress=not args.no_progress)
        else:
            run_dir = train_run(
                args.algo,
                args.env,
                env_kwargs=parse_key_values(args.env_kwargs),
                steps=args.steps,
                seed=args.seed,
                num_envs=args.num_envs,
                device=args.device,
                out=args.out,
                hp_overrides=parse_key_values(args.hp),
                eval_episodes=args.eval_episodes,
                progress=not args.no_progress,
                hyperparams_table=read_hyperparams_file(args.hyperparams) if args.hyperparams else None,
            )
    except (ValueError, FileExistsError, FileNotFoundError) as exc:
        parser.error(str(exc))
    from agents.common.io import read_json

    result = read_json(run_dir / "eval.json")
    summary = f"mean_return={result['mean_return']:.3f} ± {result['std_return']:.3f} over {result['episodes']} episodes"
    if "crash_rate" in result:
        summary += f", crash_rate={result['crash_rate']:.1%}"
    if "optimal_mean_return" in result:
        summary += f" (value-iteration optimum {result['optimal_mean_return']:.3f})"
    if "return_within_limit" in result:
        summary += (
            f"; exactly {result['return_within_limit']:.3f} of the best {result['optimal_return_within_limit']:.3f}"
            f" any policy reaches within {result['step_limit']} steps"
        )
    print(f"{run_dir}: {summary}")
    if not args.no_record:
        from agents.replay import record_episodes

        path = record_episodes(run_dir, args.record or run_dir / "episode.gif", episodes=1)
        print(f"recorded {path}")
    return 0


def train_seeds(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """``--seeds``: one run per seed on Ray (``agents.sweep.run_seeds``), or ``--resume`` of such a set."""
    import time

    from agents import sweep
    from scripts.tune import run_on_ray, shared_kwargs

    def work():
        if args.resume:
            return sweep.resume(args.resume, address=args.address)
        env = args.env.split("/")[-1]
        out = args.out or Path("runs") / f"{args.algo}-{env}-seeds-{time.strftime('%Y%m%d-%H%M%S')}"
        return sweep.run_seeds(args.algo, args.env, args.seeds, out, **shared_kwargs(args))

    return run_on_ray(parser, work)


if __name__ == "__main__":
    sys.exit(main())
