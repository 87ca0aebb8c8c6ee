"""Proximal Policy Optimisation with GAE, clipped objective, entropy bonus and learning-rate annealing.

Reads top to bottom: config → actor-critic → rollout → advantages (GAE) → clipped update → loop.
Discrete actions get a categorical policy; bounded continuous (Box) actions a Gaussian with a
state-independent log std, clipped onto the bounds (see :class:`agents.common.nets.ActorCritic`).
Rollouts, advantages and minibatches stay on the training device (our highway vector env on CUDA
returns tensors there). Time-limit truncation is bootstrapped with ``V(s_final)``; a crash never is:
see :func:`agents.common.buffers.compute_gae` and ``tests/test_gae.py``.

References: Schulman et al. 2017; CleanRL ``ppo.py`` and ``ppo_continuous_action.py``; "The 37
implementation details of PPO".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch

from agents.base import Algorithm, TrainSpec
from agents.common.attention import check_net
from agents.common.buffers import Rollout, compute_gae
from agents.common.checkpoint import load_checkpoint, save_checkpoint
from agents.common.envs import make_vec_env
from agents.common.evaluation import EvalConfig
from agents.common.nets import ActorCritic, ObsNorm, activation
from agents.common.policy import TorchPolicy, load_state, read_policy_file
from agents.common.schedules import crossed
from agents.common.torch_utils import (
    EpisodeStats,
    TorchVecEnv,
    make_generator,
    restore_training,
    training_arrays,
)

# --- config ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PPOConfig(EvalConfig):
    total_steps: int = 100_000  # env steps over all envs (the run's default --steps)
    num_envs: int = 8  # envs stepped together (the run's default --num-envs)
    num_steps: int = 128  # rollout length per env; a rollout is num_envs * num_steps transitions
    learning_rate: float = 2.5e-4
    anneal_lr: bool = True  # linear decay to 0 over training
    gamma: float = 0.99
    gae_lambda: float = 0.95
    num_minibatches: int = 4
    update_epochs: int = 4
    norm_adv: bool = True
    clip_coef: float = 0.2
    clip_vloss: bool = True
    ent_coef: float = 0.01
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    target_kl: float | None = None  # stop the epochs early when the approximate KL exceeds it
    hidden: tuple[int, ...] = (64, 64)
    activation: str = "tanh"
    obs_norm: bool = False  # standardise inputs with running statistics, updated after each update
    layer_norm: bool = False  # LayerNorm before each hidden activation
    net: str = "mlp"  # or "ego_attention": the vehicle rows read as a set (Leurent and Mercat 2019)
    attention_embed: int = 64  # ego_attention: width of each row's embedding
    attention_heads: int = 2  # ego_attention: attention heads (attention_embed must divide by it)
    presence_feature: int = 0  # ego_attention: the row feature that marks a vehicle present (-1: none)
    log_std_init: float = 0.0  # continuous actions: the Gaussian's initial log std, in [-1, 1] action units
    crash_penalty: float = 0.0  # subtracted from the reward of a step that ends in a crash (training only)
    reward_norm: bool = False  # learn from rewards scaled by the running std of the discounted return
    reward_clip: float = 10.0  # reward_norm: scaled rewards are clipped to +/- this
    log_interval: int = 5_000  # env steps between metrics rows (rounded to whole rollouts)
    checkpoint_interval: int = 50_000  # env steps between checkpoints (0: only at the end)
    cpu_threads: int = 1  # torch intra-op threads on CPU: small MLPs run fastest on one

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.num_steps < 1 or self.num_minibatches < 1 or self.update_epochs < 1:
            raise ValueError("num_steps, num_minibatches and update_epochs must all be >= 1")
        if not 0.0 < self.gamma <= 1.0 or not 0.0 <= self.gae_lambda <= 1.0:
            raise ValueError(
                f"need gamma in (0, 1] and gae_lambda in [0, 1], got {self.gamma}, {self.gae_lambda}"
            )
        if self.reward_clip <= 0.0:
            raise ValueError(f"reward_clip must be > 0, got {self.reward_clip}")
        if self.crash_penalty < 0.0:
            raise ValueError(f"crash_penalty must be >= 0 (it is subtracted), got {self.crash_penalty}")
        if self.clip_coef <= 0.0:
            raise ValueError(f"clip_coef must be > 0, got {self.clip_coef}")
        if not self.hidden:
            raise ValueError("hidden needs at least one layer width, e.g. [64, 64]")
        activation(self.activation)
        check_net(self.net, self.attention_heads, self.attention_embed)


# --- network --------------------------------------------------------------------------------------


def build_actor_critic(obs_shape: tuple[int, ...], n_actions: int, arch: dict) -> ActorCritic:
    return ActorCritic(
        int(torch.Size(obs_shape).numel()),
        n_actions,
        tuple(arch["hidden"]),
        arch["activation"],
        arch.get("obs_norm", False),
        arch.get("layer_norm", False),
        tuple(obs_shape),
        arch.get("net", "mlp"),
        arch.get("attention"),
        arch.get("action_bounds"),
        arch.get("log_std_init", 0.0),
    )


# --- rollout --------------------------------------------------------------------------------------


class RewardScale(torch.nn.Module):
    """Stable-baselines3 ``VecNormalize``'s reward normalisation (learning only; the logged returns and
    evaluations keep the env's reward): each reward is divided by the running standard deviation of the
    per-env discounted return and clipped. It makes one set of hyperparameters fit rewards of any scale,
    as on Pendulum, whose returns reach -1,600. The statistics live in buffers, so checkpoints keep them."""

    def __init__(self, num_envs: int, gamma: float, clip: float) -> None:
        super().__init__()
        self.gamma, self.clip = gamma, clip
        self.stats = ObsNorm(1)  # its running variance is the discounted return's
        self.register_buffer("ret", torch.zeros(num_envs))

    @torch.no_grad()
    def forward(self, reward: torch.Tensor, done: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        self.ret.copy_(torch.where(valid, self.ret * self.gamma + reward, self.ret))
        self.stats.update(self.ret[valid][:, None])
        scaled = (reward / (self.stats.var + 1e-8).sqrt()).clamp(-self.clip, self.clip)
        self.ret.masked_fill_(done, 0.0)
        return scaled


@torch.no_grad()
def collect(
    agent: ActorCritic,
    env: TorchVecEnv,
    obs: torch.Tensor,
    ro: Rollout,
    stats: EpisodeStats,
    gen,
    crash_penalty: float = 0.0,
    reward_scale: RewardScale | None = None,
):
    """Fill ``ro`` with ``T`` vector steps from ``obs``; returns the observation after the last one."""
    for t in range(ro.obs.shape[0]):
        ro.obs[t] = obs
        ro.actions[t], ro.log_probs[t], ro.values[t] = agent.act(obs, gen)
        obs, reward, terminated, truncated, valid, crashed = env.step(agent.to_env(ro.actions[t]))
        stats.update(reward, terminated, truncated, valid, crashed)
        if crash_penalty and crashed is not None:
            reward = reward - crash_penalty * (crashed & terminated).float()
        if reward_scale is not None:
            reward = reward_scale(reward, terminated | truncated, valid)
        ro.rewards[t], ro.terminated[t], ro.truncated[t], ro.valid[t] = reward, terminated, truncated, valid
    return obs


# --- update ---------------------------------------------------------------------------------------


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return (x * mask).sum() / mask.sum().clamp(min=1.0)


def ppo_update(
    agent: ActorCritic,
    optimizer: torch.optim.Optimizer,
    ro: Rollout,
    advantages: torch.Tensor,
    hp: PPOConfig,
    gen: torch.Generator,
) -> dict[str, torch.Tensor]:
    """``update_epochs`` passes of shuffled minibatches over the rollout; returns the last epoch's stats."""
    obs = ro.obs.flatten(0, 1)  # (T*N, *obs_shape)
    actions, old_logp = ro.actions.flatten(0, 1), ro.log_probs.flatten()  # (T*N[, action_dim]), (T*N,)
    old_values, adv = ro.values.flatten(), advantages.flatten()
    returns = adv + old_values
    mask = ro.valid.flatten().float()  # reset steps of NEXT_STEP autoreset carry no transition
    batch = obs.shape[0]
    mb_size = math.ceil(batch / hp.num_minibatches)
    out: dict[str, torch.Tensor] = {}
    for _ in range(hp.update_epochs):
        perm = torch.randperm(batch, generator=gen, device=obs.device)
        for start in range(0, batch, mb_size):
            idx = perm[start : start + mb_size]
            m = mask[idx]
            logp, entropy, value = agent.evaluate(obs[idx], actions[idx])
            log_ratio = logp - old_logp[idx]
            ratio = log_ratio.exp()
            mb_adv = adv[idx]
            if hp.norm_adv:
                mean = masked_mean(mb_adv, m)
                std = masked_mean((mb_adv - mean) ** 2, m).sqrt()
                mb_adv = (mb_adv - mean) / (std + 1e-8)
            pg_loss = masked_mean(
                torch.max(-mb_adv * ratio, -mb_adv * ratio.clamp(1 - hp.clip_coef, 1 + hp.clip_coef)), m
            )
            if hp.clip_vloss:
                v_clipped = old_values[idx] + (value - old_values[idx]).clamp(-hp.clip_coef, hp.clip_coef)
                v_loss = 0.5 * masked_mean(
                    torch.max((value - returns[idx]) ** 2, (v_clipped - returns[idx]) ** 2), m
                )
            else:
                v_loss = 0.5 * masked_mean((value - returns[idx]) ** 2, m)
            ent = masked_mean(entropy, m)
            loss = pg_loss - hp.ent_coef * ent + hp.vf_coef * v_loss
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(agent.parameters(), hp.max_grad_norm)
            optimizer.step()
            with torch.no_grad():
                approx_kl = masked_mean((ratio - 1) - log_ratio, m)
                clipfrac = masked_mean(((ratio - 1).abs() > hp.clip_coef).float(), m)
            out = {
                "pg_loss": pg_loss,
                "v_loss": v_loss,
                "entropy": ent,
                "approx_kl": approx_kl,
                "clipfrac": clipfrac,
            }
        if hp.target_kl is not None and approx_kl.item() > hp.target_kl:
            break
    var_y = masked_mean((returns - masked_mean(returns, mask)) ** 2, mask)
    out["explained_variance"] = (
        1 - masked_mean((returns - old_values - masked_mean(adv, mask)) ** 2, mask) / var_y
    )
    return {k: v.detach() for k, v in out.items()}


