"""Camera + LiDAR fusion: the LiDAR sensor of the perception chain, its projection, the degradations,
the sensor-set models, and a reduced fusion experiment (the full one is the ``slow`` scenario)."""

import dataclasses
import os

import numpy as np
import pytest
import torch

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")

from envs.highway.camera import HUD_ROWS, CameraSpec  # noqa: E402
from perception.lidar import (  # noqa: E402
    DEGRADATIONS,
    Degradation,
    LidarSpec,
    ScanHistory,
    camera_blackout,
    camera_noise,
    env_scan,
    lidar_dropout,
    project,
    project_stack,
    reached,
)
from perception.model import ModelConfig, PerceptionCNN  # noqa: E402

CAMERA = CameraSpec()


def _scan(spec: LidarSpec, hits: dict[int, tuple[float, float]]) -> np.ndarray:
    scan = np.tile(np.array([spec.maximum_range, 0.0], np.float32), (1, spec.cells, 1))
    for k, value in hits.items():
        scan[0, k] = value
    return scan


def test_projection_places_returns_in_the_cameras_view() -> None:
    spec = LidarSpec(cells=64, maximum_range=60.0)
    scan = _scan(spec, {0: (10.0, -3.0), 16: (5.5, 1.0)})  # ahead at 10 m; 90 degrees left at 5.5 m
    out = project(scan, np.zeros(1), spec, CAMERA)
    assert out.shape == (1, 3, CAMERA.height, CAMERA.width)
    rows, cols = np.nonzero(out[0, 0])
    expect_col0 = int(np.floor(CAMERA.x_to_column(10.0)))
    expect_row0 = int(np.floor((0.0 - CAMERA.y_edges[0]) * CAMERA.scale))
    expect_col1 = int(np.floor(CAMERA.x_to_column(0.0)))
    expect_row1 = int(np.floor((5.5 - CAMERA.y_edges[0]) * CAMERA.scale))
    assert sorted(zip(rows.tolist(), cols.tolist())) == sorted(
        [(expect_row0, expect_col0), (expect_row1, expect_col1)]
    )
    assert out[0, 1, expect_row0, expect_col0] == pytest.approx(-0.3)

    # free space: ray 0 (alone in its row beyond 11 m) saw the road empty up to its return, not behind it
    def column(x: float) -> int:
        return int(np.floor(CAMERA.x_to_column(x)))

    assert out[0, 2, expect_row0, column(5.0)] == 1.0 and out[0, 2, expect_row0, column(20.0)] == 0.0
    clear = project(_scan(spec, {}), np.zeros(1), spec, CAMERA)  # nothing met: free to its 60 m
    assert clear[0, 2, expect_row0, column(20.0)] == 1.0 and clear[0, 2, expect_row0, column(58.0)] == 1.0
    assert clear[0, 2, expect_row0, column(62.0)] == 0.0
    # a view turned by 90 degrees sees the left return straight ahead
    turned = project(scan, np.full(1, np.pi / 2), spec, CAMERA)
    col = int(np.floor(CAMERA.x_to_column(5.5)))
    assert turned[0, 0, expect_row0, col] == 1.0
    # no return (maximum range), or one outside the view (16 m to the side), draws nothing
    assert project(_scan(spec, {}), np.zeros(1), spec, CAMERA)[:, :2].sum() == 0
    assert project(_scan(spec, {16: (20.0, 0.0)}), np.zeros(1), spec, CAMERA)[:, :2].sum() == 0
    # a lost ray (NaN) draws nothing at all, not even free space
    lost = np.full((1, spec.cells, 2), np.nan, np.float32)
    assert project(lost, np.zeros(1), spec, CAMERA).sum() == 0


