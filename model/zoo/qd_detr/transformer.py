"""QD-DETR's transformer (release `qd_detr/transformer.py`): text-to-video cross-attention encoder,
self-attention encoder over [global token | video], and the DAB-DETR style decoder.

Sequences are sequence-first, (L, B, d), as in the release (so the attention head layout and
masks are the release's). Key padding masks are bool with True = padding.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from model.spans import inverse_sigmoid
from model.zoo.qd_detr.layers import MLP, ProjectionFreeAttention, gen_sineembed_for_position


class _FFNLayer(nn.Module):
    """Holds a PReLU FFN under the release's attribute names (linear1, dropout, linear2, activation)."""

    def __init__(self, d_model: int, ffn_dim: int, dropout: float) -> None:
        super().__init__()
        self.linear1 = nn.Linear(d_model, ffn_dim)
        self.dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(ffn_dim, d_model)
        self.activation = nn.PReLU()

    def ffn(self, x: Tensor) -> Tensor:
        """x (..., d) -> (..., d)."""
        return self.linear2(self.dropout(self.activation(self.linear1(x))))


class T2VEncoderLayer(_FFNLayer):
    """Text-to-video cross-attention layer (release `T2V_TransformerEncoderLayer`, `transformer.py:383-441`).

    Video clips (queries, with positions) attend to the text tokens (keys with positions, values
    without); the global token and the text pass through unchanged.
    """

    def __init__(
        self, d_model: int, nhead: int, ffn_dim: int, dropout: float, own_mask: bool, norm_residual: bool
    ) -> None:
        super().__init__(d_model, ffn_dim, dropout)
        self.nhead = nhead
        self.own_mask = own_mask
        self.norm_residual = norm_residual
        self.self_attn = nn.MultiheadAttention(d_model, nhead, dropout=dropout)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)

    def forward(self, src: Tensor, key_padding_mask: Tensor, pos: Tensor, video_length: int) -> Tensor:
        """src, pos: (1 + Lv + Lt, B, d) = [global | video | text]; key_padding_mask (B, 1 + Lv + Lt).

        Returns the same layout with only the video part updated.
        """
        vid = slice(1, video_length + 1)
        txt = slice(video_length + 1, None)
        with_pos = src + pos
        txt_pad = key_padding_mask[:, txt]
        attn_mask = None
        if not self.own_mask:
            # (B, Lv, Lt) = video-pad AND text-pad, tiled batch-major-repeated: batch b, head h reads
            # the mask of video (b * nhead + h) mod B (transformer.py:423-424)
            both = torch.matmul(key_padding_mask[:, vid].unsqueeze(2).float(), txt_pad.unsqueeze(1).float())
            attn_mask = both.bool().repeat(self.nhead, 1, 1)
        attended = self.self_attn(
            with_pos[vid], with_pos[txt], value=src[txt], attn_mask=attn_mask, key_padding_mask=txt_pad
        )[0]
        x = src[vid] + self.dropout1(attended)
        if self.norm_residual:
            x = self.norm1(x)
            x = self.norm2(x + self.dropout2(self.ffn(x)))
        else:
            x = self.norm2(x + self.dropout2(self.ffn(self.norm1(x))))
        return torch.cat([src[:1], x, src[txt]], dim=0)


class EncoderLayer(_FFNLayer):
    """Post-norm self-attention layer: q = k = src + pos, v = src (release `TransformerEncoderLayer`)."""

    def __init__(self, d_model: int, nhead: int, ffn_dim: int, dropout: float) -> None:
        super().__init__(d_model, ffn_dim, dropout)
        self.self_attn = nn.MultiheadAttention(d_model, nhead, dropout=dropout)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)

    def forward(self, src: Tensor, key_padding_mask: Tensor, pos: Tensor) -> Tensor:
        """src, pos (L, B, d); key_padding_mask (B, L) -> (L, B, d)."""
        q = k = src + pos
        src = self.norm1(
            src + self.dropout1(self.self_attn(q, k, value=src, key_padding_mask=key_padding_mask)[0])
        )
        return self.norm2(src + self.dropout2(self.ffn(src)))


class T2VEncoder(nn.Module):
    """Stack of T2VEncoderLayer (release `t2v_encoder`, no final norm)."""

    def __init__(self, layers: list[T2VEncoderLayer]) -> None:
        super().__init__()
        self.layers = nn.ModuleList(layers)

    def forward(self, src: Tensor, key_padding_mask: Tensor, pos: Tensor, video_length: int) -> Tensor:
        """See T2VEncoderLayer.forward."""
        for layer in self.layers:
            src = layer(src, key_padding_mask, pos, video_length)
        return src


