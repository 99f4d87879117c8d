"""Sine position encodings of the lineage: clip positions (DETR's PositionEmbeddingSine, 1-D) and
DAB-DETR's embedding of (centre, width) anchors (gen_sineembed_for_position)."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


def interleaved_sine(positions: Tensor, num_feats: int, temperature: float = 10000.0) -> Tensor:
    """[sin(p/t_0), cos(p/t_1), sin(p/t_2), ...] with t_j = temperature^(2*floor(j/2)/num_feats).

    Args:
        positions: float (...).
        num_feats: output channels (even).

    Returns:
        float (..., num_feats).
    """
    dim_t = torch.arange(num_feats, dtype=torch.float32, device=positions.device)
    dim_t = temperature ** (2 * (dim_t // 2) / num_feats)
    pos = positions[..., None] / dim_t
    return torch.stack((pos[..., 0::2].sin(), pos[..., 1::2].cos()), dim=-1).flatten(-2)


def sine_position_encoding(mask: Tensor, num_feats: int, temperature: float = 10000.0) -> Tensor:
    """Normalised sine positions of the valid clips (release position_encoding.py
    PositionEmbeddingSine with normalize=True; every release builds it with num_pos_feats = hidden_dim).

    x = cumsum(mask) / (number of valid clips + 1e-6) * 2*pi, so padded clips (after the valid
    ones) repeat the last valid position.

    Args:
        mask: float (B, L), 1 = valid.
        num_feats: output size.

    Returns:
        float32 (B, L, num_feats).
    """
    x = mask.cumsum(1, dtype=torch.float32)
    x = x / (x[:, -1:] + 1e-6) * (2 * math.pi)
    return interleaved_sine(x, num_feats, temperature)


class PositionEmbeddingSine(nn.Module):
    """Module form of sine_position_encoding (no parameters): mask float (B, L) -> (B, L, num_pos_feats)."""

    def __init__(self, num_pos_feats: int, temperature: float = 10000.0) -> None:
        super().__init__()
        self.num_pos_feats = num_pos_feats
        self.temperature = temperature

    def forward(self, mask: Tensor) -> Tensor:
        """mask: float (B, L), 1 = valid -> float32 (B, L, num_pos_feats)."""
        return sine_position_encoding(mask, self.num_pos_feats, self.temperature)


def gen_sineembed_for_position(ref: Tensor, hidden_dim: int) -> Tensor:
    """DAB-DETR's sine embedding of (centre, width) anchors (QD-DETR transformer.py:40-56 and its
    copies in CG-DETR, TR-DETR, TaskWeave, VideoLights).

    The releases hard-code 128 frequencies per coordinate (= hidden_dim / 2 at their 256) and
    cannot run at another width; here the count is hidden_dim / 2, identical at 256. hidden_dim
    must be a multiple of 4 (hidden/2 frequencies split into sin/cos pairs).

    Args:
        ref: float (Q, B, 2) anchors (centre, width) in [0, 1].
        hidden_dim: d.

    Returns:
        float (Q, B, d): d/2 channels for the centre, then d/2 for the width.
    """
    half = hidden_dim // 2
    scaled = ref * (2 * math.pi)
    return torch.cat([interleaved_sine(scaled[..., 0], half), interleaved_sine(scaled[..., 1], half)], dim=-1)


class TrainablePositionalEncoding(nn.Module):
    """Learned token positions (release position_encoding.py TrainablePositionalEncoding, built as
    `txt_position_embed` with max_position_embeddings = max_q_l and dropout = input_dropout).

    Keys: position_embeddings.weight (max_positions, d), LayerNorm.weight/bias. Every release
    script runs with use_txt_pos off, so the lineage's models build it without calling it.
    """

    def __init__(self, max_positions: int, hidden_size: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.position_embeddings = nn.Embedding(max_positions, hidden_size)
        self.LayerNorm = nn.LayerNorm(hidden_size)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        """x: (B, L, d), L <= max_positions -> dropout(LayerNorm(x + position_embeddings[:L]))."""
        positions = self.position_embeddings(torch.arange(x.shape[1], device=x.device))
        return self.dropout(self.LayerNorm(x + positions))
