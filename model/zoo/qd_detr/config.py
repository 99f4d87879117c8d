"""QD-DETR's configuration: the options of the release's `qd_detr/config.py` that the model and
its criterion read, under this repository's names, plus the table of corrections."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from model.zoo.common.config import DETRConfig
from model.zoo.fidelity import Difference

T2V_OWN_MASK = "t2v_own_mask"
T2V_NORM_RESIDUAL = "t2v_norm_residual"
RANK_CONTRASTIVE_MEAN = "rank_contrastive_mean"


class QDDETRConfig(DETRConfig):
    """QD-DETR (Moon et al., CVPR 2023). Defaults = the release's QVHighlights script
    (`qd_detr/scripts/train.sh`: SlowFast+CLIP video 2816 + 2 TEF columns, CLIP text 512); the
    shared architecture/loss fields are DETRConfig's."""

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

    #: the DAB decoder's anchor sine embedding has hidden/2 frequencies, in sin/cos pairs
    HIDDEN_DIM_MULTIPLE: ClassVar[int] = 4

    name: Literal["qd_detr"] = "qd_detr"
    enc_layers: int = Field(
        2, ge=1, description="Layers of the T2V encoder and of the encoder, each (release --enc_layers)."
    )
    dec_layers: int = Field(2, ge=1, description="DAB decoder layers (release --dec_layers).")
