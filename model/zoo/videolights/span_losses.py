"""Moment losses of DETR-style moment retrieval: span L1/gIoU and the foreground/background CE."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from model.spans import generalized_temporal_iou, span_cxw_to_xx
from model.zoo.videolights.matcher import Indices, matched_query_index


def span_losses(pred_spans: Tensor, gt_spans: list[Tensor], indices: Indices) -> dict[str, Tensor]:
    """loss_span = mean |delta(cx, w)| over matched pairs x 2 coordinates; loss_giou = mean(1 - gIoU).

    Args:
        pred_spans: float (B, Q, 2); gt_spans: per video (n_b, 2), both normalised (cx, w).
    """
    idx = matched_query_index(indices)
    src = pred_spans[idx]
    tgt = torch.cat([t[j] for t, (_, j) in zip(gt_spans, indices)], dim=0)
    loss_span = F.l1_loss(src, tgt, reduction="none")
    loss_giou = 1 - torch.diag(generalized_temporal_iou(span_cxw_to_xx(src), span_cxw_to_xx(tgt)))
    return {"loss_span": loss_span.mean(), "loss_giou": loss_giou.mean()}


def label_loss(pred_logits: Tensor, indices: Indices, class_weight: Tensor, weighted_mean: bool) -> dict[str, Tensor]:
    """Foreground (0) for matched queries, background (1) otherwise; class-weighted CE.

    weighted_mean False (release model.py:399-400): reduction none, then a plain mean over B x Q.
    Also returns class_error = 100 - top-1 accuracy (%) of the matched queries (unweighted, logged only).
    """
    idx = matched_query_index(indices)
    target = torch.full(pred_logits.shape[:2], 1, dtype=torch.int64, device=pred_logits.device)
    target[idx] = 0
    if weighted_mean:
        loss = F.cross_entropy(pred_logits.transpose(1, 2), target, class_weight)
    else:
        loss = F.cross_entropy(pred_logits.transpose(1, 2), target, class_weight, reduction="none").mean()
    matched = pred_logits[idx]
    if matched.numel():
        accuracy = (matched.argmax(-1) == 0).float().sum() * (100.0 / matched.shape[0])
    else:
        accuracy = torch.zeros((), device=pred_logits.device)
    return {"loss_label": loss, "class_error": 100 - accuracy}
