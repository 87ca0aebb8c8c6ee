#!/usr/bin/env python
"""Camera + LiDAR fusion: camera, LiDAR and fused CNNs, clean and with one sensor degraded.

autodrive fusion                                  # full run (~25 min on 2 cores) -> docs/results/fusion.json
autodrive fusion --train-frames 4096 --cnn-steps 300 --episodes 10 --out /tmp/fusion.json   # a quick look

Writes occupancy F1, position MAE, and the return and crash rate of a Kinematics-trained DQN driving
through each model, under each condition of ``perception.lidar.DEGRADATIONS``; ``autodrive report``
turns the JSON into the tables of docs/RESULTS.md and the README.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    from perception.fusion import FusionConfig

    defaults = FusionConfig()
    parser = argparse.ArgumentParser(
        prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--env", default=defaults.env_id)
    parser.add_argument("--train-frames", type=int, default=defaults.train_frames)
    parser.add_argument("--test-frames", type=int, default=defaults.test_frames)
    parser.add_argument("--cnn-steps", type=int, default=defaults.cnn_steps, help="training steps per model")
    parser.add_argument(
        "--lidar-stack",
        type=int,
        default=defaults.lidar_stack,
        help="LiDAR scans the lidar and fused models read",
    )
    parser.add_argument("--episodes", type=int, default=defaults.episodes, help="driving episodes per case")
    parser.add_argument(
        "--coast-steps",
        type=int,
        default=defaults.coast_steps,
        help="tracked driving: steps the track of a vehicle perception lost coasts",
    )
    parser.add_argument(
        "--no-lidar-objects",
        dest="lidar_objects",
        action="store_false",
        help="tracked driving without the LiDAR's own objects (veto of camera ghosts, missed vehicles)",
    )
    parser.add_argument("--agent", default=defaults.agent_dir, help="run directory of the driving policy")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--work-dir", default=None, help="datasets and models (default: a temp dir)")
    parser.add_argument("--out", default="docs/results/fusion.json")
    args = parser.parse_args(argv)

    import torch

    from envs.io import write_json
    from perception.fusion import format_table, run

    torch.set_num_threads(2)
    cfg = FusionConfig(
        env_id=args.env,
        train_frames=args.train_frames,
        test_frames=args.test_frames,
        cnn_steps=args.cnn_steps,
        lidar_stack=args.lidar_stack,
        episodes=args.episodes,
        coast_steps=args.coast_steps,
        lidar_objects=args.lidar_objects,
        agent_dir=args.agent,
        seed=args.seed,
    )
    with tempfile.TemporaryDirectory() as tmp:
        result = run(cfg, args.work_dir or tmp, progress=True)
    write_json(args.out, result)
    print(format_table(result))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
