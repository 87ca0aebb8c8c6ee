"""The perception tax: a Kinematics-trained agent's return with ground truth vs through the CNN.

Both runs use the caller's evaluation function (e.g. ``agents.common.evaluation.evaluate_policy``) with
the same seeds, so the episodes start from the same scenes; only the observations differ.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from perception import PERCEIVED_IDS


def perceived_id(env_id: str) -> str:
    """``autodrive/<World>-v0`` -> ``autodrive/<World>Perceived-v0``, or a clear error."""
    perceived = env_id.removesuffix("-v0") + "Perceived-v0"
    if perceived not in PERCEIVED_IDS:
        truth = sorted(p.replace("Perceived-v0", "-v0") for p in PERCEIVED_IDS)
        raise ValueError(f"no perceived variant of {env_id!r}; choose one of {truth}")
    return perceived


def perception_tax(
    policy: Any,
    evaluate: Callable[..., dict],
    model_dir: str | Path,
    env_id: str = "autodrive/HighwayFast-v0",
    episodes: int = 100,
    seed: int = 10_000,
) -> dict[str, Any]:
    """Mean return and crash rate from ground-truth state and from pixels; ``kept`` = pixels / truth."""
    truth = evaluate(policy, env_id, episodes=episodes, seed=seed)
    pixels = evaluate(
        policy, perceived_id(env_id), episodes=episodes, seed=seed, env_kwargs={"model_dir": str(model_dir)}
    )
    return {
        "env_id": env_id,
        "episodes": episodes,
        "seed": seed,
        "model_dir": str(model_dir),
        "ground_truth": truth,
        "pixels": pixels,
        "return_kept": pixels["mean_return"] / truth["mean_return"],
        "crash_rate_ground_truth": truth.get("crash_rate"),
        "crash_rate_pixels": pixels.get("crash_rate"),
    }
