"""Perception: dataset determinism and manifest, labels, exact decoding, a training smoke test, wrappers,
and the gridworld chain on a small map."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

import envs  # noqa: F401
import perception  # noqa: F401  registers the perceived ids
from perception import decode as dec
from perception.dataset import GenerateConfig, generate, load_dataset
from perception.metrics import kinematics_errors, occupancy_f1
from perception.model import ModelConfig, PerceptionCNN, save_model
from perception.train import TrainConfig, env_config_of, model_config_of, train
from perception.wrapper import PerceptionVectorWrapper, PerceptionWrapper, camera_kwargs

SMALL = dict(frames=2 * 64 * 6, num_envs=64, steps_per_shard=6, workers=1)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("data")
    generate(GenerateConfig(seed=5, **SMALL), out, progress=False)
    return load_dataset(out)


def test_generate_is_deterministic_and_has_a_manifest(tmp_path, dataset):
    manifest = generate(GenerateConfig(seed=5, **SMALL), tmp_path, progress=False)
    assert [s["sha256"] for s in manifest["shards"]] == [s["sha256"] for s in dataset.manifest["shards"]]
    assert manifest["frames"] == len(dataset) == 768 and len(manifest["shards"]) == 2
    assert manifest["env_config"]["lanes_count"] == 3 and manifest["camera"]["stack"] == 2
    assert set(manifest["arrays"]) == set(dataset.arrays)
    other = generate(GenerateConfig(seed=6, **SMALL), tmp_path / "other", progress=False)
    assert other["shards"][0]["sha256"] != manifest["shards"][0]["sha256"]
    assert not list(tmp_path.glob("*.tmp"))  # atomic writes leave no temp files


def test_frames_and_labels_are_what_the_env_shows(dataset):
    """Replaying the stored actions in camera and Kinematics envs gives the stored stacks and labels."""
    from perception.dataset import _shard_seed

    shard = dataset.manifest["shards"][0]
    t, e = shard["steps"], shard["envs"]
    kw = dict(num_envs=e, vectorization_mode="vector_entry_point")
    cam = gym.make_vec("autodrive/HighwayFast-v0", observation="camera", **kw)
    kin = gym.make_vec("autodrive/HighwayFast-v0", **kw)
    seed = _shard_seed(dataset.manifest["seed"], 0)
    obs_c, _ = cam.reset(seed=seed)
    obs_k, _ = kin.reset(seed=seed)
    actions = dataset.arrays["actions"][: t * e].reshape(t, e)
    for step in range(t):
        index = np.arange(step * e, (step + 1) * e)
        np.testing.assert_array_equal(dataset.stacked_frames(index), obs_c)
        np.testing.assert_array_equal(dataset.arrays["kinematics"][index], obs_k)
        obs_c, *_ = cam.step(actions[step])
        obs_k, *_ = kin.step(actions[step])


def test_perfect_detections_decode_to_the_labels(dataset):
    """The dense targets, read back as CNN outputs, give the simulator's own labels (the decoder is exact)."""
    cfg = model_config_of(dataset.manifest, 16)
    index = np.arange(len(dataset))
    dense_t, ego_t = dec.targets(dataset.arrays["vehicles"][index], dataset.arrays["ego"][index], cfg)
    logits = torch.from_numpy(dense_t).clone()
    logits[:, 0] = torch.where(logits[:, 0] > 0.5, 20.0, -20.0)
    det = dec.decode(logits, torch.from_numpy(ego_t), cfg)
    obs = dec.observe(det, env_config_of(dataset.manifest))
    f1 = occupancy_f1(obs["occupancy"][:, 0], dataset.arrays["occupancy"][index, 0])
    assert f1["occupancy_f1"] > 0.999
    err = kinematics_errors(obs["kinematics"], dataset.arrays["kinematics"][index], 3)
    assert err["position_mae_m"] < 0.3 and err["speed_mae_m_s"] < 0.3  # only vehicles beyond the view miss


CURVED = ["autodrive/Merge-v0", "autodrive/Exit-v0", "autodrive/Roundabout-v0"]


