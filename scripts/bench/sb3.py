"""stable-baselines3 through our batched envs: the SB3VecEnv adapter vs SB3's DummyVecEnv, same run.

python scripts/benchmark.py sb3 [--num-envs 16] [--steps 16384]

Per env id, the same SB3 PPO (MlpPolicy, n_steps 128, batch 256, one epoch per rollout: the collection
cost shows) learns ``--steps`` env steps twice: on ``SB3VecEnv`` over the id's batched env (one kernel
launch per step for every env) and on ``DummyVecEnv`` over ``num_envs`` single envs (SB3's default,
stepped one at a time). Also the bare VecEnv step rate with random actions. Reports steps/s and the
ratio adapter / DummyVecEnv.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import gymnasium as gym
import numpy as np

import envs  # noqa: F401
from agents.common.io import write_json
from agents.run import package_versions
from agents.sb3 import SB3VecEnv
from scripts.bench import machine, rate

RESULTS = Path("docs/results/benchmark-sb3.json")
ENV_IDS = ("autodrive/HighwayFast-v0", "autodrive/Merge-v0")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--num-envs", type=int, default=16)
    parser.add_argument("--steps", type=int, default=16_384, help="env steps PPO learns on each VecEnv")
    parser.add_argument("--seconds", type=float, default=2.0, help="measuring time of the bare step rate")
    parser.add_argument("--out", default=str(RESULTS))


def _vec_envs(env_id: str, n: int) -> dict:
    from stable_baselines3.common.vec_env import DummyVecEnv

    return {
        "SB3VecEnv (batched)": lambda: SB3VecEnv(
            gym.make_vec(env_id, num_envs=n, vectorization_mode="vector_entry_point")
        ),
        "DummyVecEnv": lambda: DummyVecEnv([lambda: gym.make(env_id)] * n),
    }


def _step_rate(venv, seconds: float) -> float:
    venv.seed(0)
    venv.reset()
    rng = np.random.default_rng(0)
    actions = [rng.integers(venv.action_space.n, size=venv.num_envs) for _ in range(8)]
    i = 0

    def step() -> int:
        nonlocal i
        venv.step(actions[i % 8])
        i += 1
        return venv.num_envs

    return rate(step, seconds, warmup=2)


def _learn_rate(venv, steps: int) -> float:
    import torch
    from stable_baselines3 import PPO

    torch.manual_seed(0)
    model = PPO("MlpPolicy", venv, n_steps=128, batch_size=256, n_epochs=1, seed=0, verbose=0, device="cpu")
    t0 = time.perf_counter()
    model.learn(total_timesteps=steps)
    return steps / (time.perf_counter() - t0)


def run(args: argparse.Namespace) -> dict:
    result: dict = {"benchmark": "sb3", "machine": machine(), "versions": package_versions(), "cases": []}
    print(f"{'env':26s} {'VecEnv':22s} {'env steps/s':>12s} {'PPO steps/s':>12s}")
    for env_id in ENV_IDS:
        rates = {}
        for name, make in _vec_envs(env_id, args.num_envs).items():
            venv = make()
            step = _step_rate(venv, args.seconds)
            learn = _learn_rate(venv, args.steps)
            venv.close()
            rates[name] = (step, learn)
            row = {"env_id": env_id, "vec_env": name, "num_envs": args.num_envs, "env_steps_per_s": step,
                   "ppo_steps_per_s": learn}  # fmt: skip
            result["cases"].append(row)
            print(f"{env_id:26s} {name:22s} {step:12,.0f} {learn:12,.0f}", flush=True)
        (bs, bl), (ds, dl) = rates["SB3VecEnv (batched)"], rates["DummyVecEnv"]
        result["cases"].append({"env_id": env_id, "vec_env": "ratio adapter / DummyVecEnv",
                                "num_envs": args.num_envs, "env_steps_per_s": bs / ds, "ppo_steps_per_s": bl / dl})  # fmt: skip
        print(f"{env_id:26s} {'ratio':22s} {bs / ds:11.1f}x {bl / dl:11.1f}x", flush=True)
    write_json(args.out, result)
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    add_arguments(parser)
    run(parser.parse_args())
