"""Sine encodings: clip positions of a padded video, and (centre, width) anchors of the decoder."""

from __future__ import annotations

import math

import torch
from torch import Tensor


def video_sine_encoding(mask: Tensor, num_feats: int, temperature: float = 10000.0) -> Tensor:
    """Normalised sine encoding of clip positions (release position_encoding.py:51-72).

    Positions are cumsum(mask) / (total + 1e-6) * 2pi, so padded clips repeat the last valid position.
    Output channels interleave [sin(x/t_0), cos(x/t_1), sin(x/t_2), ...] with t_i = T^(2*(i//2)/num_feats).

    Args:
        mask: float (B, L), 1 = valid clip.
        num_feats: output channels (the hidden size), even.
        temperature: T.

    Returns:
        float (B, L, num_feats).
    """
    x_embed = mask.cumsum(1, dtype=torch.float32)
    x_embed = x_embed / (x_embed[:, -1:] + 1e-6) * (2 * math.pi)
    dim_t = torch.arange(num_feats, dtype=torch.float32, device=mask.device)
    dim_t = temperature ** (2 * torch.div(dim_t, 2, rounding_mode="floor") / num_feats)
    pos_x = x_embed[:, :, None] / dim_t
    return torch.stack((pos_x[:, :, 0::2].sin(), pos_x[:, :, 1::2].cos()), dim=3).flatten(2)


def anchor_sine_encoding(anchors: Tensor, num_freqs: int) -> Tensor:
    """Sine encoding of (centre, width) anchors (release transformer.py:40-58, `gen_sineembed_for_position`).

    The release hard-codes num_freqs = 128 (only hidden 256 works); we use hidden/2, equal at 256.

    Args:
        anchors: float (Q, B, 2) normalised (cx, w).
        num_freqs: frequencies per coordinate (hidden/2).

    Returns:
        float (Q, B, 2*num_freqs): the cx encoding then the w encoding, each interleaved sin/cos.
    """
    scale = 2 * math.pi
    dim_t = torch.arange(num_freqs, dtype=torch.float32, device=anchors.device)
    dim_t = 10000 ** (2 * torch.div(dim_t, 2, rounding_mode="floor") / num_freqs)
    parts = []
    for coord in range(2):
        pos = anchors[:, :, coord] * scale
        pos = pos[:, :, None] / dim_t
        parts.append(torch.stack((pos[:, :, 0::2].sin(), pos[:, :, 1::2].cos()), dim=3).flatten(2))
    return torch.cat(parts, dim=2)
