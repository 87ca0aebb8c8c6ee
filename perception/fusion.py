"""Camera + LiDAR fusion: what a second sensor buys, measured.

Three CNNs of one architecture (``perception.model``) train on the same labelled frames for the same
number of steps: ``camera`` (the frames), ``lidar`` (the projected scan and the dashboard rows) and ``fused``
(both, early fusion on the camera's grid). The fused one trains with sensor dropout (each training
sample loses its camera, gets a noisy one, or loses a random share of its LiDAR rays with probability
``SensorDropout.*``; the idea of ModDrop, Neverova et al. 2015): a network trained only on clean pairs
learns to lean on whichever sensor is easier and fails when that one goes.

Each model is then measured on held-out frames and, through ``PerceptionVectorWrapper``, driving a
Kinematics-trained policy, under every condition of ``perception.lidar.DEGRADATIONS`` (clean, camera
noise, camera blackout, LiDAR dropout): occupancy F1, position MAE, mean return and crash rate, and the
return kept against the same model's clean return. Each model drives twice: on its CNN's detections
alone, and *tracked*: through ``perception.tracking`` (lost vehicles coast for ``coast_steps`` steps and,
for a model that reads LiDAR, object-level fusion with the LiDAR's own geometric objects vetoes camera
ghosts and adds the vehicles the CNN missed).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from gymnasium.vector import VectorEnv, VectorObservationWrapper

from perception import decode as dec
from perception.dataset import Dataset
from perception.lidar import (
    DEGRADATIONS,
    LidarSpec,
    camera_blackout,
    camera_noise,
    env_scan,
    lidar_dropout,
    reached,
    true_state,
)
from perception.model import SENSORS, ModelConfig
from perception.train import lidar_input


class SensorDropout:
    """Training batches for a fused model with one sensor damaged in a share of the samples:
    ``camera_blackout`` of them lose the camera's scene, ``camera_noise`` get Gaussian noise of a sigma
    drawn between ``max_sigma / 8`` and ``max_sigma``, ``lidar_loss`` lose a uniform share of their rays (all of them at worst)."""

    def __init__(
        self,
        seed: int,
        camera_blackout: float = 0.25,
        camera_noise: float = 0.3,
        lidar_loss: float = 0.15,
        max_sigma: float = 64.0,
    ) -> None:
        if camera_blackout + camera_noise + lidar_loss > 1:
            raise ValueError("the shares of damaged samples must sum to at most 1")
        self.shares = np.cumsum([camera_blackout, camera_noise, lidar_loss])
        self.max_sigma = max_sigma
        self.rng = np.random.default_rng(seed)

    def __call__(self, data: Dataset, index: np.ndarray, mcfg: ModelConfig) -> tuple[torch.Tensor, ...]:
        frames = data.stacked_frames(index)
        scans = data.lidar(index, mcfg.lidar, mcfg.lidar_stack).copy()  # (B, S, cells, 2)
        fault = np.searchsorted(self.shares, self.rng.random(len(index)), side="right")  # 0, 1, 2; 3 clean
        black, noisy, lost = fault == 0, fault == 1, fault == 2
        frames[black] = camera_blackout(frames[black])
        for i in np.nonzero(noisy)[0]:
            frames[i] = camera_noise(
                frames[i], self.rng.uniform(self.max_sigma / 8, self.max_sigma), self.rng
            )
        for i in np.nonzero(lost)[0]:
            scans[i] = lidar_dropout(scans[i : i + 1], self.rng.random(), self.rng, mcfg.lidar)[0]
        dense_t, ego_t = dec.targets(data.arrays["vehicles"][index], data.arrays["ego"][index], mcfg)
        lidar = lidar_input(data, index, mcfg, scans)
        return torch.from_numpy(frames), torch.from_numpy(dense_t), torch.from_numpy(ego_t), lidar


@dataclass(frozen=True)
class FusionConfig:
    env_id: str = "autodrive/HighwayFast-v0"
    train_frames: int = 65_536
    test_frames: int = 8_192
    cnn_steps: int = 6000  # training steps of each model (a step budget: a seed gives one result)
    channels: int = 16
    # scans the LiDAR and fused models read (this step's and the one before): of the nearest vehicles no
    # ray reaches, 29% were reached one step earlier (``lidar_visibility`` in the results)
    lidar_stack: int = 2
    episodes: int = 200  # driving episodes per model, condition and pipeline
    coast_steps: int = 4  # the tracked pipeline: steps a lost vehicle's track coasts
    lidar_objects: bool = True  # the tracked pipeline of a LiDAR-reading model fuses the LiDAR's objects
    seed: int = 0
    agent_dir: str = "agents/pretrained/highway-fast-dqn"  # the Kinematics-trained policy that drives
    sensors: tuple[str, ...] = SENSORS
    conditions: tuple[str, ...] = tuple(DEGRADATIONS)
    workers: int = 2  # dataset generation processes

    def __post_init__(self) -> None:
        unknown = set(self.sensors) - set(SENSORS) or set(self.conditions) - set(DEGRADATIONS)
        if unknown:
            raise ValueError(
                f"unknown sensors or conditions {sorted(unknown)}: choose from {SENSORS}, {tuple(DEGRADATIONS)}"
            )


class LidarVisibleTruth(VectorObservationWrapper):
    """A driving vector env seen through perfect LiDAR-only perception: its planner observation of the
    true state with every vehicle removed that no return of the last ``stack`` scans of its episode lands
    on (:func:`perception.lidar.reached`, on the straight highway's axes). What occlusion leaves a LiDAR
    perception that reads only those scans: the bound it cannot pass without the camera or a memory of
    the vehicles it lost."""

    def __init__(self, env: VectorEnv, spec: LidarSpec, stack: int = 2) -> None:
        super().__init__(env)
        if stack < 1:
            raise ValueError(f"stack={stack}: LidarVisibleTruth reads at least one scan")
        self.lidar, self.stack = spec, stack
        self.before: np.ndarray | None = None  # (stack - 1, B, slots) the earlier scans' reached vehicles

    def observations(self, observations: Any) -> Any:
        from envs.highway.observation import observe_state
        from perception.wrapper import fresh_episodes

        env = self.env.unwrapped
        state, present = true_state(env)
        rel = np.stack([state.x - state.x[:, :1], state.y - state.y[:, :1]], axis=-1)
        now = reached(env_scan(env, self.lidar), np.zeros(len(rel)), rel, self.lidar)
        now[:, 0] = True  # the ego
        if self.before is None or self.before.shape[1:] != now.shape:
            self.before = np.zeros((self.stack - 1, *now.shape), bool)
        self.before[:, fresh_episodes(env)] = False
        seen = now | self.before.any(0)
        self.before = np.concatenate([self.before, now[None]])[1:]
        return observe_state(env.config.observation, state, env.config, present & seen)


def visibility(data: Dataset, spec: Any, rows: int = 4, chunk: int = 2048) -> dict[str, float]:
    """What any LiDAR-only perception is up against, on a dataset's frames: the share of the ``rows``
    nearest vehicles within the LiDAR's range (the vehicles the planner's Kinematics rows list) that no
    return of the scan lands on (:func:`perception.lidar.reached`), and the share of those that a return
    of the previous scan of the same episode landed on (what a scan history can recover)."""
    from perception.dataset import ABSENT_DX
    from perception.lidar import reached

    vehicles, scans, heading = data.arrays["vehicles"], data.arrays["lidar"], data.arrays["pose"][:, 2]
    counted = hidden = recovered = 0
    for start in range(0, len(data), chunk):
        index = np.arange(start, min(start + chunk, len(data)))
        before = data.scan_history(index, 2)[:, 0]  # the frame itself at an episode's start
        veh = vehicles[index]
        dist = np.where(veh[..., 0] > ABSENT_DX / 2, np.hypot(veh[..., 0], veh[..., 1]), np.inf)
        nearest = np.argsort(dist, axis=1)[:, :rows]  # (B, rows)
        valid = np.take_along_axis(dist, nearest, 1) < spec.maximum_range
        now = np.take_along_axis(reached(scans[index], heading[index], veh, spec), nearest, 1)
        then = reached(scans[before], heading[before], vehicles[before], spec)  # slots keep their vehicle
        then = np.take_along_axis(then, nearest, 1) & (before != index)[:, None]
        counted += int(valid.sum())
        hidden += int((valid & ~now).sum())
        recovered += int((valid & ~now & then).sum())
    return {
        "vehicles": counted,
        "unreached_share": hidden / max(counted, 1),
        "unreached_reached_one_step_before": recovered / max(hidden, 1),
    }


def run(cfg: FusionConfig, work_dir: str | Path, progress: bool = False) -> dict[str, Any]:
    """Generate the data, train one model per sensor set, measure each under every condition."""
    from agents.common.envs import make_vec_env
    from agents.common.evaluation import evaluate_policy
    from agents.run import load_policy
    from perception.dataset import train_and_test
    from perception.metrics import evaluate
    from perception.tax import perceived_id
    from perception.train import TrainConfig, env_config_of, train

    work_dir = Path(work_dir)
    datasets = train_and_test(
        cfg.env_id, cfg.train_frames, cfg.test_frames, cfg.seed, work_dir, cfg.workers, progress
    )
    env_config = env_config_of(datasets["test"].manifest)
    policy = load_policy(cfg.agent_dir)
    truth = evaluate_policy(policy, cfg.env_id, episodes=cfg.episodes, seed=10_000)
    result: dict[str, Any] = {"config": dataclasses.asdict(cfg), "ground_truth": truth, "models": {}}
    spec = LidarSpec(**datasets["test"].manifest["lidar"])
    result["lidar_visibility"] = visibility(datasets["test"], spec)
    seen = LidarVisibleTruth(make_vec_env(cfg.env_id, min(cfg.episodes, 64)), spec, cfg.lidar_stack)
    result["lidar_visible_truth"] = evaluate_policy(policy, cfg.env_id, cfg.episodes, seed=10_000, venv=seen)
    for sensors in cfg.sensors:
        tcfg = TrainConfig(
            minutes=1e6,
            max_steps=cfg.cnn_steps,
            channels=cfg.channels,
            sensors=sensors,
            lidar_stack=cfg.lidar_stack if sensors != "camera" else 1,
            seed=cfg.seed,
        )
        model_dir = work_dir / f"model-{sensors}"
        trained = train(tcfg, datasets["train"], model_dir, progress=progress)
        model = trained.pop("model")
        rows: dict[str, Any] = {}
        for condition in cfg.conditions:
            t0 = time.perf_counter()
            metrics = evaluate(
                model, datasets["test"], env_config, degradation=DEGRADATIONS[condition], rates=False
            )
            kwargs = {"model_dir": str(model_dir), "degradation": condition}
            tracking = {
                "coast_steps": cfg.coast_steps,
                "lidar_objects": cfg.lidar_objects and sensors != "camera",
            }
            driving, tracked = (
                evaluate_policy(
                    policy, perceived_id(cfg.env_id), episodes=cfg.episodes, seed=10_000, env_kwargs=kw
                )
                for kw in (kwargs, {**kwargs, **tracking})
            )
            rows[condition] = {
                "occupancy_f1": metrics["occupancy_f1"],
                "position_mae_m": metrics.get("position_mae_m"),
                "speed_mae_m_s": metrics.get("speed_mae_m_s"),
                **_driving(driving),
                "tracked": {**_driving(tracked), **tracking},
                "seconds": time.perf_counter() - t0,
            }
        clean = rows.get("clean")
        _kept(list(rows.values()), clean, truth)
        _kept([row["tracked"] for row in rows.values()], clean and clean["tracked"], truth)
        result["models"][sensors] = {"training": trained, "conditions": rows}
    return result


def _driving(r: dict[str, Any]) -> dict[str, Any]:
    return {k: r.get(k) for k in ("mean_return", "stderr_return", "crash_rate")}


def _kept(rows: list[dict[str, Any]], clean: dict[str, Any] | None, truth: dict[str, Any]) -> None:
    """Each row's return as a share of the clean condition's (None without one) and of ground truth's."""
    for row in rows:
        row["return_kept"] = row["mean_return"] / clean["mean_return"] if clean else None
        row["return_kept_of_ground_truth"] = row["mean_return"] / truth["mean_return"]


