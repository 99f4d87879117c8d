"""Conditional/DAB-DETR's multi-head attention without input projections (the decoder projects
q, k, v itself; release attention.py MultiheadAttention with its own multi_head_attention_forward)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class ProjectionFreeAttention(nn.Module):
    """Multi-head attention whose query/key width (embed_dim) may differ from the value width (vdim).

    Only the output projection `out_proj` (vdim -> vdim, bias initialised to 0 as the release's
    _reset_parameters) is a parameter. Scores are scaled by (embed_dim / num_heads)^-1/2; the
    softmax subtracts the row maximum first, as the release's copy of torch's attention does.
    In the DAB cross-attention embed_dim = 2d: each head's query/key is [content_h | position_h].

    Attributes:
        dropout: attention-weight dropout probability (a float, so zero_dropout can reset it).
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, vdim: int | None = None) -> None:
        super().__init__()
        self.embed_dim = embed_dim
        self.num_heads = num_heads
        self.vdim = vdim if vdim is not None else embed_dim
        self.dropout = dropout
        self.out_proj = nn.Linear(self.vdim, self.vdim)
        nn.init.constant_(self.out_proj.bias, 0.0)

    def forward(
        self, query: Tensor, key: Tensor, value: Tensor, key_padding_mask: Tensor | None = None,
        attn_mask: Tensor | None = None, value_from: int = 0, need_weights: bool = False,
    ) -> Tensor | tuple[Tensor, Tensor]:  # fmt: skip
        """Sequence-first attention; the head index is batch-major (b * heads + h), as in torch.

        Args:
            query: float (Lq, B, embed_dim).
            key: float (Lk, B, embed_dim).
            value: float (Lk, B, vdim).
            key_padding_mask: bool (B, Lk), True = ignore that key.
            attn_mask: bool (B * heads, Lq, Lk), True = ignore, row b * heads + h (CG-DETR's T2V).
            value_from: keys before this index take softmax mass but give no value, and the weights
                are not renormalised (CG-DETR's dummy tokens, crossattention.py:381-386).
            need_weights: also return the head-mean weights (after dropout, as CG-DETR returns them).

        Returns:
            float (Lq, B, vdim), and with need_weights the weights float (B, Lq, Lk). With no keys
            (Lk = 0) the output is out_proj.bias.
        """
        tgt_len, bsz, _ = query.shape
        heads = self.num_heads
        head_dim = self.embed_dim // heads
        q = (query * float(head_dim) ** -0.5).contiguous().view(tgt_len, bsz * heads, head_dim).transpose(0, 1)
        k = key.contiguous().view(-1, bsz * heads, head_dim).transpose(0, 1)
        v = value.contiguous().view(-1, bsz * heads, self.vdim // heads).transpose(0, 1)
        src_len = k.shape[1]
        weights = torch.bmm(q, k.transpose(1, 2))
        if attn_mask is not None:
            weights = weights.masked_fill(attn_mask, float("-inf"))
        if key_padding_mask is not None:
            weights = weights.view(bsz, heads, tgt_len, src_len)
            weights = weights.masked_fill(key_padding_mask[:, None, None, :], float("-inf"))
            weights = weights.view(bsz * heads, tgt_len, src_len)
        if src_len > 0:
            weights = weights - weights.max(dim=-1, keepdim=True)[0]
        weights = F.dropout(F.softmax(weights, dim=-1), p=self.dropout, training=self.training)
        out = torch.bmm(weights[:, :, value_from:], v[:, value_from:])
        out = self.out_proj(out.transpose(0, 1).contiguous().view(tgt_len, bsz, self.vdim))
        if not need_weights:
            return out
        return out, weights.view(bsz, heads, tgt_len, src_len).sum(dim=1) / heads
