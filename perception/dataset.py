"""Labelled camera datasets: sharded safetensors arrays plus a JSON manifest, deterministic by seed.

Every camera frame (of any driving world: highway, merge, exit, roundabout) comes with its ground truth,
computed from the same simulator state by the simulator's own functions (``envs.highway.observation``):
the Kinematics rows and the occupancy grid (highway-env layouts), the raw vehicle states relative to the
camera's view (the CNN's dense targets are built from them), the view's pose, and a LiDAR scan (the
second sensor of :mod:`perception.lidar`).

Layout of ``DIR``::

    manifest.json             format, env id and config, camera, seed, policy, shards, array specs
    shard-00000.safetensors   arrays shaped (T, E, ...): T steps of E envs, time-major

A shard is one independent rollout of ``E`` envs of the batched env for ``T`` steps (NEXT_STEP
autoreset, so each env column is a chain of whole episodes), so shards can be generated in parallel and
frame stacks are rebuilt by index arithmetic (``first`` marks reset frames) instead of stored.
The manifest is written last: a directory without one is an interrupted run.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import os
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from envs import SINGLE_AGENT_IDS
from envs.io import load_arrays, read_json, save_arrays, write_json
from envs.physics.structs import ABSENT
from perception.lidar import LidarSpec, check_spec, scan

DEFAULT_LIDAR = LidarSpec()

FORMAT = "autodrive-perception-dataset/3"
NUM_ACTIONS = 5
ABSENT_DX = -1.0e4  # [m] where an empty slot's relative position is stored: behind every view
#: name -> (dtype, per-frame shape or None when it depends on the env) of every shard array.
ARRAYS = {
    "frames": "uint8 (T, E, channels, H, W): one camera frame (stacks are rebuilt from `first`)",
    "kinematics": "float32 (T, E, V, F): Kinematics rows (the world's own options where its default "
    "observation is Kinematics, e.g. the roundabout's absolute x, y; highway-env's defaults otherwise)",
    "occupancy": "float32 (T, E, 4, 11, 11): envs.highway.observation.OccupancyGrid (presence, vx, vy, on_road)",
    "vehicles": "float32 (T, E, N-1, 4): every NPC's dx, dy [m], relative vx, vy [m/s] in the camera's view "
    "(x along the view, y to its left; absent slots at dx = -1e4)",
    "ego": "float32 (T, E, 4): ego x, y [m], speed [m/s], heading relative to the view [rad]",
    "lidar": "float32 (T, E, cells, 2): a LiDAR scan (perception.lidar: distance [m] and relative speed "
    "[m/s] per ray, rays in the world's frame)",
    "pose": "float64 (T, E, 3): the view's pose: the ego's x, y [m] and the view's heading [rad]",
    "first": "bool (T, E): the frame is an episode's reset observation",
    "actions": "int64 (T, E): the action taken after seeing the frame",
}

Policy = Callable[[np.ndarray], np.ndarray]  # Kinematics obs (E, 5, 5) -> actions (E,)


@dataclass(frozen=True)
class GenerateConfig:
    env_id: str = "autodrive/HighwayFast-v0"
    frames: int = 100_000  # total labelled frames (rounded up to whole steps of the batch)
    seed: int = 0
    num_envs: int = 512  # envs per shard rollout
    steps_per_shard: int = 32  # T
    workers: int = 2  # processes; shards are independent
    env_kwargs: tuple[tuple[str, Any], ...] = ()  # highway config overrides, e.g. (("camera_channels", 3),)
    lidar: LidarSpec = LidarSpec()

    def __post_init__(self) -> None:
        if self.frames < 1 or self.num_envs < 1 or self.steps_per_shard < 1 or self.workers < 1:
            raise ValueError("frames, num_envs, steps_per_shard and workers must all be >= 1")
        if self.env_id not in SINGLE_AGENT_IDS:  # the camera and the labels follow one controlled vehicle
            raise ValueError(f"env_id={self.env_id!r}: datasets are generated from one of {SINGLE_AGENT_IDS}")
        if "observation" in dict(self.env_kwargs):
            raise ValueError("env_kwargs must not set 'observation': labels and camera come from the state")

    @property
    def shard_frames(self) -> int:
        return self.num_envs * self.steps_per_shard

    @property
    def num_shards(self) -> int:
        return math.ceil(self.frames / self.shard_frames)


def make_vec(env_id: str, num_envs: int, env_kwargs: dict | None = None, **extra: Any):
    import gymnasium as gym

    import envs  # noqa: F401  registers autodrive/*

    kwargs = {**(env_kwargs or {}), **extra}
    return gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="vector_entry_point", **kwargs)


def label_state(
    xp: Any, sim: Any, camera: Any, cfg: Any, kinematics: Any, lidar: LidarSpec = DEFAULT_LIDAR
) -> dict[str, Any]:
    """Camera frame, LiDAR scan and ground truth of a batched simulator state, all from the simulator's
    functions.

    ``camera`` is a :class:`~envs.highway.camera.Rasteriser` of ``sim``; ``kinematics`` is the env's own
    observation of the state; the occupancy grid and the LiDAR scan are the kernel's, run on the same
    positions (``observe_state``). Relative vehicle states are rotated into the camera's view.
    """
    from envs.highway.observation import observe_state
    from envs.highway.sim import state_view

    camera()
    pose = camera.pose.numpy().copy()  # (B, 3)
    s = state_view(sim)
    present = np.asarray(sim.host["kind"]) != ABSENT
    cos, sin = np.cos(pose[:, 2:3]), np.sin(pose[:, 2:3])
    vx, vy = s.speed * np.cos(s.heading), s.speed * np.sin(s.heading)
    dx, dy = s.x - s.x[:, :1], s.y - s.y[:, :1]
    dvx, dvy = vx - vx[:, :1], vy - vy[:, :1]
    rel = [
        np.where(present, cos * dx + sin * dy, ABSENT_DX),
        np.where(present, -sin * dx + cos * dy, 0.0),
        cos * dvx + sin * dvy,
        -sin * dvx + cos * dvy,
    ]
    view_heading = s.heading[:, 0] - pose[:, 2]
    return {
        "frames": camera.frames.numpy().copy(),
        "kinematics": np.array(kinematics, dtype=np.float32),
        "occupancy": observe_state("occupancy_grid", s, cfg, present),
        "vehicles": np.stack([r[:, 1:] for r in rel], axis=2).astype(np.float32),
        "ego": np.stack(
            [s.x[:, 0], s.y[:, 0], s.speed[:, 0], np.angle(np.exp(1j * view_heading))], axis=1
        ).astype(np.float32),
        "pose": pose,
        "lidar": scan(s, cfg, present, lidar),
    }


def rollout(
    env_id: str,
    num_envs: int,
    steps: int,
    seed: int,
    env_kwargs: dict,
    policy: Policy | None = None,
    lidar: LidarSpec = DEFAULT_LIDAR,
) -> dict[str, np.ndarray]:
    """``steps`` steps of ``num_envs`` envs -> labelled arrays shaped (steps, num_envs, ...)."""
    from envs.highway.camera import CameraSpec, Rasteriser

    venv = make_vec(env_id, num_envs, env_kwargs)  # the world's own Kinematics options, if it uses them
    if venv.unwrapped.config.observation != "kinematics":
        venv.close()
        venv = make_vec(env_id, num_envs, env_kwargs, observation="kinematics")
    env = venv.unwrapped
    camera = Rasteriser(env.sim, CameraSpec.from_config(env.config))
    action_rng = np.random.default_rng(np.random.SeedSequence([seed, 1]))
    obs, _ = venv.reset(seed=seed)
    first = np.ones(num_envs, dtype=bool)
    done = np.zeros(num_envs, dtype=bool)
    out: dict[str, list] = {name: [] for name in ARRAYS}
    for _ in range(steps):
        for name, value in label_state(env.xp, env.sim, camera, env.config, obs, lidar).items():
            out[name].append(value)
        actions = policy(obs) if policy is not None else action_rng.integers(NUM_ACTIONS, size=num_envs)
        actions = np.asarray(actions, dtype=np.int64)
        out["first"].append(first)
        out["actions"].append(actions)
        obs, _, terminated, truncated, _ = venv.step(actions)
        first = done  # NEXT_STEP: an env done at the previous step was reset by this one
        done = np.asarray(terminated | truncated)
    venv.close()
    return {name: np.stack(values) for name, values in out.items()}


@dataclass(frozen=True)
class _ShardJob:
    cfg: GenerateConfig
    index: int
    steps: int
    out: str
    policy_factory: Callable[[], Any] | None


def _shard_seed(seed: int, index: int) -> int:
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


def _write_shard(job: _ShardJob) -> dict[str, Any]:
    policy = None
    if job.policy_factory is not None:
        agent = job.policy_factory()  # anything with predict(obs, deterministic) -> (actions, state)

        def policy(obs: np.ndarray) -> np.ndarray:
            return np.asarray(agent.predict(obs, deterministic=True)[0])

    seed = _shard_seed(job.cfg.seed, job.index)
    cfg = job.cfg
    arrays = rollout(cfg.env_id, cfg.num_envs, job.steps, seed, dict(cfg.env_kwargs), policy, cfg.lidar)
    name = f"shard-{job.index:05d}.safetensors"
    save_arrays(Path(job.out) / name, arrays, {"format": FORMAT, "seed": str(seed)})
    return {
        "file": name,
        "steps": job.steps,
        "envs": job.cfg.num_envs,
        "seed": seed,
        "sha256": content_hash(arrays),
    }


def content_hash(arrays: dict[str, np.ndarray]) -> str:
    """sha256 over names, dtypes, shapes and bytes (the file's JSON header order is not stable)."""
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}:{a.dtype.str}:{a.shape};".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def generate(
    cfg: GenerateConfig,
    out: str | os.PathLike,
    policy_factory: Callable[[], Any] | None = None,
    policy_name: str = "random",
    progress: bool = True,
) -> dict[str, Any]:
    """Write ``cfg.frames`` labelled frames to ``out``; returns the manifest (with frames/s measured).

    ``policy_factory`` (picklable, e.g. ``functools.partial(agents.load_policy, run_dir)``) builds, in each
    worker, an agent with ``predict(kinematics_obs, deterministic=True) -> (actions, _)``; None acts
    uniformly at random. The same ``cfg`` always writes the same arrays.
    """
    from tqdm import tqdm

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "manifest.json").unlink(missing_ok=True)
    steps_total = math.ceil(cfg.frames / cfg.num_envs)
    jobs = []
    for k in range(cfg.num_shards):
        steps = min(cfg.steps_per_shard, steps_total - k * cfg.steps_per_shard)
        jobs.append(_ShardJob(cfg, k, steps, str(out), policy_factory))
    t0 = time.perf_counter()
    bar = tqdm(total=steps_total * cfg.num_envs, unit="frame", disable=not progress, desc="generate")
    shards = []
    if cfg.workers == 1 or len(jobs) == 1:
        for job in jobs:
            shards.append(_write_shard(job))
            bar.update(job.steps * cfg.num_envs)
    else:
        import multiprocessing as mp

        # one BLAS thread per worker: the workers already fill the cores
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
        with ProcessPoolExecutor(cfg.workers, mp_context=mp.get_context("spawn")) as pool:
            for shard in pool.map(_write_shard, jobs):
                shards.append(shard)
                bar.update(shard["steps"] * cfg.num_envs)
    bar.close()
    seconds = time.perf_counter() - t0
    manifest = _manifest(cfg, shards, policy_name, seconds)
    write_json(out / "manifest.json", manifest)
    return manifest


