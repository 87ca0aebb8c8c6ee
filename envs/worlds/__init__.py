"""Worlds: each a small module (road, spawning, reward, termination) over the shared physics."""

from envs.worlds.exit import ExitWorld
from envs.worlds.highway import HighwayWorld
from envs.worlds.merge import MergeWorld

WORLDS = {world.name: world for world in (HighwayWorld, MergeWorld, ExitWorld)}

__all__ = ["WORLDS", "ExitWorld", "HighwayWorld", "MergeWorld"]
