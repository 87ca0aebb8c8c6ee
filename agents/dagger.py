"""DAgger (Ross et al. 2011) with the policy-distillation loss (Rusu et al. 2016), over a batched env.

In iteration ``i`` the student drives, except for a share ``beta * beta_decay**i`` of the decisions that
the teacher takes (all of them in iteration 0: behaviour cloning's states). Every visited state is
labelled with the teacher's scores (a DQN's Q-values), aggregated into one dataset, and the student trains
on all of it with the KL between ``softmax(scores / tau)`` and its own softmax, or the cross-entropy on the
teacher's argmax. ``agents.distill`` runs it for a small policy and for a pixels-to-action CNN.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from agents.common.envs import to_numpy

LOSSES = ("kl", "argmax")

# --- config ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DAggerConfig:
    iterations: int = 12
    num_envs: int = 64
    steps: int = 100  # env steps of each env per iteration: iterations * num_envs * steps labelled states
    beta: float = 1.0  # share of the teacher's decisions in iteration 0; beta * beta_decay**i in iteration i
    beta_decay: float = 0.5
    updates: int = 4000  # student gradient steps after each iteration, on the whole aggregate
    batch_size: int = 256
    lr: float = 1e-3
    tau: float = 0.01  # temperature of the teacher's softmax (Rusu et al. 2016's for Q-values)
    loss: str = "kl"  # one of LOSSES

    def __post_init__(self) -> None:
        if min(self.iterations, self.num_envs, self.steps, self.updates, self.batch_size) < 1:
            raise ValueError("iterations, num_envs, steps, updates and batch_size must be >= 1")
        if not (0.0 <= self.beta <= 1.0 and 0.0 <= self.beta_decay <= 1.0):
            raise ValueError(f"beta={self.beta} and beta_decay={self.beta_decay} must be in [0, 1]")
        if self.tau <= 0 or self.lr <= 0:
            raise ValueError(f"tau={self.tau} and lr={self.lr} must be > 0")
        if self.loss not in LOSSES:
            raise ValueError(f"loss={self.loss!r}: choose one of {LOSSES}")


# --- the loop ---------------------------------------------------------------------------------------

#: (observations, the vector env) -> the teacher's scores (E, A) on them
Teacher = Callable[[Any, Any], torch.Tensor]


def fit(
    student: nn.Module,
    opt: torch.optim.Optimizer,
    obs: np.ndarray,
    scores: np.ndarray,
    cfg: DAggerConfig,
    rng: np.random.Generator,
) -> float:
    """``cfg.updates`` steps on batches of the aggregate; the mean loss of the last tenth of them."""
    target = F.log_softmax(torch.from_numpy(scores) / cfg.tau, dim=1)  # (M, A) log-probabilities
    student.train()
    losses = []
    for _ in range(cfg.updates):
        idx = rng.integers(len(obs), size=cfg.batch_size)
        logits = student(torch.from_numpy(obs[idx]))  # (B, A)
        if cfg.loss == "kl":
            loss = F.kl_div(F.log_softmax(logits, dim=1), target[idx], log_target=True, reduction="batchmean")
        else:
            loss = F.cross_entropy(logits, target[idx].argmax(dim=1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    student.eval()
    return float(np.mean(losses[-max(1, len(losses) // 10) :]))


def dagger(
    student: nn.Module,
    teacher: Teacher,
    venv: Any,
    cfg: DAggerConfig,
    seed: int,
    observe: Callable[[np.ndarray], None] | None = None,
) -> dict[str, Any]:
    """DAgger with the beta-mixed policy; returns the aggregate and one summary per iteration.

    The aggregate: ``obs`` (M, *obs_shape) every visited state, ``scores`` (M, A) the teacher's on it,
    ``iteration`` (M,), ``by_student`` (M,) whether the student took that decision, ``actions`` (M,).
    ``observe(states)`` sees each iteration's new states before the student trains (e.g. ObsNorm.update)."""
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    opt = torch.optim.Adam(student.parameters(), lr=cfg.lr)
    parts: dict[str, list] = {k: [] for k in ("obs", "scores", "iteration", "by_student", "actions")}
    history = []
    obs, _ = venv.reset(seed=seed)
    for i in range(cfg.iterations):
        beta = cfg.beta * cfg.beta_decay**i
        t0, agree = time.perf_counter(), []
        for _ in range(cfg.steps):
            x = to_numpy(obs)
            with torch.no_grad():
                scores = teacher(obs, venv).float()  # (E, A)
                own = student(torch.from_numpy(x)).argmax(dim=1).numpy()
            expert = scores.argmax(dim=1).numpy()
            by_student = rng.random(len(x)) >= beta
            actions = np.where(by_student, own, expert)
            for name, value in (
                ("obs", x),
                ("scores", scores.numpy()),
                ("by_student", by_student),
                ("actions", actions),
            ):
                parts[name].append(value)
            parts["iteration"].append(np.full(len(x), i))
            agree.append(np.mean(own == expert))
            obs, *_ = venv.step(actions)
        rollout_s = time.perf_counter() - t0
        if observe is not None:
            observe(np.concatenate(parts["obs"][-cfg.steps :]))
        data = {k: np.concatenate(v) for k, v in parts.items()}
        loss = fit(student, opt, data["obs"], data["scores"], cfg, rng)
        history.append(
            {
                "iteration": i,
                "beta": beta,
                "states": len(data["obs"]),
                "student_agreement": float(np.mean(agree)),  # before this iteration's training
                "loss": loss,
                "rollout_seconds": rollout_s,
                "train_seconds": time.perf_counter() - t0 - rollout_s,
            }
        )
    return {**data, "history": history}
