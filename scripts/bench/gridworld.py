"""GridWorld throughput vs minigrid's MiniGrid-Empty-8x8-v0, and batched Q-learning transitions/s.

python scripts/benchmark.py gridworld [--seconds 2] [--num-envs 4096]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import gymnasium as gym
import numpy as np

import envs  # noqa: F401
from agents.common.io import write_json
from agents.run import package_versions
from agents.tabular import QLearningConfig, q_learning
from scripts.bench import machine, rate

RESULTS = Path("docs/results/benchmark-gridworld.json")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seconds", type=float, default=2.0, help="measuring time per case")
    parser.add_argument("--num-envs", type=int, default=4096, help="batch size of the batched env")
    parser.add_argument("--out", default=str(RESULTS))


def single_env_rate(env: gym.Env, seconds: float) -> float:
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    actions = rng.integers(env.action_space.n, size=4096).tolist()
    i = 0

    def step() -> int:
        nonlocal i
        _, _, term, trunc, _ = env.step(actions[i % 4096])
        i += 1
        if term or trunc:
            env.reset()
        return 1

    return rate(step, seconds)


def vector_env_rate(venv, seconds: float) -> float:
    venv.reset(seed=0)
    rng = np.random.default_rng(0)
    actions = [rng.integers(4, size=venv.num_envs) for _ in range(64)]
    i = 0

    def step() -> int:
        nonlocal i
        venv.step(actions[i % 64])
        i += 1
        return venv.num_envs

    return rate(step, seconds)


def qlearning_rate(num_envs: int, steps: int) -> float:
    import time

    venv = gym.make_vec(
        "autodrive/GridWorld-v0",
        num_envs=num_envs,
        vectorization_mode="vector_entry_point",
        map_name="four_rooms",
    )
    t0 = time.perf_counter()
    q_learning(venv, QLearningConfig(log_interval=10**12), total_steps=steps, seed=0)
    return steps / (time.perf_counter() - t0)


def run(args: argparse.Namespace) -> dict:
    ours_single = single_env_rate(gym.make("autodrive/GridWorld-v0", map_name="empty"), args.seconds)
    ours_batched = vector_env_rate(
        gym.make_vec(
            "autodrive/GridWorld-v0",
            num_envs=args.num_envs,
            vectorization_mode="vector_entry_point",
            map_name="empty",
        ),
        args.seconds,
    )
    ours_batched_grid = vector_env_rate(
        gym.make_vec(
            "autodrive/GridWorld-v0",
            num_envs=args.num_envs,
            vectorization_mode="vector_entry_point",
            map_name="empty",
            observation="grid",
        ),
        args.seconds,
    )
    q_rate = qlearning_rate(args.num_envs, 20 * args.num_envs * 100)
    result: dict = {
        "benchmark": "gridworld",
        "machine": machine(),
        "versions": package_versions(),
        "num_envs": args.num_envs,
        "ours": {
            "single_env_steps_per_s": ours_single,
            "batched_env_steps_per_s": ours_batched,
            "batched_env_grid_obs_steps_per_s": ours_batched_grid,
            "qlearning_transitions_per_s": q_rate,
        },
    }
    try:
        import minigrid  # noqa: F401  (the `peers` extra)

        peer = single_env_rate(gym.make("MiniGrid-Empty-8x8-v0"), args.seconds)
        result["peer"] = {"name": "minigrid MiniGrid-Empty-8x8-v0 (gym.make)", "steps_per_s": peer}
        result["ratios"] = {
            "single_vs_minigrid": ours_single / peer,
            "batched_vs_minigrid": ours_batched / peer,
        }
    except ImportError:
        result["peer"] = None
        print("minigrid not installed (pip install -e .[peers]): no peer ratios", file=sys.stderr)
    write_json(args.out, result)
    print(f"{'case':44s} {'steps/s':>14s} {'vs minigrid':>12s}")
    peer_rate = (result.get("peer") or {}).get("steps_per_s")
    for label, value, compare in [
        ("minigrid Empty-8x8 (single, gym.make)", peer_rate, True),
        ("GridWorld empty (single, gym.make)", ours_single, True),
        (f"GridWorld empty (batched, {args.num_envs} envs, index)", ours_batched, True),
        (f"GridWorld empty (batched, {args.num_envs} envs, grid)", ours_batched_grid, True),
        (f"Q-learning transitions/s ({args.num_envs} envs)", q_rate, False),
    ]:
        if value is None:
            continue
        ratio = f"{value / peer_rate:10.1f}x" if peer_rate and compare else ""
        print(f"{label:44s} {value:14,.0f} {ratio:>12s}")
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    add_arguments(parser)
    run(parser.parse_args())
