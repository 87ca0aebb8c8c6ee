"""Perception throughput: labelled frames/s, CNN inference frames/s, and driving through perception.

python scripts/benchmark.py perception --model runs/perception [--agent runs/<highway-run>] [--num-envs 256]

Cases: dataset generation (camera frame + ground truth, ``perception.dataset.generate``), the CNN alone on
batches of stacked frames, and the batched ``autodrive/HighwayFastPerceived-v0`` env (simulator + camera +
CNN + decoding) driven by the agent's greedy policy, next to the same agent on the ground-truth env in the
same run (the ratio is what perception costs in speed).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import gymnasium as gym
import numpy as np
import torch

import envs  # noqa: F401  registers autodrive/*
import perception  # noqa: F401  registers the perceived ids
from agents.common.io import write_json
from agents.run import package_versions
from scripts.bench import machine, rate

RESULTS = Path("docs/results/benchmark-perception.json")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="perception run dir (scripts/perception.py train)")
    parser.add_argument(
        "--agent", default=None, help="a HighwayFast agent's run dir (default: random actions)"
    )
    parser.add_argument("--num-envs", type=int, default=256, help="batch of the driving cases")
    parser.add_argument("--frames", type=int, default=32768, help="frames for the generation case")
    parser.add_argument("--seconds", type=float, default=3.0, help="measuring time per case")
    parser.add_argument("--out", default=str(RESULTS))


def driving_rate(env_id: str, num_envs: int, policy, seconds: float, **kwargs) -> float:
    venv = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="vector_entry_point", **kwargs)
    obs, _ = venv.reset(seed=0)
    rng = np.random.default_rng(0)

    def step() -> int:
        nonlocal obs
        if policy is None:
            actions = rng.integers(venv.single_action_space.n, size=num_envs)
        else:
            actions, _ = policy.predict(obs, deterministic=True)
        obs, *_ = venv.step(actions)
        return num_envs

    return rate(step, seconds)


def run(args: argparse.Namespace) -> dict:
    from perception.dataset import GenerateConfig, generate, load_dataset
    from perception.model import load_model

    torch.set_num_threads(2)
    with tempfile.TemporaryDirectory() as tmp:
        cfg = GenerateConfig(frames=args.frames, num_envs=1024, workers=1, seed=0)
        generation = generate(cfg, tmp, progress=False)["generation"]["frames_per_s"]
        frames = load_dataset(tmp).stacked_frames(np.arange(1024))
    model = load_model(args.model)
    batch = torch.from_numpy(frames)

    @torch.inference_mode()
    def infer() -> int:
        model(batch)
        return len(batch)

    cnn = rate(infer, args.seconds)
    policy = None
    if args.agent:
        from agents import load_policy

        policy = load_policy(args.agent)
    truth = driving_rate("autodrive/HighwayFast-v0", args.num_envs, policy, args.seconds)
    pixels = driving_rate(
        "autodrive/HighwayFastPerceived-v0", args.num_envs, policy, args.seconds, model_dir=str(args.model)
    )
    driver = "agent" if policy else "random actions"
    table = [
        {"case": "labelled frames generated (camera + ground truth, 1024 envs)", "per second": generation},
        {"case": "CNN inference, batches of 1024 stacked frames", "per second": cnn},
        {
            "case": f"driving HighwayFast from ground truth ({args.num_envs} envs, {driver})",
            "per second": truth,
        },
        {
            "case": f"driving HighwayFast through perception ({args.num_envs} envs, {driver})",
            "per second": pixels,
        },
    ]
    result = {
        "benchmark": "perception",
        "machine": machine(),
        "versions": package_versions(),
        "model": str(args.model),
        "agent": args.agent,
        "table": table,
        "perception_vs_ground_truth_speed": pixels / truth,
    }
    write_json(args.out, result)
    for row in table:
        print(f"{row['case']:72s} {row['per second']:12,.0f}/s")
    print(f"driving through perception runs at {pixels / truth:.1%} of the ground-truth env's speed")
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    add_arguments(parser)
    run(parser.parse_args())
