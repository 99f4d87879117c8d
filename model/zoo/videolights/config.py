"""VideoLights configuration and the table of our corrections of the release (dpaul06/VideoLights)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, model_validator

from model.zoo.common.config import DETRConfig
from model.zoo.fidelity import Difference

#: Release commit every file:line below refers to (video_lights/...).
RELEASE_COMMIT = "76308bb0ad007981bd58f393ad0bbb8f07720953"

_DIFFERENCES: tuple[Difference, ...] = (
    Difference(
        name="fra_correlation",
        release="FRA softmaxes word-clip dot products over words without the text mask and multiplies the "
        "result with a matrix whose word rows are all the same vector cor_q_w*cor_v_w, so the 'correlation' "
        "input of the mixer is one constant vector for every clip (feature_refinement.py:39-47).",
        corrected="softmax over the valid words only, then correlation = softmax^T @ (text * cor_q_w * cor_v_w): "
        "each clip gets its own attention-weighted (element-wise re-weighted) text vector.",
        why="the constant term carries no clip-text information; the module is meant to inject word-clip correlation.",
    ),
    Difference(
        name="bicmf_text_norm",
        release="Bi-CMF updates the text branch as t1 = T + linear2(MHA2(...)) without a LayerNorm; norm2 is "
        "built but never used (transformer.py:471-475).",
        corrected="t1 = norm2(T + linear2(MHA2(...))), post-norm like the video branch.",
        why="every other residual of the post-norm layer is normalised; norm2 exists for exactly this.",
    ),
    Difference(
        name="bicmf_ffn_residual",
        release="Bi-CMF's FFN output is LN4(F + dropout(F)) with F = FFN(c): the FFN input c is not added "
        "(transformer.py:485-486).",
        corrected="LN4(c + dropout(F)), the standard post-norm residual.",
        why="without the residual the cross-attended features c are only reachable through the FFN.",
    ),
    Difference(
        name="bicmf_attn_mask",
        release="Bi-CMF tiles its per-sample (B, Lq, Lk) attention mask with .repeat(nhead, 1, 1), but "
        "nn.MultiheadAttention reads index b*nhead+h, so sample b / head h gets the mask of sample "
        "(b*nhead+h) mod B: padding of other videos/queries masks valid pairs (transformer.py:451-476).",
        corrected="the mask is tiled per sample (repeat_interleave over heads), which is exactly the key "
        "padding mask: each video/query only sees its own padding.",
        why="the output of one sample must not depend on the lengths of the other samples of the batch.",
    ),
    Difference(
        name="unijfm_span",
        release="Uni-JFM converts the top query's normalised span to clips with the padded batch length "
        "L_pad (floor((cx,w)->(st,ed) * L_pad*clip_len / clip_len)) and slices without clamping, so a "
        "negative start wraps as a Python index (model.py:252-275).",
        corrected="the span is scaled by the video's own clip count and clamped to [0, n_valid-1].",
        why="spans are normalised by each video's own duration; the padded length selects the wrong clips.",
    ),
    Difference(
        name="unijfm_state",
        release="The GRU runs over the slice zero-padded to L_pad and its final hidden state (after the "
        "zero padding) is the moment vector (components.py:114-124).",
        corrected="the hidden state right after the last clip of the slice (zero vector for an empty slice).",
        why="running the GRU over zeros dilutes the moment summary by an amount that depends on the padding.",
    ),
    Difference(
        name="unijfm_weights",
        release="Uni-JFM weights every clip by the raw dot product g . src_vid_ed[c] (no softmax, no "
        "scaling, padded clips included, model.py:289).",
        corrected="the weights are a softmax of those dot products over the valid clips.",
        why="raw dot products are unbounded and scale with the feature norm; a distribution is intended.",
    ),
    Difference(
        name="cos_loss_batch_sum",
        release="The cosine saliency terms (task-specific, MR-to-HD, video-text alignment) are summed over the "
        "batch (model.py:505-516, 581).",
        corrected="they are averaged over the batch.",
        why="a sum makes their weight relative to the other (averaged) terms grow with the batch size.",
    ),
    Difference(
        name="batch_min_shift",
        release="Before the cosine terms and the hard pos/neg MSE, scores are shifted by the minimum over the "
        "whole batch, padded clips included (model.py:497-510, 571).",
        corrected="each video's scores are shifted by its own minimum over valid clips; padded clips are 0.",
        why="the shift (and so the loss) of one video depends on the other videos and on padding.",
    ),
    Difference(
        name="contrastive_text_padding",
        release="loss_contrastive_align sums query-token similarities over all text tokens including padding "
        "(model.py:529-547), and the alignment term averages src_txt over padded tokens (model.py:560).",
        corrected="only valid text tokens enter the sum and the sentence mean (the mask is read from "
        "outputs['txt_mask']).",
        why="padding tokens are not part of the query.",
    ),
    Difference(
        name="label_ce_mean",
        release="loss_label is the class-weighted CE with reduction='none' followed by a plain mean over "
        "B x Q (model.py:399-400).",
        corrected="the weighted mean sum(w_i * ce_i) / sum(w_i), as F.cross_entropy(weight=...) defines it.",
        why="a plain mean of weighted terms changes the effective weight of the foreground class with the "
        "number of matched queries.",
    ),
    Difference(
        name="hard_pos_neg_epoch",
        release="The hard pos/neg saliency MSE is weighted (epoch+1) * hard_pos_neg_loss_coef "
        "(model.py:407-427), i.e. 2000x at epoch 200.",
        corrected="weighted hard_pos_neg_loss_coef at every epoch.",
        why="an unbounded, epoch-dependent weight swamps every other term late in training.",
    ),
)


class VideoLightsConfig(DETRConfig):
    """VideoLights (FRA + Bi-CMF + DAB decoder + Uni-JFM) at the release's QVHighlights options.

    Defaults are the release's QVHighlights script values (scripts/qvhl/train_from_pretrain-sf_clip.sh with
    config.py defaults): SlowFast+CLIP video (2816 + 2 TEF), CLIP text (512). The architecture and loss
    fields VideoLights shares with the lineage are DETRConfig's; those redeclared here differ in default
    or meaning.
    """

    DIFFERENCES: ClassVar[tuple[Difference, ...]] = _DIFFERENCES

    #: the DAB decoder's anchor sine embedding has hidden/2 frequencies, in sin/cos pairs
    HIDDEN_DIM_MULTIPLE: ClassVar[int] = 4

    name: Literal["videolights"] = "videolights"

    # architecture
    input_proj_layers: int = Field(
        2, ge=1, le=3, description="LayerNorm-Dropout-Conv1d(k=1) blocks per input projection (--n_input_proj)."
    )
    bicmf_layers: int = Field(1, ge=1, description="Bi-CMF (bidirectional cross-modal fusion) layers.")
    enc_layers: int = Field(3, ge=1, description="Encoder layers on [global; video] (release --enc_layers).")
    dec_layers: int = Field(3, ge=1, description="DAB decoder layers (release --dec_layers).")
    contrastive_dim: int = Field(64, gt=0, description="Width of the contrastive-alignment projections.")
    clip_len: float = Field(2.0, gt=0, description="Clip length in seconds (Uni-JFM's span-to-clip conversion).")
    contrastive_align_loss: bool = Field(True, description="Build the query/text/video projections and the loss.")
    mr_to_hd: bool = Field(True, description="Uni-JFM: saliency_scores_mr from the top moment + its loss.")

    # losses
    contrastive_align_weight: float = Field(0.2, ge=0, description="Weight of loss_contrastive_align.")
    hard_pos_neg: bool = Field(True, description="Add the hard positive/negative saliency MSE.")
    hard_pos_neg_weight: float = Field(10.0, ge=0, description="Coefficient of the hard pos/neg MSE.")
    cos_sim_weight: float = Field(1.0, ge=0, description="Coefficient of the task-specific cosine term.")
    mr_to_hd_weight: float = Field(1.0, ge=0, description="Coefficient of the task-coupled (MR-to-HD) term.")
    temperature: float = Field(0.07, gt=0, description="Temperature of the contrastive-alignment logits.")
    use_matcher: bool = Field(
        True, description="False = highlight-only training (release: dset_name tvsum/youtube_uni): saliency only."
    )

    @model_validator(mode="after")
    def _video_has_features(self) -> VideoLightsConfig:
        if self.video_dim < 3:
            raise ValueError(f"video_dim={self.video_dim} must include the two TEF columns plus features")
        return self
