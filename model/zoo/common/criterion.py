"""The lineage's SetCriterion skeleton (Moment-DETR model.py SetCriterion and its copies): matched
span/label losses on the final and every auxiliary decoder layer, a saliency loss on the final
layer, the release's weight_dict, and "total"."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn

from model.zoo.common.config import DETRConfig
from model.zoo.common.losses import label_losses, span_losses
from model.zoo.common.matcher import HungarianMatcher


def loss_weights(cfg: DETRConfig) -> dict[str, float]:
    """The release's weight_dict: loss_span/giou/label/saliency and, with aux_loss, loss_span_i,
    loss_giou_i, loss_label_i for the dec_layers - 1 earlier layers (saliency on the final only)."""
    base = {
        "loss_span": cfg.span_l1_weight,
        "loss_giou": cfg.span_giou_weight,
        "loss_label": cfg.label_weight,
        "loss_saliency": cfg.saliency_weight,
    }
    weights = dict(base)
    if cfg.aux_loss:
        for i in range(cfg.dec_layers - 1):
            weights.update({f"{k}_{i}": v for k, v in base.items() if k != "loss_saliency"})
    return weights


class SetCriterion(nn.Module):
    """criterion(outputs, targets) -> every release loss term, class_error(_i), and "total".

    Subclasses implement `saliency_loss(outputs, targets)` and may override `objective(losses,
    outputs)` (default: sum of weight * term over the weighted terms, what the lineage's train.py
    backpropagates) and `matched_losses(outputs, targets, indices)` (more terms of every layer).

    Targets: "span_labels" (list of {"spans": float (n, 2) normalised centre/width}) and the
    saliency keys the subclass reads; other keys ("epoch", ...) are ignored. Without "span_labels"
    (TVSum: the release builds its criterion with use_matcher=False) only loss_saliency is
    computed; without "saliency_pos_labels" loss_saliency is 0, as the release returns.

    Args:
        weighted_label_mean: see label_losses.
    """

    def __init__(self, cfg: DETRConfig, weighted_label_mean: bool = False) -> None:
        super().__init__()
        self.matcher = HungarianMatcher(cfg.match_cost_span, cfg.match_cost_giou, cfg.match_cost_class)
        self.saliency_margin = cfg.saliency_margin
        self.weighted_label_mean = weighted_label_mean
        self.register_buffer("empty_weight", torch.tensor([1.0, cfg.eos_coef]))
        self.weight_dict: dict[str, float] = loss_weights(cfg)

    def moment_losses(
        self, outputs: Mapping[str, Any], tgt_spans: list[Tensor], targets: Mapping[str, Any] | None = None
    ) -> dict[str, Tensor]:
        """Match one layer's predictions, then loss_span, loss_giou, loss_label, class_error and,
        when `targets` is given, the subclass's `matched_losses`."""
        indices = self.matcher(outputs["pred_logits"], outputs["pred_spans"], tgt_spans)
        losses = span_losses(outputs["pred_spans"], tgt_spans, indices)
        losses.update(label_losses(outputs["pred_logits"], indices, self.empty_weight, self.weighted_label_mean))
        if targets is not None:
            losses.update(self.matched_losses(outputs, targets, indices))
        return losses

    def matched_losses(
        self, outputs: Mapping[str, Any], targets: Mapping[str, Any], indices: list[tuple[Tensor, Tensor]]
    ) -> dict[str, Tensor]:
        """Further per-layer terms that use the matching (final and aux layers alike); none here."""
        del outputs, targets, indices
        return {}

    def saliency_loss(self, outputs: Mapping[str, Any], targets: Mapping[str, Any]) -> Tensor:
        """loss_saliency of the final layer (0-dim)."""
        raise NotImplementedError

    def objective(self, losses: Mapping[str, Tensor], outputs: Mapping[str, Any]) -> Tensor:
        """The scalar the release backpropagates: sum of weight_dict[k] * losses[k]."""
        del outputs
        return sum(losses[k] * self.weight_dict[k] for k in losses if k in self.weight_dict)

    def forward(self, outputs: Mapping[str, Any], targets: Mapping[str, Any]) -> dict[str, Tensor]:
        """outputs: the model's dict; targets: see the class docstring -> {term: 0-dim, "total": 0-dim}.

        Terms are inserted in the release's order (final layer, saliency, then aux layers), which
        is also the order "total" sums them in.
        """
        losses: dict[str, Tensor] = {}
        tgt_spans = [t["spans"] for t in targets["span_labels"]] if "span_labels" in targets else None
        if tgt_spans is not None:
            losses.update(self.moment_losses(outputs, tgt_spans, targets))
        if "saliency_pos_labels" in targets:
            losses["loss_saliency"] = self.saliency_loss(outputs, targets)
        else:  # the release returns a plain 0 here
            losses["loss_saliency"] = outputs["pred_spans"].new_zeros(())
        if tgt_spans is not None:
            for i, aux in enumerate(outputs.get("aux_outputs", [])):
                losses.update({f"{k}_{i}": v for k, v in self.moment_losses(aux, tgt_spans, targets).items()})
        losses["total"] = self.objective(losses, outputs)
        return losses
