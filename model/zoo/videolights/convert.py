"""Release checkpoint (dpaul06/VideoLights train.py) -> our config and state dict."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import Tensor

from model.zoo.common.checkpoint import LINEAGE_REQUIRED, check_required, detr_fields, require, split_unused
from model.zoo.videolights.config import VideoLightsConfig

#: Keys that only VideoLights' release has (Bi-CMF + FRA + Uni-JFM GRU).
_SIGNATURE = (
    "transformer.t2v_encoder.layers.0.cross_attn_3.in_proj_weight",
    "feature_refinement.mixer.conv1d.weight",
    "feature_refinement.cor_q_w",
)

#: The lineage's option requirements, except the contrastive alignment head VideoLights builds and trains.
_REQUIRED = {k: v for k, v in LINEAGE_REQUIRED.items() if k != "contrastive_align_loss"}


def config_from_options(opt: dict[str, Any]) -> VideoLightsConfig:
    """vars() of the release's option Namespace -> VideoLightsConfig (v_feat_dim already includes TEF).

    Raises:
        ValueError: an option the model cannot honour (the message names it).
    """
    check_required(opt, _REQUIRED)
    require(opt, "a_feat_dim", not int(opt.get("a_feat_dim", 0) or 0), "audio features are not supported")
    return VideoLightsConfig(
        **detr_fields(opt),
        bicmf_layers=int(opt["bicmf_layers"]),
        contrastive_dim=int(opt["contrastive_hdim"]),
        clip_len=float(opt["clip_length"]),
        contrastive_align_loss=bool(opt["contrastive_align_loss"]),
        mr_to_hd=bool(opt["mr_to_hd_loss"]),
        contrastive_align_weight=float(opt["contrastive_align_loss_coef"]),
        hard_pos_neg=bool(opt["hard_pos_neg_loss"]),
        hard_pos_neg_weight=float(opt["hard_pos_neg_loss_coef"]),
        cos_sim_weight=float(opt["cos_sim_loss_coef"]),
        mr_to_hd_weight=float(opt["mr_to_hd_loss_coef"]),
        temperature=float(opt["temperature"]),
        use_matcher=opt.get("dset_name", "hl") not in ("tvsum", "youtube_uni"),
    )


def map_state_dict(state: Mapping[str, Tensor], cfg: VideoLightsConfig) -> tuple[dict[str, Tensor], dict[str, str]]:
    """Our keys equal the release's, txt_position_embed included (built, never used): the identity map.

    Returns:
        (our state dict, {}): no release key is left out.
    """
    del cfg  # the names do not depend on the configuration
    return split_unused(state, {})


def recognises(opt: dict[str, Any], state_keys: set[str]) -> bool:
    """True for VideoLights release checkpoints (Bi-CMF + FRA keys)."""
    del opt
    return all(key in state_keys for key in _SIGNATURE)
