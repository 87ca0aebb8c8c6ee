"""Greedy evaluation of a policy on any env id: mean/std return, crash, off-road and success rates."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from agents.common.envs import done_info, make_vec_env, to_numpy
from agents.common.io import write_json


def evaluate_policy(
    policy,
    env_id: str,
    episodes: int = 100,
    seed: int = 10_000,
    env_kwargs: dict | None = None,
    num_envs: int | None = None,
    deterministic: bool = True,
    max_steps: int = 10_000_000,
    venv=None,
) -> dict:
    """Run ``episodes`` full episodes with ``policy.predict`` and summarise them.

    Every env runs a fixed quota of episodes (as stable-baselines3's ``evaluate_policy`` does), so
    short episodes (crashes) are not over-represented by envs that finish first.
    ``crash_rate`` is present when the env reports ``info["crashed"]``, ``success_rate`` when it reports
    ``info["is_success"]`` (stable-baselines3's convention: the value at an episode's last step), and
    ``off_road_rate`` when it reports highway-env's ``info["rewards"]["on_road_reward"]`` (the share of
    episodes whose last step is off the road, e.g. racetrack-v0's off-road termination).
    ``venv``: a vector env already made (and wrapped) to evaluate on instead of ``env_id``'s (which then
    only names it); it is closed at the end.
    """
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}")
    if venv is None:
        n = num_envs or min(episodes, 64)
        venv = make_vec_env(env_id, max(1, min(n, episodes)), seed=seed, env_kwargs=env_kwargs)
    n = venv.num_envs  # several controlled vehicles: a row per agent, and an episode is an agent's
    quota = np.array([episodes // n + (1 if i < episodes % n else 0) for i in range(n)])
    returns: list[float] = []
    lengths: list[int] = []
    crashes: list[float] = []
    successes: list[float] = []
    off_road: list[float] = []
    try:
        obs, _ = venv.reset(seed=seed)
        ep_ret = np.zeros(n)
        ep_len = np.zeros(n, dtype=np.int64)
        done_count = np.zeros(n, dtype=np.int64)
        prev_done = np.zeros(n, dtype=bool)
        steps = 0
        while (done_count < quota).any() and steps < max_steps:
            actions, _ = policy.predict(obs, deterministic=deterministic)
            obs, rew, term, trunc, infos = venv.step(actions)
            steps += 1
            rew, done = to_numpy(rew), to_numpy(term) | to_numpy(trunc)
            live = ~prev_done  # NEXT_STEP autoreset: the step after a done is a reset step
            ep_ret += np.where(live, rew, 0.0)
            ep_len += live
            finished = done & live
            crashed = done_info(infos, "crashed", n)
            success = done_info(infos, "is_success", n)
            on_road = done_info(infos.get("rewards", {}), "on_road_reward", n)
            for i in np.flatnonzero(finished):
                if done_count[i] < quota[i]:
                    returns.append(float(ep_ret[i]))
                    lengths.append(int(ep_len[i]))
                    if crashed is not None:
                        crashes.append(float(bool(crashed[i])))
                    if success is not None:
                        successes.append(float(bool(success[i])))
                    if on_road is not None:
                        off_road.append(float(not on_road[i]))
                done_count[i] += 1
            ep_ret[finished] = 0.0
            ep_len[finished] = 0
            # the raw flag: an agent done before its env's episode ends stays done (its row is not live)
            # until the env resets
            prev_done = done
    finally:
        venv.close()
    result = {
        "env_id": env_id,
        "episodes": len(returns),
        "mean_return": float(np.mean(returns)),
        "std_return": float(np.std(returns)),
        "stderr_return": float(np.std(returns) / math.sqrt(max(len(returns), 1))),
        "mean_length": float(np.mean(lengths)),
        "seed": seed,
    }
    if crashes:
        result["crash_rate"] = float(np.mean(crashes))
    if successes:
        result["success_rate"] = float(np.mean(successes))
    if off_road:
        result["off_road_rate"] = float(np.mean(off_road))
    return result


SELECTION_FILE = "selection.json"
SELECTION_SEED = 20_000  # episodes evaluated during training; the final evaluation uses 10_000 and up


def selection_score(mean_return: float, crash_rate: float, max_crash_rate: float) -> tuple:
    """Order of evaluations for keeping the best: one within the crash-rate limit beats one over it;
    within the limit the higher mean return wins, over it the lower crash rate (then the return)."""
    if crash_rate <= max_crash_rate:
        return (1, mean_return, 0.0)
    return (0, -crash_rate, mean_return)


@dataclass(frozen=True)
class EvalConfig:
    """Greedy evaluations during training and keeping the best weights: fields shared by the deep agents'
    configs (they come first in each config)."""

    eval_interval: int = 0  # env steps between greedy evaluations during training (0: none)
    eval_episodes: int = 50  # episodes per such evaluation
    keep_best: bool = False  # end with the weights of the best evaluation, not the last ones
    best_max_crash_rate: float = 1.0  # keep_best: the best return among evaluations crashing at most this

    def __post_init__(self) -> None:
        if self.eval_interval < 0 or self.eval_episodes < 1:
            raise ValueError(
                f"need eval_interval >= 0 and eval_episodes >= 1, got {self.eval_interval}, {self.eval_episodes}"
            )
        if not 0.0 <= self.best_max_crash_rate <= 1.0:
            raise ValueError(f"best_max_crash_rate must be in [0, 1], got {self.best_max_crash_rate}")
        if self.keep_best and self.eval_interval <= 0:
            raise ValueError("keep_best needs evaluations during training: set eval_interval > 0")

    def periodic_eval(self, env_id: str, env_kwargs: dict) -> PeriodicEval:
        return PeriodicEval(
            env_id, env_kwargs, self.eval_interval, self.eval_episodes, self.best_max_crash_rate
        )


class PeriodicEval:
    """Greedy evaluation every ``interval`` env steps during training, like stable-baselines3's
    ``EvalCallback``: the mean return and crash rate go in the metrics (a greedy learning curve), and the
    best-scoring weights are copied into a ``best`` module so that training can end with them. "Best" is
    the highest mean return among evaluations whose crash rate is at most ``max_crash_rate`` (1.0: any),
    a constraint as in safe RL; see :func:`selection_score`. Selection episodes are seeded apart from the
    final evaluation's, so the chosen policy is scored on new ones."""

    def __init__(
        self, env_id: str, env_kwargs: dict, interval: int, episodes: int, max_crash_rate: float = 1.0
    ) -> None:
        if interval < 0 or episodes < 1:
            raise ValueError(f"need eval_interval >= 0 and eval_episodes >= 1, got {interval}, {episodes}")
        if not 0.0 <= max_crash_rate <= 1.0:
            raise ValueError(f"the selection's max crash rate must be in [0, 1], got {max_crash_rate}")
        self.env_id, self.env_kwargs = env_id, dict(env_kwargs)
        self.interval, self.episodes, self.max_crash_rate = interval, episodes, max_crash_rate
        self.next_at = interval
        self.best_return, self.best_crash_rate, self.best_step = -math.inf, 1.0, -1

    def _better(self, result: dict) -> bool:
        if self.best_step < 0:
            return True
        new = selection_score(result["mean_return"], result.get("crash_rate", 0.0), self.max_crash_rate)
        old = selection_score(self.best_return, self.best_crash_rate, self.max_crash_rate)
        return new > old

    def due(self, step: int, final: bool) -> bool:
        return self.interval > 0 and (step >= self.next_at or final)

    def run(self, step: int, policy, net, best=None) -> dict[str, float]:
        """Evaluate ``policy`` (acting with ``net``); copy ``net`` into ``best`` when it scores better."""
        result = evaluate_policy(
            policy, self.env_id, episodes=self.episodes, seed=SELECTION_SEED, env_kwargs=self.env_kwargs
        )
        while self.next_at <= step:
            self.next_at += self.interval
        if best is not None and self._better(result):
            best.load_state_dict(net.state_dict())
            self.best_return, self.best_step = result["mean_return"], step
            self.best_crash_rate = result.get("crash_rate", 0.0)
        scalars = {"eval_return": result["mean_return"]}
        if "crash_rate" in result:
            scalars["eval_crash_rate"] = result["crash_rate"]
        return scalars

    def write_selection(self, run_dir) -> None:
        """``run_dir/selection.json``: which step's weights the run ended with (read into eval.json)."""
        write_json(Path(run_dir) / SELECTION_FILE, {
            "selected_step": self.best_step,
            "selection_mean_return": self.best_return,
            "selection_crash_rate": self.best_crash_rate,
            "selection_max_crash_rate": self.max_crash_rate,
            "selection_episodes": self.episodes,
            "selection_seed": SELECTION_SEED,
        })  # fmt: skip

    def state(self) -> dict:
        return {
            "next_at": self.next_at,
            "best_return": self.best_return,
            "best_crash_rate": self.best_crash_rate,
            "best_step": self.best_step,
        }

    def load_state(self, state: dict) -> None:
        self.next_at = int(state["next_at"])
        self.best_return, self.best_step = float(state["best_return"]), int(state["best_step"])
        self.best_crash_rate = float(state["best_crash_rate"])


