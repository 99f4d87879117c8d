"""Loss terms of the lineage's SetCriterion (Moment-DETR model.py loss_spans / loss_labels /
loss_saliency; QD-DETR model.py adds the rank-contrastive and negative-pair saliency terms).

Indices are the matcher's output: per video (query indices, target indices).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from model.spans import generalized_temporal_iou, span_cxw_to_xx
from model.zoo.common.matcher import BACKGROUND, FOREGROUND

Indices = list[tuple[Tensor, Tensor]]


def matched_index(indices: Indices) -> tuple[Tensor, Tensor]:
    """(batch index, query index) of every matched prediction, video by video."""
    batch = torch.cat([torch.full_like(src, i) for i, (src, _) in enumerate(indices)])
    return batch, torch.cat([src for src, _ in indices])


def span_losses(pred_spans: Tensor, tgt_spans: list[Tensor], indices: Indices) -> dict[str, Tensor]:
    """loss_span = mean |pred - target| over matched spans x (centre, width); loss_giou = mean(1 - gIoU).

    Args:
        pred_spans: float (B, Q, 2) normalised (centre, width).
        tgt_spans: B float (n_b, 2) normalised (centre, width).
        indices: the matcher's output.
    """
    src = pred_spans[matched_index(indices)]  # (M, 2)
    tgt = torch.cat([t[j] for t, (_, j) in zip(tgt_spans, indices)], dim=0)  # (M, 2)
    loss_span = F.l1_loss(src, tgt, reduction="none")
    loss_giou = 1 - torch.diag(generalized_temporal_iou(span_cxw_to_xx(src), span_cxw_to_xx(tgt)))
    return {"loss_span": loss_span.mean(), "loss_giou": loss_giou.mean()}


def label_losses(
    pred_logits: Tensor, indices: Indices, class_weight: Tensor, weighted_mean: bool = False
) -> dict[str, Tensor]:
    """Foreground (matched) / background (unmatched) cross-entropy and the logged class_error.

    Release (Moment-DETR model.py:226-231, copied by every descendant): F.cross_entropy with class
    weights [1, eos_coef] and reduction none, then a plain .mean() over B*Q, i.e. NOT divided by the
    sum of the weights.

    Args:
        pred_logits: float (B, Q, 2), index 0 = foreground.
        indices: the matcher's output.
        class_weight: float (2,) = [1, eos_coef].
        weighted_mean: divide by the sum of the weights instead (F.cross_entropy's / DETR's weighted
            mean; Moment-DETR's `weighted_label_mean` correction).

    Returns:
        loss_label, and class_error = 100 - % of matched queries whose arg-max is foreground
        (0-dim; 100 when nothing is matched, where the release divides by zero).
    """
    idx = matched_index(indices)
    target = torch.full(pred_logits.shape[:2], BACKGROUND, dtype=torch.int64, device=pred_logits.device)
    target[idx] = FOREGROUND
    ce = F.cross_entropy(pred_logits.transpose(1, 2), target, class_weight, reduction="none")  # (B, Q)
    loss = ce.sum() / class_weight[target].sum() if weighted_mean else ce.mean()
    matched = pred_logits[idx].detach()  # (M, 2)
    if len(matched):
        accuracy = (matched.argmax(-1) == FOREGROUND).float().sum() * (100.0 / len(matched))
    else:
        accuracy = matched.new_zeros(())
    return {"loss_label": loss, "class_error": 100 - accuracy}


def saliency_hinge(scores: Tensor, pos: Tensor, neg: Tensor, margin: float) -> Tensor:
    """Moment-DETR's pairwise hinge: sum(clamp(margin + s[neg] - s[pos], 0)) / (B * pairs) * 2.

    Args:
        scores: float (B, L) clip saliency.
        pos, neg: int64 (B, pairs) clip indices.
    """
    rows = torch.arange(len(scores), device=scores.device)[:, None]
    return torch.clamp(margin + scores[rows, neg] - scores[rows, pos], min=0).sum() / neg.numel() * 2


def rank_contrastive(
    scores: Tensor, scores_neg: Tensor | None, labels: Tensor, mask: Tensor, divisor: float = 12.0,
    tau: float = 0.5,
) -> Tensor:  # fmt: skip
    """QD-DETR's rank-contrastive saliency loss over [positive-query | negative-query] clips.

    For each threshold t = 1..11 with any clip labelled >= t in the batch: a supervised-contrastive
    log-softmax over the 2L clips (temperature tau, padding scored -1e3), averaged over the clips
    >= t; videos without one contribute 0 to the batch mean. The sum over thresholds is divided
    by `divisor`: 12 in the release (QD-DETR model.py loss_saliency; an off-by-one of the 11
    thresholds, QD-DETR's `rank_contrastive_mean` correction uses 11).

    Args:
        scores, scores_neg: float (B, L) saliency with the video's own / the rolled query;
            scores_neg None: over the L clips of `scores` only (TR-DETR, CG-DETR's same-video rows;
            any shape whose dim 1 is the clip axis).
        labels: float (B, L) summed annotator scores (0..12), 0 at padding.
        mask: float (B, L), 1 = valid clip.

    Returns:
        0-dim.
    """
    if scores_neg is not None:
        scores = torch.cat([scores, scores_neg], dim=1)
        labels = torch.cat([labels, torch.zeros_like(labels)], dim=1)
        mask = mask.repeat(1, 2)
    scores = mask * scores + (1.0 - mask) * -1e3
    keep = ~(labels > 100)  # the release's "drop higher ranks" mask; never active for labels <= 12
    total = scores.new_zeros(())
    for threshold in range(1, 12):
        pos = labels >= threshold
        if torch.sum(pos) == 0:
            continue
        has_pos = torch.sum(pos, dim=1) > 0
        current = scores * keep / tau + ~keep * -1e3
        logits = current - torch.max(current, dim=1, keepdim=True)[0]
        log_prob = logits - torch.log(torch.exp(logits).sum(1, keepdim=True) + 1e-6)
        mean_log_prob_pos = (pos * log_prob * mask).sum(1) / (pos.sum(1) + 1e-6)
        total = total + (-mean_log_prob_pos * has_pos).mean()
    return total / divisor


def negative_pair(scores_neg: Tensor, mask: Tensor, probabilities: bool = False) -> Tensor:
    """Mean over videos of the sum over valid clips of -log(1 - sigmoid(s_neg)): (B, L), (B, L) -> ().
    probabilities: scores_neg are already probabilities (no sigmoid; CG-DETR's attention branch)."""
    prob = scores_neg if probabilities else torch.sigmoid(scores_neg)
    return (-torch.log(1.0 - prob) * mask).sum(dim=1).mean()


def query_dependent_saliency_loss(
    scores: Tensor, scores_neg: Tensor, mask: Tensor, all_labels: Tensor, pos_labels: Tensor, neg_labels: Tensor,
    margin: float, rank_divisor: float = 12.0,
) -> Tensor:  # fmt: skip
    """QD-DETR's loss_saliency = hinge + rank-contrastive + negative-pair (shapes as the three terms)."""
    hinge = saliency_hinge(scores, pos_labels, neg_labels, margin)
    rank = rank_contrastive(scores, scores_neg, all_labels, mask, rank_divisor)
    return hinge + rank + negative_pair(scores_neg, mask)
