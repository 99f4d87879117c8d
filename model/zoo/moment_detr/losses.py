"""Moment-DETR's loss terms (moment_detr/model.py: SetCriterion.loss_*), as plain functions."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from model.spans import generalized_temporal_iou, span_cxw_to_xx

FOREGROUND, BACKGROUND = 0, 1


def matched_index(indices: list[tuple[Tensor, Tensor]]) -> tuple[Tensor, Tensor]:
    """(batch index, query index) of every matched prediction, video by video."""
    batch_idx = torch.cat([torch.full_like(src, i) for i, (src, _) in enumerate(indices)])
    src_idx = torch.cat([src for src, _ in indices])
    return batch_idx, src_idx


def span_losses(pred_spans: Tensor, tgt_spans: list[Tensor], indices: list[tuple[Tensor, Tensor]]) -> dict[str, Tensor]:
    """loss_span = mean |pred - target| over matched spans x (centre, width); loss_giou = mean(1 - gIoU).

    Args:
        pred_spans: (B, Q, 2) normalised (centre, width).
        tgt_spans: B tensors (n_b, 2) normalised (centre, width).
        indices: the matcher's (query indices, target indices) per video.
    """
    src = pred_spans[matched_index(indices)]  # (M, 2)
    tgt = torch.cat([t[j] for t, (_, j) in zip(tgt_spans, indices)], dim=0)  # (M, 2)
    loss_span = F.l1_loss(src, tgt, reduction="none")
    loss_giou = 1 - torch.diag(generalized_temporal_iou(span_cxw_to_xx(src), span_cxw_to_xx(tgt)))
    return {"loss_span": loss_span.mean(), "loss_giou": loss_giou.mean()}


def label_loss(
    pred_logits: Tensor, indices: list[tuple[Tensor, Tensor]], class_weight: Tensor, weighted_mean: bool
) -> dict[str, Tensor]:
    """Foreground (matched) / background (unmatched) cross-entropy and the logged class_error.

    Args:
        pred_logits: (B, Q, 2), index 0 = foreground.
        indices: the matcher's output.
        class_weight: (2,) = [1, eos_coef].
        weighted_mean: False (release): sum of w[y]*CE / (B*Q); True: / sum of w[y].

    Returns:
        loss_label, and class_error = 100 - % of matched queries whose argmax is foreground.
    """
    idx = matched_index(indices)
    target = torch.full(pred_logits.shape[:2], BACKGROUND, dtype=torch.int64, device=pred_logits.device)
    target[idx] = FOREGROUND
    ce = F.cross_entropy(pred_logits.transpose(1, 2), target, class_weight, reduction="none")  # (B, Q)
    loss = ce.sum() / class_weight[target].sum() if weighted_mean else ce.mean()
    matched = pred_logits[idx]  # (M, 2)
    with torch.no_grad():
        if len(matched):
            accuracy = (matched.topk(1, 1, True, True)[1].t() == FOREGROUND).view(-1).float().sum(0)
            accuracy = accuracy * (100.0 / matched.shape[0])
        else:
            accuracy = torch.zeros([], device=pred_logits.device)
    return {"loss_label": loss, "class_error": 100 - accuracy}


def saliency_loss(saliency: Tensor, pos_labels: Tensor, neg_labels: Tensor, margin: float) -> Tensor:
    """Pairwise hinge: sum(max(0, margin + s[neg] - s[pos])) / (B * num_pairs) * 2.

    Args:
        saliency: (B, L) clip scores.
        pos_labels, neg_labels: int64 (B, num_pairs) clip indices.
    """
    num_pairs = pos_labels.shape[1]
    rows = torch.arange(len(saliency), device=saliency.device)
    pos = torch.stack([saliency[rows, pos_labels[:, c]] for c in range(num_pairs)], dim=1)
    neg = torch.stack([saliency[rows, neg_labels[:, c]] for c in range(num_pairs)], dim=1)
    return torch.clamp(margin + neg - pos, min=0).sum() / (len(pos) * num_pairs) * 2