class Encoder(nn.Module):
    """Stack of EncoderLayer (release `encoder`, post-norm, no final norm)."""

    def __init__(self, layers: list[EncoderLayer]) -> None:
        super().__init__()
        self.layers = nn.ModuleList(layers)

    def forward(self, src: Tensor, key_padding_mask: Tensor, pos: Tensor) -> Tensor:
        """src, pos (L, B, d); key_padding_mask (B, L) -> (L, B, d)."""
        for layer in self.layers:
            src = layer(src, key_padding_mask, pos)
        return src


class DABDecoderLayer(_FFNLayer):
    """Conditional / DAB-DETR decoder layer (release `TransformerDecoderLayer`, `transformer.py:536-658`).

    Self-attention with separate content/position projections; cross-attention whose query/key
    heads are [content_h | position_h] (2d/h per head); the query position projection
    `ca_qpos_proj` exists only in the first layer (keep_query_pos off).
    """

    def __init__(self, d_model: int, nhead: int, ffn_dim: int, dropout: float, first: bool) -> None:
        super().__init__(d_model, ffn_dim, dropout)
        self.nhead = nhead
        self.sa_qcontent_proj = nn.Linear(d_model, d_model)
        self.sa_qpos_proj = nn.Linear(d_model, d_model)
        self.sa_kcontent_proj = nn.Linear(d_model, d_model)
        self.sa_kpos_proj = nn.Linear(d_model, d_model)
        self.sa_v_proj = nn.Linear(d_model, d_model)
        self.self_attn = ProjectionFreeAttention(d_model, nhead, dropout, value_dim=d_model)
        self.norm1 = nn.LayerNorm(d_model)
        self.dropout1 = nn.Dropout(dropout)

        self.ca_qcontent_proj = nn.Linear(d_model, d_model)
        self.ca_qpos_proj = nn.Linear(d_model, d_model) if first else None
        self.ca_kcontent_proj = nn.Linear(d_model, d_model)
        self.ca_kpos_proj = nn.Linear(d_model, d_model)
        self.ca_v_proj = nn.Linear(d_model, d_model)
        self.ca_qpos_sine_proj = nn.Linear(d_model, d_model)
        self.cross_attn = ProjectionFreeAttention(d_model * 2, nhead, dropout, value_dim=d_model)

        self.norm2 = nn.LayerNorm(d_model)
        self.norm3 = nn.LayerNorm(d_model)
        self.dropout2 = nn.Dropout(dropout)
        self.dropout3 = nn.Dropout(dropout)

    def forward(
        self,
        tgt: Tensor,
        memory: Tensor,
        memory_key_padding_mask: Tensor,
        pos: Tensor,
        query_pos: Tensor,
        query_sine_embed: Tensor,
    ) -> Tensor:
        """tgt, query_pos, query_sine_embed (Q, B, d); memory, pos (L, B, d);
        memory_key_padding_mask (B, L) -> (Q, B, d)."""
        q = self.sa_qcontent_proj(tgt) + self.sa_qpos_proj(query_pos)
        k = self.sa_kcontent_proj(tgt) + self.sa_kpos_proj(query_pos)
        tgt = self.norm1(tgt + self.dropout1(self.self_attn(q, k, self.sa_v_proj(tgt))))

        num_queries, bsz, d = tgt.shape
        length = memory.shape[0]
        q = self.ca_qcontent_proj(tgt)
        k = self.ca_kcontent_proj(memory)
        v = self.ca_v_proj(memory)
        k_pos = self.ca_kpos_proj(pos)
        if self.ca_qpos_proj is not None:
            q = q + self.ca_qpos_proj(query_pos)
            k = k + k_pos
        head = d // self.nhead
        sine = self.ca_qpos_sine_proj(query_sine_embed).view(num_queries, bsz, self.nhead, head)
        q = torch.cat([q.view(num_queries, bsz, self.nhead, head), sine], dim=3).view(num_queries, bsz, 2 * d)
        k_pos = k_pos.view(length, bsz, self.nhead, head)
        k = torch.cat([k.view(length, bsz, self.nhead, head), k_pos], dim=3).view(length, bsz, 2 * d)
        attended = self.cross_attn(q, k, v, key_padding_mask=memory_key_padding_mask)
        tgt = self.norm2(tgt + self.dropout2(attended))
        return self.norm3(tgt + self.dropout3(self.ffn(tgt)))


