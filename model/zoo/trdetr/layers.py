"""Small building blocks with the release's parameter names: MLP heads and input projections."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn


class MLP(nn.Module):
    """`num_layers` linear layers with ReLU between them (none after the last).

    Parameter names: layers.{i}.weight / bias.
    """

    def __init__(self, input_dim: int, hidden_dim: int, output_dim: int, num_layers: int) -> None:
        super().__init__()
        self.num_layers = num_layers
        hidden = [hidden_dim] * (num_layers - 1)
        self.layers = nn.ModuleList(
            nn.Linear(n, k) for n, k in zip([input_dim, *hidden], [*hidden, output_dim])
        )

    def forward(self, x: Tensor) -> Tensor:
        """(..., input_dim) -> (..., output_dim)."""
        for i, layer in enumerate(self.layers):
            x = F.relu(layer(x)) if i < self.num_layers - 1 else layer(x)
        return x


class LinearLayer(nn.Module):
    """LayerNorm(in) -> Dropout -> Linear (-> ReLU): one input projection step.

    Parameter names: LayerNorm.weight / bias, net.1.weight / bias (net = [Dropout, Linear]).
    """

    def __init__(self, in_dim: int, out_dim: int, dropout: float, relu: bool) -> None:
        super().__init__()
        self.relu = relu
        self.LayerNorm = nn.LayerNorm(in_dim)
        self.net = nn.Sequential(nn.Dropout(dropout), nn.Linear(in_dim, out_dim))

    def forward(self, x: Tensor) -> Tensor:
        """(B, L, in_dim) -> (B, L, out_dim)."""
        x = self.net(self.LayerNorm(x))
        return F.relu(x) if self.relu else x


def input_projection(in_dim: int, hidden_dim: int, dropout: float, num_layers: int) -> nn.Sequential:
    """The release's input projection: `num_layers` LinearLayers, ReLU on all but the last."""
    return nn.Sequential(
        *[
            LinearLayer(in_dim if i == 0 else hidden_dim, hidden_dim, dropout, relu=i < num_layers - 1)
            for i in range(num_layers)
        ]
    )


class PointwiseConv(nn.Module):
    """A kernel-1 Conv1d over the sequence: (B, L, in_dim) -> (B, L, out_dim).

    Parameter names: conv1d.weight (out, in, 1) / conv1d.bias.
    """

    def __init__(self, in_dim: int, out_dim: int) -> None:
        super().__init__()
        self.conv1d = nn.Conv1d(in_dim, out_dim, kernel_size=1)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv1d(x.transpose(1, 2)).transpose(1, 2)
