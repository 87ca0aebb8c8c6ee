#!/usr/bin/env python
"""Adversarial robustness: FGSM, PGD and noise on the perception CNN, adversarial training, a detector.

autodrive adversarial                                   # full run (~20 min on 2 cores) -> docs/results/adversarial.json
autodrive adversarial --train-frames 4096 --cnn-steps 300 --robust-steps 100 --episodes 10 --out /tmp/adv.json

Writes occupancy F1, position MAE and the return and crash rate of the shipped Kinematics DQN driving
through the standard and the adversarially trained CNN under each attack and budget, the DQN attacked
on its own Kinematics input, and the detector's AUROC; ``autodrive report`` turns the JSON into the
tables and the plot of docs/RESULTS.md and the README.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    from perception.adversarial import AdversarialConfig

    d = AdversarialConfig()
    parser = argparse.ArgumentParser(
        prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--env", default=d.env_id)
    parser.add_argument("--train-frames", type=int, default=d.train_frames)
    parser.add_argument("--test-frames", type=int, default=d.test_frames)
    parser.add_argument(
        "--cnn-steps", type=int, default=d.cnn_steps, help="training steps of the standard CNN"
    )
    parser.add_argument(
        "--robust-steps", type=int, default=d.robust_steps, help="PGD adversarial fine-tuning steps"
    )
    parser.add_argument(
        "--budgets", type=float, nargs="+", default=list(d.budgets), help="[pixel levels of 255]"
    )
    parser.add_argument("--pgd-steps", type=int, default=d.pgd_steps)
    parser.add_argument("--episodes", type=int, default=d.episodes, help="driving episodes per case")
    parser.add_argument("--detector-steps", type=int, default=d.detector_steps)
    parser.add_argument("--agent", default=d.agent_dir, help="run directory of the driving policy")
    parser.add_argument("--seed", type=int, default=d.seed)
    parser.add_argument("--work-dir", default=None, help="datasets and models (default: a temp dir)")
    parser.add_argument("--out", default="docs/results/adversarial.json")
    args = parser.parse_args(argv)

    import torch

    from envs.io import write_json
    from perception.adversarial import format_policy_table, format_table, run

    torch.set_num_threads(2)
    cfg = AdversarialConfig(
        env_id=args.env,
        train_frames=args.train_frames,
        test_frames=args.test_frames,
        cnn_steps=args.cnn_steps,
        robust_steps=args.robust_steps,
        budgets=tuple(args.budgets),
        pgd_steps=args.pgd_steps,
        episodes=args.episodes,
        detector_steps=args.detector_steps,
        agent_dir=args.agent,
        seed=args.seed,
    )
    with tempfile.TemporaryDirectory() as tmp:
        result = run(cfg, args.work_dir or tmp, progress=True)
    write_json(args.out, result)
    print(format_table(result))
    print(format_policy_table(result))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
