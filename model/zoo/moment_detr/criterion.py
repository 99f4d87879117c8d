"""Moment-DETR's training objective (moment_detr/model.py: SetCriterion; train.py:63)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import Tensor

from model.zoo.common.criterion import SetCriterion
from model.zoo.common.losses import saliency_hinge
from model.zoo.moment_detr.config import MomentDETRConfig


class MomentDETRCriterion(SetCriterion):
    """Matching + span/gIoU/label losses on the final and every auxiliary layer, saliency on the final.

    `criterion(outputs, targets)` returns every term the release's criterion returns (loss_span,
    loss_giou, loss_label, class_error, loss_saliency, and loss_span_i, loss_giou_i, loss_label_i,
    class_error_i for aux layer i) plus "total" = sum of weight * term over the weighted terms,
    which is what the release's training step backpropagates.

    Targets: "span_labels" (list of {"spans": (n, 2) normalised centre/width}), and
    "saliency_pos_labels" / "saliency_neg_labels" (int64 (B, k)); other keys (saliency_all_labels,
    epoch) are ignored: the release reads none of them. Without "span_labels" (TVSum, highlight
    only) only the saliency term is computed; the release has no such mode (its matcher needs
    spans), QD-DETR's TVSum mode of the same criterion computes only the saliency losses.
    """

    def __init__(self, cfg: MomentDETRConfig) -> None:
        super().__init__(cfg, weighted_label_mean=cfg.corrects("weighted_label_mean"))
        self.cfg = cfg

    def saliency_loss(self, outputs: Mapping[str, Any], targets: Mapping[str, Any]) -> Tensor:
        """The pairwise hinge on the sampled (positive, negative) clips (model.py loss_saliency)."""
        return saliency_hinge(
            outputs["saliency_scores"], targets["saliency_pos_labels"], targets["saliency_neg_labels"],
            self.saliency_margin,
        )  # fmt: skip
