"""Post-norm encoder layers of TaskWeave (transformer.py): text-to-video fusion and self-attention.

Everything is sequence-first, (L, B, d), as in the release. Every FFN activation is a learnable
`nn.PReLU()` (one weight per layer; `build_transformer(activation='prelu')`).
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn


def clones(module: nn.Module, n: int) -> nn.ModuleList:
    """n independent deep copies of module."""
    return nn.ModuleList([copy.deepcopy(module) for _ in range(n)])


class T2VEncoderLayer(nn.Module):
    """Video clips attend to text tokens; text tokens pass unchanged (transformer.py:544-568).

    x = video + MHA(q = video + pos, k = text + pos, v = text); out = norm2(x + FFN(norm1(x))).
    The attention mask is the per-sample (clip padded AND token padded) mask tiled with
    `.repeat(nhead, 1, 1)`: torch reads entry b*nhead + h, so batch b / head h uses the mask of
    sample (b*nhead + h) mod B (masks leak between samples; reproduced as released).
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int, dropout: float) -> None:
        super().__init__()
        self.self_attn = nn.MultiheadAttention(d_model, nhead, dropout=dropout)
        self.linear1 = nn.Linear(d_model, dim_feedforward)
        self.dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(dim_feedforward, d_model)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)
        self.activation = nn.PReLU()
        self.nhead = nhead

    def forward(self, src: Tensor, padding_mask: Tensor, pos: Tensor, video_length: int) -> Tensor:
        """Args:
            src: float (Lv + Lt, B, d), clips then tokens.
            padding_mask: bool (B, Lv + Lt), True at padding.
            pos: float (Lv + Lt, B, d).
            video_length: Lv.

        Returns:
            float (Lv + Lt, B, d): fused clips, then the unchanged tokens.
        """
        pos_src = src + pos
        q, k, v = pos_src[:video_length], pos_src[video_length:], src[video_length:]
        qmask = padding_mask[:, :video_length].unsqueeze(2)
        kmask = padding_mask[:, video_length:].unsqueeze(1)
        attn_mask = torch.matmul(qmask.float(), kmask.float()).bool().repeat(self.nhead, 1, 1)
        attended = self.self_attn(
            q, k, value=v, attn_mask=attn_mask, key_padding_mask=padding_mask[:, video_length:]
        )[0]
        x = src[:video_length] + self.dropout1(attended)
        ffn = self.linear2(self.dropout(self.activation(self.linear1(self.norm1(x)))))
        x = self.norm2(x + self.dropout2(ffn))
        return torch.cat([x, src[video_length:]])


class SelfAttentionEncoderLayer(nn.Module):
    """DETR post-norm encoder layer: q = k = x + pos, v = x; PReLU FFN (transformer.py:605-618)."""

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int, dropout: float) -> None:
        super().__init__()
        self.self_attn = nn.MultiheadAttention(d_model, nhead, dropout=dropout)
        self.linear1 = nn.Linear(d_model, dim_feedforward)
        self.dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(dim_feedforward, d_model)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)
        self.activation = nn.PReLU()

    def forward(self, src: Tensor, padding_mask: Tensor, pos: Tensor) -> Tensor:
        """Args: src float (L, B, d); padding_mask bool (B, L), True at padding; pos (L, B, d)."""
        q = k = src + pos
        attended = self.self_attn(q, k, value=src, key_padding_mask=padding_mask)[0]
        src = self.norm1(src + self.dropout1(attended))
        ffn = self.linear2(self.dropout(self.activation(self.linear1(src))))
        return self.norm2(src + self.dropout2(ffn))


class T2VEncoder(nn.Module):
    """A stack of T2VEncoderLayer (parameter names layers.{i}.*)."""

    def __init__(self, layer: T2VEncoderLayer, num_layers: int) -> None:
        super().__init__()
        self.layers = clones(layer, num_layers)

    def forward(self, src: Tensor, padding_mask: Tensor, pos: Tensor, video_length: int) -> Tensor:
        """Same shapes as T2VEncoderLayer.forward."""
        for layer in self.layers:
            src = layer(src, padding_mask, pos, video_length)
        return src


class SelfAttentionEncoder(nn.Module):
    """A stack of SelfAttentionEncoderLayer (parameter names layers.{i}.*), no final norm."""

    def __init__(self, layer: SelfAttentionEncoderLayer, num_layers: int) -> None:
        super().__init__()
        self.layers = clones(layer, num_layers)

    def forward(self, src: Tensor, padding_mask: Tensor, pos: Tensor) -> Tensor:
        """Same shapes as SelfAttentionEncoderLayer.forward."""
        for layer in self.layers:
            src = layer(src, padding_mask, pos)
        return src
