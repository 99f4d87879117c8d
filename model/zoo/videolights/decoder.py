"""DAB/conditional-DETR moment decoder with anchor refinement (release transformer.py:200-348, 757-831)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from model.spans import inverse_sigmoid
from model.zoo.videolights.attention import ProjectedMultiheadAttention
from model.zoo.videolights.layers import MLP
from model.zoo.videolights.position import anchor_sine_encoding


class DecoderLayer(nn.Module):
    """Conditional decoder layer: projected self-attention, then cross-attention on [content | sine] halves.

    Only the first layer adds the query position to the cross-attention content (`ca_qpos_proj`,
    absent in later layers, as the release sets it to None).
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int, dropout: float, is_first: bool) -> None:
        super().__init__()
        self.sa_qcontent_proj = nn.Linear(d_model, d_model)
        self.sa_qpos_proj = nn.Linear(d_model, d_model)
        self.sa_kcontent_proj = nn.Linear(d_model, d_model)
        self.sa_kpos_proj = nn.Linear(d_model, d_model)
        self.sa_v_proj = nn.Linear(d_model, d_model)
        self.self_attn = ProjectedMultiheadAttention(d_model, nhead, dropout=dropout, vdim=d_model)
        self.norm1 = nn.LayerNorm(d_model)
        self.dropout1 = nn.Dropout(dropout)

        self.ca_qcontent_proj = nn.Linear(d_model, d_model)
        self.ca_qpos_proj = nn.Linear(d_model, d_model) if is_first else None
        self.ca_kcontent_proj = nn.Linear(d_model, d_model)
        self.ca_kpos_proj = nn.Linear(d_model, d_model)
        self.ca_v_proj = nn.Linear(d_model, d_model)
        self.ca_qpos_sine_proj = nn.Linear(d_model, d_model)
        self.cross_attn = ProjectedMultiheadAttention(d_model * 2, nhead, dropout=dropout, vdim=d_model)
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
        self, tgt: Tensor, memory: Tensor, memory_pad: Tensor, pos: Tensor, query_pos: Tensor, query_sine: Tensor
    ) -> Tensor:
        """One layer.

        Args:
            tgt: float (Q, B, d) query content.
            memory: float (Lv, B, d) encoded clips.
            memory_pad: bool (B, Lv), True = padded clip.
            pos: float (Lv, B, d) clip sine encoding.
            query_pos: float (Q, B, d) ref_point_head(sine(anchor)).
            query_sine: float (Q, B, d) scaled anchor sine encoding.

        Returns:
            float (Q, B, d).
        """
        q = self.sa_qcontent_proj(tgt) + self.sa_qpos_proj(query_pos)
        k = self.sa_kcontent_proj(tgt) + self.sa_kpos_proj(query_pos)
        tgt2 = self.self_attn(q, k, self.sa_v_proj(tgt))
        tgt = self.norm1(tgt + self.dropout1(tgt2))

        num_queries, bs, d = tgt.shape
        hw = memory.shape[0]
        h = self.nhead
        q_content = self.ca_qcontent_proj(tgt)
        k_content = self.ca_kcontent_proj(memory)
        v = self.ca_v_proj(memory)
        k_pos = self.ca_kpos_proj(pos)
        if self.ca_qpos_proj is not None:
            q = q_content + self.ca_qpos_proj(query_pos)
            k = k_content + k_pos
        else:
            q, k = q_content, k_content
        q = q.view(num_queries, bs, h, d // h)
        sine = self.ca_qpos_sine_proj(query_sine).view(num_queries, bs, h, d // h)
        q = torch.cat([q, sine], dim=3).view(num_queries, bs, d * 2)
        k = torch.cat([k.view(hw, bs, h, d // h), k_pos.view(hw, bs, h, d // h)], dim=3).view(hw, bs, d * 2)
        tgt2 = self.cross_attn(q, k, v, key_padding_mask=memory_pad)
        tgt = self.norm2(tgt + self.dropout2(tgt2))
        tgt2 = self.linear2(self.dropout(self.activation(self.linear1(tgt))))
        return self.norm3(tgt + self.dropout3(tgt2))


class AnchorDecoder(nn.Module):
    """Decoder that refines (cx, w) anchors layer by layer (DAB-DETR style).

    Per layer: sine = anchor_sine(ref) (hidden/2 freqs per coordinate); query_pos = ref_point_head(sine);
    sine *= query_scale(out) except in layer 0; sine *= sigmoid(ref_anchor_head(out)) / ref_w;
    after the layer, ref = sigmoid(bbox_embed(out) + inverse_sigmoid(ref)), detached for the next layer.
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int, dropout: float, num_layers: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            DecoderLayer(d_model, nhead, dim_feedforward, dropout, is_first=i == 0) for i in range(num_layers)
        )
        self.num_layers = num_layers
        self.norm = nn.LayerNorm(d_model)
        self.query_scale = MLP(d_model, d_model, d_model, 2)
        self.ref_point_head = MLP(d_model, d_model, d_model, 2)
        self.bbox_embed = MLP(d_model, d_model, 2, 3)
        nn.init.constant_(self.bbox_embed.layers[-1].weight, 0.0)
        nn.init.constant_(self.bbox_embed.layers[-1].bias, 0.0)
        self.ref_anchor_head = MLP(d_model, d_model, 1, 2)
        self.d_model = d_model

    def forward(
        self, tgt: Tensor, memory: Tensor, memory_pad: Tensor, pos: Tensor, anchors_unsigmoid: Tensor
    ) -> tuple[Tensor, Tensor]:
        """Decode.

        Args:
            tgt: float (Q, B, d) zeros.
            memory, memory_pad, pos: as DecoderLayer.
            anchors_unsigmoid: float (Q, B, 2) learned anchors before the sigmoid.

        Returns:
            (hs float (layers, B, Q, d) normed outputs, refs float (layers, B, Q, 2) the anchor each layer's
            output is relative to: [initial, after layer 0, ..., after layer n-2]).
        """
        output = tgt
        intermediate = []
        reference = anchors_unsigmoid.sigmoid()
        refs = [reference]
        for layer_id, layer in enumerate(self.layers):
            sine = anchor_sine_encoding(reference, self.d_model // 2)
            query_pos = self.ref_point_head(sine)
            if layer_id > 0:
                sine = sine * self.query_scale(output)
            sine = sine * (self.ref_anchor_head(output).sigmoid()[..., 0] / reference[..., 1]).unsqueeze(-1)
            output = layer(output, memory, memory_pad, pos, query_pos, sine)
            tmp = self.bbox_embed(output)
            new_reference = (tmp[..., :2] + inverse_sigmoid(reference)).sigmoid()
            if layer_id != self.num_layers - 1:
                refs.append(new_reference)
            reference = new_reference.detach()
            intermediate.append(self.norm(output))
        return torch.stack(intermediate).transpose(1, 2), torch.stack(refs).transpose(1, 2)
