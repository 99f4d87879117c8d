"""Building blocks of the QD-DETR lineage: DropPath, input LinearLayer, MLP and the post-norm
self-attention encoder layer with a PReLU feed-forward (release `transformer.py`, `model.py`)."""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class DropPath(nn.Module):
    """Per-sample stochastic depth on sequence-first tensors (release `transformer.py:821-849`):
    each batch element of (L, B, d) is kept with prob 1-p and scaled by 1/(1-p)."""

    def __init__(self, drop_prob: float = 0.0) -> None:
        super().__init__()
        self.drop_prob = drop_prob

    def forward(self, x: Tensor) -> Tensor:
        """x: (L, B, d) -> (L, B, d)."""
        if self.drop_prob == 0.0 or not self.training:
            return x
        keep = 1 - self.drop_prob
        x = x.permute(1, 0, 2)
        mask = (keep + torch.rand((x.shape[0], 1, 1), dtype=x.dtype, device=x.device)).floor_()
        return (x.div(keep) * mask).permute(1, 0, 2)


class LinearLayer(nn.Module):
    """LayerNorm(in) -> Dropout -> Linear -> [ReLU] (release `model.py` LinearLayer; keys
    `LayerNorm.*`, `net.1.*`)."""

    def __init__(self, in_dim: int, out_dim: int, dropout: float, relu: bool) -> None:
        super().__init__()
        self.relu = relu
        self.LayerNorm = nn.LayerNorm(in_dim)
        self.net = nn.Sequential(nn.Dropout(dropout), nn.Linear(in_dim, out_dim))

    def forward(self, x: Tensor) -> Tensor:
        """x: (B, L, in_dim) -> (B, L, out_dim)."""
        x = self.net(self.LayerNorm(x))
        return F.relu(x) if self.relu else x


def input_projection(in_dim: int, hidden_dim: int, n_layers: int, dropout: float) -> nn.Sequential:
    """The release's input projection: n LinearLayers, ReLU after all but the last."""
    dims = [in_dim] + [hidden_dim] * n_layers
    return nn.Sequential(
        *[LinearLayer(dims[i], dims[i + 1], dropout, relu=i < n_layers - 1) for i in range(n_layers)]
    )


class MLP(nn.Module):
    """num_layers Linear layers with ReLU between them (key `layers.N.*`)."""

    def __init__(self, in_dim: int, hidden_dim: int, out_dim: int, num_layers: int) -> None:
        super().__init__()
        dims = [in_dim] + [hidden_dim] * (num_layers - 1) + [out_dim]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:]))

    def forward(self, x: Tensor) -> Tensor:
        """x: (..., in_dim) -> (..., out_dim)."""
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < len(self.layers) - 1:
                x = F.relu(x)
        return x


class EncoderLayer(nn.Module):
    """Post-norm self-attention layer (release TransformerEncoderLayer.forward_post):
    x = norm1(x + MHA(x+pos, x+pos, x)); x = norm2(x + Linear(PReLU(Linear(x)))). Residual dropouts are DropPath."""

    def __init__(self, d_model: int, nhead: int, ffn_dim: int, dropout: float) -> None:
        super().__init__()
        self.self_attn = nn.MultiheadAttention(d_model, nhead, dropout=dropout)
        self.linear1 = nn.Linear(d_model, ffn_dim)
        self.dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(ffn_dim, d_model)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.dropout1 = DropPath(dropout)
        self.dropout2 = DropPath(dropout)
        self.activation = nn.PReLU()

    def forward(self, src: Tensor, key_padding_mask: Tensor | None, pos: Tensor | None) -> Tensor:
        """src, pos: (L, B, d); key_padding_mask: bool (B, L), True = padding -> (L, B, d)."""
        q = k = src if pos is None else src + pos
        src2 = self.self_attn(q, k, value=src, key_padding_mask=key_padding_mask)[0]
        src = self.norm1(src + self.dropout1(src2))
        src2 = self.linear2(self.dropout(self.activation(self.linear1(src))))
        return self.norm2(src + self.dropout2(src2))


class Encoder(nn.Module):
    """A stack of EncoderLayers without a final norm (key `layers.N.*`)."""

    def __init__(self, layer: nn.Module, num_layers: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(copy.deepcopy(layer) for _ in range(num_layers))

    def forward(self, src: Tensor, key_padding_mask: Tensor | None, pos: Tensor | None) -> Tensor:
        """src, pos: (L, B, d); key_padding_mask: bool (B, L), True = padding -> (L, B, d)."""
        for layer in self.layers:
            src = layer(src, key_padding_mask, pos)
        return src