def _manifest(cfg: GenerateConfig, shards: list[dict], policy_name: str, seconds: float) -> dict[str, Any]:
    from envs.highway.camera import CameraSpec

    venv = make_vec(cfg.env_id, 1, dict(cfg.env_kwargs))
    env_config = dataclasses.asdict(venv.unwrapped.config)
    venv.close()
    frames = sum(s["steps"] * s["envs"] for s in shards)
    return {
        "format": FORMAT,
        "env_id": cfg.env_id,
        "env_kwargs": dict(cfg.env_kwargs),
        "env_config": env_config,
        "camera": dataclasses.asdict(CameraSpec.from_config(venv.unwrapped.config)),
        "lidar": dataclasses.asdict(cfg.lidar),
        "seed": cfg.seed,
        "policy": policy_name,
        "frames": frames,
        "shards": shards,
        "arrays": ARRAYS,
        "generation": {"seconds": seconds, "frames_per_s": frames / seconds, "workers": cfg.workers},
    }


@dataclass
class Dataset:
    """A loaded dataset as flat arrays over frames (shards concatenated, time-major within a shard)."""

    manifest: dict[str, Any]
    arrays: dict[str, np.ndarray]  # each (M, ...)
    history: np.ndarray  # (M, stack) int64: frame indices of each stack, oldest first

    def __len__(self) -> int:
        return len(self.arrays["first"])

    def stacked_frames(self, index: np.ndarray) -> np.ndarray:
        """(B,) frame indices -> (B, stack * channels, H, W) uint8, as the env's FrameStack returns."""
        frames = self.arrays["frames"][self.history[index]]  # (B, stack, C, H, W)
        return frames.reshape(len(index), -1, *frames.shape[-2:])

    def lidar(self, index: np.ndarray, spec: LidarSpec, stack: int = 1) -> np.ndarray:
        """(B, stack, cells, 2) LiDAR scans of frames ``index`` and of the ``stack - 1`` frames before
        each (oldest first; an episode's first scan repeats, as its first camera frame does), checked
        against the LiDAR ``spec`` a model reads."""
        check_spec(spec, self.manifest["lidar"], "the dataset")
        return self.arrays["lidar"][self.scan_history(index, stack)]

    def scan_history(self, index: np.ndarray, stack: int) -> np.ndarray:
        """(B, stack) frame indices of the last ``stack`` scans of frames ``index``, oldest first."""
        if not 1 <= stack <= self.history.shape[1]:
            raise ValueError(f"a stack of {stack} scans: the dataset keeps 1 to {self.history.shape[1]}")
        return self.history[index][:, -stack:]


