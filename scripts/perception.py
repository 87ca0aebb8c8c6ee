#!/usr/bin/env python
"""Perception: camera datasets, the perception CNN, its metrics, the perception tax, the gridworld chain.

autodrive perception generate --env autodrive/HighwayFast-v0 --frames 131072 --seed 1 --out data/train
autodrive perception generate --env autodrive/HighwayFast-v0 --frames 16384 --seed 1001 --out data/test
autodrive perception train --data data/train --out runs/perception --minutes 15
autodrive perception train --data data/train --out runs/fused --minutes 15 --sensors fused
autodrive perception evaluate --model runs/perception --data data/test
autodrive perception tax --model runs/perception --agent runs/<highway-dqn-run> --episodes 100
autodrive perception gridworld
autodrive perception overlay --model runs/perception --data data/test
"""

from __future__ import annotations

import argparse
import functools
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

RESULTS = Path("docs/results")


def _parse_kwargs(items: list[str]) -> tuple[tuple[str, object], ...]:
    out = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--env-kwargs expects key=value, got {item!r}")
        out.append((key, value))
    return tuple(out)


def cmd_generate(args: argparse.Namespace) -> dict:
    from perception.dataset import GenerateConfig, generate

    factory, name = None, "random"
    if args.policy != "random":
        from agents import load_policy

        factory, name = functools.partial(load_policy, args.policy), str(args.policy)
    cfg = GenerateConfig(
        env_id=args.env,
        frames=args.frames,
        seed=args.seed,
        num_envs=args.num_envs,
        workers=args.workers,
        env_kwargs=_parse_kwargs(args.env_kwargs),
    )
    manifest = generate(cfg, args.out, factory, name)
    print(
        f"{manifest['frames']} frames in {manifest['generation']['seconds']:.1f} s "
        f"({manifest['generation']['frames_per_s']:.0f} frames/s) -> {args.out}"
    )
    return manifest


def cmd_train(args: argparse.Namespace) -> dict:
    from perception.train import TrainConfig, train

    cfg = TrainConfig(
        minutes=args.minutes,
        batch_size=args.batch_size,
        seed=args.seed,
        max_steps=args.max_steps,
        sensors=args.sensors,
        lidar_stack=args.lidar_stack,
    )
    result = train(cfg, args.data, args.out)
    result.pop("model")
    print({k: v for k, v in result.items() if k != "config"})
    return result


def cmd_evaluate(args: argparse.Namespace) -> dict:
    from envs.io import write_json
    from perception.metrics import evaluate_run

    result = evaluate_run(args.model, args.data, max_frames=args.max_frames)
    write_json(args.out, result)
    print({k: v for k, v in result.items() if k != "occupancy_f1_per_cell"})
    return result


def cmd_tax(args: argparse.Namespace) -> dict:
    from agents import load_policy
    from agents.common.evaluation import evaluate_policy
    from envs.io import write_json
    from perception.tax import perception_tax

    result = perception_tax(
        load_policy(args.agent), evaluate_policy, args.model, args.env, args.episodes, args.seed
    )
    result["agent"] = str(args.agent)
    write_json(args.out, result)
    print(
        f"return kept {result['return_kept']:.3f}; crash rate truth {result['crash_rate_ground_truth']} "
        f"pixels {result['crash_rate_pixels']}"
    )
    return result


def cmd_gridworld(args: argparse.Namespace) -> dict:
    from agents.tabular import value_iteration
    from envs.io import write_json
    from perception.gridworld import GridPerceptionConfig, chain_report

    result = chain_report(
        GridPerceptionConfig(steps=args.steps, seed=args.seed), value_iteration, args.episodes
    )
    write_json(args.out, result)
    for row in result["maps"]:
        print(row)
    return result


def cmd_overlay(args: argparse.Namespace) -> dict:
    from perception.dataset import load_dataset
    from perception.model import load_model
    from perception.overlay import overlay_png

    path = overlay_png(
        load_model(args.model), load_dataset(args.data), args.out, frames=args.frames, seed=args.seed
    )
    print(f"wrote {path}")
    return {"png": str(path)}


def cmd_camera(args: argparse.Namespace) -> dict:
    from perception.overlay import camera_worlds_png

    path = camera_worlds_png(args.out, seed=args.seed)
    print(f"wrote {path}")
    return {"png": str(path)}


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("generate", help="write a labelled camera dataset (sharded safetensors + manifest)")
    p.add_argument("--env", default="autodrive/HighwayFast-v0")
    p.add_argument("--frames", type=int, required=True)
    p.add_argument("--policy", default="random", help="'random' or an agent run directory")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True)
    p.add_argument("--num-envs", type=int, default=1024)
    p.add_argument("--workers", type=int, default=1, help="processes (shards are independent)")
    p.add_argument("--env-kwargs", nargs="*", default=[], metavar="KEY=VALUE", help="e.g. camera_channels=3")
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("train", help="train the perception CNN (progress bar; safetensors checkpoint)")
    p.add_argument("--data", required=True)
    p.add_argument("--out", required=True)
    p.add_argument(
        "--minutes",
        type=float,
        default=15.0,
        help="wall-clock budget in minutes (training also stops at --max-steps)",
    )
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--max-steps", type=int, default=1_000_000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--sensors",
        choices=("camera", "lidar", "fused"),
        default="camera",
        help="what the CNN reads: the camera, the LiDAR scan (and the dashboard), or both",
    )
    p.add_argument(
        "--lidar-stack", type=int, default=1, help="LiDAR scans it reads: this step's and the ones before"
    )
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="occupancy F1, position/speed MAE, frames/s on held-out data")
    p.add_argument("--model", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--max-frames", type=int, default=None)
    p.add_argument("--out", default=str(RESULTS / "perception-eval.json"))
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("tax", help="an agent's return from ground truth vs through the CNN")
    p.add_argument("--model", required=True)
    p.add_argument("--agent", required=True, help="run directory of a Kinematics-trained highway agent")
    p.add_argument("--env", default="autodrive/HighwayFast-v0")
    p.add_argument("--episodes", type=int, default=100)
    p.add_argument("--seed", type=int, default=10_000)
    p.add_argument("--out", default=str(RESULTS / "perception-tax.json"))
    p.set_defaults(func=cmd_tax)

    p = sub.add_parser("gridworld", help="pixels -> CNN -> map -> value iteration -> act, vs the true map")
    p.add_argument("--steps", type=int, default=300, help="CNN training steps (random grids)")
    p.add_argument("--episodes", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=str(RESULTS / "perception-gridworld.json"))
    p.set_defaults(func=cmd_gridworld)

    p = sub.add_parser("overlay", help="PNG of camera frames with true and predicted vehicles")
    p.add_argument("--model", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--frames", type=int, default=4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="docs/img/perception_overlay.png")
    p.set_defaults(func=cmd_overlay)

    p = sub.add_parser("camera", help="PNG of what the camera sees on every driving world")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="docs/img/camera_worlds.png")
    p.set_defaults(func=cmd_camera)

    args = parser.parse_args(argv)
    args.func(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
