"""Moment-DETR's configuration: the fields the release's model and criterion read."""

from __future__ import annotations

from typing import ClassVar, Literal

from model.zoo.common.config import DETRConfig
from model.zoo.fidelity import Difference

DIFFERENCES: tuple[Difference, ...] = (
    Difference(
        name="mask_padded_saliency",
        release=(
            "saliency_scores = saliency_proj(vid_mem) for every clip, padded clips included: their "
            "scores are arbitrary values of the encoder memory at padded positions (model.py:127)"
        ),
        corrected=(
            "padded clips (src_vid_mask == 0) get saliency -1000 (the padding value of the lineage's "
            "own saliency losses); valid clips and every loss are unchanged"
        ),
        why=(
            "a consumer ranking the returned clip scores (top-k clips, argmax) could pick a clip "
            "that does not exist; -1000 keeps the tensor finite and fp16-safe"
        ),
    ),
    Difference(
        name="weighted_label_mean",
        release=(
            "loss_label = mean over all B*Q queries of w[y]*CE with w = [1, eos_coef], i.e. divided "
            "by B*Q, not by the sum of the weights (model.py:226-231)"
        ),
        corrected=(
            "loss_label = sum of w[y]*CE divided by the sum of w[y] (F.cross_entropy's weighted mean, "
            "as in DETR), for the final and the auxiliary layers"
        ),
        why=(
            "the release divides the down-weighted sum by B*Q, so the loss is not the weighted average "
            "of per-query CE that eos_coef defines (F.cross_entropy's and DETR's meaning); its scale "
            "then follows num_queries and eos_coef instead of being a per-query average"
        ),
    ),
)


class MomentDETRConfig(DETRConfig):
    """Moment-DETR (Lei et al., NeurIPS'21) at the release's QVHighlights script values.

    Video features: SlowFast (2304) + CLIP (512) + 2 temporal-endpoint columns = 2818; text: CLIP 512.
    The shared architecture/loss fields are DETRConfig's; hidden_dim must be even (clip sine encoding).
    """

    DIFFERENCES: ClassVar[tuple[Difference, ...]] = DIFFERENCES

    name: Literal["moment_detr"] = "moment_detr"
