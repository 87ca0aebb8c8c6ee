"""Worlds: each a small module (road, spawning, reward, termination) over the shared physics."""

from envs.worlds.highway import HighwayWorld

WORLDS = {HighwayWorld.name: HighwayWorld}

__all__ = ["WORLDS", "HighwayWorld"]
