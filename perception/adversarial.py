"""Adversarial robustness of the driving chain, measured: attacks, adversarial training, a detector.

The experiment (:func:`run`):

1. trains the standard perception CNN on clean labelled frames, and a robust one by PGD adversarial
   fine-tuning of it (:class:`AdversarialTraining`: a share of every batch replaced by PGD examples,
   the mixed objective of Goodfellow et al. 2015 with Madry et al.'s PGD);
2. attacks both on held-out frames (FGSM, PGD and sign noise of each budget in pixel levels of 255,
   against the labels) and measures occupancy F1 and position MAE;
3. drives the shipped Kinematics DQN through each CNN under each attack, the attacker perturbing every
   camera frame in the loop (``PerceptionVectorWrapper(attack=...)``): return and crash rate;
4. attacks the DQN's own Kinematics input (:class:`~perception.attacks.AttackedPolicy`) at budgets in
   Kinematics units: what the same attacks do to a policy that reads the true state;
5. trains a detector of perturbed frames (:class:`PerturbationDetector`, on FGSM/PGD frames against the
   standard CNN) and measures its AUROC and detection rate at a 5% false-alarm rate on held-out frames
   of every attack, random noise included (a kind it never saw).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from perception import decode as dec
from perception.attacks import KINDS, Attack, AttackedPolicy, attack_frames
from perception.dataset import Dataset


class AdversarialTraining:
    """``perturb`` hook of :func:`perception.train.train`: replaces ``share`` of each batch by PGD examples
    against the model being trained, at a budget drawn uniformly from ``budgets`` per batch."""

    def __init__(
        self, budgets: tuple[float, ...] = (2.0, 4.0, 6.0), steps: int = 3, share: float = 0.5, seed: int = 0
    ) -> None:
        if not 0 < share <= 1 or not budgets:
            raise ValueError(f"share={share} must be in (0, 1] and budgets non-empty")
        self.budgets, self.steps, self.share = budgets, steps, share
        self.rng = np.random.default_rng(seed)
        self.generator = torch.Generator().manual_seed(seed)

    def __call__(self, model: nn.Module, frames, dense_t, ego_t, *lidar) -> torch.Tensor:
        n = max(1, round(self.share * len(frames)))  # batches are drawn at random: the first n are too
        attack = Attack("pgd", float(self.rng.choice(self.budgets)), steps=self.steps)
        x = frames.float().clone()
        extra = lidar[0][:n] if lidar else None
        x[:n] = attack_frames(model, frames[:n], attack, dense_t[:n], ego_t[:n], extra, self.generator)
        return x


class PerturbationDetector(nn.Module):
    """Stacked frames (B, S*C, H, W) in pixel units -> the logit that they were perturbed (B,).

    Two 3x3 convolutions read local pixel statistics (perturbations break the rendered frames' flat
    colours), pooled by max and mean over the image (Metzen et al. 2017 detect from a network's
    features; the frames here are simple enough to read directly)."""

    def __init__(self, in_channels: int, width: int = 16) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(width, width, 3, padding=1),
            nn.ReLU(),
        )
        self.head = nn.Linear(2 * width, 1)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        f = self.features(frames.float() * (1 / 255))  # (B, w, H, W)
        pooled = torch.cat([f.amax(dim=(2, 3)), f.mean(dim=(2, 3))], dim=1)  # (B, 2w)
        return self.head(pooled)[:, 0]


def auroc(negatives: np.ndarray, positives: np.ndarray) -> float:
    """Area under the ROC curve: the Mann-Whitney U statistic over n_neg * n_pos (ties count half)."""
    from scipy.stats import mannwhitneyu

    return float(mannwhitneyu(positives, negatives).statistic / (len(positives) * len(negatives)))


@dataclass(frozen=True)
class AdversarialConfig:
    env_id: str = "autodrive/HighwayFast-v0"
    train_frames: int = 32_768
    test_frames: int = 4096
    cnn_steps: int = 6000  # training steps of the standard CNN
    robust_steps: int = 3000  # PGD adversarial fine-tuning steps from the standard CNN
    robust_budgets: tuple[float, ...] = (2.0, 4.0, 6.0)  # [pixel levels] PGD budgets of training batches
    robust_pgd_steps: int = 3
    robust_share: float = 0.5  # share of each training batch replaced by PGD examples
    channels: int = 16
    budgets: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0)  # [pixel levels of 255] evaluation budgets
    attacks: tuple[str, ...] = KINDS
    pgd_steps: int = 10  # PGD iterations of the evaluation attacks
    eval_frames: int = 2048  # held-out frames of the F1 measurements
    episodes: int = 100  # driving episodes per model, attack and budget
    drive_attacks: tuple[str, ...] = KINDS
    policy_budgets: tuple[float, ...] = (0.005, 0.01, 0.02, 0.05)  # Kinematics units (x: 100 m, vx: 40 m/s)
    detector_frames: int = 4096  # clean + as many perturbed training frames of the detector
    detector_steps: int = 1500
    agent_dir: str = "agents/pretrained/highway-fast-dqn"
    seed: int = 0
    workers: int = 2
    detector_attacks: tuple[str, ...] = field(default=("fgsm", "pgd"))  # what the detector trains on

    def __post_init__(self) -> None:
        unknown = set(self.attacks) - set(KINDS) or set(self.drive_attacks) - set(KINDS)
        unknown = unknown or set(self.detector_attacks) - set(KINDS)
        if unknown:
            raise ValueError(f"unknown attacks {sorted(unknown)}: choose from {KINDS}")
        if min(self.budgets + self.policy_budgets + self.robust_budgets, default=0) <= 0:
            raise ValueError("attack budgets must be > 0 (the clean case is always measured)")


def _labels(data: Dataset, n: int, mcfg) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    index = np.arange(n)
    dense_t, ego_t = dec.targets(data.arrays["vehicles"][index], data.arrays["ego"][index], mcfg)
    return torch.from_numpy(data.stacked_frames(index)), torch.from_numpy(dense_t), torch.from_numpy(ego_t)


def _quality(model, frames: torch.Tensor, data: Dataset, env_config) -> dict[str, float]:
    from perception.metrics import kinematics_errors, occupancy_f1, predict

    n = len(frames)
    pred = predict(model, frames.numpy(), env_config, data.arrays["pose"][:n])
    out = {
        "occupancy_f1": occupancy_f1(pred["occupancy"][:, 0], data.arrays["occupancy"][:n, 0])["occupancy_f1"]
    }
    errors = kinematics_errors(pred["kinematics"], data.arrays["kinematics"][:n], env_config.lanes_count)
    return {**out, "position_mae_m": errors["position_mae_m"]}


def train_detector(
    frames: torch.Tensor, perturbed: torch.Tensor, steps: int, seed: int, batch_size: int = 128
) -> tuple[PerturbationDetector, dict[str, Any]]:
    """A detector trained with BCE on clean ``frames`` (label 0) against ``perturbed`` ones (label 1)."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    det = PerturbationDetector(frames.shape[1])
    opt = torch.optim.Adam(det.parameters(), lr=2e-3)
    x = torch.cat([frames.float(), perturbed.float()])
    y = torch.cat([torch.zeros(len(frames)), torch.ones(len(perturbed))])
    t0, losses = time.perf_counter(), []
    for _ in range(steps):
        i = torch.from_numpy(rng.integers(len(x), size=batch_size))
        loss = nn.functional.binary_cross_entropy_with_logits(det(x[i]), y[i])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return det.eval(), {
        "steps": steps,
        "seconds": time.perf_counter() - t0,
        "last_loss": float(np.mean(losses[-50:])),
    }


