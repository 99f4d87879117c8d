"""QD-DETR's losses (release `model.py` SetCriterion): matched span L1/gIoU and foreground
classification on every decoder layer, saliency (hinge + rank-contrastive + negative-pair) on the
last layer only."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from model.spans import generalized_temporal_iou, span_cxw_to_xx
from model.zoo.qd_detr.config import RANK_CONTRASTIVE_MEAN, QDDETRConfig
from model.zoo.qd_detr.matcher import FOREGROUND, HungarianMatcher

BACKGROUND = 1
Indices = list[tuple[Tensor, Tensor]]


def _matched(indices: Indices) -> tuple[Tensor, Tensor]:
    """(batch index, query index) of every matched prediction."""
    batch = torch.cat([torch.full_like(src, i) for i, (src, _) in enumerate(indices)])
    return batch, torch.cat([src for src, _ in indices])


def span_losses(
    pred_spans: Tensor, span_labels: Sequence[Mapping[str, Any]], indices: Indices
) -> dict[str, Tensor]:
    """loss_span = mean |pred - target| over matched spans x 2 coordinates; loss_giou = mean(1 - gIoU).

    pred_spans (B, Q, 2) and targets in normalised (centre, width).
    """
    src = pred_spans[_matched(indices)]
    tgt = torch.cat([t["spans"][j] for t, (_, j) in zip(span_labels, indices)], dim=0)
    loss_span = F.l1_loss(src, tgt, reduction="none")
    loss_giou = 1 - torch.diag(generalized_temporal_iou(span_cxw_to_xx(src), span_cxw_to_xx(tgt)))
    return {"loss_span": loss_span.mean(), "loss_giou": loss_giou.mean()}


def label_losses(pred_logits: Tensor, indices: Indices, class_weight: Tensor) -> dict[str, Tensor]:
    """Foreground/background cross-entropy with class weights [1, eos_coef], reduction none then a
    PLAIN mean over B*Q (not divided by the weight sum, as the release); class_error = 100 -
    top-1 accuracy of the matched queries (logged, weight 0)."""
    idx = _matched(indices)
    target = torch.full(pred_logits.shape[:2], BACKGROUND, dtype=torch.int64, device=pred_logits.device)
    target[idx] = FOREGROUND
    loss = F.cross_entropy(pred_logits.transpose(1, 2), target, class_weight, reduction="none")
    matched = pred_logits[idx].detach()
    if len(matched):
        accuracy = (matched.argmax(-1) == FOREGROUND).float().sum() * (100.0 / len(matched))
    else:
        accuracy = matched.new_zeros(())  # the release divides by zero items here
    return {"loss_label": loss.mean(), "class_error": 100 - accuracy}


def saliency_hinge(scores: Tensor, pos: Tensor, neg: Tensor, margin: float) -> Tensor:
    """sum(clamp(margin + s[neg] - s[pos], 0)) / (B * pairs) * 2 (Moment-DETR's pairwise hinge).

    scores (B, L); pos, neg int64 (B, pairs) clip indices.
    """
    rows = torch.arange(len(scores), device=scores.device)[:, None]
    return torch.clamp(margin + scores[rows, neg] - scores[rows, pos], min=0).sum() / neg.numel() * 2


def rank_contrastive(
    scores: Tensor, scores_neg: Tensor, labels: Tensor, mask: Tensor, divisor: float, tau: float = 0.5
) -> Tensor:
    """QD-DETR's rank-contrastive saliency loss over [positive-query | negative-query] clips.

    For each threshold t = 1..11 with any clip scoring >= t in the batch: a supervised-contrastive
    log-softmax over the 2L clips (temperature tau), averaged over the clips >= t; videos without
    one contribute 0 to the batch mean. The sum over thresholds is divided by `divisor` (12 in
    the release).

    Args:
        scores, scores_neg: (B, L) saliency with the video's own / the rolled query.
        labels: float (B, L) summed annotator scores (0..12), 0 at padding.
        mask: float (B, L), 1 = valid clip.
    """
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


def negative_pair(scores_neg: Tensor, mask: Tensor) -> Tensor:
    """mean over videos of sum over valid clips of -log(1 - sigmoid(s_neg)): (B, L), (B, L) -> ()."""
    return (-torch.log(1.0 - torch.sigmoid(scores_neg)) * mask).sum(dim=1).mean()


class QDDETRCriterion(nn.Module):
    """criterion(outputs, targets) -> every release loss term, class_error, and "total".

    targets: span_labels (list of {"spans": (n, 2) centre/width}), saliency_pos_labels /
    saliency_neg_labels int64 (B, k), saliency_all_labels float (B, L) (0 at padding); "epoch" is
    accepted and ignored (the release's criterion has no epoch). Without "span_labels" (TVSum,
    where the release builds the criterion with use_matcher=False) only loss_saliency is returned.
    """

    def __init__(self, cfg: QDDETRConfig) -> None:
        super().__init__()
        self.matcher = HungarianMatcher(cfg.match_cost_span, cfg.match_cost_giou, cfg.match_cost_class)
        self.saliency_margin = cfg.saliency_margin
        self.rank_divisor = 11.0 if cfg.corrects(RANK_CONTRASTIVE_MEAN) else 12.0
        self.register_buffer("empty_weight", torch.tensor([1.0, cfg.eos_coef]))
        base = {
            "loss_span": cfg.span_l1_weight,
            "loss_giou": cfg.span_giou_weight,
            "loss_label": cfg.label_weight,
            "loss_saliency": cfg.saliency_weight,
        }
        self.weight_dict = dict(base)
        if cfg.aux_loss:
            for i in range(cfg.dec_layers - 1):
                self.weight_dict.update({f"{k}_{i}": v for k, v in base.items() if k != "loss_saliency"})

    def _matching_losses(
        self, outputs: Mapping[str, Any], span_labels: Sequence[Mapping[str, Any]]
    ) -> dict[str, Tensor]:
        indices = self.matcher(outputs, span_labels)
        losses = span_losses(outputs["pred_spans"], span_labels, indices)
        losses.update(label_losses(outputs["pred_logits"], indices, self.empty_weight))
        return losses

    def saliency_loss(self, outputs: Mapping[str, Any], targets: Mapping[str, Any]) -> Tensor:
        """Hinge + rank-contrastive + negative-pair (last layer only)."""
        mask = outputs["video_mask"]
        hinge = saliency_hinge(
            outputs["saliency_scores"], targets["saliency_pos_labels"], targets["saliency_neg_labels"],
            self.saliency_margin,
        )  # fmt: skip
        rank = rank_contrastive(
            outputs["saliency_scores"], outputs["saliency_scores_neg"], targets["saliency_all_labels"], mask,
            self.rank_divisor,
        )  # fmt: skip
        return hinge + rank + negative_pair(outputs["saliency_scores_neg"], mask)

    def forward(self, outputs: Mapping[str, Any], targets: Mapping[str, Any]) -> dict[str, Tensor]:
        """outputs: the model's dict; targets: see the class docstring. Returns the loss dict plus "total"."""
        losses: dict[str, Tensor] = {}
        span_labels = targets.get("span_labels")
        if span_labels is not None:
            losses.update(self._matching_losses(outputs, span_labels))
        if "saliency_pos_labels" in targets:
            losses["loss_saliency"] = self.saliency_loss(outputs, targets)
        else:
            losses["loss_saliency"] = outputs["pred_spans"].new_zeros(())  # the release returns 0
        if span_labels is not None:
            for i, aux in enumerate(outputs.get("aux_outputs", [])):
                losses.update({f"{k}_{i}": v for k, v in self._matching_losses(aux, span_labels).items()})
        losses["total"] = sum(losses[k] * self.weight_dict[k] for k in list(losses) if k in self.weight_dict)
        return losses
