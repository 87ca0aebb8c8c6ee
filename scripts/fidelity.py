"""Fidelity to highway-env, measured: step by step on seeded scenes, and statistically over episodes.

    autodrive fidelity                               # 20 scenes per preset and policy, 200 episodes
    autodrive fidelity --scenes 5 --episodes 100 --out /tmp/fidelity.json
    autodrive fidelity --presets merge --update          # re-measure one world, keep the others' rows
    autodrive fidelity --presets exit parking --configs multi-agent --update   # only those step cases

Step by step: each seeded highway-env scene (``envs.highway.fidelity.highway_env_scene``) is loaded into
our single env (float64 and float32) and both run 10 policy steps of IDLE and of random actions.
The script records the largest observation and reward differences and any step whose
crash/terminated flags differ. The OccupancyGrid and four non-default observation configs
(``envs.highway.fidelity.OBSERVATION_CONFIGS``) are compared the same way on random actions, and so
are non-default world configs (``envs.highway.fidelity.WORLD_CONFIGS``: reward weights, frequencies,
traffic) under both policies, and DiscreteMetaAction's options (``ACTION_CONFIGS``: lateral-only,
longitudinal-only with four target speeds) under random actions, and several controlled vehicles with
highway-env's tuple API (``MULTI_AGENT_CONFIGS``; intersection-multi-agent-v0 by default).
intersection-v0 runs without new
vehicles during the episode (``STEP_CONFIGS``: each simulator draws them from its own stream). parking-v0 is compared on its
KinematicsGoal observation under zero, full-throttle and random commands.
Statistics: 200 episodes per fixed policy in our batch (float32) against highway-env's stored
episodes (``tests/data/highway_reference_*.json``, from ``scripts/highway_reference.py``); ``z`` is
the gap in means over the standard error of the difference. Writes ``docs/results/fidelity-highway.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from agents.common.io import write_json  # noqa: E402
from agents.run import package_versions  # noqa: E402
from envs.highway import fidelity as fid  # noqa: E402
from scripts.bench import machine  # noqa: E402

RESULTS = ROOT / "docs" / "results" / "fidelity-highway.json"


def step_fidelity(presets: list[str], scenes: int, configs: list[str] | None = None) -> list[dict]:
    rows = []
    # "default": the world's own observation (Kinematics; exit-v0's ExitObservation)
    cases = [("default", "float64", p, None) for p in ("idle", "random")]
    cases += [("default", "float32", "random", None), ("occupancy_grid", "float64", "random", None)]
    cases += [("time_to_collision", "float64", "random", None)]
    cases += [(name, "float64", "random", None) for name in fid.OBSERVATION_CONFIGS]
    cases += [("default", "float64", p, "world-config") for p in ("idle", "random")]
    cases += [("default", "float64", "random", name) for name in fid.ACTION_CONFIGS]
    cases += [("default", "float64", "right", None)]  # always LANE_RIGHT: exit-v0's goal, the merge ramp
    cases += [("default", "float64", "faster", None)]  # parking: full throttle into a wall or a spot
    cases += [("default", "float64", p, "multi-agent") for p in ("idle", "random", "faster")]
    for preset in presets:
        for observation, precision, policy, world_config in cases:
            if configs is not None and (world_config or "default") not in configs:
                continue
            if world_config == "world-config" and preset not in fid.WORLD_CONFIGS:
                continue
            if world_config == "multi-agent" and (
                preset not in fid.MULTI_AGENT_CONFIGS or (preset == "racetrack" and policy != "idle")
            ):
                continue
            if (policy == "faster") != (preset == "parking"):
                continue  # the other worlds' FASTER is covered by random actions
            if preset == "parking" and (observation != "default" or world_config in fid.ACTION_CONFIGS):
                continue  # parking-v0 is a goal task: its reward reads KinematicsGoal, its ego ContinuousAction
            if preset.startswith("intersection") and (
                observation not in ("default", "occupancy_grid") or world_config in fid.ACTION_CONFIGS
                or policy == "right"
            ):  # fmt: skip
                continue  # longitudinal meta-actions only (no LANE_RIGHT); its own Kinematics
            if preset == "racetrack" and (
                observation == "time_to_collision" or world_config in fid.ACTION_CONFIGS
            ):
                # highway-env cannot run these: its TimeToCollision reads the meta-action speeds a plain
                # Vehicle lacks, and its racetrack-v0 cannot place an MDPVehicle (DiscreteMetaAction)
                continue
            config = fid.STEP_CONFIGS.get(preset)
            if world_config == "world-config":
                config = fid.WORLD_CONFIGS.get(preset)
            if world_config == "multi-agent":
                config = fid.MULTI_AGENT_CONFIGS[preset]
            config = fid.ACTION_CONFIGS.get(world_config, config)
            start = time.perf_counter()
            obs_config = (
                None if observation == "default" else fid.OBSERVATION_CONFIGS.get(observation, observation)
            )
            worst = [
                fid.compare_steps(preset, s, policy, 10, obs_config, precision, config) for s in range(scenes)
            ]
            row = {
                "preset": preset, "observation": observation, "precision": precision, "policy": policy,
                "config": world_config or "default",
                "scenes": scenes, "steps": sum(w["steps"] for w in worst),
                "max_obs_diff": max(w["obs"] for w in worst), "max_reward_diff": max(w["reward"] for w in worst),
                "flag_mismatches": sum(w["mismatch"] is not None for w in worst),
                "seconds": time.perf_counter() - start,
            }  # fmt: skip
            rows.append(row)
            print(
                f"{preset:12s} {observation:14s} {world_config or 'default':12s} {precision} {policy:6s}: obs {row['max_obs_diff']:.1e}, "
                f"reward {row['max_reward_diff']:.1e}, flag mismatches {row['flag_mismatches']}/{scenes}",
                flush=True,
            )
    return rows


def statistical_fidelity(presets: list[str], episodes: int) -> list[dict]:
    rows = []
    for preset in presets:
        path = ROOT / "tests" / "data" / f"highway_reference_{preset.replace('-', '_')}.json"
        reference = json.loads(path.read_text())["policies"]
        for policy in fid.POLICIES:
            runs = reference.get(policy, {}).get("runs", [])
            if len(runs) < 30:
                continue
            returns, crashed = fid.run_episodes(preset, policy, episodes)
            for name, ours, theirs in (
                ("return", returns, np.array([r["return"] for r in runs])),
                ("crash_rate", crashed.astype(float), np.array([r["crashed"] for r in runs], float)),
            ):
                row = {
                    "preset": preset,
                    "policy": policy,
                    "metric": name,
                    **fid.compare_statistics(ours, theirs),
                }
                rows.append(row)
                print(
                    f"{preset:12s} {policy:6s} {name:10s}: ours {row['ours']:.3f} ± {row['ours_se']:.3f}, "
                    f"highway-env {row['theirs']:.3f} ± {row['theirs_se']:.3f} (n={row['theirs_n']}), "
                    f"z {row['z']:+.2f}",
                    flush=True,
                )
    return rows


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--presets", nargs="+", default=list(fid.HIGHWAY_ENV_IDS), choices=list(fid.HIGHWAY_ENV_IDS)
    )
    parser.add_argument("--update", action="store_true", help="keep other presets' rows already in --out")
    parser.add_argument("--scenes", type=int, default=20, help="seeded scenes per preset and policy")
    parser.add_argument("--episodes", type=int, default=200, help="our episodes per policy (statistics)")
    parser.add_argument(
        "--configs", nargs="+", default=None,
        help="only these step cases' configs (default, world-config, multi-agent, or an ACTION_CONFIGS name); "
        "with --update the other rows of these presets are kept",
    )  # fmt: skip
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)
    result = {
        "benchmark": "fidelity-highway",
        "machine": machine(),
        "versions": package_versions(),
        "step": step_fidelity(args.presets, args.scenes, args.configs),
        "statistics": [] if args.configs else statistical_fidelity(args.presets, args.episodes),
    }
    if args.update and Path(args.out).exists():
        old = json.loads(Path(args.out).read_text())
        for key in ("step", "statistics"):
            if args.configs and key == "statistics":  # step cases only: every statistic is kept
                result[key] = old.get(key, [])
                continue
            redone = {(r["preset"], r.get("config")) for r in result[key]} if args.configs else set()
            result[key] = [
                r for r in old.get(key, [])
                if r["preset"] not in args.presets or (args.configs and (r["preset"], r.get("config")) not in redone)
            ] + result[key]  # fmt: skip
    write_json(args.out, result)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
