"""Distillation: a small policy from the DQN, a small perception CNN, and pixels-to-action from the chain.

Policy distillation (Rusu et al. 2016) gathered by DAgger (Ross et al. 2011; :mod:`agents.dagger`): the
DQN's student, an MLP 10x+ smaller, learns what the teacher would do in the states the student itself
reaches, labelled with the teacher's Q-values.

End to end: the same loop with a small CNN from stacked camera frames straight to action logits
(:class:`PixelPolicy`), and as teacher the modular chain, the perception CNN and the DQN reading its
perceived Kinematics (:class:`perception.wrapper.Perceiver`): the labels are the chain's Q-values on the
frames the student sees, never the true state. The perception student is ``perception.distill``'s.

:func:`run` measures every student against its teacher: return and crash rate over the same seeded
episodes (the policy also in highway-env's ``highway-fast-v0``), parameters, and forward passes per second.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from agents.common.envs import make_vec_env, to_numpy
from agents.common.evaluation import evaluate_policy
from agents.common.policy import TorchPolicy
from agents.dagger import DAggerConfig, dagger
from envs.highway.camera import HUD_ROWS, CameraSpec
from perception.distill import PerceptionDistillConfig, parameters, share, tile

HIGHWAY_FAST = "autodrive/HighwayFast-v0"
PERCEIVED = "autodrive/HighwayFastPerceived-v0"  # its camera through a perception CNN, as Kinematics
PARTS = ("policy", "perception", "end_to_end")
EVAL_SEED = 10_000

# --- config ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PolicyDistillConfig:
    teacher_dir: str = "agents/pretrained/highway-fast-dqn"
    env_id: str = HIGHWAY_FAST
    env_kwargs: tuple[tuple[str, Any], ...] = ()  # config overrides of env_id, e.g. (("lanes_count", 4),)
    peer_env_id: str = "highway-fast-v0"  # highway-env's own, where teacher and student are also measured
    hidden: tuple[int, ...] = (64, 64)  # the student MLP (the teacher's is dueling [256, 256])
    # standardise the student's inputs with statistics of the states it visits (agents.common.nets.ObsNorm):
    # Kinematics features are a few hundredths wide, which a small MLP fits slowly
    obs_norm: bool = True
    dagger: DAggerConfig = DAggerConfig()


@dataclass(frozen=True)
class EndToEndConfig:
    channels: int = 16  # the PixelPolicy's first conv width (2x after)
    hidden: int = 64
    dagger: DAggerConfig = DAggerConfig(iterations=6, steps=100, updates=600, batch_size=128)


@dataclass(frozen=True)
class DistillConfig:
    policy: PolicyDistillConfig = PolicyDistillConfig()
    perception: PerceptionDistillConfig = PerceptionDistillConfig()
    end_to_end: EndToEndConfig = EndToEndConfig()
    parts: tuple[str, ...] = PARTS  # end_to_end needs perception (its teacher is the perception teacher)
    episodes: int = 100  # greedy episodes in ours of every model (seed 10_000)
    peer_episodes: int = 100  # in highway-env, of the policy teacher and student
    seed: int = 0
    threads: int = 2

    def __post_init__(self) -> None:
        unknown = set(self.parts) - set(PARTS)
        if unknown:
            raise ValueError(f"unknown parts {sorted(unknown)}: choose from {PARTS}")
        if "end_to_end" in self.parts and "perception" not in self.parts:
            raise ValueError(
                "end_to_end distils the perception teacher's chain: include 'perception' in parts"
            )
        if self.episodes < 1 or self.peer_episodes < 0:
            raise ValueError(
                f"need episodes >= 1 and peer_episodes >= 0, got {self.episodes}, {self.peer_episodes}"
            )


# --- networks -------------------------------------------------------------------------------------


class PixelPolicy(nn.Module):
    """uint8 stacked camera frames (B, S*C, H, W) -> action logits (B, A); the dashboard rows (speed,
    heading, odometer bars) also reach the head directly, averaged along x."""

    def __init__(self, camera: CameraSpec, n_actions: int, channels: int = 16, hidden: int = 64) -> None:
        super().__init__()
        c, c_in = channels, camera.stack * camera.channels
        self.convs = nn.Sequential(
            nn.Conv2d(c_in, c, kernel_size=(2, 4), stride=(2, 4)),  # patchify as the perception CNN
            nn.ReLU(),
            nn.Conv2d(c, 2 * c, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(2 * c, 2 * c, 3, stride=2, padding=1),
            nn.ReLU(),
        )
        rows, cols = math.ceil(camera.height / 8), math.ceil(camera.width / 16)
        self.head = nn.Sequential(
            nn.Linear(2 * c * rows * cols + c_in * HUD_ROWS, hidden), nn.ReLU(), nn.Linear(hidden, n_actions)
        )

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        x = frames.float() * (1 / 255)  # (B, S*C, H, W)
        f = self.convs(x).flatten(1)  # (B, 2c * H/8 * W/16)
        hud = x[:, :, -HUD_ROWS:].mean(dim=3).flatten(1)  # (B, S*C*HUD_ROWS)
        return self.head(torch.cat([f, hud], dim=1))  # (B, A)


def check_smaller(student: nn.Module, teacher: nn.Module) -> float:
    """The teacher's parameters over the student's; a student not smaller is an error."""
    s, t = parameters(student), parameters(teacher)
    if s >= t:
        raise ValueError(
            f"the student has {s} parameters and the teacher {t}: a distilled student must be smaller"
        )
    return t / s


def check_obs(teacher_shape: tuple[int, ...], env_shape: tuple[int, ...], env_id: str) -> None:
    if tuple(teacher_shape) != tuple(env_shape):
        raise ValueError(
            f"the teacher reads observations of shape {tuple(teacher_shape)}, {env_id} gives "
            f"{tuple(env_shape)}: make the env with the teacher's observation config"
        )


def as_policy(
    net: nn.Module, obs_shape: tuple[int, ...], n_actions: int, filename: str, arch: dict
) -> TorchPolicy:
    def explore(logits: torch.Tensor) -> torch.Tensor:
        return torch.distributions.Categorical(logits=logits).sample()

    return TorchPolicy(net.eval(), net, obs_shape, n_actions, filename, arch, explore)


# --- measurement ----------------------------------------------------------------------------------


@torch.inference_mode()
def forward_rate(fn: Callable[[], Any], batch: int, seconds: float = 1.0) -> float:
    """Calls of ``fn`` (one batch of ``batch`` decisions) per second, times ``batch``."""
    fn()
    done, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        fn()
        done += batch
    return done / (time.perf_counter() - t0)


def rates(fn: Callable[[slice], Any]) -> dict[str, float]:
    """``fn(batch slice)`` at batch 1 and 1024."""
    return {f"batch_{n}": forward_rate(lambda n=n: fn(slice(0, n)), n) for n in (1, 1024)}


def drive(policy: Any, env_id: str, episodes: int, env_kwargs: dict | None = None) -> dict[str, Any]:
    out = evaluate_policy(policy, env_id, episodes=episodes, seed=EVAL_SEED, env_kwargs=env_kwargs)
    return {
        k: out.get(k)
        for k in ("env_id", "episodes", "mean_return", "stderr_return", "crash_rate", "mean_length")
    }


def kept(student: dict, teacher: dict) -> float | None:
    return share(student["mean_return"], teacher["mean_return"])


# --- the experiments ------------------------------------------------------------------------------


def distil_policy(
    cfg: PolicyDistillConfig, work_dir: Path, episodes: int, peer_episodes: int, seed: int
) -> dict[str, Any]:
    """The DQN's student by DAgger on ``cfg.env_id``; both measured in ours and in highway-env."""
    from agents.dqn import build_q_network, make_policy
    from agents.run import load_policy

    teacher = load_policy(cfg.teacher_dir)
    arch = {"hidden": list(cfg.hidden), "activation": "relu", "dueling": False, "obs_norm": cfg.obs_norm}
    student_net = build_q_network(teacher.obs_shape, teacher.n_actions, arch)
    ratio = check_smaller(student_net, teacher.net)
    venv = make_vec_env(cfg.env_id, cfg.dagger.num_envs, seed=seed, env_kwargs=dict(cfg.env_kwargs))
    try:
        check_obs(teacher.obs_shape, venv.single_observation_space.shape, cfg.env_id)
        data = dagger(
            student_net,
            lambda obs, _: teacher.scores(torch.as_tensor(to_numpy(obs))),
            venv,
            cfg.dagger,
            seed,
            observe=lambda states: (
                student_net.norm.update(torch.from_numpy(states)) if cfg.obs_norm else None
            ),
        )
    finally:
        venv.close()
    student = make_policy(student_net, teacher.obs_shape, teacher.n_actions, arch)
    student.save(work_dir / "policy-student")
    states = torch.from_numpy(tile(data["obs"][-1024:]))  # (1024, *obs_shape) visited states
    rows = {}
    for name, policy in (("teacher", teacher), ("student", student)):
        rows[name] = {
            "parameters": parameters(policy.net),
            "ours": drive(policy, cfg.env_id, episodes, dict(cfg.env_kwargs)),
            "highway_env": drive(policy, cfg.peer_env_id, peer_episodes) if peer_episodes else None,
            "steps_per_s": rates(lambda s, net=policy.net: net(states[s])),
        }
    t, s = rows["teacher"], rows["student"]
    return {
        "config": dataclasses.asdict(cfg),
        **rows,
        "student_dir": str(work_dir / "policy-student"),
        "parameter_ratio": ratio,
        "return_kept": kept(s["ours"], t["ours"]),
        "peer_return_kept": kept(s["highway_env"], t["highway_env"]) if peer_episodes else None,
        "labelled_states": len(data["obs"]),
        "dagger": data["history"],
    }