def load_dataset(path: str | os.PathLike, stack: int | None = None) -> Dataset:
    """Load every shard of a generated dataset (checks the manifest's format and shard list)."""
    path = Path(path)
    manifest_path = path / "manifest.json"
    if not manifest_path.exists():
        raise FileNotFoundError(
            f"{manifest_path} missing: generate the dataset (an interrupted run leaves none)"
        )
    manifest = read_json(manifest_path)
    if manifest.get("format") != FORMAT:
        raise ValueError(f"{path}: format {manifest.get('format')!r}, expected {FORMAT!r}")
    stack = stack or manifest["camera"]["stack"]
    parts: dict[str, list] = {name: [] for name in ARRAYS}
    histories, offset = [], 0
    for shard in manifest["shards"]:
        arrays = load_arrays(path / shard["file"])
        t, e = arrays["first"].shape
        flat = offset + np.arange(t * e).reshape(t, e)  # (T, E) global indices
        hist = [flat]
        first = arrays["first"].reshape(-1)  # row 0 is all True: a shard starts with reset frames
        for _ in range(stack - 1):  # one step back in time (-E), unless the newer frame starts an episode
            newer = hist[0]
            hist.insert(0, np.where(first[newer - offset], newer, newer - e))
        histories.append(np.stack(hist, axis=-1).reshape(t * e, stack))
        for name in ARRAYS:
            parts[name].append(arrays[name].reshape(t * e, *arrays[name].shape[2:]))
        offset += t * e
    arrays = {name: np.concatenate(values) for name, values in parts.items()}
    return Dataset(manifest, arrays, np.concatenate(histories))


def train_and_test(
    env_id: str,
    train_frames: int,
    test_frames: int,
    seed: int,
    work_dir: str | os.PathLike,
    workers: int = 2,
    progress: bool = False,
) -> dict[str, Dataset]:
    """An experiment's datasets: ``train`` (seed ``seed``) and held-out ``test`` episodes (seed ``1000 + seed``),
    generated into ``work_dir/train`` and ``work_dir/test``."""
    out = {}
    for name, frames, s in (("train", train_frames, seed), ("test", test_frames, 1000 + seed)):
        cfg = GenerateConfig(env_id=env_id, frames=frames, seed=s, workers=workers, num_envs=min(512, frames))
        generate(cfg, Path(work_dir) / name, progress=progress)
        out[name] = load_dataset(Path(work_dir) / name)
    return out
