"""Throughput with several controlled vehicles per env: agent-steps/s against highway-env's multi-agent envs.

python scripts/benchmark.py multi-agent [--seconds 2] [--peer-seconds 10]

Per case: highway-env's env with ``controlled_vehicles`` k and its tuple API (MultiAgentAction and
MultiAgentObservation, random actions), our single env with the same config (gym.make, float64) and our
CPU batch (float32, the agents folded into the batch: one row per agent) over a sweep of ``num_envs``.
Agent-steps/s counts one policy step of one controlled vehicle; env-steps/s is agent-steps/s / k.
Cases: HighwayFast's road with k = 8 and 32 controlled vehicles among its 20 IDM/MOBIL vehicles, the
self-play road (21 controlled, no IDM traffic) and intersection-multi-agent-v0 (k = 2).
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import gymnasium as gym
import numpy as np

import envs  # noqa: F401
from agents.common.io import write_json
from agents.run import package_versions
from scripts.bench import machine, rate

RESULTS = Path("docs/results/benchmark-multi-agent.json")
TUPLE_API = {
    "action": {"type": "MultiAgentAction", "action_config": {"type": "DiscreteMetaAction"}},
    "observation": {"type": "MultiAgentObservation", "observation_config": {"type": "Kinematics"}},
}
#: case -> (our id, highway-env's id, config given to both, controlled vehicles)
CASES = {
    "highway-fast-8": ("autodrive/HighwayFast-v0", "highway-fast-v0", {"controlled_vehicles": 8, **TUPLE_API}, 8),
    "highway-fast-32": ("autodrive/HighwayFast-v0", "highway-fast-v0", {"controlled_vehicles": 32, **TUPLE_API}, 32),
    "self-play-21": (
        "autodrive/HighwaySelfPlay-v0", "highway-fast-v0",
        {"controlled_vehicles": 21, "vehicles_count": 0, "ego_spacing": 1.0, **TUPLE_API}, 21,
    ),
    "intersection-multi-agent-2": ("autodrive/IntersectionMultiAgent-v0", "intersection-multi-agent-v0", {}, 2),
}  # fmt: skip
NUM_ENVS = (1, 16, 256, 1024)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seconds", type=float, default=2.0, help="measuring time per case (ours)")
    parser.add_argument(
        "--peer-seconds", type=float, default=10.0, help="measuring time per highway-env case"
    )
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    parser.add_argument("--quick", action="store_true", help="short runs (for a smoke run)")
    parser.add_argument("--out", default=str(RESULTS))


def single_rate(env: gym.Env, seconds: float) -> float:
    """Env-steps/s of a tuple-API env under random actions (reset inside the timed loop)."""
    env.reset(seed=0)
    space = env.action_space
    space.seed(0)
    actions = [space.sample() for _ in range(256)]
    i = 0

    def step() -> int:
        nonlocal i
        _, _, term, trunc, _ = env.step(actions[i % 256])
        i += 1
        if term or trunc:
            env.reset()
        return 1

    return rate(step, seconds, warmup=2)


def batch_rate(env_id: str, num_envs: int, seconds: float, config: dict) -> float:
    """Env-steps/s of our batch (its rows are agents: num_envs * k of them)."""
    venv = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="vector_entry_point", **config)
    venv.reset(seed=0)
    rng = np.random.default_rng(0)
    actions = [rng.integers(venv.single_action_space.n, size=venv.num_envs) for _ in range(8)]
    i = 0

    def step() -> int:
        nonlocal i
        venv.step(actions[i % 8])
        i += 1
        return num_envs

    value = rate(step, seconds, warmup=2)
    venv.close()
    return value


def run(args: argparse.Namespace) -> dict:
    seconds = 0.3 if args.quick else args.seconds
    peer_seconds = 1.0 if args.quick else args.peer_seconds
    result: dict = {
        "benchmark": "multi-agent",
        "machine": machine(),
        "versions": package_versions(),
        "cases": [],
    }
    import highway_env  # noqa: F401  (registers highway-env's ids)

    print(f"{'case':60s} {'agent-steps/s':>14s} {'vs highway-env':>14s}")
    for name in args.cases:
        ours, peer, config, agents = CASES[name]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            peer_rate = agents * single_rate(gym.make(peer, config=config), peer_seconds)
        ours_config = {k: v for k, v in config.items() if k not in ("vehicles_count", "ego_spacing")}
        if ours.endswith("SelfPlay-v0"):
            ours_config = {}  # the preset is the config
        rows = [(f"highway-env {peer} (single, {agents} agents)", peer_rate, {})]
        single = agents * single_rate(gym.make(ours, **ours_config), seconds)
        rows.append((f"ours {ours} (single, {agents} agents)", single, {}))
        batch_config = {k: v for k, v in ours_config.items() if k in ("controlled_vehicles",)}
        for n in NUM_ENVS[:3] if args.quick else NUM_ENVS:
            value = agents * batch_rate(ours, n, seconds, batch_config)
            rows.append((f"ours {ours} (CPU batch, {n} envs x {agents} agents)", value, {"num_envs": n}))
        for case, value, extra in rows:
            row = {
                "case_name": name,
                "case": case,
                "controlled_vehicles": agents,
                "agent_steps_per_s": value,
                "env_steps_per_s": value / agents,
                "vs_highway_env": value / peer_rate,
            }
            result["cases"].append({**row, **extra})
            print(f"{case:60s} {value:14,.0f} {value / peer_rate:13.1f}x", flush=True)
    write_json(args.out, result)
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    add_arguments(parser)
    run(parser.parse_args())
