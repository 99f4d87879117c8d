"""Reductions over clips or words that ignore padded positions: softmax, mean, max-pooling."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor


def masked_softmax(scores: Tensor, mask: Tensor, dim: int = -1) -> Tensor:
    """Softmax over the valid positions of `dim`; padded positions get weight 0.

    Args:
        scores: float tensor.
        mask: bool tensor of the same shape (or broadcastable), True = valid. Every slice
            along `dim` needs at least one valid position.
        dim: dimension normalised.

    Returns:
        float tensor, same shape as scores.

    >>> import torch
    >>> masked_softmax(torch.tensor([[0.0, 0.0, 5.0]]), torch.tensor([[True, True, False]]))
    tensor([[0.5000, 0.5000, 0.0000]])
    """
    return scores.masked_fill(~mask, float("-inf")).softmax(dim)


def masked_mean(values: Tensor, mask: Tensor) -> Tensor:
    """Mean over the valid positions of dimension 1.

    Args:
        values: float (B, L, D).
        mask: bool (B, L), True = valid.

    Returns:
        float (B, D).

    >>> import torch
    >>> masked_mean(torch.tensor([[[1.0], [3.0], [100.0]]]), torch.tensor([[True, True, False]]))
    tensor([[2.]])
    """
    weights = mask.to(values.dtype).unsqueeze(-1)  # (B, L, 1)
    return (values * weights).sum(1) / weights.sum(1).clamp(min=1)


def masked_max_pool1d(values: Tensor, mask: Tensor, kernel: int) -> Tensor:
    """Temporal max-pooling (stride 1, same length) that never picks a padded position.

    Windows are centred on each position; positions beyond the sequence ends and padded
    positions are treated as -inf, so a clip sees the same window alone or padded in a batch.

    Args:
        values: float (B, L, D).
        mask: bool (B, L), True = valid.
        kernel: odd window size.

    Returns:
        float (B, L, D), zero at padded positions.

    >>> import torch
    >>> x = torch.tensor([[[1.0], [5.0], [2.0], [9.0]]])
    >>> masked_max_pool1d(x, torch.tensor([[True, True, True, False]]), 3)[0, :, 0]
    tensor([5., 5., 5., 0.])
    """
    padding = ~mask.unsqueeze(-1)  # (B, L, 1)
    filled = values.masked_fill(padding, float("-inf")).transpose(1, 2)  # (B, D, L)
    pooled = F.max_pool1d(filled, kernel, stride=1, padding=kernel // 2)  # (B, D, L)
    return pooled.transpose(1, 2).masked_fill(padding, 0.0)  # (B, L, D)