# --- training loop --------------------------------------------------------------------------------


def train(spec: TrainSpec) -> TorchPolicy:
    hp: PPOConfig = spec.hp
    device = torch.device(spec.device)
    if device.type == "cpu":
        torch.set_num_threads(hp.cpu_threads)
    env = TorchVecEnv(
        make_vec_env(spec.env_id, spec.num_envs, spec.seed, spec.env_kwargs, spec.device), device
    )
    N, T = env.num_envs, hp.num_steps
    arch = {
        "hidden": list(hp.hidden),
        "activation": hp.activation,
        "obs_norm": hp.obs_norm,
        "layer_norm": hp.layer_norm,
        "net": hp.net,
        "attention": {
            "embed": hp.attention_embed,
            "heads": hp.attention_heads,
            "presence_index": hp.presence_feature,
        },
    }
    if env.continuous:  # a Gaussian over [-1, 1] units, mapped onto the env's bounds
        arch |= {"action_bounds": [b.tolist() for b in env.bounds], "log_std_init": hp.log_std_init}
    agent = build_actor_critic(env.obs_shape, env.n_actions, arch).to(device)
    optimizer = torch.optim.Adam(agent.parameters(), lr=hp.learning_rate, eps=1e-5, fused=True)
    gen = make_generator(spec.seed, device)
    num_iterations = math.ceil(spec.total_steps / (N * T))
    modules = {"agent": agent}
    if hp.reward_norm:
        modules["reward_scale"] = RewardScale(N, hp.gamma, hp.reward_clip).to(device)
    evaluator = hp.periodic_eval(spec.env_id, spec.env_kwargs)
    if hp.keep_best:
        modules["best"] = build_actor_critic(env.obs_shape, env.n_actions, arch).to(device)

    iteration = 0
    ckpt = load_checkpoint(spec.run_dir) if spec.resume else None
    if ckpt is not None:
        _, arrays, state = ckpt
        restore_training(arrays, state, modules, optimizer, gen)
        iteration = state["iteration"]
        if "eval" in state:  # checkpoints written before PPO evaluated during training have none
            evaluator.load_state(state["eval"])

    def checkpoint() -> None:
        arrays, state = training_arrays(modules, optimizer, gen)
        state |= {"iteration": iteration, "eval": evaluator.state()}
        save_checkpoint(spec.run_dir, iteration * N * T, arrays, state)

    stats = EpisodeStats(N, device)
    ro = Rollout.empty(T, N, env.obs_shape, device, env.n_actions if env.continuous else None)
    obs = env.reset(seed=spec.seed + iteration * N * T)  # (N, *obs_shape); a fresh seed after a resume
    try:
        while iteration < num_iterations:
            if hp.anneal_lr:
                optimizer.param_groups[0]["lr"] = hp.learning_rate * (1.0 - iteration / num_iterations)
            obs = collect(agent, env, obs, ro, stats, gen, hp.crash_penalty, modules.get("reward_scale"))
            with torch.no_grad():
                next_value = agent.value(obs)  # (N,)
            advantages = compute_gae(
                ro.rewards,
                ro.values,
                next_value,
                ro.terminated,
                ro.truncated,
                ro.valid,
                hp.gamma,
                hp.gae_lambda,
            )
            losses = ppo_update(agent, optimizer, ro, advantages, hp, gen)
            if hp.obs_norm:  # after the update: one rollout is collected and learned from with one set
                agent.norm.update(ro.obs[ro.valid])
            prev, iteration = iteration * N * T, iteration + 1
            step, final = iteration * N * T, iteration == num_iterations
            if crossed(prev, step, hp.log_interval) or final:
                stats.flush(spec.logger)
                scalars = {"learning_rate": optimizer.param_groups[0]["lr"]}
                scalars |= {k: v.item() for k, v in losses.items()}
                if evaluator.due(step, final):
                    policy = make_policy(agent, env.obs_shape, env.n_actions, arch)
                    scalars |= evaluator.run(step, policy, agent, modules.get("best"))
                spec.logger.log(step, **scalars)
            if crossed(prev, step, hp.checkpoint_interval):
                checkpoint()
        checkpoint()
    finally:
        env.close()
    if hp.keep_best:
        evaluator.write_selection(spec.run_dir)
        agent = modules["best"]
    return make_policy(agent.eval(), env.obs_shape, env.n_actions, arch)


