"""The gridworld chain: camera pixels -> CNN -> map + robot cell -> value-iteration plan -> act.

The CNN reads one cell per ``cell_pixels`` x ``cell_pixels`` patch (a patchify convolution, then 1x1
convolutions), so it is size-agnostic: it is trained on random grids and then sees the named maps for
the first time. The planner is injected (``plan(P) -> (V, Q)``, e.g. ``agents.tabular.value_iteration``)
because data flows envs <- perception <- agents.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from envs.gridworld.maps import FREE, GOAL, HAZARD, START, WALL, Layout
from envs.gridworld.observation import camera_frames
from envs.gridworld.render import GridPainter

CLASSES = (WALL, FREE, GOAL, HAZARD)  # what the CNN predicts per cell ('S' is painted as free)
NAMED_MAPS = ("empty", "four_rooms", "cliff", "maze16")
Planner = Callable[[dict], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class GridPerceptionConfig:
    cell_pixels: int = 4  # [px] the camera's cell size
    channels: int = 3  # 3 = observation "camera", 1 = "camera_gray"
    hidden: int = 32
    steps: int = 400
    batch_size: int = 32
    lr: float = 3e-3
    seed: int = 0

    @property
    def observation(self) -> str:
        return "camera" if self.channels == 3 else "camera_gray"


class GridCNN(nn.Module):
    """(B, C, H*c, W*c) uint8 -> cell-class logits (B, 4, H, W) and robot logits (B, H, W)."""

    def __init__(self, cfg: GridPerceptionConfig) -> None:
        super().__init__()
        self.cfg = cfg
        c = cfg.cell_pixels
        self.cells = nn.Conv2d(cfg.channels, cfg.hidden, kernel_size=c, stride=c)  # one feature per cell
        self.head = nn.Sequential(
            nn.ReLU(),
            nn.Conv2d(cfg.hidden, cfg.hidden, 1),
            nn.ReLU(),
            nn.Conv2d(cfg.hidden, len(CLASSES) + 1, 1),
        )

    def forward(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = frames.float() * (1 / 255)  # (B, C, H*c, W*c)
        out = self.head(self.cells(x))  # (B, 5, H, W)
        return out[:, : len(CLASSES)], out[:, len(CLASSES)]


def random_scenes(rng: np.random.Generator, n: int, cfg: GridPerceptionConfig) -> tuple[np.ndarray, ...]:
    """``n`` random grids of one random size, painted by the env's own painter -> frames, classes, robot."""
    h, w = rng.integers(5, 17, size=2)
    probs = np.array([0.35, 0.45, 0.1, 0.1])
    labels = rng.choice(len(CLASSES), size=(n, h, w), p=probs)  # (n, H, W)
    labels[:, 0, 0] = 1  # at least one free cell for the robot
    frames, robot = [], np.zeros(n, dtype=np.int64)
    for i in range(n):
        painter = GridPainter(Layout(np.array(CLASSES)[labels[i]]), cfg.cell_pixels)
        free = np.argwhere(labels[i] == 1)
        r, c = free[rng.integers(len(free))]
        robot[i] = r * w + c
        frames.append(camera_frames(painter.frames(np.array([[r, c]])), cfg.channels)[0])
    return np.stack(frames), labels, robot


def train_grid_cnn(cfg: GridPerceptionConfig) -> tuple[GridCNN, dict[str, float]]:
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    model = GridCNN(cfg)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    first = last = float("nan")
    for step in range(cfg.steps):
        frames, labels, robot = random_scenes(rng, cfg.batch_size, cfg)
        logits, robot_logits = model(torch.from_numpy(frames))
        loss = F.cross_entropy(logits, torch.from_numpy(labels)) + F.cross_entropy(
            robot_logits.flatten(1), torch.from_numpy(robot)
        )
        opt.zero_grad()
        loss.backward()
        opt.step()
        first = loss.item() if step == 0 else first
        last = loss.item()
    return model.eval(), {"first_loss": first, "last_loss": last, "steps": cfg.steps}


