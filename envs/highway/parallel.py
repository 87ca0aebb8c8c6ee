"""Every driving world as a PettingZoo ``ParallelEnv``: one agent per controlled vehicle.

    from envs.highway.parallel import parallel_env
    env = parallel_env("autodrive/Highway-v0", controlled_vehicles=4)
    observations, infos = env.reset(seed=0)
    while env.agents:
        actions = {agent: env.action_space(agent).sample() for agent in env.agents}
        observations, rewards, terminations, truncations, infos = env.step(actions)

Agent ``agent_k`` drives controlled vehicle k (slot k of the simulator) and observes from its own point
of view. Its reward is its own (the world's reward of that vehicle), it terminates when it is done (it
crashed, or arrived in the intersection, or parked) and is then removed from ``env.agents``; its vehicle
stays on the road (a crashed one stands still as an obstacle) and holds its set-points. The episode goes
on until every agent is done or the time is up (``episode_end="all-agents"``), not only until the first
vehicle is, as highway-env's own envs end it. ``infos[agent]`` has the vehicle's ``speed``,
``crashed``, reward ``terms`` and the world's flags (e.g. ``is_success``).

The batched form of the same agents is the vector env (``gym.make_vec(id, num_envs=N,
controlled_vehicles=k, vectorization_mode="vector_entry_point")``), where the agents fold into the batch
(N * k rows) so that one shared policy trains on every agent of every env.
"""

from __future__ import annotations

import functools
import warnings
from typing import Any

import numpy as np
from pettingzoo import ParallelEnv

from envs.highway.env import GoalHighwayEnv, HighwayEnv
from envs.highway.sim import IDLE


def parallel_env(env_id: str, render_mode: str | None = None, **config: Any) -> DrivingParallelEnv:
    """The PettingZoo form of a driving env id (``autodrive/Highway-v0``, ...), with config overrides
    (``controlled_vehicles=4``, ``vehicles_count=0``, ...)."""
    import envs

    spec = envs.ENV_SPECS.get(env_id)
    if spec is None or env_id not in envs.DRIVING_IDS:
        raise ValueError(f"unknown driving env id {env_id!r}; choose one of {list(envs.DRIVING_IDS)}")
    return DrivingParallelEnv(spec[2]["preset"], render_mode=render_mode, **config)


class DrivingParallelEnv(ParallelEnv):
    """A driving world's controlled vehicles as PettingZoo agents (see the module docstring)."""

    metadata = {"name": "autodrive_driving_v0", "render_modes": ["rgb_array"], "is_parallelizable": True}

    def __init__(self, preset: str = "highway", render_mode: str | None = None, **config: Any) -> None:
        config = {**config, "multi_agent_action": True, "multi_agent_observation": True}  # one per agent
        single = GoalHighwayEnv if preset == "parking" else HighwayEnv
        self.env = single(preset, render_mode=render_mode, **{**config, "episode_end": "all-agents"})
        self.render_mode = render_mode
        self.config = self.env.config
        self.possible_agents = [f"agent_{k}" for k in range(self.config.controlled_vehicles)]
        self.agents: list[str] = []
        self._index = {agent: k for k, agent in enumerate(self.possible_agents)}
        self._idle = np.zeros(self.config.action_size, np.float32) if self.env._continuous else IDLE
        self._terms = self.env.sim.world.reward_terms
        self._flags = tuple(self.env.sim.world.info_flags.items())

    @functools.cache  # noqa: B019 - PettingZoo expects the same space object for an agent every call
    def observation_space(self, agent: str):
        return self.env.observation_space[self._index[agent]]

    @functools.cache  # noqa: B019
    def action_space(self, agent: str):
        return self.env.action_space[self._index[agent]]

    def reset(self, seed: int | None = None, options: dict | None = None) -> tuple[dict, dict]:
        """``options={"scene": scene}`` loads a Scene. Other options are ignored with a warning, not an
        error as in the Gymnasium envs: PettingZoo's API test resets with an arbitrary option."""
        options = dict(options or {})
        unknown = sorted(set(options) - {"scene"})
        if unknown:
            warnings.warn(f"unknown reset options {unknown} ignored; supported: 'scene'", stacklevel=2)
        obs, _ = self.env.reset(seed=seed, options={k: options[k] for k in options if k == "scene"})
        self.agents = list(self.possible_agents)
        return self._by_agent(obs), self._infos()

    def step(self, actions: dict[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        if not self.agents:
            raise RuntimeError("every agent is done: call reset() before step()")
        extra = sorted(set(actions) - set(self.agents))
        missing = sorted(set(self.agents) - set(actions))
        if extra or missing:
            raise ValueError(
                f"actions must name exactly the active agents {self.agents}: "
                + (f"got actions for absent agents {extra}" if extra else f"no action for {missing}")
            )
        joint = [self._idle] * len(self.possible_agents)  # agents already done hold their set-points
        for agent, action in actions.items():
            joint[self._index[agent]] = action
        obs, _, _, truncated, _ = self.env.step(tuple(joint))
        host = self.env.sim.host
        live = list(self.agents)
        rewards = {a: float(host["rewards"][self._index[a]]) for a in live}
        terminations = {a: bool(host["dones"][self._index[a]]) for a in live}
        truncations = {a: bool(truncated) for a in live}
        observations = {a: o for a, o in self._by_agent(obs).items() if a in live}
        infos = {a: i for a, i in self._infos().items() if a in live}
        self.agents = [a for a in live if not (terminations[a] or truncations[a])]
        return observations, rewards, terminations, truncations, infos

    def _by_agent(self, obs: tuple) -> dict[str, Any]:
        return dict(zip(self.possible_agents, obs))

    def _infos(self) -> dict[str, dict]:
        host, infos = self.env.sim.host, {}
        for agent, k in self._index.items():
            terms = dict(zip(self._terms, host["terms"][k, : len(self._terms)].tolist()))
            info = {
                "speed": float(host["ego_speed"][k]),
                "crashed": bool(host["ego_crashed"][k]),
                "rewards": terms,
            }
            for key, term in self._flags:
                info[key] = terms[term] > 0
            infos[agent] = info
        return infos

    def render(self) -> np.ndarray | None:
        return self.env.render() if self.render_mode is not None else None

    def state(self) -> np.ndarray:
        """The scene's poses and speeds, (slots, 4): x, y, heading, speed (absent slots included)."""
        s = self.env.state
        return np.stack([s.x[0], s.y[0], s.heading[0], s.speed[0]], axis=1).astype(np.float32)

    def close(self) -> None:
        self.env.close()
