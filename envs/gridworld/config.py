"""Typed configuration of the gridworld; every field is validated with a message that says how to fix it."""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass
from typing import Any

OBSERVATIONS = ("index", "grid", "rgb", "camera", "camera_gray")


@dataclass(frozen=True)
class GridWorldConfig:
    map_name: str = "four_rooms"  # a built-in map, or "random_maze"
    map_text: str | None = None  # an explicit text map overrides map_name
    maze_size: int = 15  # [cells] side of a random maze
    maze_seed: int = 0  # the random maze's seed (the map is fixed for the env's lifetime)
    slip: float = 0.0  # probability that a move goes to a perpendicular direction instead
    step_reward: float = -0.01  # reward of every step that reaches neither goal nor hazard
    goal_reward: float = 1.0  # reward of the step that enters a goal (terminates)
    hazard_reward: float = -1.0  # reward of the step that enters a hazard (terminates)
    max_steps: int = 200  # truncation after this many steps
    observation: str = "index"  # index | grid | rgb | camera | camera_gray
    cell_pixels: int = 8  # [px] size of a cell in the rgb and camera observations

    def __post_init__(self) -> None:
        if not 0.0 <= self.slip < 1.0:
            raise ValueError(f"slip must be in [0, 1), got {self.slip}")
        if self.max_steps < 1:
            raise ValueError(f"max_steps must be >= 1, got {self.max_steps}")
        if self.observation not in OBSERVATIONS:
            raise ValueError(
                f"unknown observation {self.observation!r}; expected one of {', '.join(OBSERVATIONS)}"
            )
        if not 1 <= self.cell_pixels <= 64:
            raise ValueError(f"cell_pixels must be in [1, 64], got {self.cell_pixels}")
        if self.maze_size < 5:
            raise ValueError(f"maze_size must be >= 5, got {self.maze_size}")


def make_config(config: GridWorldConfig | dict[str, Any] | None = None, **overrides: Any) -> GridWorldConfig:
    """A config from a dataclass, a dict and/or keyword overrides; unknown keys name the nearest field."""
    if isinstance(config, GridWorldConfig):
        base = dataclasses.asdict(config)
    elif config is None:
        base = {}
    elif isinstance(config, dict):
        base = dict(config)
    else:
        raise TypeError(f"config must be a GridWorldConfig or a dict, got {type(config).__name__}")
    base.update(overrides)
    names = [f.name for f in dataclasses.fields(GridWorldConfig)]
    for key in base:
        if key not in names:
            close = difflib.get_close_matches(key, names, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(f"unknown GridWorld config key {key!r}{hint}; valid keys: {', '.join(names)}")
    return GridWorldConfig(**base)