def traffic_metrics(
    policy,
    env_id: str,
    episodes: int = 100,
    seed: int = 10_000,
    env_kwargs: dict | None = None,
    count: str = "all",
) -> dict:
    """How safely and how fast a road's traffic drives: one episode in each of ``episodes`` batched envs
    of our driving ``env_id``, every controlled vehicle driven by ``policy`` (or a constant action index),
    the others by IDM/MOBIL.

    Over the vehicles ``count`` names ("all", "controlled" or "idm"): ``crashes_per_vehicle_km``
    (vehicles that crash, over the kilometres they drove along the road until the episode ended),
    ``mean_speed`` [m/s] of those not crashed (over vehicles and steps), ``crashed_share`` (vehicles
    crashed by the end of their episode) and ``vehicle_km``.
    """
    from envs.physics import structs as st

    kinds = {"all": (st.CONTROLLED, st.IDM, st.VEHICLE), "controlled": (st.CONTROLLED,), "idm": (st.IDM,)}
    if count not in kinds:
        raise ValueError(f"count={count!r}: choose one of {sorted(kinds)}")
    venv = make_vec_env(env_id, episodes, seed=seed, env_kwargs=env_kwargs)
    sim = venv.unwrapped.sim if hasattr(venv, "unwrapped") else venv.sim
    host = sim.host
    obs, _ = venv.reset(seed=seed)
    live = np.ones(episodes, dtype=bool)
    moving = np.isin(host["kind"], kinds[count])  # the vehicles counted (objects never are)
    distance, crashes, speed_sum, speed_n = 0.0, 0, 0.0, 0
    crashed_before = host["crashed"].copy()
    while live.any():
        x0 = host["x"].copy()
        if isinstance(policy, int):
            actions = np.full(venv.num_envs, policy, np.int64)
        else:
            actions = policy.predict(obs, deterministic=True)[0]
        obs, *_ = venv.step(actions)
        rows = live[:, None] & moving
        distance += float(np.where(rows, host["x"] - x0, 0.0).sum())
        crashes += int((rows & host["crashed"] & ~crashed_before).sum())
        running = rows & ~host["crashed"]
        speed_sum += float(np.where(running, host["speed"], 0.0).sum())
        speed_n += int(running.sum())
        crashed_before = host["crashed"].copy()
        live &= ~(host["terminated"] | host["truncated"])
    vehicles = int(moving.sum())
    venv.close()
    km = distance / 1000.0
    return {
        "env_id": env_id,
        "episodes": episodes,
        "vehicles": vehicles,
        "vehicle_km": km,
        "crashes": crashes,
        "crashes_per_vehicle_km": crashes / max(km, 1e-9),
        "crashed_share": crashes / max(vehicles, 1),
        "mean_speed": speed_sum / max(speed_n, 1),
    }


