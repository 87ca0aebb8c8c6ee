"""Conditional GAN: shapes, determinism, safetensors round trip, the sample grid, and label consistency
machinery (Frechet distance against a hand computation)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from perception import fid
from perception.dataset import GenerateConfig, generate, load_dataset
from perception.gan import (
    COND_CHANNELS,
    Discriminator,
    GanConfig,
    Generator,
    condition,
    load_generator,
    train_gan,
)
from perception.gan import generate as gan_generate
from perception.model import ModelConfig

TINY = GanConfig(steps=3, batch_size=4, g_channels=8, d_channels=8, sample_every=2, threads=1)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    path = tmp_path_factory.mktemp("gan_data")
    generate(
        GenerateConfig(frames=256, num_envs=32, steps_per_shard=8, workers=1, seed=5), path, progress=False
    )
    return load_dataset(path)


def test_networks_shapes():
    mcfg = ModelConfig(channels=8)
    g, d = Generator(TINY, mcfg), Discriminator(TINY, mcfg)
    cond = torch.zeros(3, COND_CHANNELS, *mcfg.grid)
    x = g(torch.randn(3, TINY.z_dim), cond)
    assert x.shape == (3, *mcfg.camera.shape) and x.abs().max() <= 1
    assert d(x, cond).shape == (3, 1, mcfg.grid[0] // 4, mcfg.grid[1] // 4)


def test_condition_carries_the_labels(data):
    mcfg = ModelConfig(channels=8)
    idx = np.arange(6)
    cond, dense, ego = condition(data.arrays["vehicles"][idx], data.arrays["ego"][idx], mcfg)
    assert cond.shape == (6, COND_CHANNELS, *mcfg.grid)
    assert torch.equal(cond[:, : dense.shape[1]], dense)
    assert torch.equal(cond[:, dense.shape[1], 0, 0], ego[:, 0])


def test_train_checkpoint_grid_and_determinism(data, tmp_path):
    a = train_gan(TINY, data, np.arange(64), out=tmp_path, progress=False)
    b = train_gan(TINY, data, np.arange(64), progress=False)
    for (k, va), vb in zip(a["generator"].state_dict().items(), b["generator"].state_dict().values()):
        assert torch.equal(va, vb), k
    assert (tmp_path / "samples-step00002.png").stat().st_size > 1000
    assert (tmp_path / "samples-step00003.png").exists()
    g = load_generator(tmp_path)
    cond, _, _ = condition(data.arrays["vehicles"][:5], data.arrays["ego"][:5], g.mcfg)
    x1, x2 = gan_generate(g, cond, seed=1), gan_generate(a["generator"], cond, seed=1)
    assert x1.dtype == torch.uint8 and x1.shape == (5, *g.mcfg.camera.shape)
    assert torch.equal(x1, x2)
    assert not list(tmp_path.glob("*.pkl")) and not list(tmp_path.glob("*.pt"))


def test_frechet_distance_hand_computed():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4000, 3))
    y = rng.normal(size=(4000, 3)) * 2 + 1
    # diagonal covariances: ||mu||^2 + sum (s1 + s2 - 2 sqrt(s1 s2))
    s1, s2 = np.var(x, 0, ddof=1), np.var(y, 0, ddof=1)
    mu = x.mean(0) - y.mean(0)
    expected = mu @ mu + np.sum(s1 + s2 - 2 * np.sqrt(s1 * s2))
    assert fid.frechet_distance(x, y) == pytest.approx(expected, rel=0.02)
    assert fid.frechet_distance(x, x) == pytest.approx(0, abs=1e-8)


def test_embed_and_label_consistency_on_real_frames(data):
    from perception.model import PerceptionCNN
    from perception.train import env_config_of

    model = PerceptionCNN(ModelConfig(channels=8)).eval()
    frames = data.stacked_frames(np.arange(16))
    emb = fid.embed(model, frames)
    assert emb.shape == (16, 8 * 8)
    lc = fid.label_consistency(model, frames, data.arrays["occupancy"][:16], env_config_of(data.manifest))
    assert set(lc) == {"cell_accuracy", "layout_exact", "occupancy_f1"} and 0 <= lc["cell_accuracy"] <= 1
