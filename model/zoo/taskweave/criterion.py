"""TaskWeave's criterion (SetCriterion, model.py:240-465) and its uncertainty-weighted training
objective (train.py:60-84). The loss terms are the lineage's (model.zoo.common.losses)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor

from model.zoo.common.criterion import SetCriterion
from model.zoo.common.losses import query_dependent_saliency_loss
from model.zoo.taskweave.config import TaskWeaveConfig

_MOMENT_KEYWORDS = ("giou", "span", "label", "class_error")


class TaskWeaveCriterion(SetCriterion):
    """Loss terms of the release's SetCriterion plus "total", the scalar train.py backpropagates.

    Terms: loss_span, loss_giou, loss_label, class_error (logged only), loss_saliency (QD-DETR's
    hinge + rank-contrastive / 12 + negative-pair, model.py:331-397), and for each intermediate
    decoder layer i: loss_span_i, loss_giou_i, loss_label_i, class_error_i (each layer matched
    separately). Without "span_labels" in the targets (TVSum: the release builds its criterion with
    use_matcher=False for dset_name tvsum) only loss_saliency is returned.

    total (release, train.py:71-84) = 2 * L_hd * exp(-hd_log_var) + L_mr * exp(-mr_log_var)
    + hd_log_var + mr_log_var, with L_mr the *unweighted* sum of the span/giou/label terms (aux
    included) and L_hd = loss_saliency; hd_log_var/mr_log_var are the model's parameters, read from
    the outputs. The release's tensor has shape (1,); ours is its 0-dim value. Without moment terms
    L_mr = 0 (the release's train.py would fail there: `loss_mr.device` on the int 0).
    """

    def __init__(self, cfg: TaskWeaveConfig) -> None:
        super().__init__(cfg)
        self.weighted_objective = cfg.corrects("weighted_objective")

    def saliency_loss(self, outputs: Mapping[str, Any], targets: Mapping[str, Any]) -> Tensor:
        """QD-DETR's saliency loss with the release's divisor 12 (last layer only)."""
        return query_dependent_saliency_loss(
            outputs["saliency_scores"], outputs["saliency_scores_neg"], outputs["video_mask"],
            targets["saliency_all_labels"], targets["saliency_pos_labels"], targets["saliency_neg_labels"],
            self.saliency_margin,
        )  # fmt: skip

    def objective(self, losses: Mapping[str, Tensor], outputs: Mapping[str, Any]) -> Tensor:
        """The uncertainty-weighted objective of train.py:71-84 (0-dim); the weight_dict keys select
        the terms, whose weights only the `weighted_objective` correction applies."""
        hd_log_var, mr_log_var = outputs["hd_log_var"], outputs["mr_log_var"]
        mr_terms: list[Tensor] = []
        hd_terms: list[Tensor] = []
        for key, value in losses.items():
            if key not in self.weight_dict:
                continue
            term = value * self.weight_dict[key] if self.weighted_objective else value
            if any(word in key for word in _MOMENT_KEYWORDS):
                mr_terms.append(term)
            elif "saliency" in key:
                hd_terms.append(term)
        loss_mr = sum(mr_terms, hd_log_var.new_zeros(()))
        loss_hd = sum(hd_terms, hd_log_var.new_zeros(()))
        total = 2 * loss_hd * torch.exp(-hd_log_var) + loss_mr * torch.exp(-mr_log_var) + hd_log_var + mr_log_var
        return total.reshape(())
