"""Networks shared by the deep agents: an MLP torso, a (dueling) Q head, an actor-critic pair.

Observations of any Box shape are flattened: highway's Kinematics ``(5, 5)`` becomes 25 inputs. Or,
with ``net="ego_attention"``, the vehicle table is read as a set by :class:`EgoAttention`. With
``obs_norm`` the first layer is :class:`ObsNorm`, whose statistics are saved with the weights, so a
loaded policy standardises its inputs exactly as in training (per input of the flattened observation,
or per feature of a vehicle row under attention).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from agents.common.attention import EgoAttention, check_net, table_shape

ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "tanh": nn.Tanh, "elu": nn.ELU, "silu": nn.SiLU}


def activation(name: str) -> type[nn.Module]:
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; valid: {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]


def mlp(
    in_dim: int, hidden: tuple[int, ...], act: str, out_dim: int | None = None, layer_norm: bool = False
) -> nn.Sequential:
    """``in_dim → hidden[0] → ... → hidden[-1] (→ out_dim)`` with ``act`` between layers, each hidden
    layer normalised first with ``layer_norm`` (Ba et al. 2016; it steadies Q-learning, Ball et al. 2023)."""
    layers: list[nn.Module] = []
    last = in_dim
    for width in hidden:
        layers += [nn.Linear(last, width), *([nn.LayerNorm(width)] if layer_norm else []), activation(act)()]
        last = width
    if out_dim is not None:
        layers.append(nn.Linear(last, out_dim))
    return nn.Sequential(*layers)


def orthogonal_init(module: nn.Module, gain: float = math.sqrt(2)) -> None:
    """CleanRL's ``layer_init`` for every Linear: orthogonal weights, zero bias."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.orthogonal_(m.weight, gain)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