def distil_end_to_end(
    cfg: EndToEndConfig,
    cnn_dir: str | Path,
    agent_dir: str | Path,
    work_dir: Path,
    test_data: Any,
    episodes: int,
    seed: int,
) -> dict[str, Any]:
    """A :class:`PixelPolicy` by DAgger from the chain (CNN ``cnn_dir`` + planner ``agent_dir``)."""
    from agents.run import load_policy
    from perception.model import load_model
    from perception.wrapper import Perceiver, camera_kwargs

    cnn, planner = load_model(cnn_dir), load_policy(agent_dir)
    camera = cnn.cfg.camera
    obs_shape = (camera.stack * camera.channels, camera.height, camera.width)
    student_net = PixelPolicy(camera, planner.n_actions, cfg.channels, cfg.hidden)
    env_kwargs = camera_kwargs(cnn)
    venv = make_vec_env(HIGHWAY_FAST, cfg.dagger.num_envs, seed=seed, env_kwargs=env_kwargs)
    try:
        check_obs(obs_shape, venv.single_observation_space.shape, f"{HIGHWAY_FAST} with {env_kwargs}")
        perceiver = Perceiver(cnn, venv.unwrapped.config)
        check_obs(planner.obs_shape, perceiver.space.shape, "the perception chain")

        def chain(frames: Any, env: Any) -> torch.Tensor:  # the chain's Q-values on the frames seen
            return planner.scores(torch.as_tensor(perceiver(frames, env.unwrapped.camera_pose)))

        data = dagger(student_net, chain, venv, cfg.dagger, seed)
    finally:
        venv.close()
    arch = {"channels": cfg.channels, "hidden": cfg.hidden, "camera": dataclasses.asdict(camera)}
    student = as_policy(student_net, obs_shape, planner.n_actions, "end-to-end.safetensors", arch)
    student.save(work_dir / "end-to-end")
    index = tile(np.arange(min(1024, len(test_data))))
    frames = torch.from_numpy(test_data.stacked_frames(index))  # (1024, S*C, H, W) held-out frames
    pose = test_data.arrays["pose"][index]
    modular = {
        "parameters": parameters(cnn) + parameters(planner.net),
        "ours": drive(planner, PERCEIVED, episodes, {"model_dir": str(cnn_dir)}),
        "decisions_per_s": rates(
            lambda s: planner.scores(torch.as_tensor(perceiver(frames[s], pose[s]))).argmax(1)
        ),
    }
    end_to_end = {
        "parameters": parameters(student_net),
        "ours": drive(student, HIGHWAY_FAST, episodes, env_kwargs),
        "decisions_per_s": rates(lambda s: student_net(frames[s]).argmax(1)),
    }
    return {
        "config": dataclasses.asdict(cfg),
        "labels": "the modular chain's Q-values (perception CNN -> perceived Kinematics -> DQN), not the true state's",
        "modular": modular,
        "end_to_end": end_to_end,
        "return_kept": kept(end_to_end["ours"], modular["ours"]),
        "labelled_states": len(data["obs"]),
        "dagger": data["history"],
    }


