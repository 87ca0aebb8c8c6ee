"""L-infinity attacks on a network's input: FGSM, PGD, and random sign noise of the same budget.

``perturb(attack, loss_of, x)`` moves ``x`` to raise ``loss_of(x)`` (a scalar) within ``attack.epsilon``
of ``x`` in every element, inside ``[attack.low, attack.high]``:

- ``fgsm``: one step of ``epsilon * sign(grad)`` (Goodfellow et al. 2015);
- ``pgd``: ``steps`` signed-gradient steps of ``step_size`` from a uniform random start, each projected
  back onto the budget (Madry et al. 2018);
- ``noise``: every element moved by ``+-epsilon`` at random (the control: as large as FGSM's change,
  with no gradient).

Camera frames are perturbed in pixel levels (``epsilon=4`` is a budget of 4/255) and rounded back to
integers (``quantise``), so an adversarial frame is still an image the camera could send.

Written here rather than taken from torchattacks or the Adversarial Robustness Toolbox: torchattacks
needs torchvision, which has no CPU build on this project's machines, and both libraries' attacks
assume a classifier with class labels, while what the perception CNN is attacked on is its own
multi-head detection loss (objectness, offsets, velocities, ego state). Over a loss closure the two
attacks are the few lines below.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

KINDS = ("fgsm", "pgd", "noise")


@dataclass(frozen=True)
class Attack:
    """An attack of ``kind`` with L-infinity budget ``epsilon`` (input units; pixel levels for frames)."""

    kind: str = "pgd"
    epsilon: float = 4.0
    steps: int = 10  # PGD iterations
    step_size: float | None = None  # PGD step; default 2.5 * epsilon / steps (Madry et al.)
    low: float = 0.0  # input bounds
    high: float = 255.0
    quantise: bool = True  # round the perturbed input to integers (uint8 images)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown attack {self.kind!r}; choose one of {KINDS}")
        if self.epsilon < 0 or self.steps < 1 or not self.low < self.high:
            raise ValueError(
                f"attack epsilon={self.epsilon} must be >= 0, steps={self.steps} >= 1 and low < high"
            )

    @property
    def alpha(self) -> float:
        return self.step_size if self.step_size is not None else 2.5 * self.epsilon / self.steps

    @classmethod
    def parse(cls, text: str, **kwargs) -> Attack:
        """``"pgd:4"`` -> ``Attack("pgd", 4.0)`` (the command line's and the env kwargs' spelling)."""
        kind, _, eps = text.partition(":")
        try:
            return cls(kind, float(eps), **kwargs)
        except ValueError as e:
            raise ValueError(
                f"attack {text!r}: expected '<kind>:<epsilon>' with kind in {KINDS}; {e}"
            ) from None


def _project(x_adv: torch.Tensor, x: torch.Tensor, attack: Attack) -> torch.Tensor:
    x_adv = torch.max(torch.min(x_adv, x + attack.epsilon), x - attack.epsilon)
    return x_adv.clamp(attack.low, attack.high)


def _gradient(loss_of: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    with torch.enable_grad():
        x = x.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(loss_of(x), x)  # the input's gradient only: no parameter grads
    return grad


def perturb(
    attack: Attack,
    loss_of: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """A perturbed float copy of ``x`` (any shape) under ``attack``; ``loss_of`` maps an input to a scalar
    the attack raises (unused by ``noise``)."""
    x = x.detach().float()
    if attack.epsilon == 0:
        return x.clone()
    if attack.kind == "noise":
        signs = torch.randint(0, 2, x.shape, generator=generator, device=x.device).float() * 2 - 1
        x_adv = _project(x + attack.epsilon * signs, x, attack)
    elif attack.kind == "fgsm":
        x_adv = _project(x + attack.epsilon * _gradient(loss_of, x).sign(), x, attack)
    else:
        start = torch.rand(x.shape, generator=generator, device=x.device) * 2 - 1
        x_adv = _project(x + attack.epsilon * start, x, attack)
        for _ in range(attack.steps):
            x_adv = _project(x_adv + attack.alpha * _gradient(loss_of, x_adv).sign(), x, attack)
    if attack.quantise:  # integers within the budget: round towards the clean input past the bound
        x_adv = _project(torch.round(x_adv), x, attack)
        x_adv = x + torch.trunc(x_adv - x)
    return x_adv.detach()


def attack_of(attack: Attack | str | None) -> Attack | None:
    """An :class:`Attack`, its ``"<kind>:<epsilon>"`` spelling, or None (no attack)."""
    return Attack.parse(attack) if isinstance(attack, str) else attack


def detection_loss(
    model: torch.nn.Module,
    frames: torch.Tensor,
    dense_t: torch.Tensor,
    ego_t: torch.Tensor,
    lidar: torch.Tensor | None = None,
) -> torch.Tensor:
    """The perception CNN's training loss (``perception.train.loss_fn``) on float frames (B, S*C, H, W)."""
    from perception.train import TrainConfig, loss_fn

    dense, ego = model(frames, *(() if lidar is None else (lidar,)))
    return loss_fn(dense, ego, dense_t, ego_t, TrainConfig())[0]


