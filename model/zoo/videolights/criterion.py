"""VideoLights training criterion (release model.py:298-727, SetCriterion + build_model weights): the
lineage's SetCriterion (matching, span/label terms, aux layers, "total") with VideoLights' saliency loss
and its contrastive-alignment term on every layer."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import Tensor

from model.zoo.common.criterion import SetCriterion
from model.zoo.common.losses import matched_index
from model.zoo.videolights.config import VideoLightsConfig
from model.zoo.videolights.saliency_losses import contrastive_align, saliency_loss, video_text_alignment


def _with_release_keys(targets: Mapping[str, Any]) -> Mapping[str, Any]:
    """Add saliency_pos_index = (saliency_all_labels > 0) as the release's dataset builds it, when absent."""
    if "saliency_pos_index" not in targets and "saliency_all_labels" in targets:
        targets = {**targets, "saliency_pos_index": (targets["saliency_all_labels"] > 0).long()}
    return targets


class VideoLightsCriterion(SetCriterion):
    """Every loss term of the release's SetCriterion and the objective train.py backpropagates.

    `criterion(outputs, {**targets, "epoch": e})` returns loss_span, loss_giou, loss_label, class_error,
    loss_contrastive_align, loss_saliency and the `_i` aux copies of all but loss_saliency, plus
    "total" = sum(weight * term) (model.py:716-727). Without span_labels (or with use_matcher False, the
    release's TVSum/YouTube mode) only loss_saliency.
    """

    def __init__(self, cfg: VideoLightsConfig) -> None:
        super().__init__(cfg, weighted_label_mean=cfg.corrects("label_ce_mean"))
        self.cfg = cfg
        if cfg.contrastive_align_loss:
            self.weight_dict["loss_contrastive_align"] = cfg.contrastive_align_weight
            if cfg.aux_loss:
                for i in range(cfg.dec_layers - 1):
                    self.weight_dict[f"loss_contrastive_align_{i}"] = cfg.contrastive_align_weight

    def matched_losses(
        self, outputs: Mapping[str, Any], targets: Mapping[str, Any], indices: list[tuple[Tensor, Tensor]]
    ) -> dict[str, Tensor]:
        """loss_contrastive_align = query-text NCE + (final layer only: the layer's outputs hold src_txt)
        the video-text alignment cosine term."""
        cfg = self.cfg
        if not cfg.contrastive_align_loss:
            return {}
        mask_text = cfg.corrects("contrastive_text_padding")
        nce = contrastive_align(
            outputs["proj_queries"], outputs["proj_txt_mem"], matched_index(indices), cfg.temperature,
            outputs.get("txt_mask") if mask_text else None,
        )  # fmt: skip
        align = video_text_alignment(
            outputs, targets["saliency_all_labels"], batch_mean=cfg.corrects("cos_loss_batch_sum"),
            per_video_shift=cfg.corrects("batch_min_shift"), mask_text=mask_text,
        )  # fmt: skip
        return {"loss_contrastive_align": nce + align}

    def saliency_loss(self, outputs: Mapping[str, Any], targets: Mapping[str, Any]) -> Tensor:
        """VideoLights' loss_saliency (saliency_losses.saliency_loss) at the targets' epoch."""
        cfg = self.cfg
        return saliency_loss(
            outputs, targets, int(targets.get("epoch", 0)), cfg.saliency_margin, cfg.cos_sim_weight,
            cfg.mr_to_hd_weight, cfg.hard_pos_neg, cfg.hard_pos_neg_weight,
            batch_mean=cfg.corrects("cos_loss_batch_sum"), per_video_shift=cfg.corrects("batch_min_shift"),
            epoch_growth=not cfg.corrects("hard_pos_neg_epoch"),
        )  # fmt: skip

    def forward(self, outputs: Mapping[str, Any], targets: Mapping[str, Any]) -> dict[str, Tensor]:
        """Loss terms and "total".

        Args:
            outputs: the model's output dict.
            targets: span_labels ([{"spans": (n, 2) cx/w}]), saliency_pos_labels / saliency_neg_labels (B, k),
                saliency_all_labels (B, L), optional saliency_pos_index (B, L), and "epoch".
        """
        targets = _with_release_keys(targets)
        if not self.cfg.use_matcher:
            targets = {k: v for k, v in targets.items() if k != "span_labels"}
        return super().forward(outputs, targets)
