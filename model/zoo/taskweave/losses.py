"""TaskWeave's loss terms (SetCriterion, model.py:262-397): span L1/gIoU, weighted cross-entropy
labels, and the saliency loss (hinge + rank-contrastive + negative-pair)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from model.spans import generalized_temporal_iou, span_cxw_to_xx

FOREGROUND, BACKGROUND = 0, 1

Indices = list[tuple[Tensor, Tensor]]


def matched_index(indices: Indices) -> tuple[Tensor, Tensor]:
    """(batch index, query index) of every matched prediction, in the matcher's order."""
    batch = torch.cat([torch.full_like(src, i) for i, (src, _) in enumerate(indices)])
    query = torch.cat([src for src, _ in indices])
    return batch, query


def span_losses(pred_spans: Tensor, target_spans: list[Tensor], indices: Indices) -> dict[str, Tensor]:
    """loss_span = mean L1 over matched (centre, width) pairs (both coordinates); loss_giou = mean(1 - gIoU).

    Args: pred_spans float (B, Q, 2); target_spans B float (n_b, 2); indices from the matcher.
    """
    src = pred_spans[matched_index(indices)]
    tgt = torch.cat([t[j] for t, (_, j) in zip(target_spans, indices)], dim=0)
    loss_giou = 1 - torch.diag(generalized_temporal_iou(span_cxw_to_xx(src), span_cxw_to_xx(tgt)))
    return {"loss_span": F.l1_loss(src, tgt, reduction="none").mean(), "loss_giou": loss_giou.mean()}


def label_losses(pred_logits: Tensor, indices: Indices, empty_weight: Tensor) -> dict[str, Tensor]:
    """loss_label: cross-entropy (class weights [1, eos_coef]) of every query against foreground
    (matched) / background, reduction none then `.mean()` over B*Q; class_error: 100 - % of matched
    queries whose arg-max is foreground (logged only).

    Args: pred_logits float (B, Q, 2); indices from the matcher; empty_weight float (2,).
    """
    idx = matched_index(indices)
    target = torch.full(pred_logits.shape[:2], BACKGROUND, dtype=torch.int64, device=pred_logits.device)
    target[idx] = FOREGROUND
    loss = F.cross_entropy(pred_logits.transpose(1, 2), target, empty_weight, reduction="none").mean()
    with torch.no_grad():
        matched = pred_logits[idx]
        accuracy = (matched.argmax(-1) == FOREGROUND).float().sum() * (100.0 / matched.shape[0])
    return {"loss_label": loss, "class_error": 100 - accuracy}


def saliency_loss(
    saliency: Tensor, saliency_neg: Tensor, video_mask: Tensor, all_labels: Tensor, pos_labels: Tensor,
    neg_labels: Tensor, margin: float,
) -> Tensor:
    """loss_saliency (model.py:331-397) = hinge + rank-contrastive + negative-pair.

    - hinge: sum over the (B, k) sampled pairs of max(0, margin + s[neg] - s[pos]) / (B * k) * 2;
    - rank-contrastive over [s, s_neg] with labels [all_labels, 0] (padding scored -1e3): for r = 1..11
      with any label >= r, softmax(s / 0.5) log-likelihood of the clips with label >= r averaged per
      video, times (video has one), mean over all B; the sum divided by 12;
    - negative pair: sum over valid clips of -log(1 - sigmoid(s_neg)), mean over B.

    Args:
        saliency, saliency_neg: float (B, L); video_mask: float (B, L), 1 = valid;
        all_labels: float (B, L) summed annotator scores (0 at padding);
        pos_labels, neg_labels: int64 (B, k) clip indices; margin: hinge margin.
    """
    loss_neg_pair = (-torch.log(1.0 - torch.sigmoid(saliency_neg)) * video_mask).sum(dim=1).mean()

    scores = torch.cat([saliency, saliency_neg], dim=1)
    labels = torch.cat([all_labels, torch.zeros_like(all_labels)], dim=1)
    mask = video_mask.repeat([1, 2])
    scores = mask * scores + (1.0 - mask) * -1e3
    tau = 0.5
    loss_rank = 0.0
    for rank in range(1, 12):
        drop_mask = ~(labels > 100)  # no clip is ever dropped (labels <= 12)
        pos_mask = labels >= rank
        if torch.sum(pos_mask) == 0:
            continue
        has_positive = torch.sum(pos_mask, dim=1) > 0
        cur = scores * drop_mask / tau + ~drop_mask * -1e3
        logits = cur - torch.max(cur, dim=1, keepdim=True)[0]
        log_prob = logits - torch.log(torch.exp(logits).sum(1, keepdim=True) + 1e-6)
        mean_log_prob_pos = (pos_mask * log_prob * mask).sum(1) / (pos_mask.sum(1) + 1e-6)
        loss_rank = loss_rank + (-mean_log_prob_pos * has_positive).mean()
    loss_rank = loss_rank / 12

    batch = torch.arange(len(saliency), device=saliency.device)
    num_pairs = pos_labels.shape[1]
    pos_scores = torch.stack([saliency[batch, pos_labels[:, c]] for c in range(num_pairs)], dim=1)
    neg_scores = torch.stack([saliency[batch, neg_labels[:, c]] for c in range(num_pairs)], dim=1)
    hinge = torch.clamp(margin + neg_scores - pos_scores, min=0).sum() / (len(pos_scores) * num_pairs) * 2
    return hinge + loss_rank + loss_neg_pair
