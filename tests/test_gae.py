"""GAE against a hand computation: time-limit truncation bootstraps with V(s_final), a crash never does.

The rollout is laid out as a NEXT_STEP-autoreset vector env produces it: after a done at ``t`` the row
``t + 1`` holds the final observation (so ``values[t + 1] = V(s_final)``) and is a reset step
(``valid = False``): its action is ignored and it carries no transition.
"""

from __future__ import annotations

import pytest
import torch

from agents.common.buffers import compute_gae

GAMMA, LAM = 0.9, 0.8

# env 0: t=1 truncated (time limit), t=2 reset step, t=3..4 a new episode still running at the end
# env 1: t=1 terminated (crash), t=2 reset step, t=3 truncated, t=4 reset step
R = [[1.0, 2.0, 0.0, 0.5, 1.5], [1.0, -1.0, 0.0, 3.0, 0.0]]
V = [[10.0, 11.0, 12.0, 5.0, 6.0], [4.0, 3.0, 8.0, 2.0, 7.0]]  # V[i][t] = V(obs_t); V[i][2] is V(s_final)
TERM = [[0, 0, 0, 0, 0], [0, 1, 0, 0, 0]]
TRUNC = [[0, 1, 0, 0, 0], [0, 0, 0, 1, 0]]
VALID = [[1, 1, 0, 1, 1], [1, 1, 0, 1, 0]]
NEXT_V = [20.0, 9.0]  # V(obs_T) after the rollout


def hand_advantages() -> list[list[float]]:
    g, gl = GAMMA, GAMMA * LAM
    # env 0
    a0_4 = 1.5 + g * 20.0 - 6.0  # still running: bootstrap from next_value
    a0_3 = (0.5 + g * 6.0 - 5.0) + gl * a0_4
    a0_2 = 0.0  # reset step
    a0_1 = 2.0 + g * 12.0 - 11.0  # truncated: bootstrap with V(s_final) = V[0][2], stop the recursion
    a0_0 = (1.0 + g * 11.0 - 10.0) + gl * a0_1
    # env 1
    a1_4 = 0.0  # reset step
    a1_3 = 3.0 + g * 7.0 - 2.0  # truncated: V(s_final) = V[1][4]
    a1_2 = 0.0  # reset step
    a1_1 = -1.0 - 3.0  # crash: no bootstrap at all
    a1_0 = (1.0 + g * 3.0 - 4.0) + gl * a1_1
    return [[a0_0, a0_1, a0_2, a0_3, a0_4], [a1_0, a1_1, a1_2, a1_3, a1_4]]


def _t(rows, dtype=torch.float32) -> torch.Tensor:
    return torch.tensor(rows, dtype=dtype).T.contiguous()  # (T, N)


def test_gae_matches_hand_computation_with_truncation_and_crash():
    adv = compute_gae(
        _t(R),
        _t(V),
        torch.tensor(NEXT_V),
        _t(TERM, torch.bool),
        _t(TRUNC, torch.bool),
        _t(VALID, torch.bool),
        GAMMA,
        LAM,
    )
    expected = _t(hand_advantages())
    torch.testing.assert_close(adv, expected)


def test_gae_lambda_one_is_discounted_return_minus_value():
    # one env, no dones: A_t = sum_k γ^k r_{t+k} + γ^(T-t) V(s_T) - V(s_t)
    r = torch.tensor([[1.0], [2.0], [3.0]])
    v = torch.tensor([[0.5], [0.25], [0.125]])
    nv = torch.tensor([4.0])
    z = torch.zeros(3, 1, dtype=torch.bool)
    adv = compute_gae(r, v, nv, z, z, ~z, 0.5, 1.0)
    expected = torch.tensor(
        [[1 + 0.5 * 2 + 0.25 * 3 + 0.125 * 4 - 0.5], [2 + 0.5 * 3 + 0.25 * 4 - 0.25], [3 + 0.5 * 4 - 0.125]]
    )
    torch.testing.assert_close(adv, expected)


@pytest.mark.parametrize("lam", [0.0, 0.95])
def test_crash_value_never_leaks(lam):
    # whatever V(s_final) after a crash is, the crashing step's advantage does not depend on it
    base = dict(terminated=_t(TERM, torch.bool), truncated=_t(TRUNC, torch.bool), valid=_t(VALID, torch.bool))
    v = _t(V)
    v2 = v.clone()
    v2[2, 1] = 1e6  # V of the observation after env 1's crash
    a1 = compute_gae(
        _t(R), v, torch.tensor(NEXT_V), base["terminated"], base["truncated"], base["valid"], GAMMA, lam
    )
    a2 = compute_gae(
        _t(R), v2, torch.tensor(NEXT_V), base["terminated"], base["truncated"], base["valid"], GAMMA, lam
    )
    torch.testing.assert_close(a1[:, 1], a2[:, 1])
