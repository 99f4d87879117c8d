"""Small building blocks of the release that only VideoLights uses (video_lights/components.py): the
kernel-1 convolution of its input projections and FRA mixer, and FRA's attention pooling."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class Conv1D(nn.Module):
    """Kernel-1 Conv1d applied on (B, L, D) (keys: conv1d.weight (out, in, 1), conv1d.bias)."""

    def __init__(self, in_dim: int, out_dim: int) -> None:
        super().__init__()
        self.conv1d = nn.Conv1d(in_dim, out_dim, kernel_size=1, stride=1, padding=0, bias=True)

    def forward(self, x: Tensor) -> Tensor:
        """(B, L, in_dim) -> (B, L, out_dim)."""
        return self.conv1d(x.transpose(1, 2)).transpose(1, 2)


class WeightedPool(nn.Module):
    """Attention pooling with one learned vector (release components.py:75-106).

    alpha = x @ weight, padded positions get -1e30, softmax over positions, pooled = sum alpha * x.
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        weight = torch.empty(dim, 1)
        nn.init.xavier_uniform_(weight)
        self.weight = nn.Parameter(weight)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        """x float (B, L, D), mask float (B, L) 1 = valid -> (B, D)."""
        alpha = torch.tensordot(x, self.weight, dims=1)  # (B, L, 1)
        alpha = alpha + (1.0 - mask.unsqueeze(2)) * -1e30
        alphas = F.softmax(alpha, dim=1)
        return torch.matmul(x.transpose(1, 2), alphas).squeeze(2)
