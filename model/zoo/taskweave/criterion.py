"""TaskWeave's criterion (SetCriterion, model.py:240-465) and its uncertainty-weighted training
objective (train.py:60-84)."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from model.zoo.taskweave.config import TaskWeaveConfig
from model.zoo.taskweave.losses import label_losses, saliency_loss, span_losses
from model.zoo.taskweave.matcher import HungarianMatcher

_MOMENT_KEYWORDS = ("giou", "span", "label", "class_error")


class TaskWeaveCriterion(nn.Module):
    """Loss terms of the release's SetCriterion plus "total", the scalar train.py backpropagates.

    Terms: loss_span, loss_giou, loss_label, class_error (logged only), loss_saliency, and for each
    intermediate decoder layer i: loss_span_i, loss_giou_i, loss_label_i, class_error_i (each layer
    matched separately). Without "span_labels" in the targets (TVSum: the release builds its
    criterion with use_matcher=False for dset_name tvsum) only loss_saliency is returned.

    total (release, train.py:71-84) = 2 * L_hd * exp(-hd_log_var) + L_mr * exp(-mr_log_var)
    + hd_log_var + mr_log_var, with L_mr the *unweighted* sum of the span/giou/label terms (aux
    included) and L_hd = loss_saliency; hd_log_var/mr_log_var are the model's parameters, read from
    the outputs. The release's tensor has shape (1,); ours is its 0-dim value. Without moment terms
    L_mr = 0 (the release's train.py would fail there: `loss_mr.device` on the int 0).
    """

    def __init__(self, cfg: TaskWeaveConfig) -> None:
        super().__init__()
        self.matcher = HungarianMatcher(cfg.match_cost_span, cfg.match_cost_giou, cfg.match_cost_class)
        self.saliency_margin = cfg.saliency_margin
        empty_weight = torch.ones(2)
        empty_weight[-1] = cfg.eos_coef
        self.register_buffer("empty_weight", empty_weight)
        base = {
            "loss_span": cfg.span_l1_weight,
            "loss_giou": cfg.span_giou_weight,
            "loss_label": cfg.label_weight,
            "loss_saliency": cfg.saliency_weight,
        }
        weights = dict(base)
        if cfg.aux_loss:  # the saliency loss is computed on the final layer only
            for i in range(cfg.dec_layers - 1):
                weights.update({f"{k}_{i}": v for k, v in base.items() if k != "loss_saliency"})
        #: the release's weight_dict (model.py:587-596); the release objective only uses its keys
        self.weight_dict = weights
        self.weighted_objective = cfg.corrects("weighted_objective")

    def _moment_losses(self, outputs: dict[str, Any], target_spans: list[Tensor]) -> dict[str, Tensor]:
        indices = self.matcher(outputs["pred_logits"], outputs["pred_spans"], target_spans)
        return {
            **span_losses(outputs["pred_spans"], target_spans, indices),
            **label_losses(outputs["pred_logits"], indices, self.empty_weight),
        }

    def forward(self, outputs: dict[str, Any], targets: dict[str, Any]) -> dict[str, Tensor]:
        """Args:
            outputs: the model's dict (pred_logits, pred_spans, saliency_scores, saliency_scores_neg,
                video_mask, aux_outputs, hd_log_var, mr_log_var).
            targets: span_labels (list of {"spans": float (n, 2) centre/width}, optional),
                saliency_pos_labels / saliency_neg_labels int64 (B, k), saliency_all_labels float (B, L);
                "epoch" and other keys are ignored.

        Returns:
            every loss term (see the class doc) and "total".
        """
        losses: dict[str, Tensor] = {}
        target_spans = [t["spans"] for t in targets["span_labels"]] if "span_labels" in targets else None
        if target_spans is not None:
            losses.update(self._moment_losses(outputs, target_spans))
        if "saliency_pos_labels" in targets:
            losses["loss_saliency"] = saliency_loss(
                outputs["saliency_scores"], outputs["saliency_scores_neg"], outputs["video_mask"],
                targets["saliency_all_labels"], targets["saliency_pos_labels"], targets["saliency_neg_labels"],
                self.saliency_margin,
            )
        else:  # the release returns the int 0 here
            losses["loss_saliency"] = outputs["saliency_scores"].new_zeros(())
        if target_spans is not None:
            for i, aux in enumerate(outputs.get("aux_outputs", [])):
                losses.update({f"{k}_{i}": v for k, v in self._moment_losses(aux, target_spans).items()})
        losses["total"] = self.objective(losses, outputs["hd_log_var"], outputs["mr_log_var"])
        return losses

    def objective(self, losses: dict[str, Tensor], hd_log_var: Tensor, mr_log_var: Tensor) -> Tensor:
        """The uncertainty-weighted objective of train.py:71-84 (0-dim)."""
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
