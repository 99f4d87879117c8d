"""Small building blocks of the release (video_lights/components.py, transformer.py MLP)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class MLP(nn.Module):
    """Linear layers with ReLU between them (none after the last).

    Attribute names keep the release's keys: layers.{i}.weight/bias.
    """

    def __init__(self, input_dim: int, hidden_dim: int, output_dim: int, num_layers: int) -> None:
        super().__init__()
        self.num_layers = num_layers
        h = [hidden_dim] * (num_layers - 1)
        self.layers = nn.ModuleList(nn.Linear(n, k) for n, k in zip([input_dim] + h, h + [output_dim]))

    def forward(self, x: Tensor) -> Tensor:
        """(..., input_dim) -> (..., output_dim)."""
        for i, layer in enumerate(self.layers):
            x = F.relu(layer(x)) if i < self.num_layers - 1 else layer(x)
        return x


class Conv1D(nn.Module):
    """Kernel-1 Conv1d applied on (B, L, D) (keys: conv1d.weight (out, in, 1), conv1d.bias)."""

    def __init__(self, in_dim: int, out_dim: int) -> None:
        super().__init__()
        self.conv1d = nn.Conv1d(in_dim, out_dim, kernel_size=1, stride=1, padding=0, bias=True)

    def forward(self, x: Tensor) -> Tensor:
        """(B, L, in_dim) -> (B, L, out_dim)."""
        return self.conv1d(x.transpose(1, 2)).transpose(1, 2)


class ConvLinearLayer(nn.Module):
    """LayerNorm(in) -> Dropout -> kernel-1 Conv1d -> optional ReLU (release components.py:147-154).

    Keys: LayerNorm.weight/bias, net.1.conv1d.weight/bias.
    """

    def __init__(self, in_dim: int, out_dim: int, dropout: float, relu: bool) -> None:
        super().__init__()
        self.relu = relu
        self.LayerNorm = nn.LayerNorm(in_dim)
        self.net = nn.Sequential(nn.Dropout(dropout), Conv1D(in_dim, out_dim))

    def forward(self, x: Tensor) -> Tensor:
        """(B, L, in_dim) -> (B, L, out_dim)."""
        x = self.net(self.LayerNorm(x))
        return F.relu(x, inplace=True) if self.relu else x


def input_projection(in_dim: int, hidden_dim: int, num_layers: int, dropout: float) -> nn.Sequential:
    """The release's n_input_proj ConvLinearLayers; ReLU on every layer but the last (model.py:71-90)."""
    dims = [in_dim] + [hidden_dim] * num_layers
    return nn.Sequential(
        *[ConvLinearLayer(dims[i], dims[i + 1], dropout, relu=i < num_layers - 1) for i in range(num_layers)]
    )


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
