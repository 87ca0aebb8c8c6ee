"""Gridworld dynamics as lookup tables and one pure, batched transition function.

The layout is compiled once into arrays over states (the non-wall cells): ``move[s, d]`` is the cell
reached by moving in direction ``d`` (walls block), ``entry_reward[s]`` and ``terminal[s]`` say what
entering ``s`` pays and whether it ends the episode. ``transition`` serves the single env (scalars)
and the vector env (arrays) alike, and ``transition_model`` derives FrozenLake's ``P`` from the same
tables, so the planner and the simulator cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from envs.gridworld.config import GridWorldConfig
from envs.gridworld.maps import Layout

LEFT, DOWN, RIGHT, UP = 0, 1, 2, 3  # FrozenLake's action order
ACTION_NAMES = ("LEFT", "DOWN", "RIGHT", "UP")
DELTAS = np.array([(0, -1), (1, 0), (0, 1), (-1, 0)])  # (drow, dcol) per action


@dataclass(frozen=True)
class Tables:
    cells: np.ndarray  # (S, 2) row, col of each state
    index: np.ndarray  # (H, W) state index of each cell, -1 for walls
    move: np.ndarray  # (S, 4) next state per direction
    entry_reward: np.ndarray  # (S,) reward for entering the state
    terminal: np.ndarray  # (S,) entering ends the episode
    start: int  # start state
    slip: float

    @property
    def n_states(self) -> int:
        return len(self.cells)


def compile_tables(layout: Layout, config: GridWorldConfig) -> Tables:
    open_cells = np.argwhere(~layout.walls)  # row-major order: state ids read left to right, top to bottom
    index = np.full(layout.shape, -1, dtype=np.int64)
    index[open_cells[:, 0], open_cells[:, 1]] = np.arange(len(open_cells))
    h, w = layout.shape
    target = open_cells[:, None, :] + DELTAS[None, :, :]  # (S, 4, 2)
    r = np.clip(target[..., 0], 0, h - 1)
    c = np.clip(target[..., 1], 0, w - 1)
    nxt = index[r, c]
    stay = np.broadcast_to(np.arange(len(open_cells))[:, None], nxt.shape)
    move = np.where(nxt >= 0, nxt, stay)
    goals = layout.goals[open_cells[:, 0], open_cells[:, 1]]
    hazards = layout.hazards[open_cells[:, 0], open_cells[:, 1]]
    entry_reward = np.where(
        goals, config.goal_reward, np.where(hazards, config.hazard_reward, config.step_reward)
    )
    return Tables(
        cells=open_cells,
        index=index,
        move=move,
        entry_reward=entry_reward.astype(np.float64),
        terminal=goals | hazards,
        start=int(index[layout.start]),
        slip=float(config.slip),
    )


def slip_direction(action, u, slip: float):
    """The direction actually taken: intended with prob 1-slip, else one of the two perpendiculars.

    ``u`` is uniform in [0, 1) (scalar or array, one per env).
    """
    perpendicular = np.where(u < 1.0 - slip / 2.0, (action + 3) % 4, (action + 1) % 4)
    return np.where(u < 1.0 - slip, action, perpendicular)


def transition(tables: Tables, state, action, u):
    """One step for a state/action (scalars or (N,) arrays): ``(next_state, reward, terminated)``."""
    nxt = tables.move[state, slip_direction(action, u, tables.slip)]
    return nxt, tables.entry_reward[nxt], tables.terminal[nxt]


def transition_model(tables: Tables) -> dict[int, dict[int, list[tuple[float, int, float, bool]]]]:
    """FrozenLake-format model ``P[s][a] = [(prob, next_state, reward, terminated), ...]``.

    Terminal states are absorbing with reward 0 (as in FrozenLake). Outcomes with the same next state
    are merged, so probabilities per (s, a) sum to 1 over distinct next states.
    """
    slip = tables.slip
    outcomes = ((1.0 - slip, 0), (slip / 2.0, 3), (slip / 2.0, 1))  # (prob, rotation of the action)
    model: dict[int, dict[int, list[tuple[float, int, float, bool]]]] = {}
    for s in range(tables.n_states):
        model[s] = {}
        for a in range(4):
            if tables.terminal[s]:
                model[s][a] = [(1.0, s, 0.0, True)]
                continue
            merged: dict[int, float] = {}
            for prob, rot in outcomes:
                if prob > 0:
                    nxt = int(tables.move[s, (a + rot) % 4])
                    merged[nxt] = merged.get(nxt, 0.0) + prob
            model[s][a] = [
                (p, nxt, float(tables.entry_reward[nxt]), bool(tables.terminal[nxt]))
                for nxt, p in merged.items()
            ]
    return model