@pytest.mark.parametrize("env_id", CURVED)
def test_perfect_detections_through_the_pose_give_every_worlds_labels(env_id, tmp_path):
    """On merge, exit and roundabout: detections in the view, placed with the camera's pose, give the
    simulator's own occupancy grid and (merge, roundabout: the world's own Kinematics options) rows."""
    small = dict(frames=64 * 6, num_envs=64, steps_per_shard=6, workers=1)
    generate(GenerateConfig(env_id=env_id, seed=2, **small), tmp_path, progress=False)
    data = load_dataset(tmp_path)
    assert np.ptp(data.arrays["pose"][:, 2]) > (0.5 if "Roundabout" in env_id else -1)  # the view turns
    cfg = model_config_of(data.manifest, 16)
    index = np.arange(len(data))
    dense_t, ego_t = dec.targets(data.arrays["vehicles"][index], data.arrays["ego"][index], cfg)
    logits = torch.from_numpy(dense_t).clone()
    logits[:, 0] = torch.where(logits[:, 0] > 0.5, 20.0, -20.0)
    det = dec.decode(logits, torch.from_numpy(ego_t), cfg)
    env_config = env_config_of(data.manifest)
    obs = dec.observe(det, env_config, pose=data.arrays["pose"][index])
    # the grid (11 x 11 cells of 5 m, world axes) reaches 27.5 m from the ego, the camera's view 14.5 m
    # to the sides: compare the cells whose centre is within 10 m, always in view whatever the heading
    k = np.arange(11) - 5
    seen = np.hypot(k[:, None], k[None, :]) * 5.0 <= 10.0
    pred, true = obs["occupancy"][:, 0][:, seen], data.arrays["occupancy"][index, 0][:, seen]
    assert (true > 0.5).sum() > 100  # vehicles to find
    f1 = occupancy_f1(pred[:, :, None], true[:, :, None])
    assert f1["occupancy_f1"] > 0.99, f1["occupancy_f1"]
    if env_config.observation == "kinematics":  # the world's own options (the roundabout's absolute x, y)
        true, pred = data.arrays["kinematics"][index], obs["kinematics"]
        rows = true[:, :, 0] > 0.5
        ego_err = np.abs(pred[:, 0] - true[:, 0]).max(axis=0)
        assert ego_err[1:3].max() < 1e-3 and ego_err[3:].max() < 0.02, ego_err  # position exact (pose)
        origin = true[:, :1, 1:3] if dict(env_config.observation_options).get("absolute") else 0.0
        offset = np.abs(true[:, 1:, 1:3] - origin)  # other vehicles relative to the ego, normalised
        near = rows[:, 1:] & np.all(offset < 0.1, axis=2)  # well inside the view
        # each such vehicle is in the perceived rows (the order may differ where one out of view is missed)
        close = np.all(np.abs(true[:, 1:, None] - pred[:, None, 1:]) < 0.02, axis=3)  # (B, true, pred)
        match = close.any(axis=2)
        assert near.sum() > 20
        assert match[near].mean() > 0.95, match[near].mean()


def test_training_reduces_the_loss(dataset, tmp_path):
    result = train(
        TrainConfig(minutes=5, max_steps=40, batch_size=32, lr=3e-3), dataset, tmp_path, progress=False
    )
    assert result["last_loss"] < 0.7 * result["first_loss"]
    assert (tmp_path / "model.safetensors").exists() and (tmp_path / "model.json").exists()


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("model")
    save_model(PerceptionCNN(ModelConfig()), out)
    return out


def test_wrapper_turns_a_camera_env_into_a_kinematics_env(model_dir):
    from perception.model import load_model

    model = load_model(model_dir)
    env = PerceptionWrapper(gym.make("autodrive/HighwayFast-v0", **camera_kwargs(model)), model)
    obs, _ = env.reset(seed=0)
    assert env.observation_space.shape == (5, 5) and obs.shape == (5, 5) and obs.dtype == np.float32
    assert env.observation_space.contains(env.step(1)[0])
    venv = gym.make_vec(
        "autodrive/HighwayFastPerceived-v0",
        num_envs=3,
        vectorization_mode="vector_entry_point",
        model_dir=str(model_dir),
    )
    obs, _ = venv.reset(seed=0)
    assert obs.shape == (3, 5, 5) and venv.single_observation_space.shape == (5, 5)
    with pytest.raises(ValueError, match="observation='camera'"):
        PerceptionWrapper(gym.make("autodrive/HighwayFast-v0"), model)
    with pytest.raises(ValueError, match="camera differs"):
        PerceptionVectorWrapper(
            gym.make_vec(
                "autodrive/HighwayFast-v0", 2, "vector_entry_point", observation="camera", camera_stack=1
            ),
            model,
        )


def test_gridworld_chain_from_pixels_matches_the_true_map():
    from agents.tabular import value_iteration
    from perception.gridworld import GridPerceptionConfig, run_chain, train_grid_cnn

    model, info = train_grid_cnn(GridPerceptionConfig(steps=300, batch_size=16))
    assert info["last_loss"] < 0.1 * info["first_loss"]
    pixels = run_chain(model, "empty", value_iteration, episodes=3, slip=0.1)
    truth = run_chain(None, "empty", value_iteration, episodes=3, slip=0.1)
    assert pixels["map_exact_rate"] == 1.0
    assert pixels["success_rate"] == truth["success_rate"] and pixels["mean_return"] == truth["mean_return"]
