"""Benchmark scenarios: named, reproducible experiments with success criteria.

A scenario fixes env id + config, algorithm + hyperparameters, step budget, seeds, and criteria on the
final greedy evaluation. ``run_scenario`` trains one run per seed through ``agents.run.train_run``
(the same path as ``scripts/train.py``), checks the criteria, and writes a result JSON that
``scripts/report.py`` aggregates. ``pytest -m scenario`` runs every entry of ``SCENARIOS``.
"""

from __future__ import annotations

import operator
import os
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from agents.common.io import read_json, write_json
from agents.run import package_versions, train_run

OPS = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt}


@dataclass(frozen=True)
class Scenario:
    name: str
    algo: str
    env_id: str
    steps: int
    seeds: tuple[int, ...] = (0,)
    env_kwargs: dict = field(default_factory=dict)
    hp: dict = field(default_factory=dict)
    num_envs: int | None = None
    eval_episodes: int = 100
    # metric -> (op, threshold), checked on the mean over seeds of each run's eval.json metric;
    # "optimality_ratio" is mean_return / optimal_mean_return (envs with an exact model)
    criteria: dict = field(default_factory=dict)
    slow: bool = False
    description: str = ""
    # the trained policy is also evaluated on this env (e.g. highway-env's own): metrics peer_mean_return,
    # peer_crash_rate, peer_off_road_rate, peer_success_rate
    peer_env_id: str | None = None
    peer_episodes: int = 100
    # this scenario runs the same recipe as ``peer_of`` on the peer's env: the report pairs them (ratios)
    peer_of: str | None = None

    def __post_init__(self) -> None:
        _check_criteria(self.name, self.criteria)


@dataclass(frozen=True)
class Experiment:
    """A scenario that is not one agent's training run: ``agents.experiments.<function>(work_dir, seed)``
    returns metrics, and the criteria are checked on their mean over seeds."""

    name: str
    function: str  # attribute of agents.experiments
    algo: str  # what is measured, for the report's table
    env_id: str
    seeds: tuple[int, ...] = (0,)
    criteria: dict = field(default_factory=dict)
    slow: bool = True
    description: str = ""

    def __post_init__(self) -> None:
        _check_criteria(self.name, self.criteria)


def _check_criteria(name: str, criteria: dict) -> None:
    for metric, (op, _) in criteria.items():
        if op not in OPS:
            raise ValueError(f"scenario {name}: criterion {metric} has unknown operator {op!r}")


# The targets for a HighwayFast agent: in ours, and (peer_*) in highway-env's highway-fast-v0
DRIVES_BOTH_SIMULATORS = {
    "mean_return": (">=", 25.0),
    "crash_rate": ("<=", 0.05),
    "peer_mean_return": (">=", 24.0),
    "peer_crash_rate": ("<=", 0.08),
    "train_seconds": ("<=", 600.0),  # trained in at most 10 minutes on the 2-core CPU
}

# always-IDLE in highway-env's highway-fast-v0: 11.70 over 200 episodes (tests/data reference); the bar a
# baseline recipe clears when it has learned to drive at all (always-SLOWER scores 20.95, random 8.29)
IDLE_RETURN = 11.7

# The best constant action in merge-v0 is SLOWER: 13.92 with 6.0% crashes over 200 episodes of highway-env's
# merge-v0 (tests/data reference), 13.99 with 4.2% over 2,000 of ours; IDLE, FASTER and LANE_RIGHT crash
# every episode (5.6-5.8), LANE_LEFT scores 6.0 with 78% crashes. A merge agent must beat it in both.
BEATS_CONSTANT_MERGE = {
    "mean_return": (">=", 14.0),
    "crash_rate": ("<=", 0.03),
    "peer_mean_return": (">=", 14.0),
    "peer_crash_rate": ("<=", 0.03),
    "train_seconds": ("<=", 600.0),
}

# exit-v0 pays 1 per step on the exit lane and nothing for a crash (collision_reward 0). The best constant
# action is FASTER: 1.79 with no crashes and no exits over 500 episodes of ours (LANE_RIGHT crashes in 99.8%
# of them, scoring 0.12; IDLE and LANE_LEFT 0.72; SLOWER 0); tests/data holds highway-env's figures.
BEATS_CONSTANT_EXIT = {
    "mean_return": (">=", 2.5),
    "peer_mean_return": (">=", 2.5),
    "train_seconds": ("<=", 600.0),
}

