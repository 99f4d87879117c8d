"""TR-DETR's encoders: the text-to-video (T2V) fusion layers and the post-norm video encoder.

Both use a feed-forward block linear2(dropout(PReLU(linear1(x)))) with one learnable PReLU
slope per layer (parameter `activation.weight`).
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn


def _ffn_parameters(module: nn.Module, d_model: int, ffn_dim: int, dropout: float) -> None:
    """Give `module` the FFN's parameters under the release's names (linear1, linear2, activation)."""
    module.linear1 = nn.Linear(d_model, ffn_dim)
    module.dropout = nn.Dropout(dropout)
    module.linear2 = nn.Linear(ffn_dim, d_model)
    module.activation = nn.PReLU()


class EncoderLayer(nn.Module):
    """Post-norm self-attention layer: q = k = x + pos, v = x; x = norm1(x + attn); x = norm2(x + FFN(x))."""

    def __init__(self, d_model: int, num_heads: int, ffn_dim: int, dropout: float) -> None:
        super().__init__()
        self.self_attn = nn.MultiheadAttention(d_model, num_heads, dropout=dropout)
        _ffn_parameters(self, d_model, ffn_dim, dropout)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)

    def forward(self, src: Tensor, key_padding_mask: Tensor, pos: Tensor) -> Tensor:
        """src, pos: float (L, B, d); key_padding_mask: bool (B, L), True = padding -> (L, B, d)."""
        q = k = src + pos
        src2 = self.self_attn(q, k, value=src, key_padding_mask=key_padding_mask)[0]
        src = self.norm1(src + self.dropout1(src2))
        src2 = self.linear2(self.dropout(self.activation(self.linear1(src))))
        return self.norm2(src + self.dropout2(src2))


class T2VEncoderLayer(nn.Module):
    """Text-to-video cross-attention: video clips (queries) attend to the query's tokens.

    q = video + pos, k = text + pos (text pos is 0 in the release), v = text;
    x = video + attn; x = norm2(x + FFN(norm1(x))). Text tokens pass through unchanged.
    """

    def __init__(
        self, d_model: int, num_heads: int, ffn_dim: int, dropout: float, release_mask_layout: bool
    ) -> None:
        super().__init__()
        self.self_attn = nn.MultiheadAttention(d_model, num_heads, dropout=dropout)
        _ffn_parameters(self, d_model, ffn_dim, dropout)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)
        self.nhead = num_heads
        self.release_mask_layout = release_mask_layout

    def forward(self, src: Tensor, key_padding_mask: Tensor, pos: Tensor, video_length: int) -> Tensor:
        """Fuse the text into the video part of `src`.

        Args:
            src: float (Lv + Lt, B, d), video clips then text tokens.
            key_padding_mask: bool (B, Lv + Lt), True = padding.
            pos: float (Lv + Lt, B, d).
            video_length: Lv.

        Returns:
            float (Lv + Lt, B, d): fused clips, then the unchanged tokens.
        """
        pos_src = src + pos
        q, k, v = pos_src[:video_length], pos_src[video_length:], src[video_length:]
        text_padding = key_padding_mask[:, video_length:]
        attn_mask = None
        if self.release_mask_layout:
            # Per-sample mask (query padded AND key padded), tiled batch-major: MHA reads index
            # b*nhead + h, so batch b / head h gets sample (b*nhead + h) mod B's mask.
            qmask = key_padding_mask[:, :video_length].unsqueeze(2).float()
            kmask = text_padding.unsqueeze(1).float()
            attn_mask = torch.matmul(qmask, kmask).bool().repeat(self.nhead, 1, 1)
        # Corrected: each sample's own (query AND key padded) mask adds nothing to the key
        # padding mask, so none is passed.
        src2 = self.self_attn(q, k, value=v, attn_mask=attn_mask, key_padding_mask=text_padding)[0]
        src2 = src[:video_length] + self.dropout1(src2)
        src3 = self.linear2(self.dropout(self.activation(self.linear1(self.norm1(src2)))))
        src2 = self.norm2(src2 + self.dropout2(src3))
        return torch.cat([src2, src[video_length:]])


class Encoder(nn.Module):
    """`num_layers` independent copies of a layer, applied in turn (parameter names layers.{i}.*)."""

    def __init__(self, layer: nn.Module, num_layers: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(copy.deepcopy(layer) for _ in range(num_layers))

    def forward(self, src: Tensor, key_padding_mask: Tensor, pos: Tensor, **kwargs: int) -> Tensor:
        """src, pos: (L, B, d); key_padding_mask: bool (B, L), True = padding."""
        for layer in self.layers:
            src = layer(src, key_padding_mask, pos, **kwargs)
        return src