class DABDecoder(nn.Module):
    """DAB-DETR decoder with iterative (centre, width) anchor refinement (release
    `TransformerDecoder`, `transformer.py:179-320`; query_scale 'cond_elewise', modulated
    temporal attention on, one shared `bbox_embed`, intermediate outputs returned)."""

    def __init__(self, layers: list[DABDecoderLayer], d_model: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(layers)
        self.d_model = d_model
        self.norm = nn.LayerNorm(d_model)
        self.query_scale = MLP(d_model, d_model, d_model, 2)
        self.ref_point_head = MLP(d_model, d_model, d_model, 2)
        self.bbox_embed = MLP(d_model, d_model, 2, 3)
        nn.init.zeros_(self.bbox_embed.layers[-1].weight)
        nn.init.zeros_(self.bbox_embed.layers[-1].bias)
        self.ref_anchor_head = MLP(d_model, d_model, 1, 2)

    def forward(
        self,
        tgt: Tensor,
        memory: Tensor,
        memory_key_padding_mask: Tensor,
        pos: Tensor,
        refpoints_unsigmoid: Tensor,
    ) -> tuple[Tensor, Tensor]:
        """tgt (Q, B, d); memory, pos (L, B, d); memory_key_padding_mask (B, L);
        refpoints_unsigmoid (Q, B, 2).

        Returns:
            hs (layers, B, Q, d): every layer's output through the final norm;
            references (layers, B, Q, 2): the sigmoid anchors each layer started from.
        """
        output = tgt
        reference = refpoints_unsigmoid.sigmoid()
        references = [reference]
        intermediate = []
        last = len(self.layers) - 1
        for layer_id, layer in enumerate(self.layers):
            sine = gen_sineembed_for_position(reference, self.d_model)
            query_pos = self.ref_point_head(sine)
            if layer_id > 0:
                sine = sine * self.query_scale(output)
            # modulated temporal attention: rescale by the predicted / anchor width
            sine = sine * (self.ref_anchor_head(output).sigmoid()[..., 0] / reference[..., 1]).unsqueeze(-1)
            output = layer(output, memory, memory_key_padding_mask, pos, query_pos, sine)
            new_reference = (self.bbox_embed(output) + inverse_sigmoid(reference)).sigmoid()
            if layer_id != last:
                references.append(new_reference)
            reference = new_reference.detach()
            intermediate.append(self.norm(output))
        return torch.stack(intermediate).transpose(1, 2), torch.stack(references).transpose(1, 2)


class QDDETRTransformer(nn.Module):
    """T2V encoder -> drop text -> encoder over [global | video] -> DAB decoder on the video memory."""

    def __init__(
        self,
        d_model: int,
        nhead: int,
        enc_layers: int,
        dec_layers: int,
        ffn_dim: int,
        dropout: float,
        t2v_own_mask: bool = False,
        t2v_norm_residual: bool = False,
    ) -> None:
        super().__init__()
        self.d_model = d_model
        self.t2v_encoder = T2VEncoder(
            [
                T2VEncoderLayer(d_model, nhead, ffn_dim, dropout, t2v_own_mask, t2v_norm_residual)
                for _ in range(enc_layers)
            ]
        )
        self.encoder = Encoder([EncoderLayer(d_model, nhead, ffn_dim, dropout) for _ in range(enc_layers)])
        self.decoder = DABDecoder(
            [DABDecoderLayer(d_model, nhead, ffn_dim, dropout, first=i == 0) for i in range(dec_layers)],
            d_model,
        )
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)

    def forward(
        self, src: Tensor, key_padding_mask: Tensor, query_embed: Tensor, pos: Tensor, video_length: int
    ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """src, pos (B, 1 + Lv + Lt, d) = [global | video | text]; key_padding_mask bool (B, 1 + Lv + Lt),
        True = pad; query_embed (Q, 2) unsigmoided anchors.

        Returns:
            hs (layers, B, Q, d), references (layers, B, Q, 2), video memory (B, Lv, d), global memory (B, d).
        """
        bsz = src.shape[0]
        src = src.transpose(0, 1)
        pos = pos.transpose(0, 1)
        refpoints = query_embed.unsqueeze(1).repeat(1, bsz, 1)
        src = self.t2v_encoder(src, key_padding_mask, pos, video_length)
        keep = video_length + 1  # the text is dropped after the T2V encoder
        src, key_padding_mask, pos = src[:keep], key_padding_mask[:, :keep], pos[:keep]
        memory = self.encoder(src, key_padding_mask, pos)
        memory_global, memory_local = memory[0], memory[1:]
        tgt = torch.zeros(refpoints.shape[0], bsz, self.d_model, device=src.device, dtype=src.dtype)
        hs, references = self.decoder(tgt, memory_local, key_padding_mask[:, 1:], pos[1:], refpoints)
        return hs, references, memory_local.transpose(0, 1), memory_global
