"""QD-DETR's losses (release `model.py` SetCriterion): matched span L1/gIoU and foreground
classification on every decoder layer, saliency (hinge + rank-contrastive + negative-pair) on the
last layer only. The terms are the lineage's (model.zoo.common.losses)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import Tensor

from model.zoo.common.criterion import SetCriterion
from model.zoo.common.losses import query_dependent_saliency_loss, rank_contrastive
from model.zoo.qd_detr.config import RANK_CONTRASTIVE_MEAN, QDDETRConfig

__all__ = ["QDDETRCriterion", "rank_contrastive"]


class QDDETRCriterion(SetCriterion):
    """criterion(outputs, targets) -> every release loss term, class_error, and "total".

    targets: span_labels (list of {"spans": (n, 2) centre/width}), saliency_pos_labels /
    saliency_neg_labels int64 (B, k), saliency_all_labels float (B, L) (0 at padding); "epoch" is
    accepted and ignored (the release's criterion has no epoch). Without "span_labels" (TVSum,
    where the release builds the criterion with use_matcher=False) only loss_saliency is returned.
    """

    def __init__(self, cfg: QDDETRConfig) -> None:
        super().__init__(cfg)
        self.rank_divisor = 11.0 if cfg.corrects(RANK_CONTRASTIVE_MEAN) else 12.0

    def saliency_loss(self, outputs: Mapping[str, Any], targets: Mapping[str, Any]) -> Tensor:
        """Hinge + rank-contrastive + negative-pair (last layer only)."""
        return query_dependent_saliency_loss(
            outputs["saliency_scores"], outputs["saliency_scores_neg"], outputs["video_mask"],
            targets["saliency_all_labels"], targets["saliency_pos_labels"], targets["saliency_neg_labels"],
            self.saliency_margin, self.rank_divisor,
        )  # fmt: skip
