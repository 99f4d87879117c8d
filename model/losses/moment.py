"""Moment-retrieval losses on matched predictions: span L1, gIoU, fg/bg cross-entropy."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from model.spans import generalized_temporal_iou, span_cxw_to_xx


def matched_index(indices: list[tuple[Tensor, Tensor]]) -> tuple[Tensor, Tensor]:
    """Flatten matcher output into (batch_index, query_index), each int64 (K,)."""
    batch = torch.cat([torch.full_like(pred, b) for b, (pred, _) in enumerate(indices)])
    query = torch.cat([pred for pred, _ in indices])
    return batch, query


def matched_targets(target_spans: list[Tensor], indices: list[tuple[Tensor, Tensor]]) -> Tensor:
    """Ground-truth spans in matcher order: float (K, 2) (centre, width)."""
    parts = [spans[tgt.to(spans.device)] for spans, (_, tgt) in zip(target_spans, indices)]
    return torch.cat(parts) if parts else torch.empty(0, 2)


def span_losses(pred_spans: Tensor, target_spans: Tensor) -> tuple[Tensor, Tensor]:
    """Mean L1 over (centre, width) and mean (1 - gIoU) of matched span pairs.

    Args:
        pred_spans: float (K, 2) normalised (centre, width).
        target_spans: float (K, 2) normalised (centre, width).

    Returns:
        (l1, giou) scalars; zeros (still attached to the graph) when K == 0.

    >>> l1, giou = span_losses(torch.tensor([[0.5, 0.2]]), torch.tensor([[0.5, 0.2]]))
    >>> float(l1), float(giou)
    (0.0, 0.0)
    """
    if pred_spans.numel() == 0:
        zero = pred_spans.sum() * 0.0
        return zero, zero
    l1 = F.l1_loss(pred_spans, target_spans)
    giou = generalized_temporal_iou(span_cxw_to_xx(pred_spans), span_cxw_to_xx(target_spans))
    return l1, (1.0 - torch.diag(giou)).mean()


def label_loss(pred_logits: Tensor, matched: Tensor, eos_coef: float) -> Tensor:
    """Foreground/background cross-entropy, background class down-weighted by eos_coef.

    As in the release, the weighted per-query losses are averaged over all B*Q queries
    (not normalised by the sum of weights).

    Args:
        pred_logits: float (B, Q, 2), index 0 = foreground, 1 = background.
        matched: bool (B, Q), True where the query was matched to a ground-truth moment.
        eos_coef: weight of the background class.

    Returns:
        scalar.
    """
    target = torch.where(matched, 0, 1)  # (B, Q)
    weight = pred_logits.new_tensor([1.0, eos_coef])
    loss = F.cross_entropy(pred_logits.transpose(1, 2), target, weight=weight, reduction="none")
    return loss.mean()
