"""TaskWeave's configuration and its release-vs-corrected table."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from model.zoo.common.config import DETRConfig
from model.zoo.fidelity import Difference

DIFFERENCES: tuple[Difference, ...] = (
    Difference(
        name="mr_expert_mask",
        release=(
            "The MR expert's depthwise MaskedConv1D is given the padding mask (True at padding) as its "
            "keep-mask (transformer.py:190, MaskedConv1D :295): the conv output is zeroed at every valid "
            "clip, so after the channel LayerNorm and the 1x1 projection the expert emits mr_proj(mr_norm.bias), "
            "one constant vector for every valid clip of every video; only padded clips carry the conv."
        ),
        corrected=(
            "The conv output is kept at valid clips and zeroed at padding (the mask MaskedConv1D expects, "
            "1 = valid), so the MR expert is a per-clip local-context feature."
        ),
        why=(
            "The task-specific MR expert is otherwise dead on every real clip (a constant gate on the "
            "shared feature)."
        ),
    ),
    Difference(
        name="hgf_valid_threshold",
        release=(
            "Highlight-guided feedback thresholds the first-pass saliency at its mean over all L clips of the "
            "padded batch, padding included, and the resulting mask also doubles padded clips (model.py:171-177)."
        ),
        corrected=(
            "The threshold is the mean over each video's valid clips, and only valid clips above it are "
            "emphasised (padded clips never enter the mask)."
        ),
        why="Padding changes the threshold, so a video's feedback mask depends on the other videos of its batch.",
    ),
    Difference(
        name="weighted_objective",
        release=(
            "The training objective (train.py:71-84) sums the moment losses and the saliency loss without the "
            "configured loss weights: 2*L_hd*exp(-s_hd) + L_mr*exp(-s_mr) + s_hd + s_mr with L_mr = the "
            "unweighted sum of span/giou/label (and their aux copies) and L_hd = loss_saliency."
        ),
        corrected=(
            "L_mr and L_hd are the weighted sums (span_l1_weight, span_giou_weight, label_weight, "
            "saliency_weight), as in the release's commented-out lines train.py:74,77; the uncertainty "
            "weighting is kept."
        ),
        why="Without the weights the L1 span term (weight 10) is under-weighted 10x against the label term.",
    ),
)


class TaskWeaveConfig(DETRConfig):
    """TaskWeave (Yang et al., CVPR 2024), as released in EdenGabriel/TaskWeave.

    Defaults are the release's QVHighlights script (`taskweave/scripts/train.sh` + `taskweave/config.py`):
    SlowFast+CLIP video (2816 + 2 TEF), CLIP text (512), hidden 256. The shared architecture/loss
    fields are DETRConfig's; those redeclared here mean something TaskWeave-specific.
    """

    DIFFERENCES: ClassVar[tuple[Difference, ...]] = DIFFERENCES

    #: the DAB decoder's anchor sine embedding has hidden/2 frequencies, in sin/cos pairs
    HIDDEN_DIM_MULTIPLE: ClassVar[int] = 4

    name: Literal["taskweave"] = "taskweave"
    enc_layers: int = Field(2, ge=1, description="T2V fusion layers (the shared encoder always has 2 layers).")
    feedback_start_epoch: int = Field(
        100,
        ge=0,
        description=(
            "Highlight-guided feedback runs when epoch is None (inference) or epoch + 1 > this "
            "(hard-coded epoch_thres = 100, model.py:164)."
        ),
    )
    span_l1_weight: float = Field(
        10.0, ge=0, description="Weight of loss_span (only the corrected objective uses it)."
    )
    span_giou_weight: float = Field(
        1.0, ge=0, description="Weight of loss_giou (only the corrected objective uses it)."
    )
    label_weight: float = Field(4.0, ge=0, description="Weight of loss_label (only the corrected objective uses it).")
    saliency_weight: float = Field(
        1.0, ge=0, description="Weight of loss_saliency (only the corrected objective uses it)."
    )
