"""Deep Q-learning: double DQN, dueling head, n-step returns, target network, ε-greedy, Huber loss.

Reads top to bottom: config → network → ε-greedy acting → n-step double-DQN loss → training loop.
Everything in the loop (acting, the replay buffer, updates) lives on the training device; with our
highway vector env on CUDA no tensor goes to the host except the logged scalars.

References: Mnih et al. 2015 (DQN), van Hasselt et al. 2016 (double), Wang et al. 2016 (dueling),
CleanRL ``dqn.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from agents.base import Algorithm, TrainSpec
from agents.common.attention import check_net
from agents.common.buffers import ReplayBuffer
from agents.common.checkpoint import load_checkpoint, save_checkpoint
from agents.common.envs import make_vec_env
from agents.common.evaluation import EvalConfig
from agents.common.nets import QNetwork, activation
from agents.common.policy import TorchPolicy, load_state, read_policy_file
from agents.common.schedules import crossed, linear
from agents.common.torch_utils import (
    EpisodeStats,
    TorchVecEnv,
    make_generator,
    restore_training,
    training_arrays,
)

# --- config ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DQNConfig(EvalConfig):
    total_steps: int = 100_000  # env steps over all envs (the run's default --steps)
    num_envs: int = 8  # envs stepped together (the run's default --num-envs)
    learning_rate: float = 1e-3  # Adam
    anneal_lr: bool = False  # decay the learning rate linearly to 0 over training
    buffer_size: int = 100_000  # transitions
    batch_size: int = 128
    gamma: float = 0.99
    n_step: int = 3  # n-step returns (1 = plain DQN targets)
    learning_starts: int = 1_000  # env steps of pure exploration before the first update
    replay_ratio: float = 0.125  # gradient updates per env step (0.125 with 8 envs: 1 per vector step)
    target_update_interval: int = 500  # gradient updates between target syncs
    tau: float = 1.0  # target sync: 1.0 copies, < 1 is Polyak averaging
    eps_start: float = 1.0
    eps_end: float = 0.05
    exploration_fraction: float = 0.1  # fraction of total_steps over which ε decays
    max_grad_norm: float = 10.0
    loss: str = "huber"  # or "mse": rare large TD errors (crashes) keep their full pull
    huber_delta: float = 1.0  # TD errors beyond it get a constant-slope loss
    per_alpha: float = 0.0  # prioritised replay exponent (0: uniform sampling; Schaul et al. use 0.6)
    per_beta: float = 0.4  # importance-weight exponent at the start, annealed linearly to 1
    hidden: tuple[int, ...] = (256, 256)
    activation: str = "relu"
    dueling: bool = True
    obs_norm: bool = False  # standardise inputs with statistics of the warm-up (learning_starts) data
    layer_norm: bool = False  # LayerNorm before each hidden activation
    net: str = "mlp"  # or "ego_attention": the vehicle rows read as a set (Leurent and Mercat 2019)
    attention_embed: int = 64  # ego_attention: width of each row's embedding
    attention_heads: int = 2  # ego_attention: attention heads (attention_embed must divide by it)
    presence_feature: int = 0  # ego_attention: the row feature that marks a vehicle present (-1: none)
    double: bool = True
    log_interval: int = 5_000  # env steps between metrics rows
    checkpoint_interval: int = 50_000  # env steps between checkpoints (0: only at the end)
    cpu_threads: int = 1  # torch intra-op threads on CPU: small MLPs run fastest on one
    checkpoint_buffer: bool = True  # include the replay buffer in checkpoints (exact resume)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.n_step < 1:
            raise ValueError(f"n_step must be >= 1, got {self.n_step}")
        if not 0.0 < self.gamma <= 1.0:
            raise ValueError(f"gamma must be in (0, 1], got {self.gamma}")
        if not 0.0 < self.tau <= 1.0:
            raise ValueError(f"tau must be in (0, 1], got {self.tau}")
        if self.replay_ratio <= 0.0:
            raise ValueError(
                f"replay_ratio must be > 0 (gradient updates per env step), got {self.replay_ratio}"
            )
        if self.batch_size < 1 or self.buffer_size < self.batch_size:
            raise ValueError(
                f"need 1 <= batch_size <= buffer_size, got {self.batch_size} and {self.buffer_size}"
            )
        if not (0.0 <= self.eps_end <= 1.0 and 0.0 <= self.eps_start <= 1.0):
            raise ValueError("eps_start and eps_end must be in [0, 1]")
        if not (0.0 <= self.per_alpha <= 1.0 and 0.0 <= self.per_beta <= 1.0):
            raise ValueError("per_alpha and per_beta must be in [0, 1]")
        if not self.hidden:
            raise ValueError("hidden needs at least one layer width, e.g. [256, 256]")
        if self.huber_delta <= 0.0:
            raise ValueError(f"huber_delta must be > 0, got {self.huber_delta}")
        if self.loss not in LOSSES:
            raise ValueError(f"unknown loss {self.loss!r}; valid: {', '.join(LOSSES)}")
        activation(self.activation)
        check_net(self.net, self.attention_heads, self.attention_embed)


LOSSES = ("huber", "mse")

# --- network and acting ---------------------------------------------------------------------------


def build_q_network(obs_shape: tuple[int, ...], n_actions: int, arch: dict) -> QNetwork:
    obs_dim = int(torch.Size(obs_shape).numel())
    return QNetwork(
        obs_dim,
        n_actions,
        tuple(arch["hidden"]),
        arch["activation"],
        arch["dueling"],
        arch.get("obs_norm", False),
        arch.get("layer_norm", False),
        tuple(obs_shape),
        arch.get("net", "mlp"),
        arch.get("attention"),
    )


def epsilon_greedy(q: torch.Tensor, eps: float, n_actions: int, gen: torch.Generator | None) -> torch.Tensor:
    """Greedy actions of ``q`` (B, A), each replaced by a uniform one with probability ``eps``."""
    B = q.shape[0]
    explore = torch.rand(B, generator=gen, device=q.device) < eps  # (B,)
    random_actions = torch.randint(0, n_actions, (B,), generator=gen, device=q.device)
    return torch.where(explore, random_actions, q.argmax(dim=1))


# --- update ---------------------------------------------------------------------------------------


def dqn_loss(
    q_net: QNetwork,
    target_net: QNetwork,
    batch: dict[str, torch.Tensor],
    double: bool,
    loss: str = "huber",
    huber_delta: float = 1.0,
) -> tuple:
    """Huber (or squared) loss between Q(s, a) and the n-step target ``G + γ^m Q_target(s', argmax_a Q(s', a))``.

    Returns ``(loss, Q(s, a), TD error)``; rows are weighted by ``batch["weight"]`` (0 for reset rows,
    the importance weight under prioritised replay), averaged over the real transitions.
    """
    q = q_net(batch["obs"]).gather(1, batch["actions"][:, None]).squeeze(1)  # (B,)
    with torch.no_grad():
        next_q_target = target_net(batch["next_obs"])  # (B, A)
        if double:  # the online net picks, the target net evaluates
            next_a = q_net(batch["next_obs"]).argmax(dim=1, keepdim=True)  # (B, 1)
            next_v = next_q_target.gather(1, next_a).squeeze(1)
        else:
            next_v = next_q_target.max(dim=1).values
        target = batch["returns"] + batch["discount"] * next_v  # discount is 0 after a crash
    w = batch["weight"]
    n_real = (w > 0).sum().clamp(min=1)
    if loss == "mse":
        per_row = F.mse_loss(q, target, reduction="none")
    else:
        per_row = F.huber_loss(q, target, reduction="none", delta=huber_delta)
    return (per_row * w).sum() / n_real, q.detach(), target - q.detach()


@torch.no_grad()
def sync_target(q_net: QNetwork, target_net: QNetwork, tau: float) -> None:
    for p, tp in zip(q_net.parameters(), target_net.parameters()):
        tp.lerp_(p, tau)


# --- training loop --------------------------------------------------------------------------------


def train(spec: TrainSpec) -> TorchPolicy:
    hp: DQNConfig = spec.hp
    device = torch.device(spec.device)
    if device.type == "cpu":
        torch.set_num_threads(hp.cpu_threads)
    env = TorchVecEnv(
        make_vec_env(spec.env_id, spec.num_envs, spec.seed, spec.env_kwargs, spec.device), device
    )
    if env.continuous:
        env.close()
        raise ValueError(
            f"DQN needs Discrete actions; {spec.env_id} has continuous ones {env.venv.single_action_space} "
            "(use --algo ppo)"
        )
    N, A = env.num_envs, env.n_actions
    arch = {
        "hidden": list(hp.hidden),
        "activation": hp.activation,
        "dueling": hp.dueling,
        "obs_norm": hp.obs_norm,
        "layer_norm": hp.layer_norm,
        "net": hp.net,
        "attention": {
            "embed": hp.attention_embed,
            "heads": hp.attention_heads,
            "presence_index": hp.presence_feature,
        },
    }
    q_net = build_q_network(env.obs_shape, A, arch).to(device)
    target_net = build_q_network(env.obs_shape, A, arch).to(device)
    target_net.load_state_dict(q_net.state_dict())
    optimizer = torch.optim.Adam(q_net.parameters(), lr=hp.learning_rate, eps=1.5e-4, fused=True)
    buffer = ReplayBuffer(hp.buffer_size, N, env.obs_shape, device, alpha=hp.per_alpha)
    gen = make_generator(spec.seed, device)
    modules = {"q": q_net, "target": target_net}
    evaluator = hp.periodic_eval(spec.env_id, spec.env_kwargs)
    if hp.keep_best:
        modules["best"] = build_q_network(env.obs_shape, A, arch).to(device)

    step, updates, credit = 0, 0, 0.0
    ckpt = load_checkpoint(spec.run_dir) if spec.resume else None
    if ckpt is not None:
        step, arrays, state = ckpt
        restore_training(arrays, state, modules, optimizer, gen)
        updates, credit = state["updates"], state["credit"]
        evaluator.load_state(state["eval"])
        if buffer.load_state_arrays(arrays):
            # the observation after the last stored row is lost with the env: its last n rows cannot be
            # completed into n-step targets, so they are never sampled
            buffer.drop_newest(hp.n_step)

    def checkpoint() -> None:
        arrays, state = training_arrays(modules, optimizer, gen)
        if hp.checkpoint_buffer:
            arrays.update(buffer.state_arrays())
        state |= {"updates": updates, "credit": credit, "eval": evaluator.state()}
        save_checkpoint(spec.run_dir, step, arrays, state)

    fit_norm = hp.obs_norm and not q_net.norm.count  # a resumed run has its statistics already
    stats = EpisodeStats(N, device)
    obs = env.reset(seed=spec.seed + step)  # (N, *obs_shape); a fresh seed after a resume
    loss_sum = torch.zeros((), device=device)
    q_sum = torch.zeros((), device=device)
    n_logged = 0
    try:
        while step < spec.total_steps:
            eps = linear(hp.eps_start, hp.eps_end, hp.exploration_fraction, step / spec.total_steps)
            if hp.anneal_lr:
                optimizer.param_groups[0]["lr"] = hp.learning_rate * (1.0 - step / spec.total_steps)
            with torch.no_grad():
                actions = epsilon_greedy(q_net(obs), eps, A, gen)  # (N,)
            next_obs, reward, terminated, truncated, valid, crashed = env.step(actions)
            buffer.add(obs, actions, reward, terminated, truncated, valid)
            stats.update(reward, terminated, truncated, valid, crashed)
            obs = next_obs
            prev, step = step, step + N

            if step >= hp.learning_starts and buffer.can_sample(hp.n_step):
                if fit_norm:  # once, from the warm-up data; fixed from here on: stable Q targets
                    q_net.norm.update(buffer.stored_obs())
                    target_net.norm.load_state_dict(q_net.norm.state_dict())
                    fit_norm = False
                credit += N * hp.replay_ratio
                beta = linear(hp.per_beta, 1.0, 1.0, step / spec.total_steps)
                while credit >= 1.0:
                    credit -= 1.0
                    batch = buffer.sample(hp.batch_size, hp.n_step, hp.gamma, gen, beta)
                    loss, q, td = dqn_loss(q_net, target_net, batch, hp.double, hp.loss, hp.huber_delta)
                    if buffer.prioritized:
                        buffer.update_priorities(batch["index"], td)
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    torch.nn.utils.clip_grad_norm_(q_net.parameters(), hp.max_grad_norm)
                    optimizer.step()
                    updates += 1
                    if updates % hp.target_update_interval == 0 or hp.tau < 1.0:
                        sync_target(q_net, target_net, hp.tau)
                    loss_sum += loss.detach()
                    q_sum += q.mean()
                    n_logged += 1

            final = step >= spec.total_steps
            if crossed(prev, step, hp.log_interval) or final:
                stats.flush(spec.logger)
                scalars = {"epsilon": eps, "updates": updates}
                if evaluator.due(step, final):
                    policy = make_policy(q_net, env.obs_shape, A, arch)
                    scalars |= evaluator.run(step, policy, q_net, modules.get("best"))
                if n_logged:
                    scalars |= {"loss": (loss_sum / n_logged).item(), "q_mean": (q_sum / n_logged).item()}
                    loss_sum.zero_(), q_sum.zero_()
                    n_logged = 0
                spec.logger.log(step, **scalars)
            if crossed(prev, step, hp.checkpoint_interval):
                checkpoint()
        checkpoint()
    finally:
        env.close()
    if hp.keep_best:
        evaluator.write_selection(spec.run_dir)
        q_net = modules["best"]
    return make_policy(q_net.eval(), env.obs_shape, A, arch)


# --- policy ---------------------------------------------------------------------------------------

POLICY_FILE = "dqn.safetensors"


def make_policy(q_net: QNetwork, obs_shape: tuple[int, ...], n_actions: int, arch: dict) -> TorchPolicy:
    def explore(q: torch.Tensor) -> torch.Tensor:  # SB3's predict(deterministic=False) for DQN: ε = 0.05
        return epsilon_greedy(q, 0.05, n_actions, None)

    return TorchPolicy(q_net, q_net, obs_shape, n_actions, POLICY_FILE, arch, explore)


def load(run_dir: Path, device: str = "cpu") -> TorchPolicy:
    arrays, obs_shape, n_actions, arch = read_policy_file(run_dir, POLICY_FILE)
    q_net = load_state(build_q_network(obs_shape, n_actions, arch), arrays, device)
    return make_policy(q_net, obs_shape, n_actions, arch)


DQN = Algorithm(
    name="dqn",
    hyperparams=DQNConfig,
    train=train,
    load=load,
    description="double DQN with dueling head, n-step returns and a replay buffer on the training device",
    default_steps=DQNConfig.total_steps,
    extra_metrics=("epsilon", "updates", "loss", "q_mean", "eval_return", "eval_crash_rate"),
)
