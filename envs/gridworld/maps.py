"""Grid maps: parsing text layouts, the named built-in maps, and seeded random mazes.

Cells: ``#`` wall, ``.`` free, ``S`` start (exactly one), ``G`` goal (one or more), ``~`` hazard
(ends the episode with a penalty).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

WALL, FREE, START, GOAL, HAZARD = "#", ".", "S", "G", "~"
CELL_CHARS = (WALL, FREE, START, GOAL, HAZARD)

BUILTIN_MAPS: dict[str, str] = {
    # MiniGrid-Empty-8x8's room: 6x6 free cells inside the walls.
    "empty": """
########
#S.....#
#......#
#......#
#......#
#......#
#.....G#
########
""",
    # Sutton, Precup & Singh (1999) four-rooms layout.
    "four_rooms": """
#############
#S....#.....#
#.....#.....#
#...........#
#.....#.....#
#.....#.....#
##.####.....#
#.....###.###
#.....#.....#
#.....#.....#
#...........#
#.....#....G#
#############
""",
    # Sutton & Barto's cliff walking (example 6.6): the bottom row between S and G is a cliff.
    "cliff": """
##############
#............#
#............#
#............#
#S~~~~~~~~~~G#
##############
""",
    # A 16x16 maze with a few loops: generate_maze(16, seed=7, loops=0.1), frozen as text.
    "maze16": None,  # filled in below from the generator, then frozen by a test
}


@dataclass(frozen=True)
class Layout:
    """A parsed map as arrays: ``chars`` (H, W) of cell characters plus derived masks."""

    chars: np.ndarray  # (H, W) dtype '<U1'

    @property
    def shape(self) -> tuple[int, int]:
        return self.chars.shape

    @property
    def walls(self) -> np.ndarray:
        return self.chars == WALL

    @property
    def goals(self) -> np.ndarray:
        return self.chars == GOAL

    @property
    def hazards(self) -> np.ndarray:
        return self.chars == HAZARD

    @property
    def start(self) -> tuple[int, int]:
        r, c = np.argwhere(self.chars == START)[0]
        return int(r), int(c)

    def text(self) -> str:
        return "\n".join("".join(row) for row in self.chars)


def parse_map(text: str) -> Layout:
    """Parse and validate a text map; errors say what is wrong and where."""
    rows = [line.strip() for line in text.strip("\n").splitlines() if line.strip()]
    if not rows:
        raise ValueError("map is empty")
    width = len(rows[0])
    for i, row in enumerate(rows):
        if len(row) != width:
            raise ValueError(
                f"map row {i} has {len(row)} cells, expected {width} (all rows must be equally long)"
            )
        bad = sorted(set(row) - set(CELL_CHARS))
        if bad:
            raise ValueError(f"map row {i} has unknown cell characters {bad}; valid: {' '.join(CELL_CHARS)}")
    chars = np.array([list(r) for r in rows], dtype="<U1")
    n_start = int((chars == START).sum())
    if n_start != 1:
        raise ValueError(f"map needs exactly one start 'S', found {n_start}")
    if not (chars == GOAL).any():
        raise ValueError("map needs at least one goal 'G'")
    layout = Layout(chars)
    if not _goal_reachable(layout):
        raise ValueError("goal is unreachable from the start (walls and hazards block every path)")
    return layout


def _goal_reachable(layout: Layout) -> bool:
    h, w = layout.shape
    seen = np.zeros((h, w), dtype=bool)
    queue = deque([layout.start])
    seen[layout.start] = True
    while queue:
        r, c = queue.popleft()
        if layout.chars[r, c] == GOAL:
            return True
        for dr, dc in ((0, -1), (1, 0), (0, 1), (-1, 0)):
            nr, nc = r + dr, c + dc
            if (
                0 <= nr < h
                and 0 <= nc < w
                and not seen[nr, nc]
                and layout.chars[nr, nc] not in (WALL, HAZARD)
            ):
                seen[nr, nc] = True
                queue.append((nr, nc))
    return False


def generate_maze(size: int, seed: int = 0, loops: float = 0.0) -> str:
    """A ``size`` x ``size`` maze (randomised depth-first search), start top-left, goal bottom-right.

    ``loops`` is the fraction of remaining interior walls knocked down to add alternative routes.
    The same ``(size, seed, loops)`` always gives the same maze.
    """
    if size < 5:
        raise ValueError(f"maze size must be >= 5, got {size}")
    if not 0.0 <= loops <= 1.0:
        raise ValueError(f"loops must be in [0, 1], got {loops}")
    rng = np.random.default_rng(seed)
    grid = np.full((size, size), WALL, dtype="<U1")
    last = size - 2 if (size - 2) % 2 == 1 else size - 3  # last odd interior coordinate
    cells = [(r, c) for r in range(1, last + 1, 2) for c in range(1, last + 1, 2)]
    grid[1, 1] = FREE
    stack = [(1, 1)]
    visited = {(1, 1)}
    while stack:
        r, c = stack[-1]
        options = [
            (r + dr, c + dc)
            for dr, dc in ((0, -2), (2, 0), (0, 2), (-2, 0))
            if 1 <= r + dr <= last and 1 <= c + dc <= last and (r + dr, c + dc) not in visited
        ]
        if not options:
            stack.pop()
            continue
        nr, nc = options[rng.integers(len(options))]
        grid[(r + nr) // 2, (c + nc) // 2] = FREE
        grid[nr, nc] = FREE
        visited.add((nr, nc))
        stack.append((nr, nc))
    assert len(visited) == len(cells)
    if loops > 0:
        # interior walls between two free cells, in a line
        candidates = [
            (r, c)
            for r in range(1, size - 1)
            for c in range(1, size - 1)
            if grid[r, c] == WALL
            and (
                (grid[r - 1, c] == FREE and grid[r + 1, c] == FREE)
                or (grid[r, c - 1] == FREE and grid[r, c + 1] == FREE)
            )
        ]
        n = int(round(loops * len(candidates)))
        for i in rng.permutation(len(candidates))[:n]:
            grid[candidates[i]] = FREE
    if last < size - 2:
        # even size: widen the last corridor row/column so no interior row is pure wall
        grid[size - 2, 1 : size - 1] = grid[last, 1 : size - 1]
        grid[1 : size - 1, size - 2] = grid[1 : size - 1, last]
        grid[size - 2, size - 2] = FREE
    grid[1, 1] = START
    grid[size - 2, size - 2] = GOAL
    return "\n".join("".join(row) for row in grid)


BUILTIN_MAPS["maze16"] = generate_maze(16, seed=7, loops=0.1)


def resolve_map(map_name: str, map_text: str | None, maze_size: int, maze_seed: int) -> Layout:
    """The layout a config names: explicit text, ``random_maze``, or a built-in map."""
    if map_text is not None:
        return parse_map(map_text)
    if map_name == "random_maze":
        return parse_map(generate_maze(maze_size, seed=maze_seed, loops=0.1))
    if map_name not in BUILTIN_MAPS:
        from difflib import get_close_matches

        close = get_close_matches(map_name, list(BUILTIN_MAPS) + ["random_maze"], n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(
            f"unknown map {map_name!r}{hint}; known maps: {', '.join(BUILTIN_MAPS)}, random_maze (or pass map_text)"
        )
    return parse_map(BUILTIN_MAPS[map_name])
