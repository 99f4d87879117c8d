"""The conditional / DAB-DETR anchor decoder of the QD-DETR lineage (QD-DETR transformer.py:179-320
TransformerDecoder and :536-658 TransformerDecoderLayer; CG-DETR, TR-DETR, TaskWeave and
VideoLights copy it unchanged at their release settings).

Release settings reproduced: query_scale_type 'cond_elewise', modulate_t_attn on, one shared
`bbox_embed` refining the anchors, keep_query_pos off (so `ca_qpos_proj` exists, and is used, only
in the first layer), return_intermediate on, PReLU FFN. Sequence-first: queries (Q, B, d),
memory (L, B, d); key padding masks bool, True = padding.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from model.spans import inverse_sigmoid
from model.zoo.common.attention import ProjectionFreeAttention
from model.zoo.common.encoder import Activation, FFNLayer, residual_dropout
from model.zoo.common.position import gen_sineembed_for_position
from model.zoo.common.projection import MLP


class DABDecoderLayer(FFNLayer):
    """Self-attention with separate content/position projections; cross-attention whose query/key
    heads are [content_h | sine position_h] (width 2d, head width 2d/h); post-norm; FFN.

    Args:
        first: build `ca_qpos_proj` (the first layer only, keep_query_pos off); there the query
            position is added to the content query and the key position to the content key.
        drop_path: the residual dropouts are DropPath (CG-DETR) instead of nn.Dropout.
    """

    def __init__(
        self, d_model: int, nhead: int, ffn_dim: int, dropout: float, first: bool, activation: Activation = "prelu",
        drop_path: bool = False,
    ) -> None:  # fmt: skip
        super().__init__(d_model, ffn_dim, dropout, activation)
        self.nhead = nhead
        self.sa_qcontent_proj = nn.Linear(d_model, d_model)
        self.sa_qpos_proj = nn.Linear(d_model, d_model)
        self.sa_kcontent_proj = nn.Linear(d_model, d_model)
        self.sa_kpos_proj = nn.Linear(d_model, d_model)
        self.sa_v_proj = nn.Linear(d_model, d_model)
        self.self_attn = ProjectionFreeAttention(d_model, nhead, dropout, vdim=d_model)
        self.norm1 = nn.LayerNorm(d_model)
        self.dropout1 = residual_dropout(dropout, drop_path)

        self.ca_qcontent_proj = nn.Linear(d_model, d_model)
        self.ca_qpos_proj = nn.Linear(d_model, d_model) if first else None
        self.ca_kcontent_proj = nn.Linear(d_model, d_model)
        self.ca_kpos_proj = nn.Linear(d_model, d_model)
        self.ca_v_proj = nn.Linear(d_model, d_model)
        self.ca_qpos_sine_proj = nn.Linear(d_model, d_model)
        self.cross_attn = ProjectionFreeAttention(d_model * 2, nhead, dropout, vdim=d_model)

        self.norm2 = nn.LayerNorm(d_model)
        self.norm3 = nn.LayerNorm(d_model)
        self.dropout2 = residual_dropout(dropout, drop_path)
        self.dropout3 = residual_dropout(dropout, drop_path)

    def forward(
        self, tgt: Tensor, memory: Tensor, memory_key_padding_mask: Tensor, pos: Tensor, query_pos: Tensor,
        query_sine_embed: Tensor,
    ) -> Tensor:  # fmt: skip
        """Args:
            tgt: float (Q, B, d) query content.
            memory: float (L, B, d).
            memory_key_padding_mask: bool (B, L), True = padding.
            pos: float (L, B, d) memory positions.
            query_pos: float (Q, B, d) = ref_point_head(sine(anchor)).
            query_sine_embed: float (Q, B, d) scaled sine embedding of the anchor.

        Returns:
            float (Q, B, d).
        """
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
    """DAB decoder with iterative (centre, width) anchor refinement.

    ref_0 = sigmoid(anchors) (not detached). Per layer i: sine = gen_sineembed(ref_i);
    query_pos = ref_point_head(sine); sine *= query_scale(out) (not in layer 0); sine *=
    sigmoid(ref_anchor_head(out)) / ref_i width (modulated temporal attention); out = layer(...);
    ref_{i+1} = sigmoid(bbox_embed(out) + inverse_sigmoid(ref_i)), returned with its graph and
    read detached by the next layer. Keys: layers.N.*, norm, query_scale, ref_point_head,
    bbox_embed, ref_anchor_head.
    """

    def __init__(
        self, d_model: int, nhead: int, ffn_dim: int, dropout: float, num_layers: int,
        activation: Activation = "prelu", drop_path: bool = False,
    ) -> None:  # fmt: skip
        super().__init__()
        self.layers = nn.ModuleList(
            DABDecoderLayer(d_model, nhead, ffn_dim, dropout, first=i == 0, activation=activation, drop_path=drop_path)
            for i in range(num_layers)
        )
        self.d_model = d_model
        self.norm = nn.LayerNorm(d_model)
        self.query_scale = MLP(d_model, d_model, d_model, 2)
        self.ref_point_head = MLP(d_model, d_model, d_model, 2)
        self.bbox_embed = MLP(d_model, d_model, 2, 3)
        nn.init.zeros_(self.bbox_embed.layers[-1].weight)
        nn.init.zeros_(self.bbox_embed.layers[-1].bias)
        self.ref_anchor_head = MLP(d_model, d_model, 1, 2)

    def forward(
        self, memory: Tensor, memory_key_padding_mask: Tensor, pos: Tensor, refpoints_unsigmoid: Tensor,
        tgt: Tensor | None = None,
    ) -> tuple[Tensor, Tensor]:  # fmt: skip
        """Args:
            memory: float (L, B, d).
            memory_key_padding_mask: bool (B, L), True = padding.
            pos: float (L, B, d).
            refpoints_unsigmoid: float (Q, B, 2) anchors before the sigmoid.
            tgt: float (Q, B, d) initial query content; None = zeros (every release).

        Returns:
            hs: float (layers, B, Q, d), every layer's output through the shared `norm`;
            references: float (layers, B, Q, 2), the sigmoid anchor each layer started from.
        """
        if tgt is None:
            num_queries, bsz = refpoints_unsigmoid.shape[:2]
            tgt = torch.zeros(num_queries, bsz, self.d_model, device=memory.device, dtype=memory.dtype)
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
            sine = sine * (self.ref_anchor_head(output).sigmoid()[..., 0] / reference[..., 1]).unsqueeze(-1)
            output = layer(output, memory, memory_key_padding_mask, pos, query_pos, sine)
            new_reference = (self.bbox_embed(output) + inverse_sigmoid(reference)).sigmoid()
            if layer_id != last:
                references.append(new_reference)
            reference = new_reference.detach()
            intermediate.append(self.norm(output))
        return torch.stack(intermediate).transpose(1, 2), torch.stack(references).transpose(1, 2)
