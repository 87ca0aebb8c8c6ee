"""Adversarial robustness: the attacks' budgets and bounds, attacks on the perception CNN and on the
policy, adversarial training, the detector's metric, the attacked perception wrapper, and a reduced
experiment (the full one is the ``slow`` scenario)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from perception.attacks import Attack, AttackedPolicy, attack_frames, detection_loss, perturb


def quadratic(x: torch.Tensor) -> torch.Tensor:
    return ((x - 3.0) ** 2).sum()


def test_attack_budgets_bounds_and_rounding() -> None:
    x = torch.tensor([[0.0, 100.0, 255.0, 7.0]])
    gen = torch.Generator().manual_seed(0)
    fgsm = perturb(Attack("fgsm", 4.0), quadratic, x, gen)
    # one step of eps * sign(grad) (away from 3), clipped to the pixel range
    assert fgsm.tolist() == [[0.0, 104.0, 255.0, 11.0]]
    for kind in ("pgd", "noise"):
        adv = perturb(Attack(kind, 2.5), quadratic, x, gen)
        assert (adv - x).abs().max() <= 2.5 and adv.min() >= 0 and adv.max() <= 255
        assert torch.equal(adv, adv.round())  # still an image: integer pixel levels
    noise = perturb(Attack("noise", 2.0), quadratic, torch.full((1, 1000), 128.0), gen)
    assert set(np.unique((noise - 128).numpy())) == {-2.0, 2.0}
    assert torch.equal(perturb(Attack("pgd", 0.0), quadratic, x), x)
    free = perturb(Attack("pgd", 0.3, low=-1.0, high=1.0, quantise=False), quadratic, torch.zeros(1, 3))
    assert torch.allclose(free, torch.full((1, 3), -0.3))  # PGD climbs to the budget's edge


def test_pgd_beats_fgsm_and_noise_on_a_nonlinear_loss() -> None:
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(8, 32), torch.nn.Tanh(), torch.nn.Linear(32, 1))
    x = torch.rand(64, 8)

    def loss(z: torch.Tensor) -> torch.Tensor:
        return net(z).square().mean()

    kw = dict(low=-10.0, high=10.0, quantise=False)
    gen = torch.Generator().manual_seed(1)
    pgd, fgsm, noise = (
        loss(perturb(Attack(k, 0.5, steps=20, **kw), loss, x, gen)) for k in ("pgd", "fgsm", "noise")
    )
    assert pgd >= fgsm * 0.999 and fgsm > noise and noise < pgd


def test_attack_spelling_and_bad_input() -> None:
    assert Attack.parse("fgsm:8") == Attack("fgsm", 8.0)
    with pytest.raises(ValueError, match="unknown attack 'cw'"):
        Attack("cw", 1.0)
    with pytest.raises(ValueError, match="expected '<kind>:<epsilon>'"):
        Attack.parse("pgd")
    with pytest.raises(ValueError, match="epsilon=-1"):
        Attack("pgd", -1.0)
    from perception.adversarial import AdversarialConfig

    with pytest.raises(ValueError, match="unknown attacks"):
        AdversarialConfig(attacks=("pgd", "deepfool"))


@pytest.fixture(scope="module")
def small_data(tmp_path_factory):
    from perception.dataset import GenerateConfig, generate, load_dataset

    path = tmp_path_factory.mktemp("adv-data")
    generate(
        GenerateConfig(frames=256, num_envs=64, steps_per_shard=4, workers=1, seed=3), path, progress=False
    )
    return load_dataset(path)


@pytest.fixture(scope="module")
def small_model(small_data, tmp_path_factory):
    from perception.train import TrainConfig, train

    out = tmp_path_factory.mktemp("adv-model")
    result = train(TrainConfig(minutes=1e6, max_steps=40, batch_size=32), small_data, out, progress=False)
    return result["model"], out


def test_attacks_on_the_cnn_raise_its_loss_within_budget(small_data, small_model) -> None:
    from perception.adversarial import _labels

    model, _ = small_model
    frames, dense_t, ego_t = _labels(small_data, 64, model.cfg)
    grads = [None if p.grad is None else p.grad.clone() for p in model.parameters()]
    clean = detection_loss(model, frames.float(), dense_t, ego_t).item()
    losses = {}
    for kind in ("noise", "fgsm", "pgd"):
        adv = attack_frames(model, frames, Attack(kind, 4.0, steps=5), dense_t, ego_t, batch_size=24)
        assert adv.shape == frames.shape and (adv - frames.float()).abs().max() <= 4.0
        assert torch.equal(adv, adv.round()) and adv.min() >= 0 and adv.max() <= 255
        losses[kind] = detection_loss(model, adv, dense_t, ego_t).item()
    assert losses["pgd"] > clean and losses["fgsm"] > clean
    assert losses["pgd"] > losses["noise"]
    # without labels the attack pushes away from the model's own clean outputs, and still raises the loss
    blind = attack_frames(model, frames, Attack("pgd", 4.0, steps=5))
    assert detection_loss(model, blind, dense_t, ego_t).item() > clean
    for p, g in zip(model.parameters(), grads):  # attacks take input gradients only
        assert (p.grad is None and g is None) or torch.equal(p.grad, g)


def test_adversarial_training_hook(small_data, small_model) -> None:
    from perception.adversarial import AdversarialTraining, _labels
    from perception.train import TrainConfig, train

    model, _ = small_model
    frames, dense_t, ego_t = _labels(small_data, 16, model.cfg)
    hook = AdversarialTraining(budgets=(3.0,), steps=2, share=0.25)
    out = hook(model, frames, dense_t, ego_t)
    delta = (out - frames.float()).abs()
    assert delta[:4].max() == 3.0 and delta[4:].max() == 0  # a quarter of the batch attacked, within budget
    with pytest.raises(ValueError, match="share"):
        AdversarialTraining(share=0.0)
    result = train(
        TrainConfig(minutes=1e6, max_steps=3, batch_size=16), small_data, progress=False,
        init_state=model.state_dict(), perturb=AdversarialTraining(steps=1),
    )  # fmt: skip
    assert result["steps"] == 3 and np.isfinite(result["last_loss"])


def test_perceived_env_under_attack(small_model) -> None:
    from perception.wrapper import make_perceived_vec

    _, model_dir = small_model
    obs = {}
    for attack in (None, "pgd:8"):
        venv = make_perceived_vec(2, model_dir, attack=attack)
        o, _ = venv.reset(seed=5)
        for _ in range(2):
            o, *_ = venv.step(np.zeros(2, dtype=np.int64))
        assert venv.single_observation_space.shape == o.shape[1:]
        obs[attack] = o
        venv.close()
    assert not np.array_equal(obs[None], obs["pgd:8"])  # the attacker changed what the planner sees
    with pytest.raises(ValueError, match="expected '<kind>:<epsilon>'"):
        make_perceived_vec(1, model_dir, attack="pgd:four")


def test_attacked_policy_changes_decisions_of_the_dqn() -> None:
    import gymnasium as gym

    import envs  # noqa: F401
    from agents.run import load_policy

    policy = load_policy("agents/pretrained/highway-fast-dqn")
    venv = gym.make_vec("autodrive/HighwayFast-v0", num_envs=64, vectorization_mode="vector_entry_point")
    obs, _ = venv.reset(seed=0)
    venv.close()
    clean, _ = policy.predict(obs)
    changed = {}
    for kind in ("noise", "pgd"):
        attack = Attack(kind, 0.05, low=-1.0, high=1.0, quantise=False)
        actions, _ = AttackedPolicy(policy, attack).predict(obs)
        changed[kind] = np.mean(actions != clean)
    assert changed["pgd"] > changed["noise"] and changed["pgd"] > 0.2


def test_auroc() -> None:
    from perception.adversarial import auroc

    assert auroc(np.array([0.0, 1.0]), np.array([2.0, 3.0])) == 1.0
    assert auroc(np.array([0.0, 1.0]), np.array([0.0, 1.0])) == 0.5
    assert auroc(np.array([2.0, 3.0]), np.array([0.0, 1.0])) == 0.0


def test_reduced_adversarial_experiment(tmp_path) -> None:
    from perception.adversarial import AdversarialConfig, format_policy_table, format_table, run

    cfg = AdversarialConfig(
        train_frames=512, test_frames=256, cnn_steps=4, robust_steps=2, budgets=(2.0, 8.0), pgd_steps=2,
        eval_frames=64, episodes=2, drive_attacks=("pgd",), policy_budgets=(0.02,), detector_frames=64,
        detector_steps=5, workers=1,
    )  # fmt: skip
    result = run(cfg, tmp_path)
    assert set(result["models"]) == {"standard", "robust"}
    for m in result["models"].values():
        assert set(m["attacks"]) == {"fgsm", "pgd", "noise"}
        assert set(m["attacks"]["pgd"]) == {"2.0", "8.0"} and "mean_return" in m["attacks"]["pgd"]["2.0"]
        assert "mean_return" not in m["attacks"]["noise"]["2.0"]  # driven under drive_attacks only
        assert all(0 <= r["occupancy_f1"] <= 1 for b in m["attacks"].values() for r in b.values())
    det = result["detector"]
    assert set(det["attacks"]) == {"fgsm", "pgd", "noise"} and 0 <= det["false_positive_rate"] <= 1
    assert all(0 <= r["auroc"] <= 1 for b in det["attacks"].values() for r in b.values())
    assert set(result["policy"]) == {"clean", "fgsm", "pgd", "noise"}
    assert format_table(result).count("\n") == 1 + 2 * (1 + 3 * 2)
    assert format_policy_table(result).count("\n") == 2 + 3
