"""DETR's post-norm transformer as the release uses it (moment_detr/transformer.py): the shared
post-norm encoder (model.zoo.common.encoder, ReLU FFN) and DETR's plain decoder, which only
Moment-DETR uses (its descendants use the DAB decoder).

Sequence-first layout (L, B, d) inside, as the release, so every nn.MultiheadAttention call sees
the same tensors. Positional encodings are added to queries and keys (not values) in every layer;
there is no final encoder norm; the decoder's shared LayerNorm is applied to every layer's output.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from model.zoo.common.encoder import Encoder, EncoderLayer, FFNLayer, clones, xavier_init


class DecoderLayer(FFNLayer):
    """Post-norm decoder layer: self-attention over queries, cross-attention to memory, ReLU FFN."""

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int, dropout: float) -> None:
        super().__init__(d_model, dim_feedforward, dropout, activation="relu")
        self.self_attn = nn.MultiheadAttention(d_model, nhead, dropout=dropout)
        self.multihead_attn = nn.MultiheadAttention(d_model, nhead, dropout=dropout)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.norm3 = nn.LayerNorm(d_model)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)
        self.dropout3 = nn.Dropout(dropout)

    def forward(
        self, tgt: Tensor, memory: Tensor, memory_key_padding_mask: Tensor, pos: Tensor, query_pos: Tensor
    ) -> Tensor:
        """tgt, query_pos: (Q, B, d); memory, pos: (L, B, d); mask: bool (B, L) True = padding -> (Q, B, d)."""
        q = k = tgt + query_pos
        tgt2 = self.self_attn(q, k, value=tgt)[0]
        tgt = self.norm1(tgt + self.dropout1(tgt2))
        tgt2 = self.multihead_attn(
            query=tgt + query_pos, key=memory + pos, value=memory, key_padding_mask=memory_key_padding_mask
        )[0]
        tgt = self.norm2(tgt + self.dropout2(tgt2))
        return self.norm3(tgt + self.dropout3(self.ffn(tgt)))


class TransformerDecoder(nn.Module):
    """A stack of DecoderLayers returning every layer's output through the shared LayerNorm `norm`."""

    def __init__(self, layer: DecoderLayer, num_layers: int, d_model: int) -> None:
        super().__init__()
        self.layers = clones(layer, num_layers)
        self.norm = nn.LayerNorm(d_model)

    def forward(
        self, tgt: Tensor, memory: Tensor, memory_key_padding_mask: Tensor, pos: Tensor, query_pos: Tensor
    ) -> Tensor:
        """-> (num_layers, Q, B, d)."""
        intermediate = []
        for layer in self.layers:
            tgt = layer(tgt, memory, memory_key_padding_mask, pos, query_pos)
            intermediate.append(self.norm(tgt))
        return torch.stack(intermediate)


class Transformer(nn.Module):
    """Encoder over [video; text] and a decoder of learned queries reading the encoder memory."""

    def __init__(
        self, d_model: int, nhead: int, num_encoder_layers: int, num_decoder_layers: int,
        dim_feedforward: int, dropout: float,
    ) -> None:  # fmt: skip
        super().__init__()
        self.encoder = Encoder(EncoderLayer(d_model, nhead, dim_feedforward, dropout, "relu"), num_encoder_layers)
        self.decoder = TransformerDecoder(
            DecoderLayer(d_model, nhead, dim_feedforward, dropout), num_decoder_layers, d_model
        )
        self.d_model = d_model
        xavier_init(self)  # the release's _reset_parameters

    def forward(
        self, src: Tensor, key_padding_mask: Tensor, query_embed: Tensor, pos_embed: Tensor
    ) -> tuple[Tensor, Tensor]:
        """Encode and decode.

        Args:
            src: (B, L, d) projected [video; text].
            key_padding_mask: bool (B, L), True = padding (masked as attention keys only).
            query_embed: (Q, d) learned query positions; the decoder input itself starts at zeros.
            pos_embed: (B, L, d) positions (zeros on text).

        Returns:
            hs: (num_dec_layers, B, Q, d) normed decoder outputs; memory: (B, L, d) encoder output.
        """
        bs = src.shape[0]
        src = src.permute(1, 0, 2)
        pos_embed = pos_embed.permute(1, 0, 2)
        query_pos = query_embed.unsqueeze(1).repeat(1, bs, 1)  # (Q, B, d)
        tgt = torch.zeros_like(query_pos)
        memory = self.encoder(src, key_padding_mask, pos_embed)
        hs = self.decoder(tgt, memory, key_padding_mask, pos_embed, query_pos)
        return hs.transpose(1, 2), memory.transpose(0, 1)
