"""Multi-head attention without input projections (Conditional/DAB-DETR's): the caller projects
queries, keys and values itself, and the query/key width may differ from the value width."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class ProjectionFreeAttention(nn.Module):
    """Scaled dot-product attention over heads, then an output projection.

    Queries/keys have `embed_dim` channels (head size embed_dim / num_heads, which also sets the
    scale), values `value_dim` (head size value_dim / num_heads). Parameter names: out_proj.weight /
    out_proj.bias (value_dim x value_dim).
    """

    def __init__(self, embed_dim: int, num_heads: int, value_dim: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.embed_dim = embed_dim
        self.num_heads = num_heads
        self.value_dim = value_dim
        self.dropout = dropout
        self.out_proj = nn.Linear(value_dim, value_dim)

    def forward(
        self, query: Tensor, key: Tensor, value: Tensor, key_padding_mask: Tensor | None = None
    ) -> Tensor:
        """Attend.

        Args:
            query: float (Lq, B, embed_dim).
            key: float (Lk, B, embed_dim).
            value: float (Lk, B, value_dim).
            key_padding_mask: bool (B, Lk), True = padding (never attended), or None.

        Returns:
            float (Lq, B, value_dim).
        """
        tgt_len, bsz, _ = query.shape
        heads = self.num_heads
        head_dim = self.embed_dim // heads
        q = query * float(head_dim) ** -0.5
        q = q.contiguous().view(tgt_len, bsz * heads, head_dim).transpose(0, 1)
        k = key.contiguous().view(-1, bsz * heads, head_dim).transpose(0, 1)
        v = value.contiguous().view(-1, bsz * heads, self.value_dim // heads).transpose(0, 1)
        src_len = k.size(1)
        weights = torch.bmm(q, k.transpose(1, 2))  # (B*h, Lq, Lk)
        if key_padding_mask is not None:
            weights = weights.view(bsz, heads, tgt_len, src_len)
            weights = weights.masked_fill(key_padding_mask[:, None, None, :], float("-inf"))
            weights = weights.view(bsz * heads, tgt_len, src_len)
        weights = F.softmax(weights - weights.max(dim=-1, keepdim=True)[0], dim=-1)
        weights = F.dropout(weights, p=self.dropout, training=self.training)
        out = torch.bmm(weights, v).transpose(0, 1).contiguous().view(tgt_len, bsz, self.value_dim)
        return self.out_proj(out)
