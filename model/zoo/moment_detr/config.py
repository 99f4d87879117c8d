"""Moment-DETR's configuration: the fields the release's model and criterion read."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, model_validator

from model.zoo.fidelity import Difference, ZooConfig

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


class MomentDETRConfig(ZooConfig):
    """Moment-DETR (Lei et al., NeurIPS'21) at the release's QVHighlights script values.

    Video features: SlowFast (2304) + CLIP (512) + 2 temporal-endpoint columns = 2818; text: CLIP 512.
    """

    DIFFERENCES: ClassVar[tuple[Difference, ...]] = DIFFERENCES

    name: Literal["moment_detr"] = "moment_detr"

    hidden_dim: int = Field(256, gt=0, description="Transformer width d (hidden_dim).")
    num_heads: int = Field(8, gt=0, description="Attention heads (nheads); must divide hidden_dim.")
    ffn_dim: int = Field(1024, gt=0, description="Feed-forward width of every transformer layer (dim_feedforward).")
    dropout: float = Field(0.1, ge=0, lt=1, description="Transformer dropout (attention weights, residuals, FFN).")
    input_dropout: float = Field(0.5, ge=0, lt=1, description="Dropout inside the input projections.")
    input_proj_layers: int = Field(
        2, ge=1, le=3, description="LayerNorm-Dropout-Linear(-ReLU) blocks per input projection (n_input_proj)."
    )
    enc_layers: int = Field(2, ge=1, description="Post-norm encoder layers over [video; text].")
    dec_layers: int = Field(2, ge=1, description="Post-norm decoder layers.")
    num_queries: int = Field(10, ge=1, description="Moment queries (learned query positions).")
    aux_loss: bool = Field(True, description="Return and supervise the intermediate decoder layers.")

    span_l1_weight: float = Field(10.0, ge=0, description="Weight of loss_span (L1 on centre/width).")
    span_giou_weight: float = Field(1.0, ge=0, description="Weight of loss_giou (1 - gIoU).")
    label_weight: float = Field(4.0, ge=0, description="Weight of loss_label (foreground/background CE).")
    eos_coef: float = Field(0.1, ge=0, description="CE class weight of background (index 1); foreground is 1.")
    saliency_weight: float = Field(1.0, ge=0, description="Weight of loss_saliency (lw_saliency).")
    saliency_margin: float = Field(0.2, ge=0, description="Margin of the pairwise saliency hinge.")
    match_cost_span: float = Field(10.0, ge=0, description="Matcher weight of the L1 span cost (set_cost_span).")
    match_cost_giou: float = Field(1.0, ge=0, description="Matcher weight of the -gIoU cost (set_cost_giou).")
    match_cost_class: float = Field(4.0, ge=0, description="Matcher weight of the -p(foreground) cost.")

    @model_validator(mode="after")
    def _check(self) -> MomentDETRConfig:
        if self.hidden_dim % self.num_heads:
            raise ValueError(f"num_heads={self.num_heads} must divide hidden_dim={self.hidden_dim}")
        if self.hidden_dim % 2:
            raise ValueError(f"hidden_dim={self.hidden_dim} must be even (sine position encoding pairs sin/cos)")
        if self.match_cost_span == 0 and self.match_cost_giou == 0 and self.match_cost_class == 0:
            raise ValueError("match_cost_span, match_cost_giou and match_cost_class cannot all be 0")
        return self