@torch.no_grad()
def _scores(det: PerturbationDetector, frames: torch.Tensor) -> np.ndarray:
    return torch.cat([det(frames[i : i + 1024]) for i in range(0, len(frames), 1024)]).numpy()


def run(cfg: AdversarialConfig, work_dir: str | Path, progress: bool = False) -> dict[str, Any]:
    """Generate the data, train the standard and the robust CNN and the detector, measure everything."""
    from agents.common.evaluation import evaluate_policy
    from agents.run import load_policy
    from perception.dataset import train_and_test
    from perception.tax import perceived_id
    from perception.train import TrainConfig, env_config_of, train

    t_start = time.perf_counter()
    work_dir = Path(work_dir)
    datasets = train_and_test(
        cfg.env_id, cfg.train_frames, cfg.test_frames, cfg.seed, work_dir, cfg.workers, progress
    )
    test = datasets["test"]
    env_config = env_config_of(test.manifest)
    policy = load_policy(cfg.agent_dir)
    truth = evaluate_policy(policy, cfg.env_id, episodes=cfg.episodes, seed=10_000)
    result: dict[str, Any] = {"config": dataclasses.asdict(cfg), "ground_truth": truth, "models": {}}

    tcfg = TrainConfig(minutes=1e6, max_steps=cfg.cnn_steps, channels=cfg.channels, seed=cfg.seed)
    trained = {"standard": train(tcfg, datasets["train"], work_dir / "model-standard", progress=progress)}
    standard = trained["standard"]["model"]
    robust_cfg = dataclasses.replace(tcfg, max_steps=cfg.robust_steps, lr=tcfg.lr / 4)
    hook = AdversarialTraining(cfg.robust_budgets, cfg.robust_pgd_steps, cfg.robust_share, cfg.seed)
    trained["robust"] = train(
        robust_cfg, datasets["train"], work_dir / "model-robust", progress=progress,
        init_state=standard.state_dict(), perturb=hook,
    )  # fmt: skip

    frames, dense_t, ego_t = _labels(test, min(cfg.eval_frames, len(test)), standard.cfg)
    for name, summary in trained.items():
        model = summary.pop("model")
        rows: dict[str, Any] = {"training": summary, "attacks": {}}
        clean_drive = evaluate_policy(policy, perceived_id(cfg.env_id), episodes=cfg.episodes, seed=10_000,
                                      env_kwargs={"model_dir": str(work_dir / f"model-{name}")})  # fmt: skip
        rows["clean"] = {
            **_quality(model, frames, test, env_config),
            "mean_return": clean_drive["mean_return"],
            "crash_rate": clean_drive.get("crash_rate"),
        }
        for kind in cfg.attacks:
            for eps in cfg.budgets:
                t0 = time.perf_counter()
                attack = Attack(kind, eps, steps=cfg.pgd_steps)
                gen = torch.Generator().manual_seed(cfg.seed)
                adv = attack_frames(model, frames, attack, dense_t, ego_t, generator=gen)
                row = _quality(model, adv, test, env_config)
                if kind in cfg.drive_attacks:
                    drive = evaluate_policy(
                        policy, perceived_id(cfg.env_id), episodes=cfg.episodes, seed=10_000,
                        env_kwargs={"model_dir": str(work_dir / f"model-{name}"), "attack": attack},
                    )  # fmt: skip
                    row.update(mean_return=drive["mean_return"], crash_rate=drive.get("crash_rate"))
                row["seconds"] = time.perf_counter() - t0
                rows["attacks"].setdefault(kind, {})[str(eps)] = row
        result["models"][name] = rows
    std, rob = (result["models"][m]["clean"]["occupancy_f1"] for m in ("standard", "robust"))
    result["clean_f1_given_up"] = std - rob

    result["policy"] = _policy_attacks(cfg, policy, evaluate_policy, truth)
    result["detector"] = _detector(cfg, datasets["train"], (frames, dense_t, ego_t), standard)
    result["seconds"] = time.perf_counter() - t_start
    return result