# --- policy ---------------------------------------------------------------------------------------

POLICY_FILE = "ppo.safetensors"


def make_policy(agent: ActorCritic, obs_shape: tuple[int, ...], n_actions: int, arch: dict) -> TorchPolicy:
    """Greedy: the most likely action (Discrete) or the Gaussian's mean on the bounds (continuous)."""
    if agent.continuous:

        def sample(mean: torch.Tensor) -> torch.Tensor:
            return agent.to_env(mean + agent.log_std.exp() * torch.randn_like(mean))

        return TorchPolicy(agent, agent.logits, obs_shape, n_actions, POLICY_FILE, arch, sample, agent.to_env)

    def explore(logits: torch.Tensor) -> torch.Tensor:
        return torch.multinomial(torch.softmax(logits, dim=-1), 1).squeeze(-1)

    return TorchPolicy(agent, agent.logits, obs_shape, n_actions, POLICY_FILE, arch, explore)


def load(run_dir: Path, device: str = "cpu") -> TorchPolicy:
    arrays, obs_shape, n_actions, arch = read_policy_file(run_dir, POLICY_FILE)
    agent = load_state(build_actor_critic(obs_shape, n_actions, arch), arrays, device)
    return make_policy(agent, obs_shape, n_actions, arch)


PPO = Algorithm(
    name="ppo",
    hyperparams=PPOConfig,
    train=train,
    load=load,
    description="PPO (clipped, GAE, entropy bonus, annealed learning rate) with rollouts on the training device",
    default_steps=PPOConfig.total_steps,
    extra_metrics=(
        "learning_rate",
        "pg_loss",
        "v_loss",
        "entropy",
        "approx_kl",
        "clipfrac",
        "explained_variance",
        "eval_return",
        "eval_crash_rate",
    ),
)
