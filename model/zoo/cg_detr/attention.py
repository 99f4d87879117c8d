"""Projection-free multi-head attention of the DAB-DETR lineage (release `attention.py`,
`crossattention.py`), with the CG-DETR option of dummy keys that take softmax mass but give no value."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def projection_free_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    num_heads: int,
    out_proj: nn.Linear,
    key_padding_mask: Tensor | None = None,
    attn_mask: Tensor | None = None,
    dropout_p: float = 0.0,
    training: bool = False,
    value_from: int = 0,
) -> tuple[Tensor, Tensor]:
    """Multi-head attention without q/k/v projections (q scaled by head_dim^-0.5), then out_proj.

    Args:
        query: (Lq, B, E); key: (S, B, E); value: (S, B, V) with E, V divisible by num_heads.
        key_padding_mask: bool (B, S), True = ignored key.
        attn_mask: bool (B*num_heads, Lq, S), True = ignored, indexed b*num_heads + h.
        value_from: keys before this index take softmax mass but contribute no value and the
            weights are not renormalised (CG-DETR dummy tokens, `crossattention.py:381-386`).

    Returns:
        (output (Lq, B, V), head-mean attention weights (B, Lq, S), after dropout as the release returns them).
    """
    tgt_len, bsz, embed_dim = query.shape
    src_len = key.shape[0]
    head_dim = embed_dim // num_heads
    v_head_dim = value.shape[2] // num_heads
    q = (query * float(head_dim) ** -0.5).contiguous().view(tgt_len, bsz * num_heads, head_dim).transpose(0, 1)
    k = key.contiguous().view(src_len, bsz * num_heads, head_dim).transpose(0, 1)
    v = value.contiguous().view(src_len, bsz * num_heads, v_head_dim).transpose(0, 1)

    weights = torch.bmm(q, k.transpose(1, 2))  # (B*h, Lq, S)
    if attn_mask is not None:
        weights = weights.masked_fill(attn_mask, float("-inf"))
    if key_padding_mask is not None:
        weights = weights.view(bsz, num_heads, tgt_len, src_len)
        weights = weights.masked_fill(key_padding_mask[:, None, None, :], float("-inf"))
        weights = weights.view(bsz * num_heads, tgt_len, src_len)
    if src_len > 0:
        weights = weights - weights.max(dim=-1, keepdim=True)[0]
    weights = F.softmax(weights, dim=-1)
    weights = F.dropout(weights, p=dropout_p, training=training)

    # With no keys at all (the saliency-token pass) this is zeros and the output is out_proj.bias.
    out = torch.bmm(weights[:, :, value_from:], v[:, value_from:])
    out = out.transpose(0, 1).contiguous().view(tgt_len, bsz, num_heads * v_head_dim)
    out = out_proj(out)
    mean_weights = weights.view(bsz, num_heads, tgt_len, src_len).sum(dim=1) / num_heads
    return out, mean_weights


class ProjectionFreeAttention(nn.Module):
    """Module form of `projection_free_attention`; holds only `out_proj` (Linear(vdim, vdim)).

    Attributes:
        dropout: attention-weight dropout probability (a float, as the release's module keeps it).
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, vdim: int | None = None) -> None:
        super().__init__()
        if embed_dim % num_heads:
            raise ValueError(f"embed_dim={embed_dim} is not divisible by num_heads={num_heads}")
        self.embed_dim = embed_dim
        self.num_heads = num_heads
        self.dropout = dropout
        vdim = embed_dim if vdim is None else vdim
        self.out_proj = nn.Linear(vdim, vdim)

    def forward(
        self,
        query: Tensor,
        key: Tensor,
        value: Tensor,
        key_padding_mask: Tensor | None = None,
        attn_mask: Tensor | None = None,
        value_from: int = 0,
    ) -> tuple[Tensor, Tensor]:
        """See `projection_free_attention`; returns (output (Lq, B, V), mean weights (B, Lq, S))."""
        return projection_free_attention(
            query, key, value, self.num_heads, self.out_proj, key_padding_mask, attn_mask,
            self.dropout, self.training, value_from,
        )