def run(cfg: DistillConfig, work_dir: str | Path, progress: bool = False) -> dict[str, Any]:
    """Every part of ``cfg.parts``; models and datasets under ``work_dir``."""
    from agents.run import load_policy
    from perception.distill import datasets
    from perception.distill import run as distil_perception

    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(cfg.threads)
    t0 = time.perf_counter()
    result: dict[str, Any] = {"config": dataclasses.asdict(cfg)}
    seed = 1 + cfg.seed  # DAgger's envs: seeded apart from the evaluation's 10_000
    if "policy" in cfg.parts:
        result["policy"] = distil_policy(cfg.policy, work_dir, cfg.episodes, cfg.peer_episodes, seed)
        result["policy"]["seconds"] = time.perf_counter() - t0
    if "perception" in cfg.parts:
        t1 = time.perf_counter()
        pcfg = dataclasses.replace(cfg.perception, seed=cfg.seed)
        perception_data = datasets(pcfg, work_dir / "perception", progress)
        part = distil_perception(pcfg, work_dir / "perception", progress, perception_data, cfg.threads)
        planner = load_policy(cfg.policy.teacher_dir)
        for name in ("teacher", "student"):
            kwargs = {"model_dir": part[name]["dir"]}
            part[name]["driving"] = drive(planner, PERCEIVED, cfg.episodes, kwargs)
        part["driving_return_kept"] = kept(part["student"]["driving"], part["teacher"]["driving"])
        part["seconds"] = time.perf_counter() - t1
        result["perception"] = part
    if "end_to_end" in cfg.parts:
        t1 = time.perf_counter()
        result["end_to_end"] = distil_end_to_end(
            cfg.end_to_end, result["perception"]["teacher"]["dir"], cfg.policy.teacher_dir, work_dir,
            perception_data["test"], cfg.episodes, seed,
        )  # fmt: skip
        result["end_to_end"]["seconds"] = time.perf_counter() - t1
    result["seconds"] = time.perf_counter() - t0
    return result


