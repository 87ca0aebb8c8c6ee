"""Rare-layout predicates, scene edits and classic augmentation (exact against the camera), and the
data-efficiency experiment: a reduced run by default, the full one as a slow scenario."""

from __future__ import annotations

import numpy as np
import pytest

from envs.highway import camera
from envs.highway.observation import render_state
from perception import augment as aug
from perception import decode as dec
from perception.dataset import Dataset, GenerateConfig, generate, load_dataset
from perception.train import env_config_of, model_config_of


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Dataset:
    path = tmp_path_factory.mktemp("de_data")
    generate(
        GenerateConfig(frames=512, num_envs=64, steps_per_shard=8, workers=1, seed=2), path, progress=False
    )
    return load_dataset(path)


def _grid(cells: list[tuple[int, int]], road_cols=(4, 5, 6)) -> tuple[np.ndarray, np.ndarray]:
    presence = np.zeros((1, 11, 11), dtype=bool)
    road = np.zeros((1, 11, 11), dtype=bool)
    presence[0, 5, 5] = True  # the ego
    for i, j in cells:
        presence[0, i, j] = True
    road[0, :, list(road_cols)] = True
    return presence, road


@pytest.mark.parametrize(
    ("cells", "road_cols", "wall", "boxed"),
    [
        ([(7, 4), (9, 5), (6, 6)], (4, 5, 6), True, False),  # every lane ahead occupied
        ([(7, 4), (9, 5)], (4, 5, 6), False, False),  # one lane free
        ([(6, 5), (5, 4), (4, 6)], (4, 5, 6), False, True),  # close ahead, both sides beside the ego
        (
            [(6, 5), (5, 4)],
            (3, 4, 5),
            False,
            True,
        ),  # right side is off-road: blocked by the edge; lanes 3, 4 ahead free
        (
            [(8, 5), (5, 4), (5, 6)],
            (4, 5, 6),
            False,
            False,
        ),  # ahead, but not close (12.5 m+); beside is not ahead
        ([(6, 5), (3, 4), (5, 6)], (4, 5, 6), False, False),  # left neighbour 10 m behind: not blocked
    ],
)
def test_rare_predicates_by_hand(cells, road_cols, wall, boxed):
    presence, road = _grid(cells, road_cols)
    assert aug.RARE_LAYOUTS["wall_ahead"](presence, road)[0] == wall
    assert aug.RARE_LAYOUTS["boxed_in"](presence, road)[0] == boxed


def test_occupancy_of_reproduces_labels_and_edits_make_rare_layouts(data):
    env_config = env_config_of(data.manifest)
    v, e = data.arrays["vehicles"], data.arrays["ego"]
    # the same functions; float32 relative speeds may differ in the last bit (different summation order)
    np.testing.assert_allclose(
        aug.occupancy_of(v, e, env_config), data.arrays["occupancy"], rtol=0, atol=1e-6
    )
    rng = np.random.default_rng(0)
    for kind in aug.RARE_LAYOUTS:
        edited = aug.synthesise_rare(v, e, env_config.lanes_count, rng, kind)
        assert aug.rare_masks(aug.occupancy_of(edited, e, env_config))[kind].mean() > 0.95


def _rendered(vehicles: np.ndarray, ego: np.ndarray, spec: camera.CameraSpec, env_config) -> np.ndarray:
    det = {"present": vehicles[..., 0] > aug.ABSENT / 2, "dx": vehicles[..., 0], "dy": vehicles[..., 1]}
    det.update(vx=vehicles[..., 2], vy=vehicles[..., 3], ego=ego)
    state, present = dec.pseudo_state(det)
    return render_state(state, env_config, present, spec)  # (B, 1, H, W)


def test_mirror_and_shift_match_the_camera(data):
    """Augmented frames equal the camera's rendering of the augmented scene (up to 1 grey level)."""
    mcfg = model_config_of(data.manifest, 8)
    lanes = mcfg.lanes_count
    spec = mcfg.camera
    v, e = data.arrays["vehicles"][:64].copy(), data.arrays["ego"][:64].copy()
    e[:, 1] = np.clip(e[:, 1], 0, (lanes - 1) * 4)  # on the road, as the mirror assumes
    single = _rendered(v, e, spec, env_config_of(data.manifest))
    fake = Dataset(
        data.manifest,
        {"frames": single, "vehicles": v, "ego": e, "first": np.ones(64, bool)},
        np.zeros((64, 2), np.int64) + np.arange(64)[:, None],
    )
    mirror = aug.ClassicAugment(aug.ClassicConfig(noise_std=0, brightness=0, max_shift=0, mirror=1.0), 0)
    frames, dense_t, ego_t = mirror(fake, np.arange(64), mcfg)
    mv, me = v.copy(), e.copy()
    mv[..., 1] *= -1
    mv[..., 3] *= -1
    me[:, 1] = (lanes - 1) * 4 - me[:, 1]
    me[:, 3] *= -1
    expected = _rendered(mv, me, spec, env_config_of(data.manifest))
    diff = np.abs(frames.numpy()[:, 1:].astype(int) - expected.astype(int))
    assert diff.max() <= 1
    exp_dense, exp_ego = dec.targets(mv, me, mcfg)
    np.testing.assert_allclose(dense_t.numpy(), exp_dense, atol=1e-5)
    np.testing.assert_allclose(ego_t.numpy(), exp_ego, atol=1e-6)
    # a lateral shift moves the vehicles' targets by whole pixels (1 m each)
    shift = aug.ClassicAugment(aug.ClassicConfig(noise_std=0, brightness=0, max_shift=2, mirror=0.0), 1)
    _, dense_t, _ = shift(fake, np.arange(64), mcfg)
    candidates = []
    for s in range(-2, 3):
        sv = v.copy()
        sv[..., 1] += s
        candidates.append(dec.targets(sv, e, mcfg)[0])
    matched = [any(np.allclose(dense_t.numpy()[k], c[k], atol=1e-5) for c in candidates) for k in range(64)]
    assert all(matched)