@torch.inference_mode()
def perceive(model: GridCNN, frame: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
    """One camera frame (C, H*c, W*c) -> predicted cell characters (H, W) and robot cell."""
    logits, robot = model(torch.from_numpy(np.asarray(frame))[None])
    chars = np.array(CLASSES)[logits[0].argmax(0).numpy()]
    r, c = np.unravel_index(int(robot[0].flatten().argmax()), robot.shape[1:])
    return chars, (int(r), int(c))


def map_text(chars: np.ndarray, start: tuple[int, int]) -> str:
    chars = chars.copy()
    chars[chars == START] = FREE
    chars[start] = START
    return "\n".join("".join(row) for row in chars)


class MapPlanner:
    """A policy from a map: value iteration on the exact model of the env built from ``text``."""

    def __init__(self, text: str, env_config: Any, plan: Planner, gamma: float) -> None:
        keys = ("slip", "step_reward", "goal_reward", "hazard_reward", "max_steps")
        env = gym.make("autodrive/GridWorld-v0", map_text=text, **{k: getattr(env_config, k) for k in keys})
        tables = env.unwrapped.tables
        _, q = plan(env.unwrapped.P, gamma)
        self.actions = q.argmax(axis=1)  # (n_states,)
        self.state_of = {tuple(int(v) for v in cell): s for s, cell in enumerate(tables.cells)}

    def act(self, cell: tuple[int, int]) -> int:
        return int(self.actions[self.state_of.get(cell, 0)])


def run_chain(
    model: GridCNN | None,
    map_name: str,
    plan: Planner,
    episodes: int = 100,
    seed: int = 0,
    slip: float = 0.0,
    gamma: float = 0.99,
) -> dict[str, Any]:
    """Success rate of planning on the perceived map (``model``) or the true map (``model=None``)."""
    cfg = model.cfg if model is not None else GridPerceptionConfig()
    env = gym.make(
        "autodrive/GridWorld-v0",
        map_name=map_name,
        slip=slip,
        observation=cfg.observation,
        cell_pixels=cfg.cell_pixels,
    )
    successes, map_correct, returns = 0, 0, []
    true_chars = env.unwrapped.layout.chars
    planners: dict[str, MapPlanner] = {}  # by map text: the same perceived map is planned once
    for ep in range(episodes):
        obs, info = env.reset(seed=seed + ep)
        if model is None:
            text = env.unwrapped.layout.text()
        else:
            chars, robot = perceive(model, obs)
            map_correct += int(np.array_equal(chars, np.where(true_chars == START, FREE, true_chars)))
            text = map_text(chars, robot)
        if text not in planners:
            planners[text] = MapPlanner(text, env.unwrapped.config, plan, gamma)
        planner = planners[text]
        done, total = False, 0.0
        while not done:
            cell = info["cell"] if model is None else perceive(model, obs)[1]
            obs, reward, terminated, truncated, info = env.step(planner.act(tuple(cell)))
            total += reward
            done = terminated or truncated
        successes += int(info["is_success"])
        returns.append(total)
    result = {
        "map": map_name,
        "slip": slip,
        "episodes": episodes,
        "success_rate": successes / episodes,
        "mean_return": float(np.mean(returns)),
    }
    if model is not None:
        result["map_exact_rate"] = map_correct / episodes
    return result


def compare(
    model: GridCNN, plan: Planner, maps=NAMED_MAPS, episodes: int = 100, seed: int = 0, slips=(0.0, 0.1)
) -> list[dict[str, Any]]:
    """Pixels vs ground-truth map, per named map and slip."""
    rows = []
    for name in maps:
        for slip in slips:
            pixels = run_chain(model, name, plan, episodes, seed, slip)
            truth = run_chain(None, name, plan, episodes, seed, slip)
            rows.append(
                {
                    **pixels,
                    "truth_success_rate": truth["success_rate"],
                    "truth_mean_return": truth["mean_return"],
                    "equal": pixels["success_rate"] == truth["success_rate"],
                }
            )
    return rows


def chain_report(
    cfg: GridPerceptionConfig, plan: Planner, episodes: int = 100, seed: int = 0
) -> dict[str, Any]:
    """Train the grid CNN on random grids, then compare pixels vs true maps on the named maps."""
    model, training = train_grid_cnn(cfg)
    rows = compare(model, plan, episodes=episodes, seed=seed)
    return {
        "config": dataclasses.asdict(cfg),
        "training": training,
        "maps": rows,
        "all_equal": all(r["equal"] for r in rows),
    }
