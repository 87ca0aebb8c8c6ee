"""Self-supervised pretraining: the encoder is the PerceptionCNN's own, its weights load into the CNN, the loss
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
    cfg = PretrainConfig(objective="autoencoder", mask_ratio=0.25, steps=40, batch_size=16, threads=1)
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


@pytest.fixture(scope="module")
def tiny_dataset(tmp_path_factory):
    from perception.dataset import GenerateConfig, generate, load_dataset

    out = tmp_path_factory.mktemp("pretrain-data")
    generate(GenerateConfig(frames=96, seed=3, num_envs=6, steps_per_shard=8, workers=1), out, progress=False)
    return load_dataset(out)


def test_successors_stay_in_their_episode(tiny_dataset):
    from perception.pretrain import successor_index, transitions

    data = tiny_dataset
    succ = successor_index(data)
    has = succ >= 0
    assert has.any() and (~has).any()
    # the next frame's stack holds this frame one step older, and is not a reset
    assert np.array_equal(data.history[succ[has], -2], np.flatnonzero(has))
    assert not data.arrays["first"][succ[has]].any()
    # no successor: the shard's last step, or the env was reset right after
    last_step = np.zeros(len(data), dtype=bool)
    last_step[-6:] = True
    none = np.flatnonzero(~has)
    assert np.all(last_step[none] | data.arrays["first"][np.minimum(none + 6, len(data) - 1)])
    t = transitions(data, 20, seed=0)
    assert t["frames"].shape == (20, 2, 32, 128) and t["next_frames"].shape == (20, 1, 32, 128)
    assert t["actions"].shape == (20,)
    with pytest.raises(ValueError, match="transitions asked"):
        transitions(data, len(data), seed=0)


def test_predictive_pretraining_needs_its_data_and_learns(frames):
    cfg = PretrainConfig(objective="predictive", steps=40, batch_size=16, threads=1)
    mcfg = ModelConfig(channels=8)
    with pytest.raises(ValueError, match="next_frames and actions"):
        pretrain(cfg, frames, mcfg, progress=False)
    shifted = np.roll(frames[:, -1:], 2, axis=3)  # every vehicle moves 2 px forward
    actions = np.zeros(len(frames), dtype=np.int64)
    a = pretrain(cfg, frames, mcfg, shifted, actions, progress=False)
    b = pretrain(cfg, frames, mcfg, shifted, actions, progress=False)
    assert a["last_loss"] < a["first_loss"] and a["objective"] == "predictive"
    for k, v in a["encoder_state"].items():
        assert torch.equal(v, b["encoder_state"][k]), k
    with pytest.raises(ValueError, match="objective"):
        PretrainConfig(objective="contrastive")


def test_match_init_scale_keeps_the_encoder_up_to_a_factor(frames):
    from perception.pretrain import ENCODER_CONVS, match_init_scale

    mcfg = ModelConfig(channels=8)
    cfg = PretrainConfig(objective="autoencoder", steps=40, batch_size=16, threads=1)
    state = pretrain(cfg, frames, mcfg, progress=False)["encoder_state"]
    scaled = match_init_scale(state, mcfg, frames, seed=5)

    def features(st):
        torch.manual_seed(5)
        cnn = PerceptionCNN(mcfg)
        if st is not None:
            cnn.load_state_dict(st, strict=False)
        out = {}
        for name, module in cnn.named_modules():
            if name in ENCODER_CONVS:
                module.register_forward_hook(lambda _m, _i, o, name=name: out.__setitem__(name, o))
        with torch.no_grad():
            cnn(torch.from_numpy(frames))
        return out

    fresh, before, after = features(None), features(state), features(scaled)
    for name in ENCODER_CONVS:
        rms = after[name].pow(2).mean().sqrt()
        assert torch.isclose(rms, fresh[name].pow(2).mean().sqrt(), rtol=1e-4), name
        factor = rms / before[name].pow(2).mean().sqrt()
        assert torch.allclose(after[name], before[name] * factor, rtol=1e-3, atol=1e-6), name
