"""QD-DETR's configuration: the options of the release's `qd_detr/config.py` that the model and
its criterion read, under this repository's names, plus the table of corrections."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, model_validator

from model.zoo.fidelity import Difference, ZooConfig

T2V_OWN_MASK = "t2v_own_mask"
T2V_NORM_RESIDUAL = "t2v_norm_residual"
RANK_CONTRASTIVE_MEAN = "rank_contrastive_mean"


class QDDETRConfig(ZooConfig):
    """QD-DETR (Moon et al., CVPR 2023). Defaults = the release's QVHighlights script
    (`qd_detr/scripts/train.sh`: SlowFast+CLIP video 2816 + 2 TEF columns, CLIP text 512)."""

    DIFFERENCES: ClassVar[tuple[Difference, ...]] = (
        Difference(
            name=T2V_OWN_MASK,
            release=(
                "transformer.py:423-424 builds the (video-pad AND text-pad) attn_mask per video and tiles "
                "it with .repeat(nhead,1,1), but nn.MultiheadAttention reads row b*nhead+h: batch b, head h "
                "uses the mask of video (b*nhead+h) mod B, masking valid text tokens of b for clips that are "
                "padding in another video"
            ),
            corrected=(
                "every video attends with its own masks; its own (video-pad AND text-pad) mask is covered "
                "by the text key-padding mask, so only the key-padding mask is applied"
            ),
            why="which text tokens a valid clip may read should not depend on other videos of the batch",
        ),
        Difference(
            name=T2V_NORM_RESIDUAL,
            release=(
                "transformer.py:431-436: x = v + drop(attn); out = norm2(x + drop(FFN(norm1(x)))): the FFN "
                "reads norm1(x) but the residual adds the un-normalised x"
            ),
            corrected=(
                "post-norm as in every other layer: x = norm1(v + drop(attn)); out = norm2(x + drop(FFN(x)))"
            ),
            why="the residual skips the normalisation the FFN branch sees (unlike the model's other layers)",
        ),
        Difference(
            name=RANK_CONTRASTIVE_MEAN,
            release="model.py loss_saliency: the rank-contrastive sum over thresholds 1..11 is divided by 12",
            corrected="divided by 11, the number of thresholds (a mean over thresholds)",
            why="12 is an off-by-one of the 11 thresholds range(1, 12) visits",
        ),
    )

    name: Literal["qd_detr"] = "qd_detr"
    hidden_dim: int = Field(256, gt=0, description="Transformer width d (release --hidden_dim).")
    num_heads: int = Field(8, gt=0, description="Attention heads (release --nheads).")
    ffn_dim: int = Field(1024, gt=0, description="Feed-forward width (release --dim_feedforward).")
    dropout: float = Field(0.1, ge=0, lt=1, description="Transformer dropout (release --dropout).")
    input_dropout: float = Field(
        0.5, ge=0, lt=1, description="Input projection dropout (release --input_dropout)."
    )
    input_proj_layers: int = Field(
        2, ge=1, le=3, description="LinearLayer blocks of each input projection (release --n_input_proj)."
    )
    enc_layers: int = Field(
        2,
        ge=1,
        description="Layers of the T2V encoder and of the encoder, each (release --enc_layers).",
    )
    dec_layers: int = Field(2, ge=1, description="DAB decoder layers (release --dec_layers).")
    num_queries: int = Field(10, ge=1, description="Moment queries (release --num_queries).")
    aux_loss: bool = Field(
        True, description="Return and supervise every decoder layer (release --no_aux_loss off)."
    )
    span_l1_weight: float = Field(10.0, ge=0, description="Weight of loss_span (release --span_loss_coef).")
    span_giou_weight: float = Field(1.0, ge=0, description="Weight of loss_giou (release --giou_loss_coef).")
    label_weight: float = Field(4.0, ge=0, description="Weight of loss_label (release --label_loss_coef).")
    eos_coef: float = Field(
        0.1, ge=0, description="Cross-entropy weight of the background class (release --eos_coef)."
    )
    saliency_weight: float = Field(1.0, ge=0, description="Weight of loss_saliency (release --lw_saliency).")
    saliency_margin: float = Field(
        0.2, ge=0, description="Hinge margin of the saliency loss (release --saliency_margin)."
    )
    match_cost_span: float = Field(
        10.0, ge=0, description="Matcher L1 cost weight (release --set_cost_span)."
    )
    match_cost_giou: float = Field(
        1.0, ge=0, description="Matcher gIoU cost weight (release --set_cost_giou)."
    )
    match_cost_class: float = Field(
        4.0, ge=0, description="Matcher class cost weight (release --set_cost_class)."
    )

    @model_validator(mode="after")
    def _consistent(self) -> QDDETRConfig:
        if self.hidden_dim % self.num_heads:
            raise ValueError(f"hidden_dim {self.hidden_dim} must be divisible by num_heads {self.num_heads}")
        if self.hidden_dim % 4:
            # d/2 sine frequencies per coordinate, each split into sin/cos halves
            raise ValueError(f"hidden_dim {self.hidden_dim} must be a multiple of 4 (sine embeddings)")
        return self
