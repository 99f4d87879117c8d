"""Position encodings of the release (moment_detr/position_encoding.py)."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


class SinePositionEncoding(nn.Module):
    """1-D sine encoding of the valid-clip rank, normalised to [0, 2*pi] per sequence.

    x = cumsum(mask) / (number of valid positions + 1e-6) * 2*pi (padded positions repeat the last
    valid position); channel j uses x / temperature^(2*floor(j/2)/num_pos_feats), even channels sine,
    odd channels cosine (interleaved). The release builds it with num_pos_feats = hidden_dim.
    """

    def __init__(self, num_pos_feats: int, temperature: float = 10000.0, scale: float = 2 * math.pi) -> None:
        super().__init__()
        self.num_pos_feats = num_pos_feats
        self.temperature = temperature
        self.scale = scale

    def forward(self, mask: Tensor) -> Tensor:
        """mask: float (B, L), 1 = valid -> float32 (B, L, num_pos_feats)."""
        x_embed = mask.cumsum(1, dtype=torch.float32)  # (B, L)
        x_embed = x_embed / (x_embed[:, -1:] + 1e-6) * self.scale
        dim_t = torch.arange(self.num_pos_feats, dtype=torch.float32, device=mask.device)
        dim_t = self.temperature ** (2 * (dim_t // 2) / self.num_pos_feats)
        pos = x_embed[:, :, None] / dim_t  # (B, L, F)
        return torch.stack((pos[:, :, 0::2].sin(), pos[:, :, 1::2].cos()), dim=3).flatten(2)
