"""Moment-DETR's training objective (moment_detr/model.py: SetCriterion; train.py:63)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn

from model.zoo.moment_detr.config import MomentDETRConfig
from model.zoo.moment_detr.losses import label_loss, saliency_loss, span_losses
from model.zoo.moment_detr.matcher import HungarianMatcher


class MomentDETRCriterion(nn.Module):
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
        super().__init__()
        self.cfg = cfg
        self.matcher = HungarianMatcher(cfg.match_cost_span, cfg.match_cost_giou, cfg.match_cost_class)
        self.register_buffer("empty_weight", torch.tensor([1.0, cfg.eos_coef]))
        base = {
            "loss_span": cfg.span_l1_weight,
            "loss_giou": cfg.span_giou_weight,
            "loss_label": cfg.label_weight,
            "loss_saliency": cfg.saliency_weight,
        }
        self.weight_dict: dict[str, float] = dict(base)
        if cfg.aux_loss:
            for i in range(cfg.dec_layers - 1):
                self.weight_dict.update({f"{k}_{i}": v for k, v in base.items() if k != "loss_saliency"})

    def _moment_losses(self, out: Mapping[str, Tensor], tgt_spans: list[Tensor]) -> dict[str, Tensor]:
        indices = self.matcher(out["pred_logits"], out["pred_spans"], tgt_spans)
        losses = span_losses(out["pred_spans"], tgt_spans, indices)
        losses.update(
            label_loss(out["pred_logits"], indices, self.empty_weight, self.cfg.corrects("weighted_label_mean"))
        )
        return losses

    def forward(self, outputs: Mapping[str, Any], targets: Mapping[str, Any]) -> dict[str, Tensor]:
        """outputs: the model's dict; targets: see the class docstring -> {term: scalar, "total": scalar}."""
        losses: dict[str, Tensor] = {}
        has_spans = "span_labels" in targets
        if has_spans:
            tgt_spans = [t["spans"] for t in targets["span_labels"]]
            losses.update(self._moment_losses(outputs, tgt_spans))
        if "saliency_pos_labels" in targets:
            losses["loss_saliency"] = saliency_loss(
                outputs["saliency_scores"], targets["saliency_pos_labels"], targets["saliency_neg_labels"],
                self.cfg.saliency_margin,
            )  # fmt: skip
        else:  # the release returns a plain 0 here
            losses["loss_saliency"] = outputs["saliency_scores"].new_zeros(())
        if has_spans:
            for i, aux in enumerate(outputs.get("aux_outputs", [])):
                losses.update({f"{k}_{i}": v for k, v in self._moment_losses(aux, tgt_spans).items()})
        total = sum(losses[k] * self.weight_dict[k] for k in losses if k in self.weight_dict)
        losses["total"] = total
        return losses
