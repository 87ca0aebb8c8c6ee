"""Highway throughput vs highway-env, measured in the same run.

python scripts/benchmark.py highway [--seconds 2] [--peer-seconds 10] [--num-envs 1024]
python scripts/bench/highway.py --quick        # standalone, shorter sweeps

Cases: highway-env's highway-v0/highway-fast-v0 (gym.make, random actions) and ours: single env
(gym.make, float64 as shipped and float32), the CPU batch at --num-envs, steps/s as vehicles_count and
num_envs grow, torch outputs on CPU, a fresh process's start-up (kernels loaded from the cache), and a CUDA
device when one is present. Env-steps/s counts policy steps (1 s of simulated time each with the default
presets). The CPU cases use every core the machine has (``AUTODRIVE_THREADS`` slices per launch).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import gymnasium as gym
import numpy as np

import envs  # noqa: F401
from agents.common.io import write_json
from agents.run import package_versions
from scripts.bench import machine, rate

RESULTS = Path("docs/results/benchmark-highway.json")
OURS = {"highway": "autodrive/Highway-v0", "highway-fast": "autodrive/HighwayFast-v0"}
PEERS = {"highway": "highway-v0", "highway-fast": "highway-fast-v0"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seconds", type=float, default=2.0, help="measuring time per case (ours)")
    parser.add_argument(
        "--peer-seconds", type=float, default=10.0, help="measuring time per highway-env case"
    )
    parser.add_argument("--num-envs", type=int, default=1024, help="batch size of the CPU batch cases")
    parser.add_argument("--max-num-envs", type=int, default=65536, help="largest batch in the num_envs sweep")
    parser.add_argument("--quick", action="store_true", help="short sweeps (for a smoke run)")
    parser.add_argument("--out", default=str(RESULTS))


def random_actions(space: gym.Space, count: int, batch: int | None = None) -> list:
    """``count`` seeded random actions of ``space`` (uniformly random meta-actions, or commands uniform
    in a Box), each of shape ``(batch, ...)`` when ``batch`` is given."""
    rng = np.random.default_rng(0)
    shape = () if batch is None else (batch,)
    if isinstance(space, gym.spaces.Box):
        return [
            rng.uniform(space.low, space.high, (*shape, *space.shape)).astype(space.dtype)
            for _ in range(count)
        ]
    if batch is None:
        return rng.integers(int(space.n), size=count).tolist()
    return [rng.integers(int(space.n), size=batch) for _ in range(count)]


def single_env_rate(env: gym.Env, seconds: float) -> float:
    env.reset(seed=0)
    actions = random_actions(env.action_space, 4096)
    i = 0

    def step() -> int:
        nonlocal i
        _, _, term, trunc, _ = env.step(actions[i % 4096])
        i += 1
        if term or trunc:
            env.reset()
        return 1

    return rate(step, seconds, warmup=2)


def vector_env_rate(env_id: str, num_envs: int, seconds: float, **kwargs) -> float:
    venv = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="vector_entry_point", **kwargs)
    venv.reset(seed=0)
    actions = random_actions(venv.single_action_space, 8, num_envs)
    if kwargs.get("backend") == "torch" or str(kwargs.get("device", "cpu")).startswith("cuda"):
        import torch

        actions = [torch.as_tensor(a, device=venv.unwrapped.device) for a in actions]
        sync = torch.cuda.synchronize if str(venv.unwrapped.device).startswith("cuda") else (lambda: None)
    else:
        sync = lambda: None  # noqa: E731
    i = 0

    def step() -> int:
        nonlocal i
        venv.step(actions[i % 8])
        sync()
        i += 1
        return num_envs

    return rate(step, seconds, warmup=2)


def fresh_process_start() -> float:
    """Seconds a new Python process takes to make, reset and step HighwayFast (imports included)."""
    code = (
        "import time; t = time.perf_counter(); import gymnasium as gym, envs; "
        "e = gym.make('autodrive/HighwayFast-v0'); e.reset(seed=0); e.step(1); "
        "print(time.perf_counter() - t)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def run(args: argparse.Namespace) -> dict:
    seconds = 0.5 if args.quick else args.seconds
    result: dict = {"benchmark": "highway", "machine": machine(), "versions": package_versions(), "cases": []}

    def record(case: str, value: float, peer: str | None = None, **extra) -> None:
        row = {"case": case, "env_steps_per_s": value, **extra}
        if peer is not None and result.get("peer", {}).get(peer):
            row["vs_highway_env"] = value / result["peer"][peer]
            row["peer"] = peer
        result["cases"].append(row)
        ratio = f"{row['vs_highway_env']:10.1f}x" if "vs_highway_env" in row else ""
        print(f"{case:58s} {value:14,.0f} {ratio:>12s}", flush=True)

    print(f"{'case':58s} {'env-steps/s':>14s} {'vs highway-env':>12s}")
    import highway_env  # noqa: F401  (registers highway-v0, highway-fast-v0)

    result["peer"] = {}
    for preset in ("highway-fast", "highway"):
        peer_rate = single_env_rate(gym.make(PEERS[preset]), 2.0 if args.quick else args.peer_seconds)
        result["peer"][preset] = peer_rate
        record(f"highway-env {PEERS[preset]} (single, gym.make)", peer_rate)
    for preset in ("highway-fast", "highway"):
        record(
            f"ours {OURS[preset]} (single, gym.make)",
            single_env_rate(gym.make(OURS[preset]), seconds),
            preset,
        )
    record(
        f"ours {OURS['highway-fast']} (single, gym.make, float32)",
        single_env_rate(gym.make(OURS["highway-fast"], precision="float32"), seconds),
        "highway-fast",
    )
    start_s = fresh_process_start()
    result["fresh_process_start_s"] = start_s
    print(f"a fresh process makes, resets and steps an env in {start_s:.2f} s (kernels from the cache)")
    for preset in ("highway-fast", "highway"):
        value = vector_env_rate(OURS[preset], args.num_envs, seconds)
        record(
            f"ours {OURS[preset]} (CPU batch, {args.num_envs} envs)", value, preset, num_envs=args.num_envs
        )

    # how cost scales with vehicles per env and with envs per batch (highway-fast dynamics)
    for count in (10, 20, 50, 100):
        value = vector_env_rate(OURS["highway-fast"], args.num_envs, seconds, vehicles_count=count)
        record(
            f"ours HighwayFast vehicles_count={count} (CPU batch, {args.num_envs} envs)",
            value,
            "highway-fast",
            vehicles_count=count,
            num_envs=args.num_envs,
        )
    sizes = [1, 4, 16, 64, 256, 4096] + ([16384, args.max_num_envs] if not args.quick else [])
    for n in sizes:
        value = vector_env_rate(OURS["highway-fast"], n, seconds)
        record(f"ours HighwayFast (CPU batch, {n} envs)", value, "highway-fast", num_envs=n)
    for n in (1, 64, 4096):
        value = vector_env_rate(OURS["highway"], n, seconds)
        record(f"ours Highway (CPU batch, {n} envs)", value, "highway", num_envs=n)
    import torch

    value = vector_env_rate(OURS["highway-fast"], args.num_envs, seconds, backend="torch")
    record(
        f"ours HighwayFast (CPU batch, torch outputs, {args.num_envs} envs)",
        value,
        "highway-fast",
        num_envs=args.num_envs,
        backend="torch-cpu",
    )

    if torch.cuda.is_available():
        result["cuda_device"] = torch.cuda.get_device_name(0)
        for preset in ("highway-fast", "highway"):
            for n in (1024, 16384, 65536, 262144, 1048576):
                value = vector_env_rate(OURS[preset], n, seconds, device="cuda")
                record(
                    f"ours {OURS[preset]} (CUDA batch, {n} envs)", value, preset, num_envs=n, device="cuda"
                )
    else:
        result["cuda_device"] = None
        print("no CUDA device: GPU cases skipped", file=sys.stderr)
    write_json(args.out, result)
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    add_arguments(parser)
    run(parser.parse_args())