def test_degradations_touch_one_sensor_and_keep_the_dashboard() -> None:
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, size=(4, 2, CAMERA.height, CAMERA.width), dtype=np.uint8)
    dark = camera_blackout(frames)
    assert (dark[..., :-HUD_ROWS, :] == 0).all() and np.array_equal(
        dark[..., -HUD_ROWS:, :], frames[..., -HUD_ROWS:, :]
    )
    noisy = camera_noise(frames, 20.0, rng)
    assert np.array_equal(noisy[..., -HUD_ROWS:, :], frames[..., -HUD_ROWS:, :])
    diff = noisy[..., :-HUD_ROWS, :].astype(float) - frames[..., :-HUD_ROWS, :]
    assert 10 < np.std(diff) < 20  # clipped at 0 and 255
    spec = LidarSpec()
    scans = np.tile(np.array([12.0, 1.0], np.float32), (1000, spec.cells, 1))
    lost = lidar_dropout(scans, 0.3, rng, spec)
    share = np.mean(np.isnan(lost[..., 0]))
    assert 0.28 < share < 0.32 and np.array_equal(np.isnan(lost[..., 0]), np.isnan(lost[..., 1]))
    assert np.all(lost[~np.isnan(lost[..., 0])] == (12.0, 1.0))
    f, s = DEGRADATIONS["camera_blackout"].apply(frames, scans, rng, spec)
    assert s is scans and (f[..., :-HUD_ROWS, :] == 0).all()
    with pytest.raises(ValueError, match="lidar_dropout=1.5"):
        Degradation(lidar_dropout=1.5)


def test_env_scan_is_the_envs_own_lidar_observation() -> None:
    import gymnasium as gym

    import envs  # noqa: F401

    spec = LidarSpec(cells=32, maximum_range=50.0)
    obs_cfg = {"type": "LidarObservation", "cells": 32, "maximum_range": 50.0, "normalize": False}
    env = gym.make("autodrive/HighwayFast-v0", observation=obs_cfg)
    obs, _ = env.reset(seed=3)
    for _ in range(3):
        np.testing.assert_allclose(env_scan(env.unwrapped, spec)[0], obs, atol=1e-3)
        obs, *_ = env.step(1)
    assert (obs[:, 0] < 50.0).any()  # the scene has returns: the comparison is not all maximum range


def test_sensor_sets_read_what_they_claim() -> None:
    torch.manual_seed(0)
    frames = torch.randint(0, 256, (3, 2, CAMERA.height, CAMERA.width), dtype=torch.uint8)
    lidar = torch.from_numpy(
        project(_scan(LidarSpec(), {0: (10.0, 1.0)}).repeat(3, 0), np.zeros(3), LidarSpec(), CAMERA)
    )
    other_scene = frames.clone()
    other_scene[:, :, :-HUD_ROWS] = 0
    models = {s: PerceptionCNN(ModelConfig(sensors=s)).eval() for s in ("camera", "lidar", "fused")}
    with torch.no_grad():
        lid = models["lidar"]
        assert torch.equal(lid(frames, lidar)[0], lid(other_scene, lidar)[0])  # never reads the scene
        assert not torch.equal(lid(frames, lidar)[0], lid(frames, torch.zeros_like(lidar))[0])
        fused = models["fused"]
        assert not torch.equal(fused(frames, lidar)[0], fused(other_scene, lidar)[0])
        assert not torch.equal(fused(frames, lidar)[0], fused(frames, torch.zeros_like(lidar))[0])
        assert models["camera"](frames)[0].shape == fused(frames, lidar)[0].shape
        with pytest.raises(ValueError, match="needs the projected LiDAR"):
            fused(frames)
    with pytest.raises(ValueError, match="sensors='radar'"):
        ModelConfig(sensors="radar")


@pytest.fixture(scope="module")
def small_dataset(tmp_path_factory):
    from perception.dataset import GenerateConfig, generate, load_dataset

    path = tmp_path_factory.mktemp("fusion-data")
    generate(
        GenerateConfig(frames=256, num_envs=64, steps_per_shard=4, workers=1, seed=4), path, progress=False
    )
    return load_dataset(path)


def test_dataset_scans_and_a_mismatched_lidar(small_dataset) -> None:
    from perception.train import TrainConfig, train

    scans = small_dataset.arrays["lidar"]
    assert scans.shape == (256, LidarSpec().cells, 2) and scans.dtype == np.float32
    assert (scans[..., 0] < LidarSpec().maximum_range).mean() > 0.05  # traffic is seen
    with pytest.raises(ValueError, match="cells=32.*the dataset has cells=128"):
        small_dataset.lidar(np.arange(4), LidarSpec(cells=32))
    result = train(
        TrainConfig(minutes=1e6, max_steps=2, sensors="fused", lidar_stack=2), small_dataset, progress=False
    )
    assert result["model"].cfg.lidar == LidarSpec(**small_dataset.manifest["lidar"])
    assert result["model"].cfg.lidar_stack == 2


