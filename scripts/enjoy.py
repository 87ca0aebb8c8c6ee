#!/usr/bin/env python
"""Replay a trained agent in a pygame window, or record it to a GIF/MP4 without a display.

autodrive enjoy runs/<run>                               # window
autodrive enjoy runs/<run> --record episode.gif          # file (works headless)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from agents.replay import play, record_episodes  # noqa: E402


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "run_dir", help="a run directory written by autodrive train, e.g. agents/pretrained/highway-fast-dqn"
    )
    parser.add_argument("--episodes", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--env", default=None, help="play on another env id with the same spaces")
    parser.add_argument(
        "--record", default=None, metavar="PATH", help="write a .gif or .mp4 instead of a window"
    )
    args = parser.parse_args(argv)
    if args.episodes < 1:
        parser.error("--episodes must be >= 1")
    try:
        if args.record:
            path = record_episodes(
                args.run_dir, args.record, episodes=args.episodes, seed=args.seed, env_id=args.env
            )
            print(f"recorded {args.episodes} episode(s) to {path}")
        else:
            returns = play(args.run_dir, episodes=args.episodes, seed=args.seed, env_id=args.env)
            print("returns: " + ", ".join(f"{r:.3f}" for r in returns))
    except (ValueError, FileNotFoundError) as exc:
        parser.error(str(exc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
