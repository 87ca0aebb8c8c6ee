"""GAN quality in the perception CNN's own terms: Frechet distance of its features, and label consistency.

- Frechet distance (FID-style, no downloaded Inception): a perception CNN trained on ample real data
  embeds frames as its trunk features (B, c, H/2, W/4), average-pooled to a (c, 2, 4) layout grid and
  flattened; ``||mu_1 - mu_2||^2 + Tr(S_1 + S_2 - 2 (S_1 S_2)^(1/2))`` between two sets of embeddings.
- Label consistency: that CNN reads the occupancy grid back from generated frames; cell accuracy and
  occupancy F1 against the grid of the layout the frames were conditioned on.

Both are reported next to the same numbers for *real* frames (held-out frames vs. their own labels, and
two disjoint real sets), which are the floor/ceiling a perfect generator would reach.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from perception.metrics import occupancy_f1, predict
from perception.model import PerceptionCNN

POOL = (2, 4)  # feature layout kept by the embedding: 2 lateral x 4 longitudinal regions


@torch.inference_mode()
def embed(model: PerceptionCNN, frames: np.ndarray, batch_size: int = 512) -> np.ndarray:
    """Stacked uint8 frames (B, S*C, H, W) -> (B, c * 8) float64 trunk-feature embeddings."""
    captured: list[torch.Tensor] = []
    handle = model.trunk.register_forward_hook(lambda _m, _i, out: captured.append(out))
    try:
        out = []
        for i in range(0, len(frames), batch_size):
            model(torch.from_numpy(np.ascontiguousarray(frames[i : i + batch_size])))
            f = captured.pop()  # (B, c, H/2, W/4)
            out.append(F.adaptive_avg_pool2d(f, POOL).flatten(1).double().numpy())  # (B, c * 8)
    finally:
        handle.remove()
    return np.concatenate(out)


def _sqrtm_psd(a: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh((a + a.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def frechet_distance(x: np.ndarray, y: np.ndarray) -> float:
    """Frechet distance between Gaussians fitted to embeddings ``x`` (N, D) and ``y`` (M, D).

    ``Tr((S1 S2)^(1/2)) = Tr((S1^(1/2) S2 S1^(1/2))^(1/2))``, computed with symmetric eigendecompositions
    (exact for PSD matrices, no SciPy needed).
    """
    mu1, mu2 = x.mean(0), y.mean(0)
    s1, s2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    r1 = _sqrtm_psd(s1)
    cross = np.trace(_sqrtm_psd(r1 @ s2 @ r1))
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * cross)


def label_consistency(
    model: PerceptionCNN, frames: np.ndarray, occupancy: np.ndarray, env_config: Any
) -> dict[str, float]:
    """How well ``model`` reads the conditioning layouts ``occupancy`` (B, 4, 11, 11) back from ``frames``."""
    pred = predict(model, frames, env_config)["occupancy"][:, 0] > 0.5  # (B, 11, 11)
    true = occupancy[:, 0] > 0.5
    f1 = occupancy_f1(pred, true)
    return {
        "cell_accuracy": float(np.mean(pred == true)),
        "layout_exact": float(np.mean(np.all(pred == true, axis=(1, 2)))),
        "occupancy_f1": f1["occupancy_f1_without_ego_cell"],
    }
