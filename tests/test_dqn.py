"""DQN: n-step targets by hand, config validation, a short run end to end, determinism, CartPole/highway."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from agents import load_policy, train_run
from agents.common.buffers import ReplayBuffer
from agents.common.hparams import resolve_hyperparams
from agents.common.io import read_json
from agents.common.plots import read_metrics
from agents.dqn import DQNConfig, dqn_loss, epsilon_greedy

ROOT = Path(__file__).resolve().parents[1]

# one env, rows as a NEXT_STEP vector env writes them; obs = row index
#   row: 0    1    2        3      4    5       6      7    8    9
#   r:   1    2    4        0      1    8       0      1    1    1
#        .    .    trunc    reset  .    crash   reset  .    .    .
REWARDS = [1.0, 2.0, 4.0, 0.0, 1.0, 8.0, 0.0, 1.0, 1.0, 1.0]
TRUNC = [0, 0, 1, 0, 0, 0, 0, 0, 0, 0]
TERM = [0, 0, 0, 0, 0, 1, 0, 0, 0, 0]
VALID = [1, 1, 1, 0, 1, 1, 0, 1, 1, 1]


def _filled_buffer(capacity: int = 10, alpha: float = 0.0) -> ReplayBuffer:
    buf = ReplayBuffer(capacity, 1, (1,), torch.device("cpu"), alpha=alpha)
    for i in range(10):
        b = lambda x: torch.tensor([bool(x)])  # noqa: E731
        buf.add(
            torch.tensor([[float(i)]]),
            torch.tensor([i % 5]),
            torch.tensor([REWARDS[i]]),
            b(TERM[i]),
            b(TRUNC[i]),
            b(VALID[i]),
        )
    return buf


def test_nstep_targets_match_hand_computation():
    g = 0.5
    out = _filled_buffer().gather(torch.arange(7), torch.zeros(7, dtype=torch.long), n_step=3, gamma=g)
    # t: (return, next_obs, discount, weight)
    expected = {
        0: (1 + g * 2 + g**2 * 4, 3, g**3, 1),  # truncated at row 2: bootstrap from s_final (row 3)
        1: (2 + g * 4, 3, g**2, 1),
        2: (4, 3, g, 1),
        4: (1 + g * 8, 6, 0.0, 1),  # crash at row 5: never bootstrap
        5: (8, 6, 0.0, 1),
        6: (None, None, None, 0),  # reset step: not a transition
    }
    for t, (ret, nxt, disc, w) in expected.items():
        assert out["weight"][t].item() == w, t
        if ret is None:
            continue
        assert out["returns"][t].item() == pytest.approx(ret), t
        assert out["next_obs"][t].item() == nxt, t
        assert out["discount"][t].item() == pytest.approx(disc), t
        assert out["obs"][t].item() == t and out["actions"][t].item() == t % 5


def test_replay_wraps_around_and_never_samples_unfinished_rows():
    buf = _filled_buffer(capacity=6)  # keeps rows 4..9
    gen = torch.Generator().manual_seed(0)
    batch = buf.sample(512, n_step=2, gamma=0.9, generator=gen)
    assert set(batch["obs"].flatten().tolist()) <= {4.0, 5.0, 6.0, 7.0}  # t + 2 <= 9


def test_prioritized_replay_draws_in_proportion_to_priority_and_corrects_with_weights():
    alpha, beta = 0.5, 0.4
    buf = _filled_buffer(capacity=10, alpha=alpha)
    gen = torch.Generator().manual_seed(0)
    first = buf.sample(2000, n_step=2, gamma=0.9, generator=gen, beta=beta)
    # new transitions share the max priority; reset rows (3, 6) and unfinished ones (8, 9) are never drawn
    assert set(first["obs"].flatten().tolist()) == {0.0, 1.0, 2.0, 4.0, 5.0, 7.0}
    assert torch.allclose(first["weight"], torch.ones(2000))  # equal priorities: equal weights
    # TD errors 1 .. 6 on the six drawable rows: P(i) ∝ |δ_i|^α
    drawable = torch.tensor([0, 1, 2, 4, 5, 7])
    td = torch.arange(1.0, 7.0)
    buf.update_priorities(drawable, td, eps=0.0)
    batch = buf.sample(60_000, n_step=2, gamma=0.9, generator=gen, beta=beta)
    expected = td**alpha / (td**alpha).sum()
    freq = torch.stack([(batch["obs"].flatten() == r).float().mean() for r in drawable.tolist()])
    torch.testing.assert_close(freq, expected, atol=0.01, rtol=0)
    w = (len(buf) * expected) ** -beta
    by_row = {int(o): x.item() for o, x in zip(batch["obs"].flatten(), batch["weight"])}
    for r, wr in zip(drawable.tolist(), (w / w.max()).tolist()):
        assert by_row[r] == pytest.approx(wr, rel=1e-5), r
    assert buf.max_priority == 6.0


def test_prioritized_replay_state_round_trips():
    buf = _filled_buffer(capacity=10, alpha=0.6)
    gen = torch.Generator().manual_seed(0)
    batch = buf.sample(4, n_step=2, gamma=0.9, generator=gen)
    buf.update_priorities(batch["index"], torch.tensor([3.0, 0.5, 2.0, 1.0]))
    arrays = {k: v.numpy() for k, v in buf.state_arrays().items()}
    copy = ReplayBuffer(10, 1, (1,), torch.device("cpu"), alpha=0.6)
    assert copy.load_state_arrays(arrays)
    for k in ("priority", "row_priority", "valid", "obs"):
        assert torch.equal(getattr(copy, k), getattr(buf, k)), k
    assert (copy.written, copy.released, copy.max_priority) == (buf.written, buf.released, buf.max_priority)
    assert ReplayBuffer(10, 1, (1,), torch.device("cpu")).load_state_arrays(arrays)  # ignores priorities
    copy.drop_newest(2)
    assert copy.priority[8:].sum() == 0 and not copy.valid[8:].any()


def test_double_dqn_target_uses_online_argmax_and_target_value():
    torch.manual_seed(0)
    from agents.dqn import build_q_network

    arch = {"hidden": [8, 8], "activation": "relu", "dueling": True}
    online, target = build_q_network((3,), 4, arch), build_q_network((3,), 4, arch)
    batch = {
        "obs": torch.randn(5, 3),
        "actions": torch.tensor([0, 1, 2, 3, 0]),
        "returns": torch.randn(5),
        "next_obs": torch.randn(5, 3),
        "discount": torch.tensor([0.9, 0.0, 0.81, 0.9, 0.9]),
        "weight": torch.ones(5),
    }
    loss, q, td = dqn_loss(online, target, batch, double=True)
    with torch.no_grad():
        a_star = online(batch["next_obs"]).argmax(1)
        y = batch["returns"] + batch["discount"] * target(batch["next_obs"])[torch.arange(5), a_star]
        q_ref = online(batch["obs"])[torch.arange(5), batch["actions"]]
    torch.testing.assert_close(q, q_ref)
    torch.testing.assert_close(loss, torch.nn.functional.smooth_l1_loss(q_ref, y))
    torch.testing.assert_close(td, y - q_ref)
    mse, _, _ = dqn_loss(online, target, batch, double=True, loss="mse")
    torch.testing.assert_close(mse, torch.nn.functional.mse_loss(q_ref, y))
    wide, _, _ = dqn_loss(online, target, batch, double=True, huber_delta=3.0)
    torch.testing.assert_close(wide, torch.nn.functional.huber_loss(q_ref, y, delta=3.0))
    with pytest.raises(ValueError, match="huber, mse"):
        DQNConfig(loss="l1")


def test_epsilon_greedy_extremes():
    gen = torch.Generator().manual_seed(0)
    q = torch.tensor([[0.0, 1.0, 0.0]]).repeat(1000, 1)
    assert (epsilon_greedy(q, 0.0, 3, gen) == 1).all()
    frac = (epsilon_greedy(q, 1.0, 3, gen) == 1).float().mean().item()
    assert 0.25 < frac < 0.42


def test_unknown_hyperparameter_names_the_valid_ones():
    with pytest.raises(ValueError, match="learning_rate"):
        resolve_hyperparams("dqn", DQNConfig, "CartPole-v1", {"learnin_rate": 0.1})
    with pytest.raises(ValueError, match="n_step"):
        DQNConfig(n_step=0)
    hp = resolve_hyperparams("dqn", DQNConfig, "autodrive/HighwayFast-v0", {"n_step": 5})
    assert hp.n_step == 5


SHORT = {"learning_starts": 200, "log_interval": 400, "checkpoint_interval": 800, "hidden": [32, 32]}


def _short_run(tmp_path, name: str, seed: int = 0):
    return train_run(
        "dqn", "CartPole-v1", steps=1600, seed=seed, num_envs=4, device="cpu", out=tmp_path / name,
        hp_overrides=SHORT, eval_episodes=3, progress=False, tensorboard=False,
    )  # fmt: skip


def test_short_run_writes_a_loadable_policy(tmp_path):
    run = _short_run(tmp_path, "a")
    for name in (
        "config.yaml",
        "dqn.safetensors",
        "checkpoints/last.safetensors",
        "metrics.csv",
        "eval.json",
    ):
        assert (run / name).exists(), name
    assert read_json(run / "eval.json")["episodes"] == 3
    policy = load_policy(run)
    obs = np.zeros(4, dtype=np.float32)
    action, state = policy.predict(obs, deterministic=True)
    assert state is None and np.shape(action) == () and int(action) in (0, 1)
    actions, _ = policy.predict(np.zeros((7, 4), dtype=np.float32))
    assert actions.shape == (7,) and actions.dtype == np.int64
    t_actions, _ = policy.predict(torch.zeros(7, 4))
    assert isinstance(t_actions, torch.Tensor) and t_actions.shape == (7,)
    sampled, _ = policy.predict(np.zeros((7, 4), dtype=np.float32), deterministic=False)
    assert sampled.shape == (7,)
    with pytest.raises(ValueError, match="shape"):
        policy.predict(np.zeros(5, dtype=np.float32))

    evaluate = [sys.executable, str(ROOT / "scripts" / "evaluate.py"), str(run), "--episodes", "2"]
    subprocess.run([*evaluate, "--out", str(tmp_path / "e.json")], check=True, capture_output=True)
    result = read_json(tmp_path / "e.json")
    assert result["episodes"] == 2 and {"mean_return", "std_return"} <= set(result)
    proc = subprocess.run([*evaluate, "--env", "Acrobot-v1"], capture_output=True, text=True)
    assert proc.returncode != 0 and "policy expects" in proc.stderr


def test_same_seed_same_training_curve(tmp_path):
    a, b = _short_run(tmp_path, "a"), _short_run(tmp_path, "b")
    ma, mb = read_metrics(a / "metrics.csv"), read_metrics(b / "metrics.csv")
    for key in ("return_mean", "loss", "q_mean", "episodes"):
        np.testing.assert_array_equal(ma[key], mb[key])
    pa, pb = load_policy(a), load_policy(b)
    for (ka, va), (_, vb) in zip(pa.net.state_dict().items(), pb.net.state_dict().items()):
        assert torch.equal(va, vb), ka
