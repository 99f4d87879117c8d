"""DAB-DETR-style moment decoder of the QD-DETR lineage (release `transformer.py:269-403,596-717`).

Queries are learned reference spans (centre, width) refined layer by layer; the cross-attention
concatenates content and sine-position parts per head, and is width-modulated.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from model.spans import inverse_sigmoid
from model.zoo.cg_detr.attention import ProjectionFreeAttention
from model.zoo.cg_detr.layers import MLP, DropPath
from model.zoo.cg_detr.position import sine_embed_reference


class DecoderLayer(nn.Module):
    """Self-attention over queries, conditional cross-attention to the video memory, PReLU FFN; post-norm."""

    def __init__(self, d_model: int, nhead: int, ffn_dim: int, dropout: float, query_pos_proj: bool) -> None:
        super().__init__()
        self.nhead = nhead
        self.sa_qcontent_proj = nn.Linear(d_model, d_model)
        self.sa_qpos_proj = nn.Linear(d_model, d_model)
        self.sa_kcontent_proj = nn.Linear(d_model, d_model)
        self.sa_kpos_proj = nn.Linear(d_model, d_model)
        self.sa_v_proj = nn.Linear(d_model, d_model)
        self.self_attn = ProjectionFreeAttention(d_model, nhead, dropout=dropout, vdim=d_model)
        self.norm1 = nn.LayerNorm(d_model)
        self.dropout1 = DropPath(dropout)

        self.ca_qcontent_proj = nn.Linear(d_model, d_model)
        # Only the first layer adds the query position to the cross-attention query (keep_query_pos off).
        self.ca_qpos_proj = nn.Linear(d_model, d_model) if query_pos_proj else None
        self.ca_kcontent_proj = nn.Linear(d_model, d_model)
        self.ca_kpos_proj = nn.Linear(d_model, d_model)
        self.ca_v_proj = nn.Linear(d_model, d_model)
        self.ca_qpos_sine_proj = nn.Linear(d_model, d_model)
        self.cross_attn = ProjectionFreeAttention(d_model * 2, nhead, dropout=dropout, vdim=d_model)

        self.linear1 = nn.Linear(d_model, ffn_dim)
        self.dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(ffn_dim, d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.norm3 = nn.LayerNorm(d_model)
        self.dropout2 = DropPath(dropout)
        self.dropout3 = DropPath(dropout)
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
        """tgt, query_pos, query_sine_embed: (Q, B, d); memory, pos: (L, B, d);
        memory_key_padding_mask: bool (B, L), True = padding -> (Q, B, d)."""
        q = self.sa_qcontent_proj(tgt) + self.sa_qpos_proj(query_pos)
        k = self.sa_kcontent_proj(tgt) + self.sa_kpos_proj(query_pos)
        tgt2 = self.self_attn(q, k, self.sa_v_proj(tgt))[0]
        tgt = self.norm1(tgt + self.dropout1(tgt2))

        num_queries, bs, d = tgt.shape
        hw = memory.shape[0]
        q = self.ca_qcontent_proj(tgt)
        k = self.ca_kcontent_proj(memory)
        v = self.ca_v_proj(memory)
        k_pos = self.ca_kpos_proj(pos)
        if self.ca_qpos_proj is not None:
            q = q + self.ca_qpos_proj(query_pos)
            k = k + k_pos
        head = d // self.nhead
        sine = self.ca_qpos_sine_proj(query_sine_embed).view(num_queries, bs, self.nhead, head)
        q = torch.cat([q.view(num_queries, bs, self.nhead, head), sine], dim=3).view(num_queries, bs, 2 * d)
        k = torch.cat([k.view(hw, bs, self.nhead, head), k_pos.view(hw, bs, self.nhead, head)], dim=3)
        k = k.view(hw, bs, 2 * d)
        tgt2 = self.cross_attn(q, k, v, key_padding_mask=memory_key_padding_mask)[0]
        tgt = self.norm2(tgt + self.dropout2(tgt2))
        tgt2 = self.linear2(self.dropout(self.activation(self.linear1(tgt))))
        return self.norm3(tgt + self.dropout3(tgt2))


class DABDecoder(nn.Module):
    """Decoder stack with iterative reference-span refinement and width-modulated attention.

    Keys: `layers.N.*`, `norm`, `query_scale`, `ref_point_head`, `bbox_embed`, `ref_anchor_head`.
    """

    def __init__(self, d_model: int, nhead: int, ffn_dim: int, dropout: float, num_layers: int) -> None:
        super().__init__()
        self.d_model = d_model
        self.layers = nn.ModuleList(
            DecoderLayer(d_model, nhead, ffn_dim, dropout, query_pos_proj=i == 0) for i in range(num_layers)
        )
        self.norm = nn.LayerNorm(d_model)
        self.query_scale = MLP(d_model, d_model, d_model, 2)
        self.ref_point_head = MLP(d_model, d_model, d_model, 2)
        self.bbox_embed = MLP(d_model, d_model, 2, 3)
        nn.init.constant_(self.bbox_embed.layers[-1].weight, 0)
        nn.init.constant_(self.bbox_embed.layers[-1].bias, 0)
        self.ref_anchor_head = MLP(d_model, d_model, 1, 2)

    def forward(self, memory: Tensor, memory_key_padding_mask: Tensor, pos: Tensor, refpoints_unsigmoid: Tensor
                ) -> tuple[Tensor, Tensor]:
        """Decode.

        Args:
            memory, pos: (L, B, d) video memory and its positions.
            memory_key_padding_mask: bool (B, L), True = padding.
            refpoints_unsigmoid: (Q, B, 2) initial reference spans before the sigmoid.

        Returns:
            (hs (layers, B, Q, d) normed outputs of every layer, references (layers, B, Q, 2): the
            initial reference and the references entering each later layer).
        """
        output = torch.zeros(refpoints_unsigmoid.shape[0], memory.shape[1], self.d_model,
                             dtype=memory.dtype, device=memory.device)
        reference = refpoints_unsigmoid.sigmoid()
        references = [reference]
        intermediate = []
        for layer_id, layer in enumerate(self.layers):
            query_sine_embed = sine_embed_reference(reference, self.d_model)
            query_pos = self.ref_point_head(query_sine_embed)
            if layer_id > 0:
                query_sine_embed = query_sine_embed * self.query_scale(output)
            ref_width = self.ref_anchor_head(output).sigmoid()  # (Q, B, 1)
            query_sine_embed = query_sine_embed * (ref_width[..., 0] / reference[..., 1]).unsqueeze(-1)
            output = layer(output, memory, memory_key_padding_mask, pos, query_pos, query_sine_embed)
            new_reference = (self.bbox_embed(output) + inverse_sigmoid(reference)).sigmoid()
            if layer_id != len(self.layers) - 1:
                references.append(new_reference)
            reference = new_reference.detach()
            intermediate.append(self.norm(output))
        return torch.stack(intermediate).transpose(1, 2), torch.stack(references).transpose(1, 2)

