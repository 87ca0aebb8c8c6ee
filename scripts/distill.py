#!/usr/bin/env python
"""Distillation: a DQN student 10x+ smaller, a small perception CNN, and one pixels-to-action CNN.

autodrive distill                                  # full run (~20 min on 2 cores) -> docs/results/distillation.json
autodrive distill --parts policy --peer-episodes 20 --out /tmp/distill.json              # the policy alone
autodrive distill --train-frames 4096 --teacher-steps 300 --student-steps 300 --episodes 10 \\
    --peer-episodes 4 --out /tmp/distill.json                                            # a quick look

Writes, for each teacher and its student: parameters, greedy return and crash rate (the DQN's also in
highway-env's highway-fast-v0), occupancy F1 (the perception CNNs), and forward passes per second at
batch 1 and 1024; and the modular chain (perception CNN + DQN) against the end-to-end CNN distilled from
it by DAgger (``agents.distill``).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    from agents.distill import PARTS, DistillConfig

    defaults = DistillConfig()
    parser = argparse.ArgumentParser(
        prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=list(defaults.parts))
    parser.add_argument("--teacher", default=defaults.policy.teacher_dir, help="run directory of the DQN")
    parser.add_argument(
        "--hidden", type=int, nargs="+", default=list(defaults.policy.hidden), help="student MLP"
    )
    parser.add_argument(
        "--iterations", type=int, default=defaults.policy.dagger.iterations, help="DAgger iterations (policy)"
    )
    parser.add_argument("--train-frames", type=int, default=defaults.perception.train_frames)
    parser.add_argument("--teacher-steps", type=int, default=defaults.perception.teacher_steps)
    parser.add_argument("--student-steps", type=int, default=defaults.perception.student_steps)
    parser.add_argument(
        "--e2e-iterations",
        type=int,
        default=defaults.end_to_end.dagger.iterations,
        help="DAgger iterations (end to end)",
    )
    parser.add_argument("--episodes", type=int, default=defaults.episodes, help="episodes in ours per model")
    parser.add_argument("--peer-episodes", type=int, default=defaults.peer_episodes, help="in highway-env")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--threads", type=int, default=defaults.threads)
    parser.add_argument("--work-dir", default=None, help="datasets and models (default: a temp dir)")
    parser.add_argument("--out", default="docs/results/distillation.json")
    args = parser.parse_args(argv)

    from agents.distill import format_table, run
    from envs.io import write_json

    policy = dataclasses.replace(
        defaults.policy,
        teacher_dir=args.teacher,
        hidden=tuple(args.hidden),
        dagger=dataclasses.replace(defaults.policy.dagger, iterations=args.iterations),
    )
    perception = dataclasses.replace(
        defaults.perception,
        train_frames=args.train_frames,
        teacher_steps=args.teacher_steps,
        student_steps=args.student_steps,
    )
    end_to_end = dataclasses.replace(
        defaults.end_to_end,
        dagger=dataclasses.replace(defaults.end_to_end.dagger, iterations=args.e2e_iterations),
    )
    cfg = DistillConfig(
        policy=policy,
        perception=perception,
        end_to_end=end_to_end,
        parts=tuple(args.parts),
        episodes=args.episodes,
        peer_episodes=args.peer_episodes,
        seed=args.seed,
        threads=args.threads,
    )
    with tempfile.TemporaryDirectory() as tmp:
        result = run(cfg, args.work_dir or tmp, progress=True)
    write_json(args.out, result)
    print(format_table(result))
    print(f"wrote {args.out} ({result['seconds'] / 60:.1f} min)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
