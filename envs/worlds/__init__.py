"""Worlds: each a small module (road, spawning, reward, termination) over the shared physics."""

from envs.worlds.exit import ExitWorld
from envs.worlds.highway import HighwayWorld
from envs.worlds.intersection import IntersectionWorld
from envs.worlds.merge import MergeWorld
from envs.worlds.parking import ParkingWorld
from envs.worlds.racetrack import RacetrackWorld
from envs.worlds.roundabout import RoundaboutWorld

WORLDS = {
    world.name: world
    for world in (
        HighwayWorld,
        MergeWorld,
        ExitWorld,
        RoundaboutWorld,
        RacetrackWorld,
        ParkingWorld,
        IntersectionWorld,
    )
}

__all__ = [
    "WORLDS",
    "ExitWorld",
    "HighwayWorld",
    "IntersectionWorld",
    "MergeWorld",
    "ParkingWorld",
    "RacetrackWorld",
    "RoundaboutWorld",
]
