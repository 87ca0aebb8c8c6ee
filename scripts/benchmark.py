#!/usr/bin/env python
"""Throughput benchmarks, each measured against its peer in the same run; results in docs/results/.

autodrive benchmark gridworld              # vs minigrid
autodrive benchmark highway                # vs highway-env
autodrive benchmark worlds                 # merge, exit, roundabout, racetrack, parking vs highway-env's
autodrive benchmark multi-agent            # agent-steps/s with 2 to 32 controlled vehicles per env
autodrive benchmark agents                 # our DQN vs stable-baselines3's on highway-env
autodrive benchmark sb3                    # SB3 PPO through our batched envs vs SB3's DummyVecEnv
autodrive benchmark perception --model runs/perception --agent runs/<run>   # frames/s, driving from pixels
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

BENCHMARKS = ("gridworld", "highway", "worlds", "multi-agent", "agents", "sb3", "perception")


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="name", required=True, metavar="BENCHMARK", help=", ".join(BENCHMARKS))
    modules = {}
    for name in BENCHMARKS:
        try:
            modules[name] = importlib.import_module(f"scripts.bench.{name.replace('-', '_')}")
        except ModuleNotFoundError as exc:
            if exc.name != f"scripts.bench.{name.replace('-', '_')}":
                raise
            continue
        p = sub.add_parser(name, help=(modules[name].__doc__ or "").strip().splitlines()[0])
        modules[name].add_arguments(p)
    args = parser.parse_args(argv)
    modules[args.name].run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
