"""TR-DETR configuration and its release-vs-corrected table."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from model.zoo.common.config import DETRConfig
from model.zoo.fidelity import Difference

DIFFERENCES: tuple[Difference, ...] = (
    Difference(
        name="t2v_mask_layout",
        release="The T2V layer's per-sample (B, Lv, Lt) mask is tiled with .repeat(nhead, 1, 1) "
        "(transformer.py:422-456) while nn.MultiheadAttention reads a 3-D mask as index b*nhead + h, "
        "so batch b / head h is masked with sample (b*nhead + h) mod B's padding.",
        corrected="Each sample's heads use that sample's own mask (repeat_interleave layout).",
        why="Masks leak between samples: valid video clips of one video lose text tokens because "
        "another video of the batch is shorter, so outputs depend on what the video is batched with.",
    ),
    Difference(
        name="hd2mr_masked_softmax",
        release="HD2MR's clip weights softmax_L(H) run over every position, padded clips included "
        "(transformer.py:148-157).",
        corrected="The softmax runs over the video's valid clips; padded clips get weight 0.",
        why="Padded clips take part of the probability mass, so valid clips' weights shrink with "
        "the amount of padding in the batch.",
    ),
    Difference(
        name="mr2hd_video_units",
        release="MR2HD turns the top-1 span into clip indices with the padded batch length L "
        "(model.py:205-247) and slices src_vid_ed[i, st:ed+1] with Python semantics, so a negative "
        "start wraps (st = -1 gives an empty slice).",
        corrected="Clip indices use each video's own valid length n; start is clamped to [0, n-1] "
        "and end to [start, n-1].",
        why="A span normalised to the video's own length points at the wrong clips of every "
        "video shorter than the batch, and a start just below 0 throws the whole moment away.",
    ),
    Difference(
        name="mr2hd_packed_gru",
        release="The MR2HD GRU runs over the slice zero-padded to L and its last hidden state is "
        "taken after the trailing zeros (model.py:205-247, no packing).",
        corrected="The GRU stops at the slice's last clip (packed sequence); an empty slice gives "
        "the initial state 0.",
        why="The moment summary then depends on how many zero steps follow the moment, i.e. on "
        "the batch's padded length and the moment's length, not only on the moment.",
    ),
    Difference(
        name="mr2hd_cosine_weight",
        release="MR2HD's clip weights are raw dot products h . src_vid_ed (model.py:205-247, "
        "variable named cosine_similarity_matrix), unbounded, and memory is scaled by (1 + weight).",
        corrected="The weights are cosine similarities, in [-1, 1].",
        why="Unbounded products can flip the sign of the memory or blow it up with the feature "
        "norms; the release's own name for the matrix is a cosine similarity.",
    ),
    Difference(
        name="vtc_masked_mean",
        release="src_vid_cls_ed / src_txt_cls_ed (the VTC inputs) are plain .mean(1) over every "
        "position, padding included (model.py:142-143).",
        corrected="Means over the valid clips / tokens only.",
        why="Padding positions (projections of zero features) pull the global embeddings of "
        "short videos and queries towards a constant.",
    ),
    Difference(
        name="ctc_valid_clips",
        release="CTC's BCE is averaged over all B*L positions; padded clips enter with logit 0 and "
        "target 0 (loss_fun/CTCLoss.py:6-42).",
        corrected="BCE averaged over the valid clips only.",
        why="Padded clips add a constant log 2 per position and dilute the loss of short videos.",
    ),
    Difference(
        name="rank_contrastive_divisor",
        release="The rank-contrastive saliency loss sums 11 thresholds (r = 1..11) and divides "
        "by 12 (model.py:338-393).",
        corrected="Divides by the 11 thresholds it sums.",
        why="The sum has 11 terms; dividing by 12 silently down-weights the term by 11/12.",
    ),
)


class TRDETRConfig(DETRConfig):
    """TR-DETR at the options of the release's QVHighlights script (tr_detr/scripts/train.sh).

    Defaults: SlowFast+CLIP video (2816 + 2 TEF columns = 2818), CLIP text (512). The shared
    architecture/loss fields are DETRConfig's (eos_coef is not read: the label loss is a focal loss).
    """

    DIFFERENCES: ClassVar[tuple[Difference, ...]] = DIFFERENCES

    #: the DAB decoder's anchor sine embedding has hidden/2 frequencies, in sin/cos pairs
    HIDDEN_DIM_MULTIPLE: ClassVar[int] = 4

    name: Literal["trdetr"] = "trdetr"
    enc_layers: int = Field(
        2, ge=1, description="Layers of the T2V encoder and of the video encoder (--enc_layers)."
    )
    clip_length: float = Field(
        2.0, gt=0, description="Clip length in seconds (--clip_length); MR2HD maps spans to clips with it."
    )
    label_weight: float = Field(4.0, ge=0, description="Weight of the focal loss_label (--label_loss_coef).")
    vtc_weight: float = Field(0.3, ge=0, description="Weight of the global VTC regulator (--VTC_loss_coef).")
    ctc_weight: float = Field(0.5, ge=0, description="Weight of the local CTC regulator (--CTC_loss_coef).")
    temperature: float = Field(
        0.07, gt=0, description="VTC/CTC temperature (train.py builds both losses with their default 0.07)."
    )
