"""The ``autodrive`` command: ``autodrive <command> [args]`` runs that command's script, ``main(args)``.

autodrive --help                    # the commands
autodrive train --help              # a command's own flags (train's list every hyperparameter)
autodrive enjoy agents/pretrained/highway-fast-dqn --record episode.gif

Each command is a module of this package, and each also runs from a checkout without installing:
``autodrive train ...`` and ``python scripts/train.py ...`` take the same arguments.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

PROG = "autodrive"

# command -> (module whose main(argv, prog) runs it, one line for --help)
COMMANDS: dict[str, tuple[str, str]] = {
    "train": ("scripts.train", "train an agent and write a run directory (weights, metrics, eval, video)"),
    "tune": ("scripts.tune", "search hyperparameters on Ray Tune (Optuna, early stopping); resumable"),
    "evaluate": ("scripts.evaluate", "evaluate a run greedily, on its env or another (e.g. highway-fast-v0)"),
    "enjoy": ("scripts.enjoy", "replay a run in a pygame window, or record it to a GIF/MP4"),
    "benchmark": ("scripts.benchmark", "throughput against the peer libraries, in the same run"),
    "perception": ("scripts.perception", "camera datasets, the perception CNN, its metrics and tax"),
    "report": ("scripts.report", "docs/RESULTS.md, plots and the README's results from the result files"),
    "fidelity": (
        "scripts.fidelity",
        "measure our simulator against highway-env, step by step and in statistics",
    ),
    "fusion": ("scripts.fusion", "camera + LiDAR fusion: each sensor set, clean and degraded"),
    "distill": (
        "scripts.distill",
        "distillation: small DQN, small perception CNN, end to end from the chain",
    ),
    "adversarial": ("scripts.adversarial", "FGSM/PGD attacks, adversarial training and a detector, measured"),
    "data-efficiency": (
        "scripts.data_efficiency",
        "the GAN augmentation / pretraining experiment at low labels",
    ),
}


def usage() -> str:
    return f"usage: {PROG} <command> [args ...]   ({PROG} <command> --help: the command's flags)"


def help_text() -> str:
    width = max(map(len, COMMANDS))
    rows = "\n".join(f"  {name:<{width}}  {summary}" for name, (_, summary) in COMMANDS.items())
    return (
        f"{usage()}\n\n"
        "Train, evaluate and watch driving agents; benchmark, perception and report tools.\n\n"
        f"commands:\n{rows}\n\n"
        "From a checkout without installing, python scripts/<command>.py takes the same arguments\n"
        "(data-efficiency: scripts/data_efficiency.py)."
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] in (["-h"], ["--help"]):
        print(help_text())
        return 0
    if not args or args[0] not in COMMANDS:
        from agents.common.hparams import suggest

        what = (
            f"unknown command {args[0]!r}{suggest(args[0], list(COMMANDS))}" if args else "no command given"
        )
        print(f"{usage()}\n{PROG}: error: {what}; commands: {', '.join(COMMANDS)}", file=sys.stderr)
        return 2
    name, rest = args[0], args[1:]
    module = importlib.import_module(COMMANDS[name][0])
    return module.main(rest, prog=f"{PROG} {name}")


if __name__ == "__main__":
    sys.exit(main())
