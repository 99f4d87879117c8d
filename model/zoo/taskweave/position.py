"""Sine position encodings of the QD-DETR / DAB lineage (moment_detr position_encoding.py, DAB's
gen_sineembed_for_position)."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


class PositionEmbeddingSine(nn.Module):
    """1-D sine/cosine position encoding over the valid clips, normalised to [0, 2*pi].

    x_t = cumsum(mask)_t / (number of valid clips + 1e-6) * 2*pi; channel 2i is sin(x / T^(2i/d)),
    channel 2i+1 is cos(x / T^(2i/d)) (T = 10000, d = num_pos_feats).
    """

    def __init__(self, num_pos_feats: int, temperature: float = 10000.0) -> None:
        super().__init__()
        self.num_pos_feats = num_pos_feats
        self.temperature = temperature

    def forward(self, mask: Tensor) -> Tensor:
        """Args: mask float (B, L), 1 = valid. Returns: float (B, L, num_pos_feats)."""
        x_embed = mask.cumsum(1, dtype=torch.float32)
        x_embed = x_embed / (x_embed[:, -1:] + 1e-6) * (2 * math.pi)
        dim_t = torch.arange(self.num_pos_feats, dtype=torch.float32, device=mask.device)
        dim_t = self.temperature ** (2 * (dim_t // 2) / self.num_pos_feats)
        pos = x_embed[:, :, None] / dim_t
        return torch.stack((pos[:, :, 0::2].sin(), pos[:, :, 1::2].cos()), dim=3).flatten(2)


def span_sine_embedding(spans: Tensor, num_feats: int) -> Tensor:
    """DAB's sine embedding of (centre, width) anchors.

    The release hard-codes num_feats = 128 (transformer.py:41), which only runs at hidden 256;
    we use hidden/2, identical to the release at hidden 256.

    Args:
        spans: float (Q, B, 2) anchors (centre, width) in [0, 1].
        num_feats: frequencies per coordinate (hidden / 2).

    Returns:
        float (Q, B, 2 * num_feats): [embedding of centre, embedding of width].
    """
    scale = 2 * math.pi
    dim_t = torch.arange(num_feats, dtype=torch.float32, device=spans.device)
    dim_t = 10000 ** (2 * (dim_t // 2) / num_feats)

    def embed(coord: Tensor) -> Tensor:
        pos = (coord * scale)[:, :, None] / dim_t
        return torch.stack((pos[:, :, 0::2].sin(), pos[:, :, 1::2].cos()), dim=3).flatten(2)

    return torch.cat((embed(spans[:, :, 0]), embed(spans[:, :, 1])), dim=2)
