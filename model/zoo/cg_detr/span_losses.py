"""Span and foreground losses of the Moment-DETR lineage on matched queries."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from model.spans import generalized_temporal_iou, span_cxw_to_xx

FOREGROUND, BACKGROUND = 0, 1


def matched_index(indices: Sequence[tuple[Tensor, Tensor]]) -> tuple[Tensor, Tensor]:
    """(batch index, query index) of every matched prediction."""
    batch_idx = torch.cat([torch.full_like(src, i) for i, (src, _) in enumerate(indices)])
    return batch_idx, torch.cat([src for src, _ in indices])


def span_losses(
    pred_spans: Tensor, span_labels: Sequence[Mapping[str, Tensor]], indices: Sequence[tuple[Tensor, Tensor]]
) -> dict[str, Tensor]:
    """loss_span = mean L1 of matched (centre, width); loss_giou = mean (1 - gIoU) (release loss_spans).

    Args:
        pred_spans: (B, Q, 2); span_labels: per video {"spans": (n_i, 2)}; indices: matcher output.
    """
    src = pred_spans[matched_index(indices)]
    tgt = torch.cat([t["spans"][j] for t, (_, j) in zip(span_labels, indices)], dim=0)
    loss_span = F.l1_loss(src, tgt, reduction="none")
    loss_giou = 1 - torch.diag(generalized_temporal_iou(span_cxw_to_xx(src), span_cxw_to_xx(tgt)))
    return {"loss_span": loss_span.mean(), "loss_giou": loss_giou.mean()}


def label_losses(
    pred_logits: Tensor, indices: Sequence[tuple[Tensor, Tensor]], eos_coef: float
) -> dict[str, Tensor]:
    """loss_label: CE (weights [1, eos_coef]) of matched = foreground, others = background, then a plain
    mean over B*Q (not the weighted mean); class_error: 100 - top-1 accuracy of the matched (logged only).

    Args:
        pred_logits: (B, Q, 2) with index 0 = foreground.
    """
    idx = matched_index(indices)
    target = torch.full(pred_logits.shape[:2], BACKGROUND, dtype=torch.int64, device=pred_logits.device)
    target[idx] = FOREGROUND
    weight = torch.tensor([1.0, eos_coef], dtype=pred_logits.dtype, device=pred_logits.device)
    loss_ce = F.cross_entropy(pred_logits.transpose(1, 2), target, weight, reduction="none")
    matched = pred_logits[idx]
    if len(matched):
        correct = (matched.argmax(-1) == FOREGROUND).float().sum() * (100.0 / len(matched))
    else:
        correct = torch.zeros((), device=pred_logits.device)
    return {"loss_label": loss_ce.mean(), "class_error": 100 - correct}
