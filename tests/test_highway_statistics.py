"""Statistical fidelity: mean return and crash rate under fixed policies agree with highway-env's.

highway-env's side is reference data made by ``scripts/highway_reference.py`` (``tests/data/
highway_reference_<preset>.json``: per-episode returns and crash flags, seeds 10000+k). Ours runs 200
episodes per policy in the batched env (float32). The means must agree within three standard errors
of their difference, sqrt(se_ours^2 + se_ref^2), with the standard errors computed from the episodes
actually stored (highway-v0's reference has fewer episodes: it runs at ~6 steps/s in highway-env).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from envs.highway.fidelity import POLICIES, compare_statistics, run_episodes

DATA = Path(__file__).parent / "data"
EPISODES = 200


def _reference(preset: str) -> dict:
    path = DATA / f"highway_reference_{preset.replace('-', '_')}.json"
    if not path.exists():
        pytest.skip(f"{path.name} missing: run scripts/highway_reference.py --preset {preset}")
    return json.loads(path.read_text())


@pytest.mark.parametrize("policy", list(POLICIES))
@pytest.mark.parametrize(
    "preset",
    [
        "highway-fast", "highway", "merge", "exit", "roundabout", "racetrack", "parking", "intersection",
        "intersection-multi-agent",
    ],
)  # fmt: skip
def test_return_and_crash_rate_match_highway_env(preset: str, policy: str) -> None:
    ref = _reference(preset)["policies"].get(policy)
    if not ref or len(ref["runs"]) < 30:
        pytest.skip(f"reference for {preset}/{policy} has too few episodes")
    ref_returns = np.array([r["return"] for r in ref["runs"]])
    ref_crashes = np.array([r["crashed"] for r in ref["runs"]], dtype=float)
    returns, crashed = run_episodes(preset, policy, EPISODES, agents_crashed=True)
    pairs = [("return", returns, ref_returns), ("crash rate", crashed[:, 0].astype(float), ref_crashes)]
    if "agents_crashed" in ref["runs"][0]:  # several controlled vehicles: each one's crash rate too
        theirs = np.array([r["agents_crashed"] for r in ref["runs"]], dtype=float)
        pairs += [
            (f"vehicle {k} crash rate", crashed[:, k].astype(float), theirs[:, k])
            for k in range(theirs.shape[1])
        ]
    for name, ours, theirs in pairs:
        stats = compare_statistics(ours, theirs)
        assert abs(stats["z"]) <= 3 + 1e-9, (
            f"{preset}/{policy} mean {name} differs by more than 3 se: {stats}"
        )
