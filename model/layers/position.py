"""Positional encodings: sine for clips, learned for words, sine for decoder anchors."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


def sine_positions(mask: Tensor, dim: int, temperature: float = 10000.0) -> Tensor:
    """Sine encoding of clip positions normalised by each video's number of valid clips.

    Positions are the running count of valid clips scaled to (0, 2*pi], so a video gets the
    same encodings whatever padding follows it (padding must come after the valid clips).

    Args:
        mask: bool/float (B, L), 1 = valid clip.
        dim: encoding size (even).
        temperature: frequency base.

    Returns:
        float (B, L, dim).

    >>> pos = sine_positions(torch.tensor([[1, 1, 0]]), 4)
    >>> pos.shape, torch.allclose(pos[0, 1], sine_positions(torch.tensor([[1, 1]]), 4)[0, 1])
    (torch.Size([1, 3, 4]), True)
    """
    mask = mask.float()
    steps = mask.cumsum(1)  # (B, L)
    steps = steps / (mask.sum(1, keepdim=True) + 1e-6) * (2 * math.pi)
    index = torch.arange(dim, dtype=torch.float32, device=mask.device)
    freqs = temperature ** (2 * torch.div(index, 2, rounding_mode="floor") / dim)  # (dim,)
    angles = steps[:, :, None] / freqs  # (B, L, dim)
    pos = torch.stack((angles[..., 0::2].sin(), angles[..., 1::2].cos()), dim=3)
    return pos.flatten(2)  # (B, L, dim/2, 2) -> (B, L, dim)


def anchor_sine_embedding(anchors: Tensor, dim: int, temperature: float = 10000.0) -> Tensor:
    """Sine embedding of normalised (centre, width) anchors: dim/2 features per coordinate.

    Args:
        anchors: float (B, Q, 2) normalised (centre, width) in [0, 1].
        dim: output size (multiple of 4).
        temperature: frequency base.

    Returns:
        float (B, Q, dim): [embedding(centre), embedding(width)].

    >>> anchor_sine_embedding(torch.zeros(1, 3, 2), 8).shape
    torch.Size([1, 3, 8])
    """
    half = dim // 2
    index = torch.arange(half, dtype=torch.float32, device=anchors.device)
    freqs = temperature ** (2 * torch.div(index, 2, rounding_mode="floor") / half)  # (half,)
    parts = []
    for coord in anchors.unbind(-1):
        angles = coord[..., None] * (2 * math.pi) / freqs  # (B, Q, half)
        part = torch.stack((angles[..., 0::2].sin(), angles[..., 1::2].cos()), dim=-1)
        parts.append(part.flatten(-2))  # (B, Q, half/2, 2) -> (B, Q, half)
    return torch.cat(parts, dim=-1)


class LearnedPositionalEncoding(nn.Module):
    """Learned position per token index, layer-normalised: positions for text keys."""

    def __init__(self, max_len: int, dim: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(max_len, dim)
        self.norm = nn.LayerNorm(dim)

    def forward(self, tokens: Tensor) -> Tensor:
        """Return positions (B, N, dim) for tokens (B, N, dim); padding follows valid tokens."""
        batch, length = tokens.shape[:2]
        if length > self.embedding.num_embeddings:
            raise ValueError(
                f"query has {length} tokens but the model holds positions for "
                f"{self.embedding.num_embeddings}; truncate the query to max_query_tokens"
            )
        index = torch.arange(length, device=tokens.device)
        return self.norm(self.embedding(index)).unsqueeze(0).expand(batch, -1, -1)
