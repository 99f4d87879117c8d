"""VideoLights training criterion (release model.py:298-727, SetCriterion + build_model weights)."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from model.zoo.videolights.config import VideoLightsConfig
from model.zoo.videolights.matcher import hungarian_match, matched_query_index
from model.zoo.videolights.saliency_losses import contrastive_align, saliency_loss, video_text_alignment
from model.zoo.videolights.span_losses import label_loss, span_losses


def weight_dict(cfg: VideoLightsConfig) -> dict[str, float]:
    """Loss name -> weight (model.py:716-727); aux layers get every term but loss_saliency."""
    weights = {
        "loss_span": cfg.span_l1_weight,
        "loss_giou": cfg.span_giou_weight,
        "loss_label": cfg.label_weight,
        "loss_saliency": cfg.saliency_weight,
    }
    if cfg.contrastive_align_loss:
        weights["loss_contrastive_align"] = cfg.contrastive_align_weight
    if cfg.aux_loss:
        base = dict(weights)
        for i in range(cfg.dec_layers - 1):
            weights.update({f"{k}_{i}": v for k, v in base.items() if k != "loss_saliency"})
    return weights


def _with_release_keys(targets: dict[str, Any]) -> dict[str, Any]:
    """Add saliency_pos_index = (saliency_all_labels > 0) as the release's dataset builds it, when absent."""
    if "saliency_pos_index" not in targets and "saliency_all_labels" in targets:
        targets = {**targets, "saliency_pos_index": (targets["saliency_all_labels"] > 0).long()}
    return targets


class VideoLightsCriterion(nn.Module):
    """Every loss term of the release's SetCriterion and the objective train.py backpropagates.

    `criterion(outputs, {**targets, "epoch": e})` returns loss_span, loss_giou, loss_label, class_error,
    loss_saliency, loss_contrastive_align and their `_i` aux copies, plus "total" = sum(weight * term).
    Without span_labels (or with use_matcher False, the release's TVSum/YouTube mode) only loss_saliency.
    """

    def __init__(self, cfg: VideoLightsConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.weight_dict = weight_dict(cfg)
        empty_weight = torch.ones(2)
        empty_weight[-1] = cfg.eos_coef
        self.register_buffer("empty_weight", empty_weight, persistent=False)

    def _moment_losses(self, outputs: dict[str, Any], targets: dict[str, Any], top: bool) -> dict[str, Tensor]:
        cfg = self.cfg
        gt = [t["spans"] for t in targets["span_labels"]]
        indices = hungarian_match(
            outputs["pred_logits"], outputs["pred_spans"], gt, cfg.match_cost_span, cfg.match_cost_giou,
            cfg.match_cost_class,
        )
        losses = span_losses(outputs["pred_spans"], gt, indices)
        losses.update(label_loss(outputs["pred_logits"], indices, self.empty_weight, cfg.corrects("label_ce_mean")))
        if top:
            losses["loss_saliency"] = self._saliency(outputs, targets)
        if cfg.contrastive_align_loss:
            mask_text = cfg.corrects("contrastive_text_padding")
            nce = contrastive_align(
                outputs["proj_queries"], outputs["proj_txt_mem"], matched_query_index(indices), cfg.temperature,
                outputs.get("txt_mask") if mask_text else None,
            )
            align = video_text_alignment(
                outputs if top else {}, targets["saliency_all_labels"],
                batch_mean=cfg.corrects("cos_loss_batch_sum"), per_video_shift=cfg.corrects("batch_min_shift"),
                mask_text=mask_text,
            )
            losses["loss_contrastive_align"] = nce + align
        return losses

    def _saliency(self, outputs: dict[str, Any], targets: dict[str, Any]) -> Tensor:
        cfg = self.cfg
        if "saliency_pos_labels" not in targets:
            return outputs["saliency_scores"].new_zeros(())
        return saliency_loss(
            outputs, targets, int(targets.get("epoch", 0)), cfg.saliency_margin, cfg.cos_sim_weight,
            cfg.mr_to_hd_weight, cfg.hard_pos_neg, cfg.hard_pos_neg_weight,
            batch_mean=cfg.corrects("cos_loss_batch_sum"), per_video_shift=cfg.corrects("batch_min_shift"),
            epoch_growth=not cfg.corrects("hard_pos_neg_epoch"),
        )

    def forward(self, outputs: dict[str, Any], targets: dict[str, Any]) -> dict[str, Tensor]:
        """Loss terms and "total".

        Args:
            outputs: the model's output dict.
            targets: span_labels ([{"spans": (n, 2) cx/w}]), saliency_pos_labels / saliency_neg_labels (B, k),
                saliency_all_labels (B, L), optional saliency_pos_index (B, L), and "epoch".
        """
        targets = _with_release_keys(targets)
        if self.cfg.use_matcher and "span_labels" in targets:
            losses = self._moment_losses(outputs, targets, top=True)
            for i, aux in enumerate(outputs.get("aux_outputs", [])):
                aux_losses = self._moment_losses(aux, targets, top=False)
                losses.update({f"{k}_{i}": v for k, v in aux_losses.items()})
        else:
            losses = {"loss_saliency": self._saliency(outputs, targets)}
        total = sum(losses[k] * self.weight_dict[k] for k in losses if k in self.weight_dict)
        losses["total"] = total.reshape(()) if isinstance(total, Tensor) else torch.as_tensor(float(total))
        return losses
