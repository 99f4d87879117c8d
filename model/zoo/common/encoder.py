"""Post-norm encoder layers of the lineage (sequence-first, (L, B, d), as the releases).

- EncoderLayer: DETR's self-attention layer, q = k = src + pos, v = src (release transformer.py
  TransformerEncoderLayer.forward_post).
- T2VEncoderLayer: QD-DETR's text-to-video cross-attention layer (QD-DETR transformer.py:383-441
  T2V_TransformerEncoderLayer; copied by CG-DETR, TR-DETR, TaskWeave, VideoLights).

Key padding masks are bool with True = padding. The FFN activation is ReLU in Moment-DETR (no
parameter) and a learnable nn.PReLU in the QD-DETR descendants (`activation.weight`,
build_transformer(activation='prelu')).
"""

from __future__ import annotations

import copy
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from model.zoo.common.attention import ProjectionFreeAttention

Activation = Literal["relu", "prelu"]


def clones(module: nn.Module, n: int) -> nn.ModuleList:
    """n independent deep copies of module (the release's _get_clones)."""
    return nn.ModuleList([copy.deepcopy(module) for _ in range(n)])


class DropPath(nn.Module):
    """Per-sample stochastic depth on sequence-first tensors (CG-DETR transformer.py:821-849, its
    residual dropouts): each batch element of (L, B, d) is kept with prob 1-p and scaled by 1/(1-p)."""

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


def residual_dropout(p: float, drop_path: bool = False) -> nn.Module:
    """The dropout on a residual branch: nn.Dropout, or DropPath (CG-DETR's layers)."""
    return DropPath(p) if drop_path else nn.Dropout(p)


def xavier_init(module: nn.Module) -> None:
    """The release transformers' _reset_parameters: xavier_uniform_ on every parameter with dim > 1."""
    for p in module.parameters():
        if p.dim() > 1:
            nn.init.xavier_uniform_(p)


class FFNLayer(nn.Module):
    """Holds the feed-forward block under the release's names (linear1, dropout, linear2 and, for
    PReLU, activation); subclasses add attention and norms."""

    def __init__(self, d_model: int, ffn_dim: int, dropout: float, activation: Activation = "prelu") -> None:
        super().__init__()
        self.linear1 = nn.Linear(d_model, ffn_dim)
        self.dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(ffn_dim, d_model)
        if activation == "prelu":
            self.activation: nn.Module | None = nn.PReLU()
        elif activation == "relu":
            self.activation = None
        else:
            raise ValueError(f"activation {activation!r}: expected 'relu' or 'prelu'")

    def ffn(self, x: Tensor) -> Tensor:
        """linear2(dropout(act(linear1(x)))): (..., d) -> (..., d)."""
        hidden = self.linear1(x)
        hidden = F.relu(hidden) if self.activation is None else self.activation(hidden)
        return self.linear2(self.dropout(hidden))


class EncoderLayer(FFNLayer):
    """Post-norm self-attention layer: src = norm1(src + attn); out = norm2(src + FFN(src)).

    Args:
        drop_path: the residual dropouts are DropPath (CG-DETR) instead of nn.Dropout.
    """

    def __init__(
        self, d_model: int, nhead: int, ffn_dim: int, dropout: float, activation: Activation = "prelu",
        drop_path: bool = False,
    ) -> None:  # fmt: skip
        super().__init__(d_model, ffn_dim, dropout, activation)
        self.self_attn = nn.MultiheadAttention(d_model, nhead, dropout=dropout)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.dropout1 = residual_dropout(dropout, drop_path)
        self.dropout2 = residual_dropout(dropout, drop_path)

    def forward(self, src: Tensor, key_padding_mask: Tensor, pos: Tensor) -> Tensor:
        """src, pos: (L, B, d); key_padding_mask: bool (B, L), True = padding -> (L, B, d)."""
        q = k = src + pos
        attended = self.self_attn(q, k, value=src, key_padding_mask=key_padding_mask)[0]
        src = self.norm1(src + self.dropout1(attended))
        return self.norm2(src + self.dropout2(self.ffn(src)))


