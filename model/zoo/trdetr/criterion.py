"""TR-DETR's training objective: SetCriterion (model.py) plus the VTC / CTC regulators that the
release's training step adds (train.py:68-83)."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from model.zoo.trdetr.config import TRDETRConfig
from model.zoo.trdetr.losses import ctc_loss, label_losses, saliency_loss, span_losses, vtc_loss
from model.zoo.trdetr.matcher import HungarianMatcher


def relevant_clip_mask(targets: dict[str, Any], video_mask: Tensor) -> Tensor:
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


class TRDETRCriterion(nn.Module):
    """criterion(outputs, targets) -> every release loss term, VTC_loss, CTC_loss and "total".

    total = sum(weight * term over weight_dict) + vtc_weight * VTC + ctc_weight * CTC, the scalar
    the release's train_epoch backpropagates. Without "span_labels" (TVSum, where the release
    builds its criterion with use_matcher=False) only loss_saliency is computed, and the total is
    saliency + VTC + CTC, as there.
    """

    def __init__(self, cfg: TRDETRConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.matcher = HungarianMatcher(cfg.match_cost_span, cfg.match_cost_giou, cfg.match_cost_class)
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
        self.weight_dict = weights

    def forward(self, outputs: dict[str, Any], targets: dict[str, Any]) -> dict[str, Tensor]:
        """Compute the losses.

        Args:
            outputs: the model's output dict.
            targets: span_labels (list of {"spans": (n, 2) cx/w}; absent for highlight-only data),
                saliency_pos_labels / saliency_neg_labels int64 (B, k), saliency_all_labels float
                (B, L); optionally src_pos_mask float (B, L); "epoch" is accepted and unused.

        Returns:
            dict of scalar tensors: loss_span, loss_giou, loss_label, class_error, loss_saliency,
            the same with suffix _i per earlier decoder layer, VTC_loss, CTC_loss, total.
        """
        cfg = self.cfg
        losses: dict[str, Tensor] = {}
        span_labels = targets.get("span_labels")
        if span_labels is not None:
            indices = self.matcher(outputs, span_labels)
            losses.update(span_losses(outputs["pred_spans"], span_labels, indices))
            losses.update(label_losses(outputs["pred_logits"], indices))
        losses["loss_saliency"] = self._saliency(outputs, targets)
        if span_labels is not None:
            for i, aux in enumerate(outputs.get("aux_outputs", [])):
                indices = self.matcher(aux, span_labels)
                terms = {
                    **span_losses(aux["pred_spans"], span_labels, indices),
                    **label_losses(aux["pred_logits"], indices),
                }
                losses.update({f"{k}_{i}": v for k, v in terms.items()})

        weighted = sum(losses[k] * self.weight_dict[k] for k in losses if k in self.weight_dict)
        video_mask = outputs["video_mask"]
        vtc = vtc_loss(outputs["src_txt_cls_ed"], outputs["src_vid_cls_ed"], cfg.temperature)
        ctc = ctc_loss(
            outputs["src_vid_ed"],
            outputs["src_txt_ed"],
            relevant_clip_mask(targets, video_mask),
            video_mask,
            outputs["src_txt_mask"],
            cfg.temperature,
            valid_clips_only=cfg.corrects("ctc_valid_clips"),
        )
        losses["VTC_loss"] = vtc
        losses["CTC_loss"] = ctc
        losses["total"] = weighted + cfg.vtc_weight * vtc + cfg.ctc_weight * ctc
        return losses

    def _saliency(self, outputs: dict[str, Any], targets: dict[str, Any]) -> Tensor:
        if "saliency_pos_labels" not in targets:
            return torch.zeros((), device=outputs["saliency_scores"].device)
        return saliency_loss(
            outputs["saliency_scores"],
            outputs["video_mask"],
            targets["saliency_all_labels"],
            targets["saliency_pos_labels"],
            targets["saliency_neg_labels"],
            self.cfg.saliency_margin,
            rank_divisor=11.0 if self.cfg.corrects("rank_contrastive_divisor") else 12.0,
        )
