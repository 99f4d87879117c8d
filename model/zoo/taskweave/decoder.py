"""DAB-DETR span decoder as used by the QD-DETR lineage (TaskWeave transformer.py:248-335, 690-764).

Sequence-first: queries (Q, B, d), memory (L, B, d). Anchors are (centre, width) in [0, 1].
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from model.spans import inverse_sigmoid
from model.zoo.taskweave.attention import ProjectionFreeAttention
from model.zoo.taskweave.encoder import clones
from model.zoo.taskweave.position import span_sine_embedding


class MLP(nn.Module):
    """Linear layers with ReLU between them (none after the last); parameters layers.{i}."""

    def __init__(self, input_dim: int, hidden_dim: int, output_dim: int, num_layers: int) -> None:
        super().__init__()
        dims = [input_dim] + [hidden_dim] * (num_layers - 1)
        self.layers = nn.ModuleList(nn.Linear(n, k) for n, k in zip(dims, dims[1:] + [output_dim]))

    def forward(self, x: Tensor) -> Tensor:
        """(..., input_dim) -> (..., output_dim)."""
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            x = F.relu(layer(x)) if i < last else layer(x)
        return x


class DABDecoderLayer(nn.Module):
    """Conditional/DAB decoder layer: self-attention, split content/position cross-attention, FFN.

    Cross-attention concatenates per head [content | sine position] for queries and keys
    (width 2d, head width 2d/h); the query position projection `ca_qpos_proj` exists only in the
    first layer (keep_query_pos off), where content and position are also summed.
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int, dropout: float, first: bool) -> None:
        super().__init__()
        self.sa_qcontent_proj = nn.Linear(d_model, d_model)
        self.sa_qpos_proj = nn.Linear(d_model, d_model)
        self.sa_kcontent_proj = nn.Linear(d_model, d_model)
        self.sa_kpos_proj = nn.Linear(d_model, d_model)
        self.sa_v_proj = nn.Linear(d_model, d_model)
        self.self_attn = ProjectionFreeAttention(d_model, nhead, dropout=dropout, vdim=d_model)
        self.norm1 = nn.LayerNorm(d_model)
        self.dropout1 = nn.Dropout(dropout)

        self.ca_qcontent_proj = nn.Linear(d_model, d_model)
        self.ca_qpos_proj = nn.Linear(d_model, d_model) if first else None
        self.ca_kcontent_proj = nn.Linear(d_model, d_model)
        self.ca_kpos_proj = nn.Linear(d_model, d_model)
        self.ca_v_proj = nn.Linear(d_model, d_model)
        self.ca_qpos_sine_proj = nn.Linear(d_model, d_model)
        self.cross_attn = ProjectionFreeAttention(d_model * 2, nhead, dropout=dropout, vdim=d_model)
        self.nhead = nhead

        self.linear1 = nn.Linear(d_model, dim_feedforward)
        self.dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(dim_feedforward, d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.norm3 = nn.LayerNorm(d_model)
        self.dropout2 = nn.Dropout(dropout)
        self.dropout3 = nn.Dropout(dropout)
        self.activation = nn.PReLU()

    def forward(
        self, tgt: Tensor, memory: Tensor, memory_padding_mask: Tensor, pos: Tensor, query_pos: Tensor,
        query_sine_embed: Tensor,
    ) -> Tensor:
        """Args:
            tgt: float (Q, B, d) query content.
            memory: float (L, B, d).
            memory_padding_mask: bool (B, L), True at padding.
            pos: float (L, B, d) memory positions.
            query_pos: float (Q, B, d) = ref_point_head(sine(anchor)).
            query_sine_embed: float (Q, B, d) scaled sine embedding of the anchor.

        Returns:
            float (Q, B, d).
        """
        q = self.sa_qcontent_proj(tgt) + self.sa_qpos_proj(query_pos)
        k = self.sa_kcontent_proj(tgt) + self.sa_kpos_proj(query_pos)
        tgt = self.norm1(tgt + self.dropout1(self.self_attn(q, k, self.sa_v_proj(tgt))))

        num_queries, bs, d = tgt.shape
        hw = memory.shape[0]
        q_content = self.ca_qcontent_proj(tgt)
        k_content = self.ca_kcontent_proj(memory)
        v = self.ca_v_proj(memory)
        k_pos = self.ca_kpos_proj(pos)
        if self.ca_qpos_proj is not None:
            q = q_content + self.ca_qpos_proj(query_pos)
            k = k_content + k_pos
        else:
            q, k = q_content, k_content
        h = self.nhead
        sine = self.ca_qpos_sine_proj(query_sine_embed).view(num_queries, bs, h, d // h)
        q = torch.cat([q.view(num_queries, bs, h, d // h), sine], dim=3).view(num_queries, bs, d * 2)
        k = torch.cat([k.view(hw, bs, h, d // h), k_pos.view(hw, bs, h, d // h)], dim=3).view(hw, bs, d * 2)
        attended = self.cross_attn(q, k, v, key_padding_mask=memory_padding_mask)
        tgt = self.norm2(tgt + self.dropout2(attended))
        ffn = self.linear2(self.dropout(self.activation(self.linear1(tgt))))
        return self.norm3(tgt + self.dropout3(ffn))


class DABDecoder(nn.Module):
    """DAB decoder with anchor refinement, conditional query scaling and width-modulated attention.

    ref_0 = sigmoid(query anchors) (not detached); per layer: query_pos = ref_point_head(sine(ref)),
    sine scaled by query_scale(out) (1 at layer 0) and by sigmoid(ref_anchor_head(out)) / ref_width;
    after layer i: ref_{i+1} = sigmoid(bbox_embed(out_i) + inverse_sigmoid(ref_i)); the returned refs
    keep the graph, the next layer reads ref_{i+1}.detach(). Outputs are the shared `norm` of each
    layer's output.
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int, dropout: float, num_layers: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            DABDecoderLayer(d_model, nhead, dim_feedforward, dropout, first=(i == 0)) for i in range(num_layers)
        )
        self.norm = nn.LayerNorm(d_model)
        self.query_scale = MLP(d_model, d_model, d_model, 2)
        self.ref_point_head = MLP(d_model, d_model, d_model, 2)
        self.bbox_embed = MLP(d_model, d_model, 2, 3)
        nn.init.constant_(self.bbox_embed.layers[-1].weight, 0.0)
        nn.init.constant_(self.bbox_embed.layers[-1].bias, 0.0)
        self.ref_anchor_head = MLP(d_model, d_model, 1, 2)
        self.d_model = d_model

    def forward(
        self, memory: Tensor, memory_padding_mask: Tensor, pos: Tensor, anchors_unsigmoid: Tensor
    ) -> tuple[Tensor, Tensor]:
        """Args:
            memory: float (L, B, d).
            memory_padding_mask: bool (B, L), True at padding.
            pos: float (L, B, d).
            anchors_unsigmoid: float (Q, B, 2) learnt anchors before the sigmoid.

        Returns:
            (hs, refs): hs float (layers, B, Q, d) normed layer outputs; refs float (layers, B, Q, 2),
            the anchor each layer's output refines (ref_0 .. ref_{layers-1}).
        """
        bs = memory.shape[1]
        num_queries = anchors_unsigmoid.shape[0]
        output = torch.zeros(num_queries, bs, self.d_model, device=memory.device, dtype=memory.dtype)
        reference = anchors_unsigmoid.sigmoid()
        refs = [reference]
        intermediate = []
        last = len(self.layers) - 1
        for layer_id, layer in enumerate(self.layers):
            sine = span_sine_embedding(reference, self.d_model // 2)
            query_pos = self.ref_point_head(sine)
            if layer_id != 0:
                sine = sine * self.query_scale(output)
            sine = sine * (self.ref_anchor_head(output).sigmoid()[..., 0] / reference[..., 1]).unsqueeze(-1)
            output = layer(output, memory, memory_padding_mask, pos, query_pos, sine)
            new_reference = (self.bbox_embed(output) + inverse_sigmoid(reference)).sigmoid()
            if layer_id != last:
                refs.append(new_reference)
            reference = new_reference.detach()
            intermediate.append(self.norm(output))
        return torch.stack(intermediate).transpose(1, 2), torch.stack(refs).transpose(1, 2)