def _cells(r: dict[str, Any] | None) -> str:
    """Mean return +- its standard error, crash rate, return kept; dashes for a result without them."""
    if r is None:
        return "– | – | –"
    ret = f"{r['mean_return']:.2f}" + (f" ± {r['stderr_return']:.2f}" if r.get("stderr_return") else "")
    crash = "–" if r.get("crash_rate") is None else f"{r['crash_rate']:.2f}"
    kept = "–" if r.get("return_kept") is None else f"{100 * r['return_kept']:.1f}%"
    return f"{ret} | {crash} | {kept}"


def format_table(result: dict[str, Any]) -> str:
    """Markdown: one row per model and condition; driving on the CNN alone, then tracked."""
    lines = [
        "| sensors | condition | occupancy F1 | position MAE [m] | mean return | crash rate | return kept "
        "| tracked: mean return | crash rate | return kept |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for sensors, m in result["models"].items():
        for condition, r in m["conditions"].items():
            mae = "–" if r["position_mae_m"] is None else f"{r['position_mae_m']:.2f}"
            lines.append(
                f"| {sensors} | {condition} | {r['occupancy_f1']:.3f} | {mae} | {_cells(r)} | "
                f"{_cells(r.get('tracked'))} |"
            )
    return "\n".join(lines)