def evaluate_joint(
    policy, env_id: str, episodes: int = 100, seed: int = 10_000, env_kwargs: dict | None = None
) -> dict:
    """Episodes of a multi-agent tuple env (ours, or highway-env's ``intersection-multi-agent-v0``), one
    ``policy`` driving every controlled vehicle from its own observation. ``joint_success_rate``: every
    vehicle arrived and none crashed; ``any_crash_rate``: some vehicle crashed; ``mean_return``: the
    env's (cooperative) reward."""
    import gymnasium as gym

    from agents.common.envs import check_env_id
    from envs.highway.compat import highway_env_wrapper

    spec = check_env_id(env_id)
    env = gym.make(env_id, **dict(env_kwargs or {}))
    wrapper = highway_env_wrapper(spec)
    env = wrapper(env) if wrapper is not None else env
    if not isinstance(env.action_space, gym.spaces.Tuple):
        raise ValueError(f"{env_id} is not a multi-agent env (its action space is {env.action_space})")
    returns, joint, crashed = [], [], []
    try:
        for k in range(episodes):
            obs, _ = env.reset(seed=seed + k)
            total, done, info = 0.0, False, {}
            while not done:
                actions, _ = policy.predict(np.stack(obs), deterministic=True)
                obs, reward, terminated, truncated, info = env.step(tuple(int(a) for a in actions))
                total += float(reward)
                done = terminated or truncated
            returns.append(total)
            any_crash = any(info["agents_crashed"])
            joint.append(float(all(info["agents_is_success"]) and not any_crash))
            crashed.append(float(any_crash))
    finally:
        env.close()
    return {
        "env_id": env_id,
        "episodes": episodes,
        "mean_return": float(np.mean(returns)),
        "stderr_return": float(np.std(returns) / math.sqrt(episodes)),
        "joint_success_rate": float(np.mean(joint)),
        "any_crash_rate": float(np.mean(crashed)),
        "seed": seed,
    }