def test_scan_history_stacks_like_the_camera() -> None:
    spec = LidarSpec(cells=8)
    history = ScanHistory(2)
    a, b, c = (np.full((2, 8, 2), v, np.float32) for v in (1.0, 2.0, 3.0))
    stacks, headings = history.push(a, np.array([0.1, 0.2]), np.array([False, False]))
    assert np.all(stacks == 1.0) and np.allclose(headings, [[0.1, 0.1], [0.2, 0.2]])  # first call: fresh
    stacks, headings = history.push(b, np.array([0.3, 0.4]), np.array([False, True]))
    assert np.all(stacks[0, 0] == 1.0) and np.all(stacks[0, 1] == 2.0)  # oldest first
    assert np.all(stacks[1] == 2.0) and np.allclose(headings[1], 0.4)  # a new episode repeats its scan
    stacks, _ = history.push(c, np.zeros(2), np.zeros(2, bool))
    assert np.all(stacks[:, 0] == 2.0) and np.all(stacks[:, 1] == 3.0)
    # each scan of a stack is projected in its own view, channels oldest first
    scan = _scan(spec, {0: (10.0, 0.0)})
    both = project_stack(np.stack([scan, scan], 1), np.array([[0.0, np.pi / 2]]), spec, CAMERA)
    assert both.shape == (1, 6, CAMERA.height, CAMERA.width)
    np.testing.assert_array_equal(both[:, :3], project(scan, np.zeros(1), spec, CAMERA))
    np.testing.assert_array_equal(both[:, 3:], project(scan, np.full(1, np.pi / 2), spec, CAMERA))
    with pytest.raises(ValueError, match="lidar_stack=3"):
        ModelConfig(sensors="fused", lidar_stack=3)  # the camera stacks 2 frames


def test_a_two_scan_model_reads_the_scan_before_in_data_and_in_the_env(small_dataset, tmp_path) -> None:
    from perception.model import save_model
    from perception.train import lidar_input
    from perception.wrapper import make_perceived_env

    data = small_dataset
    index = np.arange(64, 128)  # the second step of each env: its first scan is one step older
    stacks = data.lidar(index, LidarSpec(), stack=2)
    np.testing.assert_array_equal(stacks[:, 1], data.arrays["lidar"][index])
    before = np.where(data.arrays["first"][index], index, index - 64)  # a reset repeats its own scan
    np.testing.assert_array_equal(stacks[:, 0], data.arrays["lidar"][before])
    assert (before != index).any()
    np.testing.assert_array_equal(data.lidar(np.arange(64), LidarSpec(), 2)[:, 0], data.arrays["lidar"][:64])
    mcfg = ModelConfig(sensors="fused", lidar_stack=2)
    assert lidar_input(data, index, mcfg).shape == (64, 6, CAMERA.height, CAMERA.width)
    with pytest.raises(ValueError, match="stack of 3 scans"):
        data.lidar(index, LidarSpec(), stack=3)
    # the driving loop: the wrapper keeps the previous scan, and a reset starts the stack again
    save_model(PerceptionCNN(mcfg), tmp_path / "m")
    env = make_perceived_env(tmp_path / "m")
    env.reset(seed=0)
    first = env.perceiver.scans.scans.copy()
    assert np.array_equal(first[:, 0], first[:, 1], equal_nan=True)
    env.step(1)
    assert np.array_equal(env.perceiver.scans.scans[:, 0], first[:, 1], equal_nan=True)
    env.reset(seed=1)
    again = env.perceiver.scans.scans
    assert np.array_equal(again[:, 0], again[:, 1], equal_nan=True)


