"""Throughput of the merge, exit, roundabout, racetrack, parking and intersection worlds vs highway-env's own
envs, in the same run.

python scripts/benchmark.py worlds [--seconds 2] [--peer-seconds 10]

Per world: highway-env's env (gym.make, random actions: meta-actions, or racetrack's and parking's uniform commands), our single env (gym.make, float64 as shipped),
and our CPU batch (float32) over a sweep of ``num_envs``. Env-steps/s counts policy steps; a finished
episode is reset (the single envs) or autoreset in the kernel (the batch) inside the timed loop. The
target per world: single env >= 200x highway-env's, the 1,024-env batch >= 1,000x.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import gymnasium as gym

import envs  # noqa: F401
from agents.common.io import write_json
from agents.run import package_versions
from scripts.bench import machine
from scripts.bench.highway import single_env_rate, vector_env_rate

RESULTS = Path("docs/results/benchmark-worlds.json")
#: world -> (our env id, highway-env's id)
WORLDS = {
    "merge": ("autodrive/Merge-v0", "merge-v0"),
    "exit": ("autodrive/Exit-v0", "exit-v0"),
    "roundabout": ("autodrive/Roundabout-v0", "roundabout-v0"),
    "racetrack": ("autodrive/Racetrack-v0", "racetrack-v0"),
    "parking": ("autodrive/Parking-v0", "parking-v0"),
    "intersection": ("autodrive/Intersection-v0", "intersection-v0"),
}
NUM_ENVS = (1, 16, 256, 1024, 4096, 16384)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seconds", type=float, default=2.0, help="measuring time per case (ours)")
    parser.add_argument(
        "--peer-seconds", type=float, default=10.0, help="measuring time per highway-env case"
    )
    parser.add_argument("--worlds", nargs="+", default=list(WORLDS), choices=list(WORLDS))
    parser.add_argument("--quick", action="store_true", help="short runs (for a smoke run)")
    parser.add_argument("--out", default=str(RESULTS))


def run(args: argparse.Namespace) -> dict:
    seconds = 0.3 if args.quick else args.seconds
    peer_seconds = 1.0 if args.quick else args.peer_seconds
    result: dict = {"benchmark": "worlds", "machine": machine(), "versions": package_versions(), "cases": []}
    import highway_env  # noqa: F401  (registers highway-env's ids)

    print(f"{'case':52s} {'env-steps/s':>14s} {'vs highway-env':>14s}")
    for world in args.worlds:
        ours, peer = WORLDS[world]
        with warnings.catch_warnings():  # merge/exit/roundabout-v0 are "out of date" for v1 variants
            warnings.simplefilter("ignore", DeprecationWarning)
            peer_rate = single_env_rate(gym.make(peer), peer_seconds)
        cases = [(f"highway-env {peer} (single, gym.make)", peer_rate, {})]
        cases.append((f"ours {ours} (single, gym.make)", single_env_rate(gym.make(ours), seconds), {}))
        for n in NUM_ENVS[:4] if args.quick else NUM_ENVS:
            value = vector_env_rate(ours, n, seconds)
            cases.append((f"ours {ours} (CPU batch, {n} envs)", value, {"num_envs": n}))
        for case, value, extra in cases:
            row = {
                "world": world,
                "case": case,
                "env_steps_per_s": value,
                "vs_highway_env": value / peer_rate,
            }
            result["cases"].append({**row, **extra})
            print(f"{case:52s} {value:14,.0f} {value / peer_rate:13.1f}x", flush=True)
    write_json(args.out, result)
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    add_arguments(parser)
    run(parser.parse_args())