# The best constant action in roundabout-v0 is SLOWER: it stops at the ring and scores 9.17 with no crashes
# over 1,000 episodes of ours (IDLE 8.95 and LANE_RIGHT 8.54 with 23% crashes, FASTER 6.64 with 48%);
# tests/data holds highway-env's figures.
BEATS_CONSTANT_ROUNDABOUT = {
    "mean_return": (">=", 9.3),
    "crash_rate": ("<=", 0.03),
    "peer_mean_return": (">=", 9.3),
    "peer_crash_rate": ("<=", 0.03),
    "train_seconds": ("<=", 600.0),
}

# Zero steering leaves racetrack-v0's road on the first bend: 16.35 over 200 episodes of highway-env's
# racetrack-v0 (tests/data reference; uniformly random steering scores 5.82). A driver must beat it by far:
# an episode lasts up to 1,500 steps, each paying at most 1. PPO's recipe (seed 0, 318 s of training)
# scored 702 in ours and 678 over 100 episodes of racetrack-v0, never off the road: the bars sit well
# under that, at a policy that drives several laps.
RACETRACK_ZERO_STEERING = 16.35
DRIVES_THE_RACETRACK = {
    "mean_return": (">=", 400.0),
    "peer_mean_return": (">=", 400.0),
    "peer_off_road_rate": ("<=", 0.05),
    "train_seconds": ("<=", 600.0),
}
# highway-env's racetrack-v0 steps ~115 times a second here: 30k steps of SB3's PPO (rollouts and updates)
# take at least racetrack-ppo's wall-clock
RACETRACK_PEER_STEPS = 30_000

# parking-v0 is reached when the goal reward (a weighted distance to the goal pose) exceeds -0.12: zero
# commands never get there, random ones crash into a wall in 100% of highway-env's episodes (tests/data).
# SAC with HER must park in 90% of the episodes, in ours and in highway-env's parking-v0.
PARKS = {
    "success_rate": (">=", 0.9),
    "peer_success_rate": (">=", 0.9),
    "train_seconds": ("<=", 600.0),
}
# intersection-v0: always-IDLE (and FASTER: the ego already cruises at 9 m/s) scores 4.55 and crashes in 50% of
# the episodes, over 2,000 of ours and 600 of highway-env's; always-SLOWER stops short of the junction (0, no
# crashes, no arrivals); random actions 1.3 with 41% crashes (tests/data reference). An intersection agent must
# arrive more often and crash far less than driving on blindly, here and in highway-env's intersection-v0.
INTERSECTION_IDLE_RETURN = 4.55
CROSSES_THE_INTERSECTION = {
    "success_rate": (">=", 0.6),
    "crash_rate": ("<=", 0.15),
    "peer_success_rate": (">=", 0.6),
    "peer_crash_rate": ("<=", 0.15),
    "train_seconds": ("<=", 600.0),
}
# highway-env's intersection-v0 steps ~30 times a second here: 15k steps of SB3's PPO take more wall-clock
# than intersection-dqn-attention's training
INTERSECTION_PEER_STEPS = 15_000
# IDM/MOBIL traffic on HighwayFast's road (NPC-NPC collisions checked, the one controlled vehicle falling
# back): 0.0016 crashes per vehicle-km at 20.5 m/s over 100 episodes (agents.common.evaluation.traffic_metrics).
# A road of self-play vehicles must be no less safe and faster.
SELF_PLAY_TRAFFIC = {
    "self_play_crashes_per_vehicle_km": ("<=", 0.0016),
    "self_play_mean_speed": (">=", 20.5),
    "experiment_seconds": ("<=", 600.0),
}
# intersection-multi-agent-v0 driven on blindly (both vehicles always IDLE): both arrive in 66% of 300 episodes
# of ours and 70% of 200 of highway-env's, some vehicle crashes in the rest (34%, 31%;
# agents.common.evaluation.evaluate_joint). A multi-agent policy must do better on both, in both.
BOTH_CROSS_THE_INTERSECTION = {
    "joint_success_rate": (">=", 0.7),
    "any_crash_rate": ("<=", 0.15),
    "peer_joint_success_rate": (">=", 0.7),
    "peer_any_crash_rate": ("<=", 0.15),
    "train_seconds": ("<=", 600.0),
}
PARKING_STEPS = 120_000  # sb3-sac-her.yaml's parking recipe: 60k SAC updates, under 10 minutes here