def test_returns_reach_the_vehicles_they_land_on(small_dataset) -> None:
    from perception.fusion import visibility

    spec = LidarSpec(cells=64)
    scan = _scan(spec, {0: (9.0, 0.0), 16: (3.0, 0.0)})  # ahead: the rear of a car at 10 m; left at 3 m
    vehicles = np.array([[[10.0, 0.0], [30.0, 0.0], [0.0, 4.0], [0.0, -4.0]]])  # the second one is hidden
    np.testing.assert_array_equal(reached(scan, np.zeros(1), vehicles, spec), [[True, False, True, False]])
    turned = reached(scan, np.full(1, -np.pi / 2), vehicles, spec)  # the same rays in a view turned right
    np.testing.assert_array_equal(turned, [[False, False, False, False]])
    scan[0, 0] = np.nan  # a lost ray lands nowhere
    assert not reached(scan, np.zeros(1), vehicles, spec)[0, 0]
    seen = visibility(small_dataset, LidarSpec())
    assert seen["vehicles"] > 0 and 0 < seen["unreached_share"] < 0.5
    assert 0 <= seen["unreached_reached_one_step_before"] <= 1


def test_lidar_visible_truth_hides_what_no_ray_reaches() -> None:
    from agents.common.envs import make_vec_env
    from perception.fusion import LidarVisibleTruth

    def present(spec: LidarSpec, stack: int) -> np.ndarray:
        venv = LidarVisibleTruth(make_vec_env("autodrive/HighwayFast-v0", 8), spec, stack)
        venv.reset(seed=4)
        for _ in range(3):
            obs, *_ = venv.step(np.ones(8, int))
        venv.close()
        return obs[..., 0] > 0.5

    blind = present(LidarSpec(maximum_range=1.0), 1)  # no ray reaches anyone: the ego alone
    assert blind[:, 0].all() and not blind[:, 1:].any()
    one, two = present(LidarSpec(), 1), present(LidarSpec(), 2)
    assert one[:, 1:].any() and two.sum() >= one.sum()  # the scan before adds what this one missed
    with pytest.raises(ValueError, match="at least one scan"):
        LidarVisibleTruth(make_vec_env("autodrive/HighwayFast-v0", 1), LidarSpec(), 0)


def test_reduced_fusion_experiment(tmp_path) -> None:
    from perception.fusion import FusionConfig, format_table, run

    cfg = FusionConfig(train_frames=512, test_frames=256, cnn_steps=3, episodes=2, workers=1)
    result = run(cfg, tmp_path)
    models = result["models"]
    assert set(models) == {"camera", "lidar", "fused"}
    assert np.isfinite(result["lidar_visible_truth"]["mean_return"])
    assert set(result["lidar_visibility"]) == {
        "vehicles",
        "unreached_share",
        "unreached_reached_one_step_before",
    }
    for m in models.values():
        assert set(m["conditions"]) == set(DEGRADATIONS)
        for r in m["conditions"].values():
            assert 0 <= r["occupancy_f1"] <= 1 and np.isfinite(r["mean_return"])
    cam, lid = models["camera"]["conditions"], models["lidar"]["conditions"]
    # a sensor a model does not read cannot change what it perceives
    assert cam["lidar_dropout"]["occupancy_f1"] == cam["clean"]["occupancy_f1"]
    assert cam["lidar_dropout"]["mean_return"] == cam["clean"]["mean_return"]
    assert lid["camera_blackout"]["occupancy_f1"] == lid["clean"]["occupancy_f1"]
    assert lid["camera_noise"]["mean_return"] == lid["clean"]["mean_return"]
    # and each drives tracked as well: coasting, and the LiDAR's objects for the models that read it
    assert cam["lidar_dropout"]["tracked"]["mean_return"] == cam["clean"]["tracked"]["mean_return"]
    assert lid["camera_blackout"]["tracked"]["mean_return"] == lid["clean"]["tracked"]["mean_return"]
    assert (
        not cam["clean"]["tracked"]["lidar_objects"]
        and models["fused"]["conditions"]["clean"]["tracked"]["lidar_objects"]
    )
    assert all(
        np.isfinite(r["tracked"]["return_kept"]) for m in models.values() for r in m["conditions"].values()
    )
    table = format_table(result)
    assert table.count("\n") == 2 + 3 * len(DEGRADATIONS) - 1
    assert dataclasses.asdict(cfg) == result["config"]
