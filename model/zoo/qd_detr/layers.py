"""Small building blocks of QD-DETR and of the DAB-DETR lineage built on it (CG-DETR, TR-DETR,
TaskWeave, VideoLights): input projections, MLP heads, sine encodings and the projection-free
attention of the conditional decoder."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class LinearLayer(nn.Module):
    """LayerNorm(in) -> Dropout -> Linear -> optional ReLU (release `model.py` LinearLayer).

    Parameter names follow the release: `LayerNorm`, `net.1` (the Linear; `net.0` is the Dropout).
    """

    def __init__(self, in_dim: int, out_dim: int, dropout: float, relu: bool) -> None:
        super().__init__()
        self.relu = relu
        self.LayerNorm = nn.LayerNorm(in_dim)
        self.net = nn.Sequential(nn.Dropout(dropout), nn.Linear(in_dim, out_dim))

    def forward(self, x: Tensor) -> Tensor:
        """x: (B, L, in_dim) -> (B, L, out_dim)."""
        x = self.net(self.LayerNorm(x))
        return F.relu(x) if self.relu else x


def input_projection(in_dim: int, hidden_dim: int, num_layers: int, dropout: float) -> nn.Sequential:
    """`num_layers` LinearLayers in_dim -> hidden_dim -> ... -> hidden_dim; ReLU after all but the last."""
    dims = [in_dim] + [hidden_dim] * num_layers
    return nn.Sequential(
        *[LinearLayer(dims[i], dims[i + 1], dropout, relu=i < num_layers - 1) for i in range(num_layers)]
    )


class MLP(nn.Module):
    """`num_layers` Linear layers with ReLU between them (release `MLP`; parameters `layers.N`)."""

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


def _interleaved_sine(positions: Tensor, num_feats: int, temperature: float = 10000.0) -> Tensor:
    """[sin(p/t_0), cos(p/t_1), sin(p/t_2), ...] with t_j = temperature^(2*floor(j/2)/num_feats).

    positions: (...) -> (..., num_feats).
    """
    dim_t = torch.arange(num_feats, dtype=torch.float32, device=positions.device)
    dim_t = temperature ** (2 * (dim_t // 2) / num_feats)
    pos = positions[..., None] / dim_t
    return torch.stack((pos[..., 0::2].sin(), pos[..., 1::2].cos()), dim=-1).flatten(-2)


def sine_position_encoding(mask: Tensor, num_feats: int) -> Tensor:
    """Normalised sine positions of the valid clips (release `position_encoding.py`
    PositionEmbeddingSine, normalize=True, num_pos_feats = hidden_dim).

    Position = cumsum(mask) / (number of valid clips + 1e-6) * 2*pi, so padded clips repeat the
    last valid position.

    Args:
        mask: float (B, L), 1 = valid.
        num_feats: output size (the release passes hidden_dim, not hidden_dim / 2).

    Returns:
        float (B, L, num_feats).
    """
    x = mask.cumsum(1, dtype=torch.float32)
    x = x / (x[:, -1:] + 1e-6) * (2 * math.pi)
    return _interleaved_sine(x, num_feats)


def gen_sineembed_for_position(ref: Tensor, hidden_dim: int) -> Tensor:
    """Sine embedding of (centre, width) reference points (release `transformer.py:40-56`).

    The release hard-codes 128 frequencies (= hidden_dim / 2 at its default 256) and cannot run at
    any other width; here the count is hidden_dim / 2, identical to the release at 256.

    Args:
        ref: (Q, B, 2) sigmoid (centre, width) in [0, 1].
        hidden_dim: d; the output has d/2 features of the centre then d/2 of the width.

    Returns:
        (Q, B, d).
    """
    half = hidden_dim // 2
    scaled = ref * (2 * math.pi)
    return torch.cat(
        [_interleaved_sine(scaled[..., 0], half), _interleaved_sine(scaled[..., 1], half)], dim=-1
    )


class ProjectionFreeAttention(nn.Module):
    """Multi-head attention without input projections (the conditional-DETR `attention.py`
    MultiheadAttention the decoder uses): queries/keys/values come projected; only `out_proj`.

    Query/key head size = embed_dim / heads (2d/h in the cross-attention, where each head's
    query/key is [content_h | position_h]); value head size = value_dim / heads. Softmax is taken
    after subtracting the row maximum, as in the release. `dropout` is a float attribute (the
    attention-weight dropout probability).
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float, value_dim: int) -> None:
        super().__init__()
        self.embed_dim = embed_dim
        self.num_heads = num_heads
        self.dropout = dropout
        self.out_proj = nn.Linear(value_dim, value_dim)

    def forward(
        self, query: Tensor, key: Tensor, value: Tensor, key_padding_mask: Tensor | None = None
    ) -> Tensor:
        """query (Lq, B, E), key (Lk, B, E), value (Lk, B, Dv), key_padding_mask bool (B, Lk) True = pad
        -> (Lq, B, Dv)."""
        tgt_len, bsz, embed_dim = query.shape
        src_len = key.shape[0]
        head_dim = embed_dim // self.num_heads
        value_dim = value.shape[-1]
        # head index is batch-major (b * heads + h), as in nn.MultiheadAttention
        q = (
            (query * float(head_dim) ** -0.5)
            .contiguous()
            .view(tgt_len, bsz * self.num_heads, head_dim)
            .transpose(0, 1)
        )
        k = key.contiguous().view(src_len, bsz * self.num_heads, head_dim).transpose(0, 1)
        v = (
            value.contiguous()
            .view(src_len, bsz * self.num_heads, value_dim // self.num_heads)
            .transpose(0, 1)
        )
        weights = torch.bmm(q, k.transpose(1, 2))
        if key_padding_mask is not None:
            weights = weights.view(bsz, self.num_heads, tgt_len, src_len)
            weights = weights.masked_fill(key_padding_mask[:, None, None, :], float("-inf"))
            weights = weights.view(bsz * self.num_heads, tgt_len, src_len)
        weights = F.softmax(weights - weights.max(dim=-1, keepdim=True)[0], dim=-1)
        weights = F.dropout(weights, p=self.dropout, training=self.training)
        out = torch.bmm(weights, v).transpose(0, 1).contiguous().view(tgt_len, bsz, value_dim)
        return self.out_proj(out)
