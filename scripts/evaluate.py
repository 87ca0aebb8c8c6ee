#!/usr/bin/env python
"""Evaluate a trained run greedily on any env with the same observation and action spaces.

autodrive evaluate runs/<run>                                         # the env it was trained on
autodrive evaluate runs/<run> --env highway-fast-v0 --episodes 100    # highway-env's own

Prints and writes JSON (default RUN_DIR/eval-<env>.json) with mean_return, std_return, crash_rate, episodes.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from agents.common.evaluation import evaluate_policy  # noqa: E402
from agents.common.hparams import parse_key_values  # noqa: E402
from agents.common.io import read_yaml, write_json  # noqa: E402


def evaluate_run(
    run_dir: Path, env_id: str | None, episodes: int, seed: int, env_kwargs: dict | None, device: str
) -> dict:
    """Load ``run_dir``'s policy and evaluate it on ``env_id`` (default: the env it was trained on)."""
    from agents import load_policy
    from agents.common.envs import check_env_kwargs

    config = read_yaml(run_dir / "config.yaml")
    if env_id is None:
        env_id, env_kwargs = config["env_id"], {**config["env_kwargs"], **(env_kwargs or {})}
    check_env_kwargs(env_id, env_kwargs)
    policy = load_policy(run_dir, device=device)
    _check_spaces(policy, env_id, env_kwargs or {})
    result = evaluate_policy(policy, env_id, episodes=episodes, seed=seed, env_kwargs=env_kwargs)
    return {"run_dir": str(run_dir), "algo": config["algo"], "trained_on": config["env_id"], **result}


def _check_spaces(policy, env_id: str, env_kwargs: dict) -> None:
    import gymnasium as gym

    obs_shape = getattr(policy, "obs_shape", None)
    if obs_shape is None:
        return
    env = gym.make(env_id, **env_kwargs)
    try:
        obs_space, act_space = env.observation_space, env.action_space
    finally:
        env.close()
    shape = obs_space.shape  # None for Dict/Tuple spaces (highway-env's parking-v0)
    if shape is None or tuple(shape) != tuple(obs_shape) or getattr(act_space, "n", None) != policy.n_actions:
        raise ValueError(
            f"{env_id} has observations {shape if shape is not None else obs_space} and actions "
            f"{act_space}; the policy expects observations {tuple(obs_shape)} and Discrete({policy.n_actions})"
        )


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "run_dir",
        type=Path,
        help="a run directory written by autodrive train, e.g. agents/pretrained/highway-fast-dqn",
    )
    parser.add_argument(
        "--env",
        default=None,
        help="env id (default: the one the run was trained on), ours or highway-env's (highway-fast-v0, merge-v0, ...)",
    )
    parser.add_argument("--env-kwargs", nargs="*", default=[], metavar="K=V", help="env config fields")
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--seed", type=int, default=10_000)
    parser.add_argument("--device", default="cpu", help="cpu | cuda[:N] (where the policy runs)")
    parser.add_argument("--out", type=Path, default=None, help="JSON path (default RUN_DIR/eval-<env>.json)")
    args = parser.parse_args(argv)
    try:
        result = evaluate_run(
            args.run_dir, args.env, args.episodes, args.seed, parse_key_values(args.env_kwargs), args.device
        )
    except (ValueError, FileNotFoundError) as exc:
        parser.error(str(exc))
    out = args.out or args.run_dir / f"eval-{result['env_id'].replace('/', '_')}.json"
    write_json(out, result)
    print(json.dumps(result, indent=2))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
