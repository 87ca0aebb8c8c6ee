"""Gymnasium environments of the autodrive suite.

Importing this package registers every environment under the ``autodrive`` namespace::

    import gymnasium as gym
    import envs  # noqa: F401  (registers the ids)

    env = gym.make("autodrive/GridWorld-v0", map_name="four_rooms")
    vec = gym.make_vec("autodrive/GridWorld-v0", num_envs=1024, vectorization_mode="vector_entry_point")

In subprocess workers started with spawn/forkserver, where nothing has imported ``envs`` yet, use the
module-qualified id ``gym.make("envs:autodrive/GridWorld-v0")``: Gymnasium imports ``envs`` first.
"""

from __future__ import annotations

import gymnasium as gym

NAMESPACE = "autodrive"

#: env id -> (entry point, vector entry point, default kwargs). The closed list of our environments.
ENV_SPECS: dict[str, tuple[str, str, dict]] = {
    f"{NAMESPACE}/GridWorld-v0": (
        "envs.gridworld.env:GridWorldEnv",
        "envs.gridworld.vector:GridWorldVectorEnv",
        {},
    ),
    f"{NAMESPACE}/Highway-v0": (
        "envs.highway.env:HighwayEnv",
        "envs.highway.vector:HighwayVectorEnv",
        {"preset": "highway"},
    ),
    f"{NAMESPACE}/HighwayFast-v0": (
        "envs.highway.env:HighwayEnv",
        "envs.highway.vector:HighwayVectorEnv",
        {"preset": "highway-fast"},
    ),
    f"{NAMESPACE}/HighwaySelfPlay-v0": (
        "envs.highway.env:HighwayEnv",
        "envs.highway.vector:HighwayVectorEnv",
        {"preset": "highway-self-play"},
    ),
    f"{NAMESPACE}/Merge-v0": (
        "envs.highway.env:HighwayEnv",
        "envs.highway.vector:HighwayVectorEnv",
        {"preset": "merge"},
    ),
    f"{NAMESPACE}/Exit-v0": (
        "envs.highway.env:HighwayEnv",
        "envs.highway.vector:HighwayVectorEnv",
        {"preset": "exit"},
    ),
    f"{NAMESPACE}/Roundabout-v0": (
        "envs.highway.env:HighwayEnv",
        "envs.highway.vector:HighwayVectorEnv",
        {"preset": "roundabout"},
    ),
    f"{NAMESPACE}/Intersection-v0": (
        "envs.highway.env:HighwayEnv",
        "envs.highway.vector:HighwayVectorEnv",
        {"preset": "intersection"},
    ),
    f"{NAMESPACE}/IntersectionMultiAgent-v0": (
        "envs.highway.env:HighwayEnv",
        "envs.highway.vector:HighwayVectorEnv",
        {"preset": "intersection-multi-agent"},
    ),
    f"{NAMESPACE}/Racetrack-v0": (
        "envs.highway.env:HighwayEnv",
        "envs.highway.vector:HighwayVectorEnv",
        {"preset": "racetrack"},
    ),
    f"{NAMESPACE}/Parking-v0": (
        "envs.highway.env:GoalHighwayEnv",
        "envs.highway.vector:GoalHighwayVectorEnv",
        {"preset": "parking"},
    ),
}

#: the driving worlds' ids (one simulator, one camera, one set of observation and action options)
DRIVING_IDS = tuple(env_id for env_id, spec in ENV_SPECS.items() if spec[0].startswith("envs.highway.env:"))
#: the driving ids with several controlled vehicles by default (the camera and its datasets observe one)
MULTI_AGENT_IDS = (f"{NAMESPACE}/IntersectionMultiAgent-v0", f"{NAMESPACE}/HighwaySelfPlay-v0")
SINGLE_AGENT_IDS = tuple(env_id for env_id in DRIVING_IDS if env_id not in MULTI_AGENT_IDS)


def register_envs() -> None:
    """Register every autodrive env id with Gymnasium (idempotent)."""
    for env_id, (entry_point, vector_entry_point, kwargs) in ENV_SPECS.items():
        if env_id in gym.registry:
            continue
        gym.register(
            id=env_id,
            entry_point=entry_point,
            vector_entry_point=vector_entry_point,
            kwargs=dict(kwargs),
            disable_env_checker=False,
        )


register_envs()

__all__ = ["DRIVING_IDS", "ENV_SPECS", "MULTI_AGENT_IDS", "NAMESPACE", "SINGLE_AGENT_IDS", "register_envs"]
