"""Scenarios that are more than one agent's training run: perception chains, the data-efficiency study,
self-play traffic and the multi-agent intersection.

Each experiment is ``fn(work_dir, seed) -> metrics`` (a flat dict of numbers, plus optional ``details``),
registered in ``agents.scenarios.SCENARIOS`` as an :class:`agents.scenarios.Experiment` with criteria on
those metrics. They live in ``agents`` because they combine perception with trained agents (data flows
envs <- perception <- agents).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agents.common.evaluation import evaluate_joint, evaluate_policy, traffic_metrics
from agents.run import load_policy, train_run

HIGHWAY_FAST = "autodrive/HighwayFast-v0"
SELF_PLAY = "autodrive/HighwaySelfPlay-v0"
INTERSECTION_MULTI_AGENT = "autodrive/IntersectionMultiAgent-v0"
SLOWER = 4  # DiscreteMetaAction's index of SLOWER


def perception_driving(
    work_dir: Path,
    seed: int,
    env_id: str = HIGHWAY_FAST,
    agent_dir: str | Path | None = None,
    train_frames: int = 65_536,
    test_frames: int = 8192,
    cnn_steps: int = 8000,
    agent_steps: int = 200_000,
    episodes: int = 100,
) -> dict[str, Any]:
    """Camera -> CNN -> state -> DQN on ``env_id``, end to end.

    Generates a labelled dataset and held-out episodes from the simulator, trains the perception CNN for
    ``cnn_steps`` (a step budget, not a wall-clock one, so that a seed gives one result; ~4 min on 2
    cores), trains the DQN on ground-truth state (or takes the driver in ``agent_dir``, e.g. a shipped
    one), then drives it from ground truth and from pixels on the same seeded episodes
    (``perception.tax``). Metrics: the CNN's held-out occupancy F1 (and, on straight roads, position
    error), both drives' return and crash rate, and ``return_kept`` (pixels / ground truth).
    """
    from perception.dataset import GenerateConfig, generate, load_dataset
    from perception.metrics import evaluate
    from perception.tax import perception_tax
    from perception.train import TrainConfig, env_config_of, train

    work_dir = Path(work_dir)
    for name, frames, data_seed in (("train", train_frames, 1), ("test", test_frames, 1001)):
        data_cfg = GenerateConfig(env_id=env_id, frames=frames, seed=1000 * seed + data_seed)
        generate(data_cfg, work_dir / name, progress=False)
    cnn = train(
        TrainConfig(minutes=1e6, max_steps=cnn_steps, seed=seed),
        work_dir / "train",
        out=work_dir / "cnn",
        progress=False,
    )
    test = load_dataset(work_dir / "test")
    quality = evaluate(cnn["model"], test, env_config_of(test.manifest))
    if agent_dir is None:
        agent_dir = train_run(
            "dqn", env_id, steps=agent_steps, seed=seed, device="cpu", out=work_dir / "agent",
            eval_episodes=episodes, progress=False, tensorboard=False,
        )  # fmt: skip
    tax = perception_tax(load_policy(agent_dir), evaluate_policy, work_dir / "cnn", env_id, episodes)
    return {
        "occupancy_f1_without_ego_cell": quality["occupancy_f1_without_ego_cell"],
        **{k: quality[k] for k in ("position_mae_m", "speed_mae_m_s") if k in quality},
        "cnn_steps": cnn["steps"],
        "ground_truth_mean_return": tax["ground_truth"]["mean_return"],
        "ground_truth_crash_rate": tax["crash_rate_ground_truth"],
        "mean_return": tax["pixels"]["mean_return"],
        "crash_rate": tax["crash_rate_pixels"],
        "return_kept": tax["return_kept"],
    }


def data_efficiency(work_dir: Path, seed: int) -> dict[str, Any]:
    """The full GAN-augmentation / pretraining experiment (``perception.data_efficiency``; its own seeds).

    Metrics: rare-layout F1 gains over real-only at the smallest label count, in points, and the wall-clock.
    """
    import dataclasses

    from perception.data_efficiency import ExperimentConfig, run

    result = run(
        dataclasses.replace(ExperimentConfig(), seed=seed), work_dir, progress=False, log=lambda _: None
    )
    gains = {f"{arm}_rare_f1_gain_points": t["rare_f1_gain_points"] for arm, t in result["targets"].items()}
    return {**gains, "experiment_seconds": result["seconds"], "details": result}


def sensor_fusion(work_dir: Path, seed: int) -> dict[str, Any]:
    """Camera, LiDAR and fused CNNs, clean and with one sensor degraded (``perception.fusion``).

    Metrics: each model's smallest return kept (degraded / clean) over the degraded conditions, tracked
    (``perception.tracking``: the fused sensors' whole pipeline) and on the CNN alone (``*_cnn_*``), each
    model's clean F1, and the wall-clock.
    """
    import dataclasses
    import time

    from perception.fusion import FusionConfig, run

    t0 = time.perf_counter()
    result = run(dataclasses.replace(FusionConfig(), seed=seed), work_dir)
    metrics: dict[str, Any] = {}
    for sensors, m in result["models"].items():
        degraded = [r for c, r in m["conditions"].items() if c != "clean"]
        metrics[f"{sensors}_min_return_kept"] = min(r["tracked"]["return_kept"] for r in degraded)
        metrics[f"{sensors}_cnn_min_return_kept"] = min(r["return_kept"] for r in degraded)
        metrics[f"{sensors}_clean_occupancy_f1"] = m["conditions"]["clean"]["occupancy_f1"]
    return {**metrics, "experiment_seconds": time.perf_counter() - t0, "details": result}


def policy_distillation(work_dir: Path, seed: int) -> dict[str, Any]:
    """The DQN's 10x+ smaller DAgger student, the small perception CNN and the end-to-end CNN
    (``agents.distill``). Metrics: the policy student's return kept (ours and highway-env) and parameter
    ratio, the perception student's F1 retained, the end-to-end CNN's return kept against the modular
    chain, and the wall-clock."""
    import dataclasses

    from agents.distill import DistillConfig, run

    result = run(dataclasses.replace(DistillConfig(), seed=seed), work_dir)
    policy, perception, e2e = result["policy"], result["perception"], result["end_to_end"]
    return {
        "policy_return_kept": policy["return_kept"],
        "policy_peer_return_kept": policy["peer_return_kept"],
        "policy_parameter_ratio": policy["parameter_ratio"],
        "policy_student_crash_rate": policy["student"]["ours"]["crash_rate"],
        "perception_f1_retained": perception["f1_retained"],
        "perception_frames_per_s_gain": perception["frames_per_s_gain"]["batch_1024"],
        "end_to_end_return_kept": e2e["return_kept"],
        "experiment_seconds": result["seconds"],
        "details": result,
    }


def adversarial_robustness(work_dir: Path, seed: int) -> dict[str, Any]:
    """Attacks on the perception CNN, PGD adversarial training and a detector (``perception.adversarial``).

    Metrics: occupancy F1 under PGD at 4/255 of the adversarially trained and of the standard CNN, the
    clean F1 the robust one gives up, the detector's AUROC on PGD at 4/255, and the wall-clock.
    """
    import dataclasses

    from perception.adversarial import AdversarialConfig, run

    result = run(dataclasses.replace(AdversarialConfig(), seed=seed), work_dir)
    pgd4 = {name: m["attacks"]["pgd"]["4.0"] for name, m in result["models"].items()}
    return {
        "robust_pgd4_occupancy_f1": pgd4["robust"]["occupancy_f1"],
        "standard_pgd4_occupancy_f1": pgd4["standard"]["occupancy_f1"],
        "clean_f1_given_up": result["clean_f1_given_up"],
        "detector_pgd4_auroc": result["detector"]["attacks"]["pgd"]["4.0"]["auroc"],
        "experiment_seconds": result["seconds"],
        "details": result,
    }


def self_play_highway(work_dir: Path, seed: int, steps: int = 600_000, episodes: int = 100) -> dict[str, Any]:
    """PPO with one network shared by all 21 vehicles of HighwayFast's road (``autodrive/HighwaySelfPlay-v0``:
    no IDM/MOBIL traffic), then the road's safety and speed (``traffic_metrics``) under the learned
    policy against IDM/MOBIL traffic on the same road (HighwayFast with NPC-NPC collisions checked; its
    one controlled vehicle takes SLOWER and falls back, and only the IDM/MOBIL vehicles are counted).
    Also the learned policy as the single controlled vehicle among IDM/MOBIL traffic: whether what the
    vehicles learned together transfers."""
    import time

    start = time.perf_counter()
    run_dir = train_run(
        "ppo", SELF_PLAY, steps=steps, seed=seed, device="cpu", out=Path(work_dir) / "ppo",
        eval_episodes=episodes, progress=False, tensorboard=False,
    )  # fmt: skip
    train_seconds = time.perf_counter() - start
    policy = load_policy(run_dir)
    ours = traffic_metrics(policy, SELF_PLAY, episodes, seed=10_000 + seed)
    idm = traffic_metrics(
        SLOWER,
        HIGHWAY_FAST,
        episodes,
        seed=10_000 + seed,
        env_kwargs={"check_npc_collisions": True},
        count="idm",
    )
    alone = evaluate_policy(policy, HIGHWAY_FAST, episodes, seed=10_000 + seed)
    return {
        "self_play_crashes_per_vehicle_km": ours["crashes_per_vehicle_km"],
        "self_play_mean_speed": ours["mean_speed"],
        "self_play_crashed_share": ours["crashed_share"],
        "idm_crashes_per_vehicle_km": idm["crashes_per_vehicle_km"],
        "idm_mean_speed": idm["mean_speed"],
        "idm_crashed_share": idm["crashed_share"],
        "single_ego_mean_return": alone["mean_return"],
        "single_ego_crash_rate": alone["crash_rate"],
        "train_seconds": train_seconds,
        "experiment_seconds": time.perf_counter() - start,
        "details": {"self_play": ours, "idm": idm, "single_ego": alone},
    }


def intersection_multi_agent(
    work_dir: Path, seed: int, steps: int = 150_000, episodes: int = 300, peer_episodes: int = 100
) -> dict[str, Any]:
    """DQN with ego attention, one network for both controlled vehicles of the multi-agent intersection
    (its envs fold into the batch), then joint success (both arrived, no crash) and any-crash rates in
    ours and in highway-env's ``intersection-multi-agent-v0``."""
    import time

    start = time.perf_counter()
    run_dir = train_run(
        "dqn", INTERSECTION_MULTI_AGENT, steps=steps, seed=seed, device="cpu", out=Path(work_dir) / "dqn",
        hp_overrides={"net": "ego_attention"}, eval_episodes=episodes, progress=False, tensorboard=False,
    )  # fmt: skip
    train_seconds = time.perf_counter() - start
    metrics = _joint_metrics(load_policy(run_dir), seed, episodes, peer_episodes)
    return {**metrics, "train_seconds": train_seconds, "experiment_seconds": time.perf_counter() - start}


