"""Input projections and MLP heads of the lineage (release model.py LinearLayer / MLP)."""

from __future__ import annotations

from collections.abc import Callable

import torch.nn.functional as F
from torch import Tensor, nn


class LinearLayer(nn.Module):
    """LayerNorm(in) -> Dropout -> Linear (-> ReLU) (release model.py LinearLayer).

    Parameter names are the release's: `LayerNorm`, `net.1` (the Linear; `net.0` is the Dropout).

    Args:
        linear: builds the (in_dim -> out_dim) layer `net.1`; VideoLights' release uses a kernel-1
            Conv1d there (keys net.1.conv1d.*).
    """

    def __init__(
        self, in_dim: int, out_dim: int, dropout: float, relu: bool,
        linear: Callable[[int, int], nn.Module] = nn.Linear,
    ) -> None:  # fmt: skip
        super().__init__()
        self.relu = relu
        self.LayerNorm = nn.LayerNorm(in_dim)
        self.net = nn.Sequential(nn.Dropout(dropout), linear(in_dim, out_dim))

    def forward(self, x: Tensor) -> Tensor:
        """x: (B, L, in_dim) -> (B, L, out_dim)."""
        x = self.net(self.LayerNorm(x))
        return F.relu(x) if self.relu else x


def input_projection(
    in_dim: int, hidden_dim: int, num_layers: int, dropout: float,
    linear: Callable[[int, int], nn.Module] = nn.Linear,
) -> nn.Sequential:  # fmt: skip
    """`num_layers` (1-3 in the releases) LinearLayers in_dim -> hidden_dim -> ... -> hidden_dim;
    ReLU after all but the last (release model.py `input_vid_proj` / `input_txt_proj`); `linear`
    as in LinearLayer."""
    dims = [in_dim] + [hidden_dim] * num_layers
    return nn.Sequential(
        *[LinearLayer(dims[i], dims[i + 1], dropout, relu=i < num_layers - 1, linear=linear) for i in range(num_layers)]
    )


class MLP(nn.Module):
    """`num_layers` Linear layers with ReLU between them, none after the last (release `MLP`;
    parameters `layers.N`)."""

    def __init__(self, input_dim: int, hidden_dim: int, output_dim: int, num_layers: int) -> None:
        super().__init__()
        dims_in = [input_dim] + [hidden_dim] * (num_layers - 1)
        dims_out = [hidden_dim] * (num_layers - 1) + [output_dim]
        self.layers = nn.ModuleList(nn.Linear(n, k) for n, k in zip(dims_in, dims_out))

    def forward(self, x: Tensor) -> Tensor:
        """x: (..., input_dim) -> (..., output_dim)."""
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            x = F.relu(layer(x)) if i < last else layer(x)
        return x