SCENARIOS: dict[str, Scenario | Experiment] = {
    s.name: s
    for s in [
        Scenario(
            name="gridworld-qlearning-four-rooms",
            algo="qlearning",
            env_id="autodrive/GridWorld-v0",
            env_kwargs={"map_name": "four_rooms", "slip": 0.1},
            steps=4_000_000,
            seeds=(0, 1, 2),
            eval_episodes=1000,
            criteria={"optimality_ratio": (">=", 0.99)},
            description="Q-learning's greedy policy vs the value-iteration optimum, four rooms, slip 0.1",
        ),
        Scenario(
            name="gridworld-value-iteration-maze16",
            algo="value-iteration",
            env_id="autodrive/GridWorld-v0",
            env_kwargs={"map_name": "maze16", "slip": 0.1},
            steps=1,
            eval_episodes=1000,
            criteria={"optimality_ratio": (">=", 0.999)},
            description="value iteration is the yardstick: its greedy policy evaluates to the optimum",
        ),
        *(
            Scenario(
                name=f"gridworld-{algo}-four-rooms",
                algo=algo,
                env_id="autodrive/GridWorld-v0",
                env_kwargs={"map_name": "four_rooms", "slip": 0.1, "observation": "grid"},
                steps=steps,
                eval_episodes=1000,
                criteria={"optimality_ratio": (">=", 0.97)},
                slow=True,
                description=f"{algo.upper()} sees the map as one-hot planes; its greedy policy vs the optimum",
            )
            for algo, steps in (("dqn", 60_000), ("ppo", 200_000))
        ),
        Scenario(
            name="cartpole-dqn",
            algo="dqn",
            env_id="CartPole-v1",
            steps=50_000,
            criteria={"mean_return": (">=", 475.0)},
            slow=True,
            description="DQN on a foreign Box/Discrete env, the shipped CartPole hyperparameters",
        ),
        Scenario(
            name="cartpole-ppo",
            algo="ppo",
            env_id="CartPole-v1",
            steps=100_000,
            criteria={"mean_return": (">=", 475.0)},
            slow=True,
            description="PPO on a foreign Box/Discrete env, the shipped CartPole hyperparameters",
        ),
        Scenario(
            name="pendulum-ppo",
            algo="ppo",
            env_id="Pendulum-v1",
            steps=200_000,
            criteria={"mean_return": (">=", -200.0)},
            slow=True,
            description="PPO's Gaussian policy on continuous torque (Box actions), the shipped Pendulum hyperparameters",
        ),
        Scenario(
            name="highway-fast-dqn",
            algo="dqn",
            env_id="autodrive/HighwayFast-v0",
            steps=400_000,
            criteria=DRIVES_BOTH_SIMULATORS,
            slow=True,
            peer_env_id="highway-fast-v0",
            description="DQN (the default of scripts/train.py) learns to drive on the batched HighwayFast and drives highway-env's",
        ),
        Scenario(
            name="highway-fast-ppo",
            algo="ppo",
            env_id="autodrive/HighwayFast-v0",
            steps=2_400_000,  # ppo.yaml's HighwayFast recipe
            criteria=DRIVES_BOTH_SIMULATORS,
            slow=True,
            peer_env_id="highway-fast-v0",
            description="PPO learns to drive on the batched HighwayFast and drives highway-env's",
        ),
        Scenario(
            name="highway-ppo",
            algo="ppo",
            env_id="autodrive/Highway-v0",
            steps=300_000,
            # always SLOWER scores 27.8 with no crashes in highway-env's highway-v0 (tests/data reference)
            criteria={"mean_return": (">=", 27.8), "crash_rate": ("<=", 0.05)},
            slow=True,
            description="PPO on the full highway-v0 preset (4 lanes, 50 vehicles, 15 Hz): beat always-SLOWER",
        ),
        Scenario(
            name="merge-dqn",
            algo="dqn",
            env_id="autodrive/Merge-v0",
            steps=150_000,
            eval_episodes=1000,
            criteria=BEATS_CONSTANT_MERGE,
            slow=True,
            peer_env_id="merge-v0",
            peer_episodes=200,
            description="DQN on the batched merge world beats always-SLOWER, here and in highway-env's merge-v0",
        ),
        Scenario(
            name="sb3-dqn-highway-env-merge",
            algo="sb3-dqn",
            env_id="merge-v0",
            steps=20_000,
            eval_episodes=200,
            # the peer: SB3's DQN (highway-env's quick-start recipe) trained in highway-env's merge-v0 for
            # at least merge-dqn's wall-clock; the report sets the two side by side. It passes when it
            # learns at all: beats always-IDLE (5.90 in highway-env's merge-v0, tests/data reference).
            criteria={"mean_return": (">=", 5.9)},
            slow=True,
            peer_of="merge-dqn",
            description="peer: stable-baselines3 DQN trained in highway-env's merge-v0 (20k steps)",
        ),
        Scenario(
            name="exit-dqn",
            algo="dqn",
            env_id="autodrive/Exit-v0",
            steps=200_000,
            eval_episodes=1000,
            criteria=BEATS_CONSTANT_EXIT,
            slow=True,
            peer_env_id="exit-v0",
            peer_episodes=200,
            description="DQN on the batched exit world beats always-FASTER, here and in highway-env's exit-v0",
        ),
        Scenario(
            name="sb3-dqn-highway-env-exit",
            algo="sb3-dqn",
            env_id="exit-v0",
            steps=10_000,
            eval_episodes=200,
            # the peer: SB3's DQN trained in highway-env's exit-v0 for about exit-dqn's wall-clock (exit-v0
            # steps ~20 times a second here); it passes when it learns at all: beats always-IDLE (0.72)
            criteria={"mean_return": (">=", 0.72)},
            slow=True,
            peer_of="exit-dqn",
            description="peer: stable-baselines3 DQN trained in highway-env's exit-v0 (10k steps)",
        ),
        Scenario(
            name="roundabout-dqn",
            algo="dqn",
            env_id="autodrive/Roundabout-v0",
            steps=150_000,
            eval_episodes=1000,
            criteria=BEATS_CONSTANT_ROUNDABOUT,
            slow=True,
            peer_env_id="roundabout-v0",
            peer_episodes=200,
            description="DQN on the batched roundabout beats always-SLOWER, here and in highway-env's roundabout-v0",
        ),
        Scenario(
            name="sb3-dqn-highway-env-roundabout",
            algo="sb3-dqn",
            env_id="roundabout-v0",
            steps=10_000,
            eval_episodes=200,
            # the peer: SB3's DQN trained in highway-env's roundabout-v0 for about roundabout-dqn's
            # wall-clock; it passes when it learns at all: beats uniformly random actions (7.3 in
            # highway-env's roundabout-v0, tests/data reference)
            criteria={"mean_return": (">=", 7.3)},
            slow=True,
            peer_of="roundabout-dqn",
            description="peer: stable-baselines3 DQN trained in highway-env's roundabout-v0 (10k steps)",
        ),
        Scenario(
            name="intersection-dqn-attention",
            algo="dqn",
            env_id="autodrive/Intersection-v0",
            steps=150_000,  # dqn.yaml's intersection recipe
            hp={"net": "ego_attention"},
            eval_episodes=300,
            criteria=CROSSES_THE_INTERSECTION,
            slow=True,
            peer_env_id="intersection-v0",
            peer_episodes=200,
            description="DQN with ego attention over the vehicle table crosses the batched intersection and highway-env's intersection-v0",
        ),
        Scenario(
            name="intersection-dqn-mlp",
            algo="dqn",
            env_id="autodrive/Intersection-v0",
            steps=150_000,
            eval_episodes=300,
            # the same recipe with an MLP over the flattened, distance-sorted table: the architecture that
            # is reported to learn nothing at intersection-v0; its bar is only to beat driving on blindly
            criteria={
                "mean_return": (">=", INTERSECTION_IDLE_RETURN),
                "peer_mean_return": (">=", INTERSECTION_IDLE_RETURN),
                "train_seconds": ("<=", 600.0),
            },
            slow=True,
            peer_env_id="intersection-v0",
            peer_episodes=200,
            description="the same DQN recipe with an MLP (side by side with ego attention)",
        ),
        Scenario(
            name="sb3-ppo-highway-env-intersection",
            algo="sb3-ppo",
            env_id="intersection-v0",
            steps=INTERSECTION_PEER_STEPS,
            eval_episodes=200,
            # the peer: SB3's PPO trained in highway-env's intersection-v0 for more than
            # intersection-dqn-attention's wall-clock; it passes when it learns at all: beats random actions
            criteria={"mean_return": (">=", 1.32)},
            slow=True,
            peer_of="intersection-dqn-attention",
            description="peer: stable-baselines3 PPO trained in highway-env's intersection-v0 (15k steps)",
        ),
        Scenario(
            name="racetrack-ppo",
            algo="ppo",
            env_id="autodrive/Racetrack-v0",
            steps=1_200_000,  # ppo.yaml's racetrack recipe
            criteria=DRIVES_THE_RACETRACK,
            slow=True,
            peer_env_id="racetrack-v0",
            peer_episodes=100,
            description="PPO's Gaussian policy steers the batched racetrack and drives highway-env's racetrack-v0",
        ),
        Scenario(
            name="sb3-ppo-highway-env-racetrack",
            algo="sb3-ppo",
            env_id="racetrack-v0",
            steps=RACETRACK_PEER_STEPS,
            # the peer: highway-env's own racetrack PPO example, trained in racetrack-v0 for at least
            # racetrack-ppo's wall-clock; it passes when it learns at all: beats zero steering
            criteria={"mean_return": (">=", RACETRACK_ZERO_STEERING)},
            slow=True,
            peer_of="racetrack-ppo",
            description="peer: stable-baselines3 PPO (highway-env's racetrack example) trained in highway-env's racetrack-v0",
        ),
        Scenario(
            name="parking-sac-her",
            algo="sb3-sac-her",
            env_id="autodrive/Parking-v0",
            steps=PARKING_STEPS,
            criteria=PARKS,
            slow=True,
            peer_env_id="parking-v0",
            peer_episodes=100,
            description="SB3's SAC with HER parks in the batched lot and in highway-env's parking-v0",
        ),
        Scenario(
            name="sb3-sac-her-highway-env-parking",
            algo="sb3-sac-her",
            env_id="parking-v0",
            steps=PARKING_STEPS,
            # the peer: the same recipe and budget trained in highway-env's parking-v0
            criteria={"success_rate": (">=", 0.9)},
            slow=True,
            peer_of="parking-sac-her",
            description="peer: the same SB3 SAC + HER recipe and budget trained in highway-env's parking-v0",
        ),
        Scenario(
            name="sb3-dqn-highway-fast",
            algo="sb3-dqn",
            env_id="autodrive/HighwayFast-v0",
            steps=20_000,
            # A baseline: it passes when SB3 learns on our simulator at all, i.e. beats always-IDLE (11.7 in
            # highway-env, tests/data). The quoted 21.8 is not a bar: highway-env's own run of this
            # recipe (the peer below) scored 18.9 at seed 0; the report sets the two side by side.
            criteria={"mean_return": (">=", IDLE_RETURN)},
            slow=True,
            description="stable-baselines3 DQN, highway-env's quick-start recipe, on our simulator",
        ),
        Scenario(
            name="sb3-dqn-highway-env-fast",
            algo="sb3-dqn",
            env_id="highway-fast-v0",
            steps=20_000,
            criteria={"mean_return": (">=", IDLE_RETURN)},
            slow=True,
            peer_of="sb3-dqn-highway-fast",
            description="peer: the same SB3 DQN recipe and budget on highway-env's highway-fast-v0",
        ),
        Scenario(
            name="sb3-ppo-highway-fast",
            algo="sb3-ppo",
            env_id="autodrive/HighwayFast-v0",
            steps=200_000,
            # a baseline, like sb3-dqn-highway-fast: it learns (beats always-IDLE) and drives safely
            criteria={"mean_return": (">=", IDLE_RETURN), "crash_rate": ("<=", 0.05)},
            slow=True,
            description="stable-baselines3 PPO through our SB3 VecEnv adapter over the batched env",
        ),
        Experiment(
            name="perception-driving-highway-fast",
            function="perception_driving",
            algo="cnn+dqn",
            env_id="autodrive/HighwayFastPerceived-v0",
            criteria={"occupancy_f1_without_ego_cell": (">=", 0.95), "return_kept": (">=", 0.9)},
            description="camera -> CNN (8k steps) -> DQN (200k steps): F1 on held-out episodes, return kept from pixels",
        ),
        Experiment(
            name="sensor-fusion-highway-fast",
            function="sensor_fusion",
            algo="camera/lidar/fused cnn+dqn",
            env_id="autodrive/HighwayFastPerceived-v0",
            criteria={"fused_min_return_kept": (">=", 0.95), "experiment_seconds": ("<=", 1800.0)},
            description="camera, LiDAR and fused CNNs driving the shipped DQN, clean and with one sensor degraded",
        ),
        Experiment(
            name="distillation-highway-fast",
            function="policy_distillation",
            algo="dagger dqn->mlp, cnn->cnn, chain->cnn",
            env_id="autodrive/HighwayFast-v0",
            criteria={
                "policy_return_kept": (">=", 0.95),
                "policy_parameter_ratio": (">=", 10.0),
                "experiment_seconds": ("<=", 1800.0),
            },
            description="the shipped DQN distilled by DAgger into a 10x+ smaller MLP; the perception CNN into a "
            "small one; the chain into one pixels-to-action CNN",
        ),
        Experiment(
            name="adversarial-robustness-highway-fast",
            function="adversarial_robustness",
            algo="cnn+dqn, pgd-at",
            env_id="autodrive/HighwayFastPerceived-v0",
            criteria={"robust_pgd4_occupancy_f1": (">=", 0.9), "experiment_seconds": ("<=", 1800.0)},
            description="FGSM/PGD/noise on the perception CNN and the DQN, PGD adversarial training, a detector",
        ),
        Experiment(
            name="gan-augmentation-data-efficiency",
            function="data_efficiency",
            algo="cgan/autoencoder",
            env_id="autodrive/HighwayFast-v0",
            criteria={
                "gan_rare_f1_gain_points": (">=", 5.0),
                "pretrain_rare_f1_gain_points": (">=", 3.0),
                "experiment_seconds": ("<=", 1800.0),
            },
            description="GAN augmentation and self-supervised (frame-prediction) pretraining vs real-only at 250 labels",
        ),
        Experiment(
            name="self-play-highway",
            function="self_play_highway",
            algo="ppo (shared by 21 vehicles)",
            env_id="autodrive/HighwaySelfPlay-v0",
            criteria=SELF_PLAY_TRAFFIC,
            description="every vehicle of HighwayFast's road driven by one PPO policy: crashes per vehicle-km and "
            "speed against IDM/MOBIL traffic on the same road",
        ),
        Experiment(
            name="intersection-multi-agent-dqn-attention",
            function="intersection_multi_agent",
            algo="dqn (ego attention, shared by 2 vehicles)",
            env_id="autodrive/IntersectionMultiAgent-v0",
            criteria=BOTH_CROSS_THE_INTERSECTION,
            description="one ego-attention DQN drives both vehicles of the multi-agent intersection: joint success "
            "here and in highway-env's intersection-multi-agent-v0",
        ),
        Experiment(
            name="sb3-ppo-highway-env-intersection-multi-agent",
            function="sb3_ppo_intersection_multi_agent",
            algo="sb3-ppo",
            env_id="intersection-v0",
            criteria={"experiment_seconds": ("<=", 600.0)},
            description="peer: stable-baselines3 PPO trained in highway-env's intersection-v0 (15k steps) drives both "
            "vehicles of intersection-multi-agent-v0",
        ),
    ]
}


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict:
    """A description of the machine a result was measured on."""
    return {
        "platform": platform.platform(),
        "processor": _cpu_model(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
    }


def _metric(eval_result: dict, name: str) -> float:
    if name == "optimality_ratio":
        return eval_result["mean_return"] / eval_result["optimal_mean_return"]
    return float(eval_result[name])


def _curve(metrics_csv: Path) -> dict:
    """The learning curve (step, recent mean return) of a run, kept in the result so plots need no run dir."""
    from agents.common.plots import read_metrics

    cols = read_metrics(metrics_csv)
    keep = [i for i, v in enumerate(cols.get("return_mean", [])) if v == v]  # drop NaN rows
    return {"step": [cols["step"][i] for i in keep], "return_mean": [cols["return_mean"][i] for i in keep]}


def run_scenario(
    scenario: Scenario | Experiment, out_dir: str | Path, results_dir: str | Path | None = None
) -> dict:
    """Train every seed, evaluate, check the criteria; write ``<results_dir>/<name>.json``."""
    out_dir = Path(out_dir)
    if isinstance(scenario, Experiment):
        result = _run_experiment(scenario, out_dir)
    else:
        result = _run_training(scenario, out_dir)
    if results_dir is not None:
        write_json(Path(results_dir) / f"{scenario.name}.json", result)
    return result


def _checks(criteria: dict, runs: list[dict]) -> dict:
    checks = {}
    for m, (op, thr) in criteria.items():
        value = float(np.mean([_metric(r, m) for r in runs]))
        checks[m] = {"op": op, "threshold": thr, "value": value, "passed": bool(OPS[op](value, thr))}
    return checks


def _common(scenario: Scenario | Experiment, runs: list[dict], checks: dict) -> dict:
    returns = [r["mean_return"] for r in runs if "mean_return" in r]
    return {
        "scenario": scenario.name,
        "description": scenario.description,
        "algo": scenario.algo,
        "env_id": scenario.env_id,
        "seeds": list(scenario.seeds),
        "returns": returns,
        "crash_rates": [r["crash_rate"] for r in runs if r.get("crash_rate") is not None] or None,
        "mean_return": float(np.mean(returns)) if returns else None,
        "std_return_over_seeds": float(np.std(returns)) if returns else None,
        "wall_clock_s": [r["wall_clock_s"] for r in runs],
        "criteria": checks,
        "passed": all(c["passed"] for c in checks.values()),
        "runs": runs,
        "machine": machine(),
        "versions": package_versions(),
    }


def _run_experiment(scenario: Experiment, out_dir: Path) -> dict:
    from agents import experiments

    function = getattr(experiments, scenario.function)
    runs, details = [], []
    for seed in scenario.seeds:
        t0 = time.perf_counter()
        metrics = function(out_dir / f"{scenario.name}-s{seed}", seed)
        details.append(metrics.pop("details", None))
        runs.append({**metrics, "seed": seed, "wall_clock_s": round(time.perf_counter() - t0, 2)})
    result = _common(scenario, runs, _checks(scenario.criteria, runs))
    result.update(kind="experiment", steps=None, curves=[], details=[d for d in details if d is not None])
    return result


def _run_training(scenario: Scenario, out_dir: Path) -> dict:
    runs = []
    for seed in scenario.seeds:
        t0 = time.perf_counter()
        run_dir = train_run(
            scenario.algo,
            scenario.env_id,
            env_kwargs=dict(scenario.env_kwargs),
            steps=scenario.steps,
            seed=seed,
            num_envs=scenario.num_envs,
            device="cpu",
            out=out_dir / f"{scenario.name}-s{seed}",
            hp_overrides=dict(scenario.hp),
            eval_episodes=scenario.eval_episodes,
            progress=False,
            tensorboard=False,
        )
        wall = time.perf_counter() - t0
        ev = read_json(run_dir / "eval.json")
        run = {
            **ev,
            "eval_seed": ev["seed"],
            "seed": seed,
            "wall_clock_s": round(wall, 2),
            "steps_per_s": scenario.steps / max(ev.get("train_seconds", wall), 1e-9),
        }
        if scenario.peer_env_id is not None:
            from agents import load_policy
            from agents.common.evaluation import evaluate_policy

            peer = evaluate_policy(
                load_policy(run_dir), scenario.peer_env_id, episodes=scenario.peer_episodes
            )
            run.update(
                peer_env_id=scenario.peer_env_id,
                peer_mean_return=peer["mean_return"],
                peer_std_return=peer["std_return"],
                peer_crash_rate=peer.get("crash_rate"),
                peer_success_rate=peer.get("success_rate"),
                peer_off_road_rate=peer.get("off_road_rate"),
                peer_episodes=peer["episodes"],
            )
        runs.append(run)
    result = _common(scenario, runs, _checks(scenario.criteria, runs))
    result.update(
        kind="training",
        env_kwargs=scenario.env_kwargs,
        steps=scenario.steps,
        peer_of=scenario.peer_of,
        steps_per_s=[round(r["steps_per_s"], 1) for r in runs],
        curves=[_curve(out_dir / f"{scenario.name}-s{r['seed']}" / "metrics.csv") for r in runs],
    )
    return result
