"""CG-DETR configuration (wjun0830/CGDETR): the options its model and criterion read.

Defaults are the release's QVHighlights script (`cg_detr/scripts/train.sh`) on SlowFast+CLIP video
(2816 + 2 endpoint columns) and CLIP text (512).
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, model_validator

from model.zoo.common.config import DETRConfig
from model.zoo.fidelity import Difference

#: Heads of the dummy and sentence encoders, hard-coded by the release (`model.py:131,135`).
AUX_ENCODER_HEADS = 8
#: Dropout of the dummy and sentence encoders, hard-coded by the release (`model.py:131,135`).
AUX_ENCODER_DROPOUT = 0.1

T2V_MASK_PER_VIDEO = "t2v_mask_per_video"
ATTN_FALSE_NEGATIVE_RANK = "attn_false_negative_rank"
SINGLE_FALSE_NEGATIVE_ROW = "single_false_negative_row"


class CGDETRConfig(DETRConfig):
    """CG-DETR (Moon et al., "Correlation-Guided Query-Dependency Calibration for Video Temporal
    Grounding"): architecture, loss weights and the release's dataset-dependent switches; the
    shared architecture/loss fields are DETRConfig's."""

    DIFFERENCES: ClassVar[tuple[Difference, ...]] = (
        Difference(
            name=T2V_MASK_PER_VIDEO,
            release=(
                "the text-to-video attention mask (padded clip x padded token) is tiled with "
                "`.repeat(nhead, 1, 1)` (transformer.py:504) while the attention reads index b*nhead+h, "
                "so video b, head h uses the mask of video (b*nhead+h) mod B and valid clips of one "
                "video lose valid text tokens of another's padding pattern"
            ),
            corrected="the mask is laid out per video (`repeat_interleave`): video b uses its own mask in every head",
            why="with mixed lengths the release masks valid tokens of valid clips (padded: saliency moves by 0.011)",
        ),
        Difference(
            name=ATTN_FALSE_NEGATIVE_RANK,
            release=(
                "the rank-contrastive term of the attention saliency on the false-negative rows is "
                "computed and added to `loss_rank_contrastive`, which is never used again (model.py:629)"
            ),
            corrected="it is added to the attention saliency loss, as the score branch adds its own (model.py:540)",
            why="the term is computed for a purpose and silently dropped; the score branch uses its twin",
        ),
        Difference(
            name=SINGLE_FALSE_NEGATIVE_ROW,
            release=(
                "with exactly one false-negative row (two segments of the same video in a batch), its "
                "scores, labels and mask get an extra leading axis (1, 1, L) (model.py:499-503,596-600): "
                "the max and softmax run over a singleton axis and the term is a constant ~1e-6"
            ),
            corrected="the single row is ranked over its clips like any other false-negative row",
            why="the term is meant to rank the clips of that video; the extra axis makes it a constant",
        ),
    )

    #: the DAB decoder's anchor sine embedding has hidden/2 frequencies, in sin/cos pairs
    HIDDEN_DIM_MULTIPLE: ClassVar[int] = 4

    name: Literal["cg_detr"] = "cg_detr"

    dropout: float = Field(0.1, ge=0, lt=1, description="Transformer dropout / DropPath probability.")
    t2v_layers: int = Field(2, ge=1, description="Text-to-video (dummy-aware) cross-attention layers.")
    enc_layers: int = Field(3, ge=1, description="Self-attention encoder layers over [saliency token | video].")
    dec_layers: int = Field(3, ge=1, description="DAB decoder layers.")
    moment_layers: int = Field(1, ge=1, description="Layers of the moment-token encoder (training only).")
    dummy_layers: int = Field(2, ge=1, description="Layers of the dummy-token encoder (8 heads, hard-coded).")
    sent_layers: int = Field(1, ge=1, description="Layers of the sentence-token encoder (8 heads, training only).")
    num_dummies: int = Field(45, ge=1, description="Learned dummy tokens prepended to the text.")
    total_prompts: int = Field(10, ge=1, description="Learned saliency prompt tokens (global_rep_token rows).")
    num_prompts: int = Field(1, ge=1, description="Prompt tokens mixed into the saliency token (top-k).")
    strip_vid_window: bool = Field(
        True,
        description=(
            "QVHighlights ids ('<youtube id>_<start>_<end>'): the video of a sample is its id up to the "
            "second-to-last '_' (release dset_name 'hl'); False: the id itself (other datasets)."
        ),
    )
    use_matcher: bool = Field(
        True, description="Moment losses with Hungarian matching; False = saliency only (release TVSum/YouTube)."
    )
    eos_coef: float = Field(0.1, gt=0, description="CE weight of the background class.")
    wattn_weight: float = Field(
        1.0, ge=0, description="Factor of the attention-saliency terms inside loss_saliency (lw_wattn)."
    )
    ms_align_weight: float = Field(1.0, ge=0, description="Weight of loss_ms_align (lw_ms_align).")
    distill_weight: float = Field(
        1.0, ge=0, description="Weight of loss_distill and loss_orthogonal_dummy (both lw_distill in the release)."
    )

    @model_validator(mode="after")
    def _check_shapes(self) -> CGDETRConfig:
        if self.hidden_dim % AUX_ENCODER_HEADS:
            raise ValueError(
                f"hidden_dim={self.hidden_dim} is not divisible by {AUX_ENCODER_HEADS}, the heads the release "
                "hard-codes for its dummy and sentence encoders"
            )
        if self.num_prompts > self.total_prompts:
            raise ValueError(f"num_prompts={self.num_prompts} exceeds total_prompts={self.total_prompts}")
        return self
