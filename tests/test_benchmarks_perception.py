"""Perception throughput (``pytest -m benchmark``): labelled camera frames/s and CNN inference frames/s.

``scripts/benchmark.py perception`` adds driving through a trained CNN next to ground truth.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from perception.dataset import GenerateConfig, generate, load_dataset
from perception.model import ModelConfig, PerceptionCNN
from perception.train import model_config_of

pytestmark = pytest.mark.benchmark


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("frames")
    generate(GenerateConfig(frames=4096, num_envs=256, workers=1, seed=0), out, progress=False)
    return load_dataset(out)


def test_labelled_frame_generation(benchmark, tmp_path):
    cfg = GenerateConfig(frames=8192, num_envs=512, workers=1, seed=0)
    runs = iter(range(100))
    manifest = benchmark.pedantic(
        lambda: generate(cfg, tmp_path / str(next(runs)), progress=False), rounds=2, iterations=1
    )
    benchmark.extra_info["frames_per_s"] = manifest["frames"] / benchmark.stats.stats.mean


def test_cnn_inference(benchmark, dataset):
    torch.set_num_threads(2)
    model = PerceptionCNN(model_config_of(dataset.manifest, ModelConfig().channels)).eval()
    batch = torch.from_numpy(dataset.stacked_frames(np.arange(512)))

    @torch.inference_mode()
    def infer():
        return model(batch)

    benchmark.pedantic(infer, rounds=5, iterations=1, warmup_rounds=1)
    benchmark.extra_info["frames_per_s"] = len(batch) / benchmark.stats.stats.mean