class T2VEncoderLayer(FFNLayer):
    """Video clips (queries, with positions) attend to the text tokens (keys with positions, values
    without); tokens before the video (a global token) and the text pass through unchanged.

    Release (QD-DETR transformer.py:423-436): x = v + drop(attn); out = norm2(x + drop(FFN(norm1(x)))),
    i.e. the residual adds the un-normalised x; and the attention mask (video-pad AND text-pad, per
    video) is tiled with .repeat(nhead, 1, 1) while nn.MultiheadAttention reads row b*nhead + h, so
    batch b / head h uses the mask of video (b*nhead + h) mod B.

    Args:
        own_mask: QD-DETR's `t2v_own_mask` correction: apply only the text key-padding mask (each
            video's own video-AND-text mask is covered by it).
        norm_residual: QD-DETR's `t2v_norm_residual` correction: x = norm1(v + drop(attn));
            out = norm2(x + drop(FFN(x))).
        projection_free: CG-DETR's layer: attention without q/k/v projections (only
            self_attn.out_proj), which can skip the values of leading keys (value_from).
        drop_path: the residual dropouts are DropPath (CG-DETR) instead of nn.Dropout.
    """

    def __init__(
        self, d_model: int, nhead: int, ffn_dim: int, dropout: float, own_mask: bool = False,
        norm_residual: bool = False, activation: Activation = "prelu", projection_free: bool = False,
        drop_path: bool = False,
    ) -> None:  # fmt: skip
        super().__init__(d_model, ffn_dim, dropout, activation)
        self.nhead = nhead
        self.own_mask = own_mask
        self.norm_residual = norm_residual
        self.projection_free = projection_free
        if projection_free:
            self.self_attn: nn.Module = ProjectionFreeAttention(d_model, nhead, dropout)
        else:
            self.self_attn = nn.MultiheadAttention(d_model, nhead, dropout=dropout)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.dropout1 = residual_dropout(dropout, drop_path)
        self.dropout2 = residual_dropout(dropout, drop_path)

    def forward(
        self, src: Tensor, key_padding_mask: Tensor, pos: Tensor, video_length: int, video_start: int = 0,
        value_from: int = 0, need_weights: bool = False,
    ) -> Tensor | tuple[Tensor, Tensor]:  # fmt: skip
        """Args:
            src, pos: (S + Lv + Lt, B, d) = [S leading tokens | video | text].
            key_padding_mask: bool (B, S + Lv + Lt), True = padding.
            video_length: Lv.
            video_start: S (1 with QD-DETR's global token first, 0 in TaskWeave).
            value_from: projection_free only: text keys before this index give no value.
            need_weights: also return the head-mean attention weights (B, Lv, Lt).

        Returns:
            the same layout with only the video part updated (and the weights).
        """
        vid = slice(video_start, video_start + video_length)
        txt = slice(video_start + video_length, None)
        with_pos = src + pos
        txt_pad = key_padding_mask[:, txt]
        attn_mask = None
        if not self.own_mask:
            both = torch.matmul(key_padding_mask[:, vid].unsqueeze(2).float(), txt_pad.unsqueeze(1).float())
            attn_mask = both.bool().repeat(self.nhead, 1, 1)  # (B*nhead, Lv, Lt), batch-major tiled
        if self.projection_free:
            attended, weights = self.self_attn(
                with_pos[vid], with_pos[txt], src[txt], txt_pad, attn_mask, value_from, need_weights=True
            )
        else:
            attended, weights = self.self_attn(
                with_pos[vid], with_pos[txt], value=src[txt], attn_mask=attn_mask, key_padding_mask=txt_pad
            )
        x = src[vid] + self.dropout1(attended)
        if self.norm_residual:
            x = self.norm1(x)
            x = self.norm2(x + self.dropout2(self.ffn(x)))
        else:
            x = self.norm2(x + self.dropout2(self.ffn(self.norm1(x))))
        out = torch.cat([src[:video_start], x, src[txt]], dim=0)
        return (out, weights) if need_weights else out


class Encoder(nn.Module):
    """A stack of `num_layers` copies of an EncoderLayer (keys layers.N.*), no final norm."""

    def __init__(self, layer: EncoderLayer, num_layers: int) -> None:
        super().__init__()
        self.layers = clones(layer, num_layers)

    def forward(self, src: Tensor, key_padding_mask: Tensor, pos: Tensor) -> Tensor:
        """src, pos: (L, B, d); key_padding_mask: bool (B, L) -> (L, B, d)."""
        for layer in self.layers:
            src = layer(src, key_padding_mask, pos)
        return src


class T2VEncoder(nn.Module):
    """A stack of `num_layers` copies of a T2VEncoderLayer (release `t2v_encoder`, keys layers.N.*),
    or of any layer called as it is (VideoLights' Bi-CMF layer, without need_weights)."""

    def __init__(self, layer: T2VEncoderLayer | nn.Module, num_layers: int) -> None:
        super().__init__()
        self.layers = clones(layer, num_layers)

    def forward(
        self, src: Tensor, key_padding_mask: Tensor, pos: Tensor, video_length: int, video_start: int = 0,
        value_from: int = 0, need_weights: bool = False,
    ) -> Tensor | tuple[Tensor, Tensor]:  # fmt: skip
        """See T2VEncoderLayer.forward; with need_weights also the weights averaged over layers
        (CG-DETR transformer.py:220-226)."""
        if not need_weights:
            for layer in self.layers:
                src = layer(src, key_padding_mask, pos, video_length, video_start)
            return src
        total = None
        for layer in self.layers:
            src, weights = layer(src, key_padding_mask, pos, video_length, video_start, value_from, True)
            total = weights if total is None else total + weights
        return src, total / len(self.layers)