class ObsNorm(nn.Module):
    """``clamp((x - mean) / sqrt(var + eps), -clip, clip)`` per flattened input, as SB3's VecNormalize.

    Starts as the identity (mean 0, var 1); :meth:`update` merges a batch into the running statistics
    (Chan et al.'s parallel mean/variance). Highway's Kinematics features are a few hundredths wide
    (relative x has std ~0.06, vy ~0.01): standardised, the closing speeds that decide a crash reach
    the first layer at unit scale.
    """

    def __init__(self, dim: int, clip: float = 10.0, eps: float = 1e-8) -> None:
        super().__init__()
        self.clip, self.eps = clip, eps
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("var", torch.ones(dim))
        self.register_buffer("count", torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return ((x - self.mean) / (self.var + self.eps).sqrt()).clamp(-self.clip, self.clip)

    @torch.no_grad()
    def update(self, x: torch.Tensor) -> None:
        """Merge ``x`` (B, ..., dim) into the statistics, one sample per ``dim`` inputs."""
        x = x.reshape(-1, self.mean.numel()).double()
        if x.shape[0] == 0:
            return
        n, mean, var = x.shape[0], x.mean(0), x.var(0, unbiased=False)
        total = self.count.double() + n
        delta = mean - self.mean.double()
        m2 = self.var.double() * self.count.double() + var * n + delta**2 * self.count.double() * n / total
        self.mean.copy_(self.mean.double() + delta * n / total)
        self.var.copy_(m2 / total)
        self.count.copy_(total)


def input_layer(obs_dim: int, obs_norm: bool) -> nn.Module:
    return ObsNorm(obs_dim) if obs_norm else nn.Identity()


def features(
    obs_shape: tuple[int, ...], net: str, act: str, attention: dict
) -> tuple[nn.Module | None, int, int]:
    """``(attention module or None, width of the features it gives, width ObsNorm standardises)``."""
    obs_dim = int(torch.Size(obs_shape).numel())
    if net == "mlp":
        return None, obs_dim, obs_dim
    check_net(net, attention.get("heads", 2), attention.get("embed", 64))
    _, n_features = table_shape(obs_shape)
    module = EgoAttention(
        n_features,
        attention.get("embed", 64),
        attention.get("heads", 2),
        activation(act),
        attention.get("presence_index", 0),
    )
    return module, attention.get("embed", 64), n_features


def encode(norm: nn.Module, attention: nn.Module | None, obs: torch.Tensor) -> torch.Tensor:
    """``(B, *obs_shape)`` -> ``(B, features)``: flattened and standardised, or attended over."""
    if attention is None:
        return norm(obs.flatten(1))
    return attention(norm(obs), attention.presence(obs))  # the mask reads the raw presence feature


class QNetwork(nn.Module):
    """Q(s, ·) for Discrete actions; with ``dueling`` it is V(s) + A(s, a) - mean_a A(s, a)."""

    def __init__(
        self,
        obs_dim: int,
        n_actions: int,
        hidden: tuple[int, ...],
        act: str,
        dueling: bool,
        obs_norm: bool = False,
        layer_norm: bool = False,
        obs_shape: tuple[int, ...] | None = None,
        net: str = "mlp",
        attention: dict | None = None,
    ) -> None:
        super().__init__()
        self.dueling = dueling
        self.attention, in_dim, norm_dim = features(obs_shape or (obs_dim,), net, act, attention or {})
        self.norm = input_layer(norm_dim, obs_norm)
        self.torso = mlp(in_dim, hidden[:-1], act, layer_norm=layer_norm)
        width = hidden[-2] if len(hidden) > 1 else in_dim
        head = hidden[-1]
        self.advantage = mlp(width, (head,), act, n_actions, layer_norm)
        self.value = mlp(width, (head,), act, 1, layer_norm) if dueling else None

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        x = self.torso(encode(self.norm, self.attention, obs))  # (B, hidden[-2])
        adv = self.advantage(x)  # (B, A)
        if self.value is None:
            return adv
        return self.value(x) + adv - adv.mean(dim=1, keepdim=True)  # (B, A)


class ActorCritic(nn.Module):
    """Separate policy and value MLPs (no shared torso; under attention, each its own attention),
    initialised as in CleanRL's PPO.

    Discrete actions: the actor gives logits. Continuous actions (``action_bounds=(low, high)``): the actor
    gives the mean of a Gaussian over ``[-1, 1]`` per action dimension, with a state-independent log
    standard deviation (a learned vector, as in CleanRL's and SB3's PPO). A sample is clipped to
    ``[-1, 1]`` and mapped affinely onto ``[low, high]`` for the env (:meth:`to_env`), while its
    log-probability is that of the unclipped sample, so no change-of-variables term is needed.
    """

    def __init__(
        self,
        obs_dim: int,
        n_actions: int,
        hidden: tuple[int, ...],
        act: str,
        obs_norm: bool = False,
        layer_norm: bool = False,
        obs_shape: tuple[int, ...] | None = None,
        net: str = "mlp",
        attention: dict | None = None,
        action_bounds: tuple | None = None,
        log_std_init: float = 0.0,
    ) -> None:
        super().__init__()
        shape = obs_shape or (obs_dim,)
        self.actor_attention, in_dim, norm_dim = features(shape, net, act, attention or {})
        self.critic_attention = features(shape, net, act, attention or {})[0]
        self.norm = input_layer(norm_dim, obs_norm)
        self.actor = mlp(in_dim, hidden, act, n_actions, layer_norm)
        self.critic = mlp(in_dim, hidden, act, 1, layer_norm)
        self.continuous = action_bounds is not None
        if self.continuous:
            low, high = (torch.as_tensor(b, dtype=torch.float32).reshape(n_actions) for b in action_bounds)
            self.register_buffer("action_low", low)
            self.register_buffer("action_high", high)
            self.log_std = nn.Parameter(torch.full((n_actions,), float(log_std_init)))
        orthogonal_init(self)
        nn.init.orthogonal_(self.actor[-1].weight, 0.01)  # near-uniform initial policy (mean ~0)
        nn.init.orthogonal_(self.critic[-1].weight, 1.0)

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        return self.critic(encode(self.norm, self.critic_attention, obs)).squeeze(-1)  # (B,)

    def logits(self, obs: torch.Tensor) -> torch.Tensor:
        """Discrete: the logits (B, A). Continuous: the Gaussian's mean in [-1, 1] units (B, action_dim)."""
        return self.actor(encode(self.norm, self.actor_attention, obs))

    def to_env(self, action: torch.Tensor) -> torch.Tensor:
        """A continuous action in [-1, 1] units (clipped first) on the env's bounds; Discrete: unchanged."""
        if not self.continuous:
            return action
        unit = action.clamp(-1.0, 1.0)
        return self.action_low + (unit + 1.0) * 0.5 * (self.action_high - self.action_low)

    def _gaussian(self, obs: torch.Tensor) -> torch.distributions.Normal:
        mean = self.logits(obs)  # (B, action_dim)
        return torch.distributions.Normal(mean, self.log_std.exp().expand_as(mean))

    def act(self, obs: torch.Tensor, generator: torch.Generator | None = None) -> tuple[torch.Tensor, ...]:
        """Sample ``(action, log_prob, value)`` for a batch; sampling uses ``generator`` for reproducibility.
        A continuous action is returned unclipped, in [-1, 1] units: the env gets :meth:`to_env` of it."""
        if self.continuous:
            dist = self._gaussian(obs)
            noise = torch.randn(dist.mean.shape, generator=generator, device=obs.device)
            action = dist.mean + dist.stddev * noise  # (B, action_dim)
            return action, dist.log_prob(action).sum(-1), self.value(obs)
        logits = self.logits(obs)  # (B, A)
        probs = torch.softmax(logits, dim=-1)
        action = torch.multinomial(probs, 1, generator=generator).squeeze(-1)  # (B,)
        log_prob = torch.log_softmax(logits, dim=-1).gather(1, action[:, None]).squeeze(1)
        return action, log_prob, self.value(obs)

    def evaluate(self, obs: torch.Tensor, action: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """``(log_prob(action), entropy, value)`` for a minibatch."""
        if self.continuous:
            dist = self._gaussian(obs)
            return dist.log_prob(action).sum(-1), dist.entropy().sum(-1), self.value(obs)
        log_probs = torch.log_softmax(self.logits(obs), dim=-1)  # (B, A)
        entropy = -(log_probs.exp() * log_probs).sum(-1)  # (B,)
        return log_probs.gather(1, action[:, None]).squeeze(1), entropy, self.value(obs)
