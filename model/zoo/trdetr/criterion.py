"""TR-DETR's training objective: SetCriterion (model.py) plus the VTC / CTC regulators that the
release's training step adds (train.py:68-83)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor

from model.zoo.common.criterion import SetCriterion
from model.zoo.common.losses import span_losses
from model.zoo.trdetr.config import TRDETRConfig
from model.zoo.trdetr.losses import ctc_loss, label_losses, saliency_loss, vtc_loss


def relevant_clip_mask(targets: Mapping[str, Any], video_mask: Tensor) -> Tensor:
    """The release dataset's `pos_mask` (src_pos_mask): float (B, L), 1 = relevant clip.

    Taken from targets["src_pos_mask"] when present. Otherwise derived from saliency_all_labels as
    the release's dataset derives it (start_end_dataset.py): with moment labels (QVHighlights) the
    relevant clips are those with a saliency label, i.e. label > 0 (a relevant clip whose three
    annotator scores are all 0 cannot be told apart here); without (TVSum) the top
    n - n // 2 valid clips by score (np.argsort(scores)[n // 2:]; ties are broken by position).
    """
    if "src_pos_mask" in targets:
        return targets["src_pos_mask"].to(video_mask.dtype)
    labels = targets["saliency_all_labels"]
    if "span_labels" in targets:
        return (labels > 0).to(video_mask.dtype)
    mask = torch.zeros_like(video_mask)
    for i, n in enumerate(video_mask.sum(1).long().tolist()):
        order = torch.argsort(labels[i, :n], stable=True)
        mask[i, order[n // 2 :]] = 1
    return mask


class TRDETRCriterion(SetCriterion):
    """criterion(outputs, targets) -> every release loss term, VTC_loss, CTC_loss and "total".

    The matching, aux layers and weight_dict are the lineage's SetCriterion; the label loss is
    TR-DETR's focal loss. total = sum(weight * term over weight_dict) + vtc_weight * VTC +
    ctc_weight * CTC, the scalar the release's train_epoch backpropagates. Without "span_labels"
    (TVSum, where the release builds its criterion with use_matcher=False) only loss_saliency is
    computed, and the total is saliency + VTC + CTC, as there. "epoch" is accepted and unused.
    """

    def __init__(self, cfg: TRDETRConfig) -> None:
        super().__init__(cfg)
        self.cfg = cfg

    def moment_losses(
        self, outputs: Mapping[str, Any], tgt_spans: list[Tensor], targets: Mapping[str, Any] | None = None
    ) -> dict[str, Tensor]:
        """Match one layer, then loss_span, loss_giou, and the focal loss_label with class_error."""
        indices = self.matcher(outputs["pred_logits"], outputs["pred_spans"], tgt_spans)
        return {**span_losses(outputs["pred_spans"], tgt_spans, indices), **label_losses(outputs["pred_logits"], indices)}

    def saliency_loss(self, outputs: Mapping[str, Any], targets: Mapping[str, Any]) -> Tensor:
        """Hinge + rank-contrastive over the video's own clips (final layer)."""
        return saliency_loss(
            outputs["saliency_scores"], outputs["video_mask"], targets["saliency_all_labels"],
            targets["saliency_pos_labels"], targets["saliency_neg_labels"], self.cfg.saliency_margin,
            rank_divisor=11.0 if self.cfg.corrects("rank_contrastive_divisor") else 12.0,
        )  # fmt: skip

    def forward(self, outputs: Mapping[str, Any], targets: Mapping[str, Any]) -> dict[str, Tensor]:
        """The SetCriterion terms, then VTC_loss, CTC_loss and the total with both regulators.

        targets: span_labels (list of {"spans": (n, 2) cx/w}; absent for highlight-only data),
        saliency_pos_labels / saliency_neg_labels int64 (B, k), saliency_all_labels float (B, L);
        optionally src_pos_mask float (B, L).
        """
        cfg = self.cfg
        losses = super().forward(outputs, targets)
        weighted = losses.pop("total")
        video_mask = outputs["video_mask"]
        losses["VTC_loss"] = vtc_loss(outputs["src_txt_cls_ed"], outputs["src_vid_cls_ed"], cfg.temperature)
        losses["CTC_loss"] = ctc_loss(
            outputs["src_vid_ed"], outputs["src_txt_ed"], relevant_clip_mask(targets, video_mask), video_mask,
            outputs["src_txt_mask"], cfg.temperature, valid_clips_only=cfg.corrects("ctc_valid_clips"),
        )  # fmt: skip
        losses["total"] = weighted + cfg.vtc_weight * losses["VTC_loss"] + cfg.ctc_weight * losses["CTC_loss"]
        return losses
