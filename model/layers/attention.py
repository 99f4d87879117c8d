"""Multi-head attention on already-projected queries, keys and values."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor


def multihead_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    num_heads: int,
    key_padding_mask: Tensor | None = None,
    dropout: float = 0.0,
) -> Tensor:
    """Scaled dot-product attention split into heads, without input/output projections.

    Queries and keys may be wider than values (conditional attention concatenates content and
    position per head); scores are scaled by 1/sqrt(query width per head).

    Args:
        query: float (B, Lq, H * Dq).
        key: float (B, Lk, H * Dq).
        value: float (B, Lk, H * Dv).
        num_heads: H.
        key_padding_mask: bool (B, Lk), True = padded key (ignored).
        dropout: dropout on attention weights (pass 0.0 in eval mode).

    Returns:
        float (B, Lq, H * Dv).
    """
    batch, len_q, _ = query.shape
    len_k = key.shape[1]
    q = query.view(batch, len_q, num_heads, -1).transpose(1, 2)  # (B, H, Lq, Dq)
    k = key.view(batch, len_k, num_heads, -1).transpose(1, 2)  # (B, H, Lk, Dq)
    v = value.view(batch, len_k, num_heads, -1).transpose(1, 2)  # (B, H, Lk, Dv)
    attn_mask = None
    if key_padding_mask is not None:
        attn_mask = ~key_padding_mask[:, None, None, :]  # (B, 1, 1, Lk), True = attend
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, dropout_p=dropout)
    return out.transpose(1, 2).reshape(batch, len_q, -1)  # (B, Lq, H * Dv)
