"""Peer comparison in one run, same step budget: stable-baselines3's DQN on highway-env vs our DQN on ours.

python scripts/benchmark.py agents [--steps 20000] [--episodes 100]
python scripts/bench/agents.py --steps 20000          # standalone

Peer: highway-env's own quick-start recipe (SB3 DQN, ``agents/hyperparams/sb3-dqn.yaml``) trained on
``highway-fast-v0``. Ours: ``agents/hyperparams/dqn.yaml`` trained on ``autodrive/HighwayFast-v0``
with the same number of env steps. Both are evaluated greedily on highway-env's ``highway-fast-v0``
(ours also on its own env). Reports training wall-clock, their ratio, returns and crash rates.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from agents import load_policy, train_run
from agents.common.evaluation import evaluate_policy
from agents.common.io import read_json, write_json
from agents.run import package_versions
from scripts.bench import machine

RESULTS = Path("docs/results/agents-peer.json")
PEER_ENV, OUR_ENV = "highway-fast-v0", "autodrive/HighwayFast-v0"
SUMMARY = ("mean_return", "std_return", "crash_rate", "episodes")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--steps", type=int, default=20_000, help="env steps for both (highway-env's recipe: 20k)"
    )
    parser.add_argument("--episodes", type=int, default=100, help="greedy evaluation episodes")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--runs-dir", default=None, help="keep the two run directories here (default: temp)")
    parser.add_argument("--out", default=str(RESULTS))


def _train(algo: str, env_id: str, args: argparse.Namespace, runs_dir: Path) -> tuple[Path, dict]:
    run = train_run(
        algo, env_id, steps=args.steps, seed=args.seed, device="cpu", out=runs_dir / f"{algo}-{env_id.split('/')[-1]}",
        eval_episodes=args.episodes, progress=False, tensorboard=False,
    )  # fmt: skip
    return run, read_json(run / "eval.json")


def run(args: argparse.Namespace) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        runs_dir = Path(args.runs_dir or tmp)
        peer_run, peer_eval = _train("sb3-dqn", PEER_ENV, args, runs_dir)
        our_run, our_eval = _train("dqn", OUR_ENV, args, runs_dir)
        our_on_peer = evaluate_policy(load_policy(our_run), PEER_ENV, episodes=args.episodes)
    peer_s, our_s = peer_eval["train_seconds"], our_eval["train_seconds"]
    result = {
        "benchmark": "agents",
        "machine": machine(),
        "versions": package_versions(),
        "steps": args.steps,
        "seed": args.seed,
        "peer": {
            "what": f"stable-baselines3 DQN, highway-env recipe, trained on {PEER_ENV}",
            "train_seconds": peer_s,
            f"eval_{PEER_ENV}": {k: peer_eval.get(k) for k in SUMMARY},
        },
        "ours": {
            "what": f"agents.dqn trained on {OUR_ENV}",
            "train_seconds": our_s,
            f"eval_{OUR_ENV}": {k: our_eval.get(k) for k in SUMMARY},
            f"eval_{PEER_ENV}": {k: our_on_peer.get(k) for k in SUMMARY},
        },
        "wall_clock_ratio_peer_over_ours": round(peer_s / max(our_s, 1e-9), 2),
    }
    write_json(args.out, result)
    print(
        f"{args.steps} steps: SB3 DQN on {PEER_ENV} {peer_s:.0f} s, return {peer_eval['mean_return']:.2f}, "
        f"crash {peer_eval.get('crash_rate', float('nan')):.0%} | ours {our_s:.0f} s "
        f"({result['wall_clock_ratio_peer_over_ours']}x faster), return on {PEER_ENV} "
        f"{our_on_peer['mean_return']:.2f}, crash {our_on_peer.get('crash_rate', float('nan')):.0%}"
    )
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    add_arguments(parser)
    run(parser.parse_args())