def _policy_attacks(cfg: AdversarialConfig, policy, evaluate_policy, truth: dict) -> dict[str, Any]:
    """The same attacks on the DQN's Kinematics input (bounds [-1, 1], no rounding)."""
    rows: dict[str, Any] = {
        "clean": {"mean_return": truth["mean_return"], "crash_rate": truth.get("crash_rate")}
    }
    for kind in cfg.attacks:
        for eps in cfg.policy_budgets:
            attack = Attack(kind, eps, steps=cfg.pgd_steps, low=-1.0, high=1.0, quantise=False)
            r = evaluate_policy(AttackedPolicy(policy, attack, cfg.seed), cfg.env_id, episodes=cfg.episodes,
                                seed=10_000)  # fmt: skip
            rows.setdefault(kind, {})[str(eps)] = {
                "mean_return": r["mean_return"],
                "crash_rate": r.get("crash_rate"),
            }
    return rows


def _detector(
    cfg: AdversarialConfig, train_data: Dataset, test: tuple[torch.Tensor, ...], model
) -> dict[str, Any]:
    """Train on FGSM/PGD frames against the standard CNN (budgets drawn from ``cfg.budgets``); threshold at
    5% false alarms on a random half of the held-out clean frames; rates on the other half."""
    rng = np.random.default_rng(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    n = min(cfg.detector_frames, len(train_data))
    frames, dense_t, ego_t = _labels(train_data, n, model.cfg)
    perturbed = torch.empty(frames.shape)
    choice = rng.integers(len(cfg.detector_attacks) * len(cfg.budgets), size=n)
    for c in np.unique(choice):
        i = torch.from_numpy(np.flatnonzero(choice == c))
        kind, eps = cfg.detector_attacks[c // len(cfg.budgets)], cfg.budgets[c % len(cfg.budgets)]
        attack = Attack(kind, eps, steps=max(1, cfg.pgd_steps // 2))
        perturbed[i] = attack_frames(model, frames[i], attack, dense_t[i], ego_t[i], generator=gen)
    det, training = train_detector(frames, perturbed, cfg.detector_steps, cfg.seed)
    order = torch.from_numpy(rng.permutation(len(test[0])))  # held-out frames come episode by episode
    half = len(order) // 2
    test_frames, dense_h, ego_h = (t[order[half:]] for t in test)
    calibrate, clean = _scores(det, test[0][order[:half]]), _scores(det, test_frames)
    threshold = float(np.quantile(calibrate, 0.95))
    out: dict[str, Any] = {"training": training, "false_positive_rate": float(np.mean(clean > threshold)),
                           "attacks": {}}  # fmt: skip
    for kind in cfg.attacks:
        for eps in cfg.budgets:
            attack = Attack(kind, eps, steps=cfg.pgd_steps)
            adv = attack_frames(model, test_frames, attack, dense_h, ego_h, generator=gen)
            s = _scores(det, adv)
            out["attacks"].setdefault(kind, {})[str(eps)] = {
                "auroc": auroc(clean, s),
                "detection_rate": float(np.mean(s > threshold)),
            }
    return out


def format_table(result: dict[str, Any]) -> str:
    """Markdown: per model, F1 and driving under each attack; then the policy's and the detector's rows."""
    lines = [
        "| CNN | attack | budget [/255] | occupancy F1 | position MAE [m] | mean return | crash rate | detector AUROC |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    det = result.get("detector", {}).get("attacks", {})

    def fmt(v, spec: str = ".2f") -> str:
        return "–" if v is None else format(v, spec)

    for name, m in result["models"].items():
        c = m["clean"]
        lines.append(
            f"| {name} | none | 0 | {c['occupancy_f1']:.3f} | {c['position_mae_m']:.2f} | {c['mean_return']:.2f} "
            f"| {fmt(c['crash_rate'])} | – |"
        )
        for kind, budgets in m["attacks"].items():
            for eps, r in budgets.items():
                auc = det.get(kind, {}).get(eps, {}).get("auroc") if name == "standard" else None
                lines.append(
                    f"| {name} | {kind} | {float(eps):g} | {r['occupancy_f1']:.3f} | {r['position_mae_m']:.2f} | "
                    f"{fmt(r.get('mean_return'))} | {fmt(r.get('crash_rate'))} | {fmt(auc, '.3f')} |"
                )
    return "\n".join(lines)


def format_policy_table(result: dict[str, Any]) -> str:
    """Markdown: the DQN attacked on its Kinematics input."""
    p = result["policy"]
    lines = ["| attack | budget [Kinematics units] | mean return | crash rate |", "| --- | --- | --- | --- |"]
    lines.append(f"| none | 0 | {p['clean']['mean_return']:.2f} | {p['clean']['crash_rate']:.2f} |")
    for kind, budgets in p.items():
        if kind != "clean":
            for eps, r in budgets.items():
                lines.append(f"| {kind} | {float(eps):g} | {r['mean_return']:.2f} | {r['crash_rate']:.2f} |")
    return "\n".join(lines)
