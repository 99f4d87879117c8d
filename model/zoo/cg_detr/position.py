"""Sine position encodings of the QD-DETR lineage: clip positions and decoder reference spans."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


def _interleave_sin_cos(x: Tensor) -> Tensor:
    """[sin(x_0), cos(x_1), sin(x_2), cos(x_3), ...] as the release lays them out: (..., n) -> (..., n)."""
    return torch.stack((x[..., 0::2].sin(), x[..., 1::2].cos()), dim=-1).flatten(-2)


class PositionEmbeddingSine(nn.Module):
    """Sine positions of the clips, normalised by each video's valid length (release
    `position_encoding.py:51-72`): x = cumsum(mask) / (x_last + 1e-6) * 2pi, so padded clips repeat
    the last valid position; features [sin(x/t_0), cos(x/t_1), ...] with t_j = 10000^(2 floor(j/2) / n).
    """

    def __init__(self, num_pos_feats: int, temperature: float = 10000.0) -> None:
        super().__init__()
        self.num_pos_feats = num_pos_feats
        self.temperature = temperature
        self.scale = 2 * math.pi

    def forward(self, mask: Tensor) -> Tensor:
        """mask: float (B, L), 1 = valid -> positions float (B, L, num_pos_feats)."""
        x_embed = mask.cumsum(1, dtype=torch.float32)
        x_embed = x_embed / (x_embed[:, -1:] + 1e-6) * self.scale
        dim_t = torch.arange(self.num_pos_feats, dtype=torch.float32, device=mask.device)
        dim_t = self.temperature ** (2 * torch.div(dim_t, 2, rounding_mode="floor") / self.num_pos_feats)
        return _interleave_sin_cos(x_embed[:, :, None] / dim_t)


def sine_embed_reference(ref: Tensor, d_model: int) -> Tensor:
    """Sine embedding of decoder reference spans (release `transformer.py:40-55`, d/2 frequencies).

    Args:
        ref: float (Q, B, 2) reference (centre, width) in [0, 1].
        d_model: transformer width d (a multiple of 4).

    Returns:
        float (Q, B, d): [d/2 features of centre*2pi | d/2 features of width*2pi].
    """
    half = d_model // 2
    dim_t = torch.arange(half, dtype=torch.float32, device=ref.device)
    dim_t = 10000 ** (2 * (dim_t // 2) / half)
    centre = _interleave_sin_cos(ref[:, :, 0, None] * (2 * math.pi) / dim_t)
    width = _interleave_sin_cos(ref[:, :, 1, None] * (2 * math.pi) / dim_t)
    return torch.cat((centre, width), dim=2)