def pseudo_targets(dense: torch.Tensor, ego: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The CNN's own clean outputs as targets (objectness made 0/1): what an attacker without labels
    pushes the CNN away from."""
    dense_t = dense.detach().clone()
    dense_t[:, 0] = (dense[:, 0] > 0).float()
    return dense_t, ego.detach()


def attack_frames(
    model: torch.nn.Module,
    frames: torch.Tensor,
    attack: Attack,
    dense_t: torch.Tensor | None = None,
    ego_t: torch.Tensor | None = None,
    lidar: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
    batch_size: int = 256,
) -> torch.Tensor:
    """Frames (B, S*C, H, W) perturbed against the perception CNN's loss on the targets ``dense_t``,
    ``ego_t`` (the labels), or on the model's clean outputs when they are None (float, pixel units)."""
    out = []
    for i in range(0, len(frames), batch_size):
        x = frames[i : i + batch_size].float()
        extra = None if lidar is None else lidar[i : i + batch_size]
        if dense_t is None:
            with torch.no_grad():
                targets = pseudo_targets(*model(x, *(() if extra is None else (extra,))))
        else:
            targets = (dense_t[i : i + batch_size], ego_t[i : i + batch_size])

        def loss_of(z: torch.Tensor, targets=targets, extra=extra) -> torch.Tensor:
            return detection_loss(model, z, *targets, extra)

        out.append(perturb(attack, loss_of, x, generator))
    return torch.cat(out) if out else frames.float()


class AttackedPolicy:
    """A discrete-action policy whose observations an attacker perturbs before it acts: FGSM and PGD
    raise the cross-entropy of the policy's scores (e.g. Q-values) against its clean greedy action
    (Huang et al. 2017, "Adversarial Attacks on Neural Network Policies"). ``policy`` is a
    :class:`agents.common.policy.TorchPolicy` (its ``scores`` and ``predict``)."""

    def __init__(self, policy, attack: Attack, seed: int = 0) -> None:
        self.policy = policy
        self.attack = attack
        self.generator = torch.Generator().manual_seed(seed)

    def predict(self, observation, state=None, episode_start=None, deterministic: bool = True):
        import torch.nn.functional as F

        x = torch.as_tensor(observation, dtype=torch.float32)
        with torch.no_grad():
            clean = self.policy.scores(x).argmax(dim=1)

        def loss_of(z: torch.Tensor) -> torch.Tensor:
            return F.cross_entropy(self.policy.scores(z), clean)

        x_adv = perturb(self.attack, loss_of, x, self.generator)
        return self.policy.predict(x_adv.numpy(), deterministic=deterministic)
