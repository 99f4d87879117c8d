"""Sine position encodings: clip positions of the video, and anchors (centre, width) of the DAB decoder."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


def _frequencies(num_feats: int, temperature: float, device: torch.device) -> Tensor:
    """temperature^(2 floor(i/2) / num_feats) for i < num_feats, float32 (num_feats,)."""
    dim_t = torch.arange(num_feats, dtype=torch.float32, device=device)
    return temperature ** (2 * (dim_t // 2) / num_feats)


def _interleave_sin_cos(x: Tensor) -> Tensor:
    """(..., n) -> (..., n): [sin x_0, cos x_1, sin x_2, cos x_3, ...]."""
    return torch.stack((x[..., 0::2].sin(), x[..., 1::2].cos()), dim=-1).flatten(-2)


class PositionEmbeddingSine(nn.Module):
    """Normalised sine embedding of clip positions (DETR's, 1-D).

    x = cumsum(mask) / (valid length + 1e-6) * 2 pi; channel i is sin (even i) or cos (odd i)
    of x / 10000^(2 floor(i/2) / num_pos_feats).
    """

    def __init__(self, num_pos_feats: int, temperature: float = 10000.0) -> None:
        super().__init__()
        self.num_pos_feats = num_pos_feats
        self.temperature = temperature
        self.scale = 2 * math.pi

    def forward(self, mask: Tensor) -> Tensor:
        """float (B, L) mask, 1 = valid (padding trailing) -> float (B, L, num_pos_feats)."""
        x_embed = mask.cumsum(1, dtype=torch.float32)
        x_embed = x_embed / (x_embed[:, -1:] + 1e-6) * self.scale
        dim_t = _frequencies(self.num_pos_feats, self.temperature, mask.device)
        return _interleave_sin_cos(x_embed[:, :, None] / dim_t)


def anchor_sine_embedding(anchors: Tensor, num_feats: int) -> Tensor:
    """Sine embedding of (centre, width) anchors, [embed(centre), embed(width)].

    Args:
        anchors: float (Q, B, 2) normalised (centre, width).
        num_feats: frequencies per coordinate (the release hard-codes 128 = hidden/2 at hidden 256).

    Returns:
        float (Q, B, 2 * num_feats).
    """
    scale = 2 * math.pi
    dim_t = _frequencies(num_feats, 10000.0, anchors.device)
    pos_x = _interleave_sin_cos((anchors[:, :, 0] * scale)[:, :, None] / dim_t)
    pos_w = _interleave_sin_cos((anchors[:, :, 1] * scale)[:, :, None] / dim_t)
    return torch.cat((pos_x, pos_w), dim=2)