def test_gan_augment_appends_labelled_generated_samples(data):
    from perception.gan import GanConfig, Generator

    mcfg = model_config_of(data.manifest, 8)
    g = Generator(GanConfig(g_channels=8), mcfg)
    fn = aug.GanAugment(g, data, gan_share=0.5, rare_share=1.0, seed=0)
    frames, dense_t, ego_t = fn(data, np.arange(8), mcfg)
    assert frames.shape == (12, *mcfg.camera.shape) and dense_t.shape[0] == 12 and ego_t.shape == (12, 4)
    vehicles, ego = fn.conditions(200, mcfg.lanes_count)
    masks = aug.rare_masks(aug.occupancy_of(vehicles, ego, env_config_of(data.manifest)))
    assert masks["any"].mean() > 0.95


def test_reduced_experiment(tmp_path):
    """Every arm, one regime, one seed, a few steps: the pipeline and the results structure (~1 min)."""
    from perception.data_efficiency import ARMS, ExperimentConfig, format_table, run

    res = run(
        ExperimentConfig.reduced(),
        tmp_path / "work",
        progress=False,
        samples_png=tmp_path / "s.png",
        log=lambda _: None,
    )
    assert set(res["table"]) == set(ARMS)
    for arm in ARMS:
        cell = next(iter(res["table"][arm].values()))
        assert {"overall", "rare"} <= set(cell) and "mean" in cell["rare"] and "std" in cell["rare"]
    assert set(res["targets"]) == {"gan", "pretrain"}
    assert res["gan_quality"][0]["frechet_real_vs_real"] >= 0
    assert (tmp_path / "s.png").exists()
    table = format_table(res)
    assert all(f"| {arm} | " in table for arm in ARMS) and "gan vs real-only" in table


@pytest.mark.parametrize(
    ("freeze", "scale", "changed"), [(0, 1.0, True), (6, 1.0, False), (3, 1.0, True), (0, 0.0, False)]
)
def test_fine_tuning_freezes_and_scales_the_transferred_layers(data, freeze, scale, changed):
    """LP-FT: the weights loaded from init_state stay put while frozen (or at learning-rate factor 0); the
    other layers train in every case."""
    import torch

    from perception.model import PerceptionCNN
    from perception.train import TrainConfig, train

    mcfg = model_config_of(data.manifest, 8)
    init = {k: v for k, v in PerceptionCNN(mcfg).state_dict().items() if k.startswith("stem.")}
    cfg = TrainConfig(
        max_steps=6, batch_size=4, channels=8, threads=1, freeze_init_steps=freeze, init_lr_scale=scale
    )
    model = train(cfg, data, progress=False, init_state=init)["model"]
    assert torch.equal(model.stem.weight, init["stem.weight"]) is not changed
    assert not torch.equal(model.dense.weight, PerceptionCNN(mcfg).dense.weight)
    assert all(p.requires_grad for p in model.parameters())


def test_experiment_variants_from_the_command_line():
    """scripts/data_efficiency.py's variant options reach the config; bad values are clear errors."""
    import importlib.util
    from pathlib import Path

    from perception.data_efficiency import ExperimentConfig

    path = Path(__file__).resolve().parents[1] / "scripts" / "data_efficiency.py"
    spec = importlib.util.spec_from_file_location("data_efficiency_script", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)

    def config(*argv: str) -> ExperimentConfig:
        return script.with_variants(ExperimentConfig(), script.build_parser().parse_args(argv))

    cfg = config("--arms", "real", "pretrain", "--labels", "250", "--transfer", "stem.", "trunk.",
                 "--freeze-init-steps", "500", "--init-lr-scale", "0.1")  # fmt: skip
    assert cfg.arms == ("real", "pretrain") and cfg.labels == (250,) and cfg.seeds == (0, 1, 2)
    assert cfg.transfer == ("stem.", "trunk.")
    assert cfg.cnn.freeze_init_steps == 500 and cfg.cnn.init_lr_scale == 0.1 and cfg.cnn.lr == 8e-3
    assert config() == ExperimentConfig()
    with pytest.raises(ValueError, match="transfer prefixes"):
        config("--transfer", "head.")
    with pytest.raises(ValueError, match="unknown arms"):
        config("--arms", "mixup")
    with pytest.raises(ValueError, match="freeze_init_steps"):
        config("--freeze-init-steps", "-1")
    ae = config("--objective", "autoencoder", "--mask-ratio", "0.25", "--no-rescale")
    assert ae.pretrain.objective == "autoencoder" and ae.pretrain.mask_ratio == 0.25
    assert ae.pretrain.steps == ExperimentConfig().pretrain.steps and not ae.rescale_encoder
    assert ExperimentConfig().rescale_encoder and ExperimentConfig().pretrain.objective == "predictive"
    with pytest.raises(ValueError, match="objective"):
        config("--objective", "contrastive")