def sb3_ppo_intersection_multi_agent(
    work_dir: Path, seed: int, steps: int = 15_000, peer_episodes: int = 100
) -> dict[str, Any]:
    """The peer: stable-baselines3's PPO trained in highway-env's single-agent ``intersection-v0`` (SB3 has
    no tuple spaces), driving both vehicles of ``intersection-multi-agent-v0`` and of ours."""
    import time

    start = time.perf_counter()
    run_dir = train_run(
        "sb3-ppo", "intersection-v0", steps=steps, seed=seed, device="cpu", out=Path(work_dir) / "sb3-ppo",
        eval_episodes=20, progress=False, tensorboard=False,
    )  # fmt: skip
    train_seconds = time.perf_counter() - start
    metrics = _joint_metrics(load_policy(run_dir), seed, peer_episodes, peer_episodes)
    return {**metrics, "train_seconds": train_seconds, "experiment_seconds": time.perf_counter() - start}


def _joint_metrics(policy, seed: int, episodes: int, peer_episodes: int) -> dict[str, Any]:
    ours = evaluate_joint(policy, INTERSECTION_MULTI_AGENT, episodes, seed=10_000 + 1000 * seed)
    peer = evaluate_joint(policy, "intersection-multi-agent-v0", peer_episodes, seed=10_000 + 1000 * seed)
    return {
        "joint_success_rate": ours["joint_success_rate"],
        "any_crash_rate": ours["any_crash_rate"],
        "mean_return": ours["mean_return"],
        "peer_joint_success_rate": peer["joint_success_rate"],
        "peer_any_crash_rate": peer["any_crash_rate"],
        "peer_mean_return": peer["mean_return"],
        "details": {"ours": ours, "peer": peer},
    }
