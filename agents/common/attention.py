"""Ego attention over the vehicle table, after Leurent and Mercat, "Social Attention for Autonomous
Decision-Making in Dense Traffic" (2019), as in highway-env's companion rl-agents (``EgoAttentionNetwork``).

A Kinematics observation is a table of rows, ego first, one row per observed vehicle. An MLP over the
flattened table must learn the same thing once per row position, and it sees a different input whenever
two vehicles swap places in the sort. Here every row is embedded by one shared MLP. The ego's embedding
queries all rows through multi-head attention, masked by the presence feature, and the attended values
are added to the ego's embedding. The result does not depend on the order of the other rows, and absent
rows change nothing.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

NETS = ("mlp", "ego_attention")


def check_net(net: str, heads: int, embed: int) -> None:
    if net not in NETS:
        raise ValueError(f"unknown net {net!r}; valid: {', '.join(NETS)}")
    if heads < 1 or embed < 1 or embed % heads:
        raise ValueError(
            f"attention_embed ({embed}) must be a positive multiple of attention_heads ({heads})"
        )


class EgoAttention(nn.Module):
    """``(B, V, F)`` rows (ego first) -> ``(B, embed)``: the ego's embedding plus what it attends to."""

    def __init__(
        self,
        features: int,
        embed: int = 64,
        heads: int = 2,
        act: type[nn.Module] = nn.ReLU,
        presence_index: int = 0,
    ) -> None:
        super().__init__()
        check_net("ego_attention", heads, embed)
        self.heads, self.presence_index = heads, presence_index
        self.rows = nn.Sequential(
            nn.Linear(features, embed), act(), nn.Linear(embed, embed), act()
        )  # every row
        self.query = nn.Linear(embed, embed, bias=False)
        self.key = nn.Linear(embed, embed, bias=False)
        self.value = nn.Linear(embed, embed, bias=False)
        self.combine = nn.Linear(embed, embed)

    def presence(self, raw: torch.Tensor) -> torch.Tensor:
        """``(B, V)`` bool: which rows hold a vehicle (all, without a presence feature); the ego always."""
        present = (
            raw[..., self.presence_index] > 0.5
            if self.presence_index >= 0
            else torch.ones(raw.shape[:2], dtype=torch.bool, device=raw.device)
        )
        present = present.clone()
        present[:, 0] = True
        return present

    def forward(self, rows: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
        B, V, _ = rows.shape
        H = self.heads
        e = self.rows(rows)  # (B, V, D)
        D = e.shape[-1]
        q = self.query(e[:, :1]).view(B, 1, H, D // H).transpose(1, 2)  # (B, H, 1, d)
        k = self.key(e).view(B, V, H, D // H).transpose(1, 2)  # (B, H, V, d)
        v = self.value(e).view(B, V, H, D // H).transpose(1, 2)  # (B, H, V, d)
        attended = F.scaled_dot_product_attention(
            q, k, v, attn_mask=present[:, None, None, :]
        )  # (B, H, 1, d)
        attended = attended.transpose(1, 2).reshape(B, D)  # (B, D)
        return (self.combine(attended) + e[:, 0]) / 2  # (B, D)


def table_shape(obs_shape: tuple[int, ...]) -> tuple[int, int]:
    """``(vehicles, features)`` of an observation the attention can read, or a clear error."""
    if len(obs_shape) != 2:
        raise ValueError(
            f"net=ego_attention reads a table of vehicle rows, shape (vehicles, features); this env's "
            f"observations have shape {tuple(obs_shape)} (use the Kinematics observation, unflattened)"
        )
    return int(obs_shape[0]), int(obs_shape[1])
