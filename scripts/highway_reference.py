"""Regenerate highway-env's reference statistics for the statistical fidelity test.

Runs highway-env's own ``highway-v0`` / ``highway-fast-v0`` / ``merge-v0`` / ``exit-v0`` / ``roundabout-v0`` /
``racetrack-v0`` / ``parking-v0`` with fixed policies (always IDLE, always SLOWER, always FASTER, always LANE_RIGHT, uniformly
random; under ContinuousAction, idle is zero commands, faster full acceleration straight ahead and random
uniform commands in [-1, 1]) and stores every episode's return, length and final crash flag in
``tests/data/highway_reference_<preset>.json`` (under ``policies.<name>.runs``, with summaries beside). ``tests/test_highway_statistics.py`` compares our
simulator's means against these within three standard errors.

highway-v0 steps about 6 times a second on a 2-core machine, so 200 episodes x 3 policies take about an
hour: the file is rewritten atomically every few episodes, so an interrupted run leaves usable (fewer)
episodes, and ``--resume`` continues where it stopped.

    python scripts/highway_reference.py --preset highway-fast --episodes 200
    nice -n 10 python scripts/highway_reference.py --preset highway --episodes 200 --resume
    python scripts/highway_reference.py --preset exit --policies idle slower right random
    python scripts/highway_reference.py --preset racetrack --policies idle random
    python scripts/highway_reference.py --preset parking --policies idle faster random
    python scripts/highway_reference.py --preset intersection-multi-agent --policies idle slower faster random
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import gymnasium as gym
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from agents.common.io import write_json  # noqa: E402
from envs.highway.fidelity import HIGHWAY_ENV_IDS, policy_action  # noqa: E402

POLICIES = ("idle", "slower", "faster", "right", "random")
SEED_OFFSET = 10_000  # episode k of a policy is reset with seed SEED_OFFSET + k


def default_output(preset: str) -> Path:
    return ROOT / "tests" / "data" / f"highway_reference_{preset.replace('-', '_')}.json"


def run_episode(env, policy: str, seed: int) -> dict:
    """Run one episode of highway-env under a fixed policy; return its summary."""
    rng = np.random.default_rng(seed)
    env.reset(seed=seed)
    total, steps, crashed = 0.0, 0, False
    continuous = env.action_space.shape is not None and len(env.action_space.shape) > 0
    if continuous and policy not in ("idle", "faster", "random"):
        raise ValueError(
            f"policy {policy!r} is a meta-action; a ContinuousAction env takes idle, faster or random"
        )
    agents = len(env.action_space) if isinstance(env.action_space, gym.spaces.Tuple) else 0
    single = env.action_space[0] if agents else env.action_space
    while True:
        if agents:  # MultiAgentAction: the policy for every controlled vehicle (random: each its own)
            if policy == "random":
                action = tuple(int(a) for a in rng.integers(single.n, size=agents))
            else:
                action = (
                    policy_action(policy, tuple(env.action_type.agents_action_types[0].actions_indexes)),
                ) * agents
        elif continuous:  # idle: zero commands; faster: full acceleration; random: uniform in [-1, 1]
            shape = env.action_space.shape
            if policy == "random":
                action = rng.uniform(-1, 1, shape).astype(np.float32)
            else:
                action = np.zeros(shape, np.float32)
                action[0] = 1.0 if policy == "faster" else 0.0
        elif policy == "random":
            action = int(rng.integers(env.action_space.n))
        else:  # the fixed meta-action by name: intersection-v0's action set is SLOWER, IDLE, FASTER
            action = policy_action(policy, tuple(env.action_type.actions_indexes))
        _, reward, terminated, truncated, info = env.step(action)
        total += float(reward)
        steps += 1
        if terminated or truncated:
            crashed = bool(info["crashed"])
            break
    if agents:  # every controlled vehicle's final crash flag, not only the first one's
        return {"return": total, "length": steps, "crashed": crashed,
                "agents_crashed": [bool(v.crashed) for v in env.controlled_vehicles]}  # fmt: skip
    return {"return": total, "length": steps, "crashed": crashed}


def summarise(episodes: list[dict]) -> dict:
    returns = np.array([e["return"] for e in episodes], dtype=np.float64)
    crashes = np.array([e["crashed"] for e in episodes], dtype=np.float64)
    n = len(episodes)
    se = lambda a: float(a.std(ddof=1) / np.sqrt(n)) if n > 1 else float("nan")  # noqa: E731
    return {
        "episodes": n,
        "mean_return": float(returns.mean()) if n else float("nan"),
        "se_return": se(returns),
        "crash_rate": float(crashes.mean()) if n else float("nan"),
        "se_crash_rate": se(crashes),
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--preset", choices=sorted(HIGHWAY_ENV_IDS), default="highway-fast")
    parser.add_argument("--episodes", type=int, default=200, help="episodes per policy")
    parser.add_argument("--policies", nargs="+", choices=POLICIES, default=["idle", "slower", "random"])
    parser.add_argument("--output", type=Path, default=None)
    parser.add_argument("--resume", action="store_true", help="keep episodes already in the output file")
    parser.add_argument("--save-every", type=int, default=5, help="rewrite the file every N episodes")
    args = parser.parse_args(argv)

    import highway_env

    output = args.output or default_output(args.preset)
    data = {"policies": {}}
    if args.resume and output.exists():
        data = json.loads(output.read_text())
    data.update(
        {
            "highway_env_id": HIGHWAY_ENV_IDS[args.preset],
            "highway_env_version": highway_env.__version__,
            "preset": args.preset,
            "seed_offset": SEED_OFFSET,
            "machine": f"{platform.machine()} {platform.processor() or ''} {platform.node()}".strip(),
            "command": "python scripts/highway_reference.py " + " ".join(argv or sys.argv[1:]),
        }
    )
    env = gym.make(HIGHWAY_ENV_IDS[args.preset]).unwrapped
    start = time.perf_counter()
    for policy in args.policies:
        entry = data["policies"].setdefault(policy, {"runs": []})
        episodes = entry["runs"]
        for k in range(len(episodes), args.episodes):
            episodes.append(run_episode(env, policy, SEED_OFFSET + k))
            if (k + 1) % args.save_every == 0 or k + 1 == args.episodes:
                entry.update(summarise(episodes))
                data["elapsed_s"] = data.get("elapsed_s", 0.0) + time.perf_counter() - start
                start = time.perf_counter()
                write_json(output, data)
                print(f"{args.preset} {policy}: {k + 1}/{args.episodes} {summarise(episodes)}", flush=True)
    env.close()
    return data


if __name__ == "__main__":
    main()
