"""Autoencoder pretraining: the encoder is the PerceptionCNN's own, its weights load into the CNN, the loss
falls, and a seed fixes the result."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from perception.model import ModelConfig, PerceptionCNN
from perception.pretrain import Autoencoder, PretrainConfig, corrupt, pretrain


@pytest.fixture(scope="module")
def frames():
    """Synthetic stacked frames: road grey, one bright 5 x 2 px vehicle per frame."""
    rng = np.random.default_rng(0)
    f = np.full((64, 2, 32, 128), 70, dtype=np.uint8)
    for k in range(64):
        r, c = rng.integers(4, 26), rng.integers(0, 120)
        f[k, :, r : r + 2, c : c + 5] = 255
    return f


def test_encoder_is_the_cnn_trunk():
    ae = Autoencoder(ModelConfig(channels=8))
    x = torch.zeros(2, 2, 32, 128, dtype=torch.uint8)
    assert ae.encode(x).shape == (2, 8, 16, 32)
    assert ae(x).shape == (2, 2, 32, 128)
    keys = set(ae.encoder_state())
    cnn_keys = {
        k for k in PerceptionCNN(ModelConfig(channels=8)).state_dict() if k.startswith(("stem.", "trunk."))
    }
    assert keys == cnn_keys


def test_corrupt_masks_whole_cells():
    cfg = PretrainConfig(mask_ratio=0.5, noise_std=0.0)
    x = torch.full((4, 2, 32, 128), 200, dtype=torch.uint8)
    y = corrupt(x, cfg, torch.Generator().manual_seed(0))
    cells = y.reshape(4, 2, 16, 2, 32, 4)
    assert torch.all(cells.amin((3, 5)) == cells.amax((3, 5)))  # each 2 x 4 cell all kept or all blanked
    assert 0.3 < (y == 0).float().mean() < 0.7


def test_pretrain_learns_deterministically_and_initialises_the_cnn(frames):
    cfg = PretrainConfig(steps=40, batch_size=16, threads=1)
    mcfg = ModelConfig(channels=8)
    a = pretrain(cfg, frames, mcfg, progress=False)
    b = pretrain(cfg, frames, mcfg, progress=False)
    assert a["last_loss"] < a["first_loss"]
    for k, v in a["encoder_state"].items():
        assert torch.equal(v, b["encoder_state"][k]), k
    cnn = PerceptionCNN(mcfg)
    result = cnn.load_state_dict(a["encoder_state"], strict=False)
    assert not result.unexpected_keys and all(
        k.startswith(("dense.", "ego.")) or k == "column_scale"
        for k in result.missing_keys  # a fixed buffer
    )
    assert torch.equal(cnn.stem.weight, a["encoder_state"]["stem.weight"])