def format_table(result: dict[str, Any]) -> str:
    """Markdown: one row per model (teacher, then its student), then what each student kept."""
    lines = [
        "| part | model | parameters | return (ours) | crash rate (ours) | return (highway-env) | "
        "crash rate (highway-env) | occupancy F1 | per s, batch 1 | per s, batch 1024 |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]

    def num(x: float | None, fmt: str) -> str:
        return "–" if x is None else format(x, fmt)

    def pct(x: float | None) -> str:
        return "–" if x is None else f"{100 * x:.1f}%"

    def row(
        part: str, name: str, r: dict, ours: dict, peer: dict | None, f1: float | None, per_s: dict
    ) -> None:
        peer = peer or {}
        lines.append(
            f"| {part} | {name} | {r['parameters']:,} | {ours['mean_return']:.2f} | {num(ours.get('crash_rate'), '.2f')} | "
            f"{num(peer.get('mean_return'), '.2f')} | {num(peer.get('crash_rate'), '.2f')} | {num(f1, '.3f')} | "
            f"{per_s['batch_1']:,.0f} | {per_s['batch_1024']:,.0f} |"
        )

    notes = []
    if "policy" in result:
        p = result["policy"]
        for name in ("teacher", "student"):
            r = p[name]
            row("policy (steps/s)", f"DQN {name}", r, r["ours"], r["highway_env"], None, r["steps_per_s"])
        notes.append(
            f"- policy: the student keeps {pct(p['return_kept'])} of the teacher's return in ours, "
            f"{pct(p['peer_return_kept'])} in highway-env, with {p['parameter_ratio']:.1f}x fewer parameters"
        )
    if "perception" in result:
        p = result["perception"]
        for name in ("teacher", "student"):
            r = p[name]
            row(
                "perception (frames/s)",
                f"CNN {name}",
                r,
                r["driving"],
                None,
                r["occupancy_f1"],
                r["cnn_frames_per_s"],
            )
        gain = p["frames_per_s_gain"]
        notes.append(
            f"- perception: the student keeps {pct(p['f1_retained'])} of the teacher's F1 and "
            f"{pct(p['driving_return_kept'])} of its driving return, {p['parameter_ratio']:.1f}x fewer "
            f"parameters, {gain['batch_1']:.2f}x / {gain['batch_1024']:.2f}x the frames/s (batch 1 / 1024)"
        )
    if "end_to_end" in result:
        e = result["end_to_end"]
        for name, label in (("modular", "modular chain (CNN + DQN)"), ("end_to_end", "end-to-end CNN")):
            r = e[name]
            row("pixels to action (decisions/s)", label, r, r["ours"], None, None, r["decisions_per_s"])
        notes.append(f"- end to end: {pct(e['return_kept'])} of the modular chain's return")
    return "\n".join(lines + [""] + notes)
