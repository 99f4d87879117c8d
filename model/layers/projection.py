"""Input projection of frozen-encoder features into the shared hidden size (FFCNN)."""

from __future__ import annotations

from typing import Literal

import torch.nn.functional as F
from torch import Tensor, nn


class ProjectionBlock(nn.Module):
    """LayerNorm -> Dropout -> kernel-1 Conv1d (or Linear) -> optional ReLU, per position."""

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        dropout: float,
        relu: bool,
        kind: Literal["conv", "linear"] = "conv",
    ) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(in_dim)
        self.dropout = nn.Dropout(dropout)
        self.kind = kind
        if kind == "conv":
            self.proj: nn.Module = nn.Conv1d(in_dim, out_dim, kernel_size=1)
        else:
            self.proj = nn.Linear(in_dim, out_dim)
        self.relu = relu

    def forward(self, x: Tensor) -> Tensor:
        """Map (B, L, in_dim) to (B, L, out_dim)."""
        x = self.dropout(self.norm(x))
        if self.kind == "conv":
            x = self.proj(x.transpose(1, 2)).transpose(1, 2)  # (B, D, L) -> (B, L, out_dim)
        else:
            x = self.proj(x)
        return F.relu(x) if self.relu else x


class InputProjection(nn.Module):
    """Stack of projection blocks in_dim -> hidden -> ... -> hidden, ReLU after all but the last.

    Works position-wise, so padded positions never influence valid ones.
    """

    def __init__(
        self,
        in_dim: int,
        hidden_dim: int,
        num_layers: int,
        dropout: float,
        kind: Literal["conv", "linear"] = "conv",
    ) -> None:
        super().__init__()
        dims = [in_dim] + [hidden_dim] * num_layers
        self.blocks = nn.Sequential(
            *(
                ProjectionBlock(dims[i], dims[i + 1], dropout, relu=i < num_layers - 1, kind=kind)
                for i in range(num_layers)
            )
        )

    def forward(self, x: Tensor) -> Tensor:
        """Map (B, L, in_dim) to (B, L, hidden_dim)."""
        return self.blocks(x)
