"""Experience storage on the training device: a replay buffer with n-step returns, a rollout buffer, GAE.

Both buffers are laid out ``(time, env)`` exactly as a NEXT_STEP-autoreset vector env produces data,
so the next observation of row ``t`` is simply row ``t + 1``: in NEXT_STEP mode the observation
returned with a done is the true final observation, and the row after it is the reset step (marked
``valid=False``: its action was ignored). That makes time-limit bootstrapping free: ``V(s_final)``
or ``max_a Q(s_final, a)`` is read from the row after the done, and a crash (``terminated``) cuts it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


def compute_gae(
    rewards: torch.Tensor,
    values: torch.Tensor,
    next_value: torch.Tensor,
    terminated: torch.Tensor,
    truncated: torch.Tensor,
    valid: torch.Tensor,
    gamma: float,
    gae_lambda: float,
) -> torch.Tensor:
    """Generalised advantage estimates for a ``(T, N)`` NEXT_STEP rollout.

    ``values[t] = V(obs[t])`` and ``next_value = V(obs[T])``. After a done at ``t``, ``obs[t + 1]`` is
    the final observation, so ``values[t + 1]`` is ``V(s_final)``:

    - truncated (time limit): ``δ_t = r_t + γ V(s_final) - V(s_t)``: bootstrap, then stop the recursion;
    - terminated (crash): ``δ_t = r_t - V(s_t)``: never bootstrap;
    - invalid rows (the reset step after a done) get advantage 0 and are masked out of the loss.
    """
    T = rewards.shape[0]
    advantages = torch.zeros_like(rewards)  # (T, N)
    last = torch.zeros_like(next_value)  # (N,)
    for t in reversed(range(T)):
        v_next = next_value if t == T - 1 else values[t + 1]  # (N,)
        not_term = (~terminated[t]).to(rewards.dtype)
        not_done = (~(terminated[t] | truncated[t])).to(rewards.dtype)
        delta = rewards[t] + gamma * v_next * not_term - values[t]
        last = delta + gamma * gae_lambda * not_done * last
        last = last * valid[t].to(rewards.dtype)
        advantages[t] = last
    return advantages


@dataclass
class Rollout:
    """One PPO rollout, ``(T, N, ...)`` tensors on the training device."""

    obs: torch.Tensor  # (T, N, *obs_shape)
    actions: torch.Tensor  # (T, N) int64, or (T, N, action_dim) float32 for continuous actions
    log_probs: torch.Tensor  # (T, N)
    values: torch.Tensor  # (T, N)
    rewards: torch.Tensor  # (T, N)
    terminated: torch.Tensor  # (T, N) bool
    truncated: torch.Tensor  # (T, N) bool
    valid: torch.Tensor  # (T, N) bool: False on the reset step after a done

    @classmethod
    def empty(
        cls, T: int, N: int, obs_shape: tuple[int, ...], device: torch.device, action_dim: int | None = None
    ) -> Rollout:
        """``action_dim``: the size of continuous actions (None: one Discrete action per step)."""
        f = dict(device=device, dtype=torch.float32)
        b = dict(device=device, dtype=torch.bool)
        actions = (
            torch.zeros((T, N), device=device, dtype=torch.int64)
            if action_dim is None
            else torch.zeros((T, N, action_dim), **f)
        )
        return cls(
            obs=torch.zeros((T, N, *obs_shape), **f),
            actions=actions,
            log_probs=torch.zeros((T, N), **f),
            values=torch.zeros((T, N), **f),
            rewards=torch.zeros((T, N), **f),
            terminated=torch.zeros((T, N), **b),
            truncated=torch.zeros((T, N), **b),
            valid=torch.zeros((T, N), **b),
        )


class ReplayBuffer:
    """Circular ``(capacity // N, N)`` replay on the training device, n-step targets built at sample time.

    Each row stores ``(obs_t, a_t, r_t, terminated_t, truncated_t, valid_t)``; the next observation is
    the next row. A sampled index ``t`` needs rows ``t .. t + n`` to exist, so the newest ``n`` rows
    are not sampled yet.

    With ``alpha > 0`` sampling is prioritised (Schaul et al. 2016, proportional variant): a transition
    is drawn with probability ``p_i^α / Σ_k p_k^α``, ``p_i`` its last absolute TD error (new ones get the
    largest seen so far), and the batch carries importance weights ``(size · P(i))^-β`` (divided by
    their batch maximum) that undo the bias. Reset-step rows get priority 0 and are never drawn.
    """

    def __init__(
        self,
        capacity: int,
        num_envs: int,
        obs_shape: tuple[int, ...],
        device: torch.device,
        alpha: float = 0.0,
    ) -> None:
        self.rows = max(capacity // num_envs, 2)
        self.num_envs = num_envs
        self.device = device
        n, R = num_envs, self.rows
        self.obs = torch.zeros((R, n, *obs_shape), dtype=torch.float32, device=device)
        self.actions = torch.zeros((R, n), dtype=torch.int64, device=device)
        self.rewards = torch.zeros((R, n), dtype=torch.float32, device=device)
        self.terminated = torch.zeros((R, n), dtype=torch.bool, device=device)
        self.done = torch.zeros((R, n), dtype=torch.bool, device=device)
        self.valid = torch.zeros((R, n), dtype=torch.bool, device=device)
        self.written = 0  # rows written since the start (logical time of the next row)
        self.alpha = alpha
        # p^α per transition (0: not drawable) and its row sums (a row is drawn first, then an env in
        # it: two small draws instead of one over the whole buffer), the largest p seen, and the rows
        # up to which p has been set
        self.priority = torch.zeros((R, n), dtype=torch.float32, device=device) if alpha > 0 else None
        self.row_priority = torch.zeros(R, dtype=torch.float32, device=device) if alpha > 0 else None
        self.max_priority = torch.ones((), device=device)  # a tensor: no host sync per update
        self.released = 0

    @property
    def prioritized(self) -> bool:
        return self.priority is not None

    def add(self, obs, actions, rewards, terminated, truncated, valid) -> None:
        """Append one vector-env step: the obs acted on and what the step returned."""
        i = self.written % self.rows
        self.obs[i] = obs
        self.actions[i] = actions
        self.rewards[i] = rewards
        self.terminated[i] = terminated
        self.done[i] = terminated | truncated
        self.valid[i] = valid
        if self.prioritized:
            self.priority[i] = 0.0  # drawable once its n-step target is complete (see _release)
            self.row_priority[i] = 0.0
        self.written += 1

    def __len__(self) -> int:
        return min(self.written, self.rows) * self.num_envs

    def can_sample(self, n_step: int) -> bool:
        return self.written - self._oldest() > n_step

    def _oldest(self) -> int:
        return max(0, self.written - self.rows)

    def stored_obs(self) -> torch.Tensor:
        """The observations of the stored real transitions, ``(M, *obs_shape)``."""
        rows = min(self.written, self.rows)
        return self.obs[:rows][self.valid[:rows]]

    def drop_newest(self, n: int) -> None:
        """Never sample the newest ``n`` rows (after a resume their next observations are lost)."""
        rows = (self.written - torch.arange(1, n + 1)) % self.rows
        self.valid[rows] = False
        if self.prioritized:
            self.priority[rows] = 0.0
            self.row_priority[rows] = 0.0

    def sample(
        self, batch_size: int, n_step: int, gamma: float, generator: torch.Generator, beta: float = 1.0
    ) -> dict[str, torch.Tensor]:
        """A minibatch of n-step transitions ``(obs, action, return, next_obs, discount, weight)``.

        ``return = Σ_{k<m} γ^k r_{t+k}`` over the ``m ≤ n`` steps before the episode ends;
        ``discount = γ^m`` (0 after a crash) multiplies the bootstrap value of ``next_obs = obs[t+m]``;
        ``weight`` is 0 for reset-step rows (not real transitions) and, when prioritised, the
        importance weight (exponent ``beta``). ``index`` (flat row * N + env) is for
        :meth:`update_priorities`.
        """
        lo, hi = self._oldest(), self.written - n_step  # logical rows t with t + n_step <= written - 1
        if self.prioritized:
            self._release(hi)
            row = torch.multinomial(self.row_priority, batch_size, replacement=True, generator=generator)
            env = torch.multinomial(self.priority[row], 1, generator=generator).squeeze(1)  # (B,)
            t = lo + (row - lo) % self.rows  # the logical row stored in physical row `row`
            batch = self.gather(t, env, n_step, gamma)
            prob = self.priority[row, env] / self.row_priority.sum()  # P(i)
            w = (prob * len(self)).pow(-beta)
            batch["weight"] = batch["weight"] * w / w.max()
            batch["index"] = row * self.num_envs + env
            return batch
        t = torch.randint(lo, hi, (batch_size,), generator=generator, device=self.device)  # (B,)
        env = torch.randint(0, self.num_envs, (batch_size,), generator=generator, device=self.device)
        return self.gather(t, env, n_step, gamma)

    def _release(self, hi: int) -> None:
        """Rows ``released .. hi - 1`` now have complete targets: give the valid ones the max priority."""
        start = max(self.released, self._oldest())
        if hi > start:
            rows = torch.arange(start, hi, device=self.device) % self.rows
            self.priority[rows] = self.valid[rows].float() * self.max_priority**self.alpha
            self.row_priority[rows] = self.priority[rows].sum(1)
        self.released = max(self.released, hi)

    def update_priorities(self, index: torch.Tensor, td_error: torch.Tensor, eps: float = 1e-6) -> None:
        """Set the sampled transitions' priorities to their new absolute TD errors."""
        p = td_error.detach().abs().float() + eps  # (B,)
        self.max_priority = torch.maximum(self.max_priority, p.max())
        self.priority.view(-1)[index] = p.pow(self.alpha)
        rows = index // self.num_envs
        self.row_priority[rows] = self.priority[rows].sum(1)

    def gather(
        self, t: torch.Tensor, env: torch.Tensor, n_step: int, gamma: float
    ) -> dict[str, torch.Tensor]:
        """The n-step transitions starting at logical rows ``t`` (B,) of envs ``env`` (B,)."""
        k = torch.arange(n_step, device=self.device)  # (n,)
        rows = (t[:, None] + k[None, :]) % self.rows  # (B, n)
        envs = env[:, None].expand(-1, n_step)
        rewards = self.rewards[rows, envs]  # (B, n)
        done = self.done[rows, envs]  # (B, n)
        # alive[:, k]: no done among steps t .. t+k-1, so step t+k still belongs to the episode
        alive = torch.cumprod(
            torch.cat([torch.ones_like(done[:, :1]), ~done[:, :-1]], 1).float(), 1
        )  # (B, n)
        returns = (rewards * alive * gamma ** k.float()).sum(1)  # (B,)
        m = alive.sum(1).long()  # (B,) steps taken, 1..n
        crashed = self.terminated[(t + m - 1) % self.rows, env]
        row0 = t % self.rows
        return {
            "obs": self.obs[row0, env],  # (B, *obs_shape)
            "actions": self.actions[row0, env],  # (B,)
            "returns": returns,  # (B,)
            "next_obs": self.obs[(t + m) % self.rows, env],  # (B, *obs_shape): s_final after a done
            "discount": torch.where(crashed, 0.0, gamma ** m.float()),  # (B,)
            "weight": self.valid[row0, env].float(),  # (B,)
        }

    def state_arrays(self) -> dict[str, torch.Tensor]:
        out = {f"replay/{k}": getattr(self, k) for k in self._array_names()}
        out["replay/written"] = torch.tensor([self.written, self.released], dtype=torch.int64)
        out["replay/max_priority"] = self.max_priority.reshape(1)
        return out

    def _array_names(self) -> tuple[str, ...]:
        names = ("obs", "actions", "rewards", "terminated", "done", "valid")
        return names + ("priority", "row_priority") if self.prioritized else names

    def load_state_arrays(self, arrays: dict[str, np.ndarray]) -> bool:
        """Restore from a checkpoint; False when it holds no (or an incompatible) buffer."""
        names = self._array_names()
        if any(f"replay/{k}" not in arrays for k in (*names, "written")):
            return False
        if tuple(arrays["replay/obs"].shape) != tuple(self.obs.shape):
            return False
        for k in names:
            getattr(self, k).copy_(torch.from_numpy(np.array(arrays[f"replay/{k}"])))
        counters = np.array(arrays["replay/written"]).tolist()
        self.written = int(counters[0])
        self.released = int(counters[1]) if len(counters) > 1 else self.written
        if "replay/max_priority" in arrays:
            self.max_priority.fill_(float(np.array(arrays["replay/max_priority"])[0]))
        return True
