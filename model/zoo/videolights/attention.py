"""Multi-head attention without input projections (the DAB/conditional-DETR `attention.MultiheadAttention`).

Queries/keys/values arrive already projected; only `out_proj` (vdim -> vdim) has weights. The query/key
width (embed_dim) may differ from the value width (vdim): the decoder's cross-attention concatenates
content and position halves per head (embed_dim = 2d, vdim = d).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class ProjectedMultiheadAttention(nn.Module):
    """softmax(q k^T * (embed_dim/h)^-0.5) v per head, then out_proj; sequence-first tensors.

    `dropout` is a float attribute (attention-weight dropout), as in the release.
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, vdim: int | None = None) -> None:
        super().__init__()
        self.embed_dim = embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self.num_heads = num_heads
        self.dropout = dropout
        self.head_dim = embed_dim // num_heads
        if self.head_dim * num_heads != embed_dim:
            raise ValueError(f"embed_dim={embed_dim} must be divisible by num_heads={num_heads}")
        self.out_proj = nn.Linear(self.vdim, self.vdim)
        nn.init.constant_(self.out_proj.bias, 0.0)

    def forward(self, query: Tensor, key: Tensor, value: Tensor, key_padding_mask: Tensor | None = None) -> Tensor:
        """Attention output.

        Args:
            query: float (Lq, B, embed_dim).
            key: float (Lk, B, embed_dim).
            value: float (Lk, B, vdim).
            key_padding_mask: bool (B, Lk), True = ignore the key.

        Returns:
            float (Lq, B, vdim).
        """
        tgt_len, bsz, _ = query.shape
        src_len = key.shape[0]
        h = self.num_heads
        v_head = self.vdim // h
        q = query * float(self.head_dim) ** -0.5
        q = q.contiguous().view(tgt_len, bsz * h, self.head_dim).transpose(0, 1)
        k = key.contiguous().view(src_len, bsz * h, self.head_dim).transpose(0, 1)
        v = value.contiguous().view(src_len, bsz * h, v_head).transpose(0, 1)
        weights = torch.bmm(q, k.transpose(1, 2))  # (B*h, Lq, Lk)
        if key_padding_mask is not None:
            weights = weights.view(bsz, h, tgt_len, src_len)
            weights = weights.masked_fill(key_padding_mask.unsqueeze(1).unsqueeze(2), float("-inf"))
            weights = weights.view(bsz * h, tgt_len, src_len)
        weights = F.softmax(weights - weights.max(dim=-1, keepdim=True)[0], dim=-1)
        weights = F.dropout(weights, p=self.dropout, training=self.training)
        out = torch.bmm(weights, v).transpose(0, 1).contiguous().view(tgt_len, bsz, self.vdim)
        return self.out_proj(out)
