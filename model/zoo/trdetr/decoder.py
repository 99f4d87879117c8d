"""DAB-DETR-style moment decoder (QD-DETR lineage): anchors (centre, width) refined layer by layer."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from model.spans import inverse_sigmoid
from model.zoo.trdetr.attention import ProjectionFreeAttention
from model.zoo.trdetr.layers import MLP
from model.zoo.trdetr.position import anchor_sine_embedding


class DABDecoderLayer(nn.Module):
    """Post-norm decoder layer with conditional self- and cross-attention.

    Self-attention: q = qcontent(tgt) + qpos(query_pos), k = kcontent(tgt) + kpos(query_pos),
    v = v(tgt). Cross-attention per head concatenates [content (+ query/key position at the first
    layer) | sine-projected anchor / key position], so its query/key width is 2d.
    `ca_qpos_proj` exists only where it is used (the first layer).
    """

    def __init__(self, d_model: int, num_heads: int, ffn_dim: int, dropout: float, first: bool) -> None:
        super().__init__()
        self.sa_qcontent_proj = nn.Linear(d_model, d_model)
        self.sa_qpos_proj = nn.Linear(d_model, d_model)
        self.sa_kcontent_proj = nn.Linear(d_model, d_model)
        self.sa_kpos_proj = nn.Linear(d_model, d_model)
        self.sa_v_proj = nn.Linear(d_model, d_model)
        self.self_attn = ProjectionFreeAttention(d_model, num_heads, value_dim=d_model, dropout=dropout)
        self.norm1 = nn.LayerNorm(d_model)
        self.dropout1 = nn.Dropout(dropout)

        self.ca_qcontent_proj = nn.Linear(d_model, d_model)
        self.ca_qpos_proj = nn.Linear(d_model, d_model) if first else None
        self.ca_kcontent_proj = nn.Linear(d_model, d_model)
        self.ca_kpos_proj = nn.Linear(d_model, d_model)
        self.ca_v_proj = nn.Linear(d_model, d_model)
        self.ca_qpos_sine_proj = nn.Linear(d_model, d_model)
        self.cross_attn = ProjectionFreeAttention(d_model * 2, num_heads, value_dim=d_model, dropout=dropout)
        self.nhead = num_heads

        self.linear1 = nn.Linear(d_model, ffn_dim)
        self.dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(ffn_dim, d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.norm3 = nn.LayerNorm(d_model)
        self.dropout2 = nn.Dropout(dropout)
        self.dropout3 = nn.Dropout(dropout)
        self.activation = nn.PReLU()

    def forward(
        self,
        tgt: Tensor,
        memory: Tensor,
        memory_key_padding_mask: Tensor,
        pos: Tensor,
        query_pos: Tensor,
        query_sine_embed: Tensor,
    ) -> Tensor:
        """One decoder step.

        Args:
            tgt: float (Q, B, d) query content.
            memory: float (L, B, d) encoded clips.
            memory_key_padding_mask: bool (B, L), True = padded clip.
            pos: float (L, B, d) clip positions.
            query_pos: float (Q, B, d) anchor position embedding.
            query_sine_embed: float (Q, B, d) scaled sine embedding of the anchors.

        Returns:
            float (Q, B, d).
        """
        q = self.sa_qcontent_proj(tgt) + self.sa_qpos_proj(query_pos)
        k = self.sa_kcontent_proj(tgt) + self.sa_kpos_proj(query_pos)
        tgt2 = self.self_attn(q, k, self.sa_v_proj(tgt))
        tgt = self.norm1(tgt + self.dropout1(tgt2))

        q_content = self.ca_qcontent_proj(tgt)
        k_content = self.ca_kcontent_proj(memory)
        v = self.ca_v_proj(memory)
        num_queries, bs, d = q_content.shape
        length = k_content.shape[0]
        k_pos = self.ca_kpos_proj(pos)
        if self.ca_qpos_proj is not None:
            q = q_content + self.ca_qpos_proj(query_pos)
            k = k_content + k_pos
        else:
            q, k = q_content, k_content
        heads = self.nhead
        sine = self.ca_qpos_sine_proj(query_sine_embed).view(num_queries, bs, heads, d // heads)
        q = torch.cat([q.view(num_queries, bs, heads, d // heads), sine], dim=3).view(num_queries, bs, d * 2)
        k = k.view(length, bs, heads, d // heads)
        k = torch.cat([k, k_pos.view(length, bs, heads, d // heads)], dim=3).view(length, bs, d * 2)
        tgt2 = self.cross_attn(q, k, v, key_padding_mask=memory_key_padding_mask)
        tgt = self.norm2(tgt + self.dropout2(tgt2))

        tgt2 = self.linear2(self.dropout(self.activation(self.linear1(tgt))))
        return self.norm3(tgt + self.dropout3(tgt2))


class DABDecoder(nn.Module):
    """Decoder layers with iterative anchor refinement and a shared output LayerNorm.

    Parameter names: layers.{i}.*, norm, query_scale (MLP d->d->d), ref_point_head (MLP d->d->d),
    bbox_embed (MLP d->d->d->2, the anchor update head), ref_anchor_head (MLP d->d->1).
    """

    def __init__(self, d_model: int, num_heads: int, ffn_dim: int, dropout: float, num_layers: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            DABDecoderLayer(d_model, num_heads, ffn_dim, dropout, first=i == 0) for i in range(num_layers)
        )
        self.num_layers = num_layers
        self.norm = nn.LayerNorm(d_model)
        self.query_scale = MLP(d_model, d_model, d_model, 2)
        self.ref_point_head = MLP(d_model, d_model, d_model, 2)
        self.bbox_embed = MLP(d_model, d_model, 2, 3)
        self.ref_anchor_head = MLP(d_model, d_model, 1, 2)
        self.d_model = d_model

    def forward(
        self,
        tgt: Tensor,
        memory: Tensor,
        memory_key_padding_mask: Tensor,
        pos: Tensor,
        refpoints_unsigmoid: Tensor,
    ) -> tuple[Tensor, Tensor]:
        """Decode.

        Args:
            tgt: float (Q, B, d) initial content (zeros).
            memory: float (L, B, d).
            memory_key_padding_mask: bool (B, L), True = padded clip.
            pos: float (L, B, d).
            refpoints_unsigmoid: float (Q, B, 2) anchor logits.

        Returns:
            (hs, references): float (layers, B, Q, d) normed layer outputs, and float
            (layers, B, Q, 2) the anchors each layer started from (layer i > 0: the anchor updated by
            layer i - 1, not detached, so the final layer's spans carry its gradient).
        """
        output = tgt
        intermediate = []
        reference_points = refpoints_unsigmoid.sigmoid()
        ref_points = [reference_points]
        for layer_id, layer in enumerate(self.layers):
            obj_center = reference_points[..., :2]
            query_sine_embed = anchor_sine_embedding(obj_center, self.d_model // 2)
            query_pos = self.ref_point_head(query_sine_embed)
            if layer_id > 0:
                query_sine_embed = query_sine_embed * self.query_scale(output)
            reft_cond = self.ref_anchor_head(output).sigmoid()  # (Q, B, 1)
            query_sine_embed = query_sine_embed * (reft_cond[..., 0] / obj_center[..., 1]).unsqueeze(-1)

            output = layer(output, memory, memory_key_padding_mask, pos, query_pos, query_sine_embed)

            tmp = self.bbox_embed(output)
            new_reference_points = (tmp[..., :2] + inverse_sigmoid(reference_points)).sigmoid()
            if layer_id != self.num_layers - 1:
                ref_points.append(new_reference_points)
            reference_points = new_reference_points.detach()
            intermediate.append(self.norm(output))
        return torch.stack(intermediate).transpose(1, 2), torch.stack(ref_points).transpose(1, 2)
