"""Release checkpoint (dpaul06/VideoLights train.py) -> our config and state dict."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import Tensor

from model.zoo.videolights.config import VideoLightsConfig

#: Keys that only VideoLights' release has (Bi-CMF + FRA + Uni-JFM GRU).
_SIGNATURE = (
    "transformer.t2v_encoder.layers.0.cross_attn_3.in_proj_weight",
    "feature_refinement.mixer.conv1d.weight",
    "feature_refinement.cor_q_w",
)


def _unsupported(opt: Mapping[str, Any]) -> None:
    checks = {
        "span_loss_type": (opt.get("span_loss_type", "l1") != "l1", "only 'l1' (cx, w) regression is implemented"),
        "pre_norm": (bool(opt.get("pre_norm", False)), "the release's pre-norm Bi-CMF path is not implemented"),
        "use_txt_pos": (bool(opt.get("use_txt_pos", False)), "text positional embeddings are not implemented"),
        "position_embedding": (opt.get("position_embedding", "sine") != "sine", "only the sine encoding exists"),
        "a_feat_dim": (int(opt.get("a_feat_dim", 0) or 0) > 0, "audio features are not supported"),
    }
    for option, (bad, why) in checks.items():
        if bad:
            raise ValueError(f"release option {option}={opt.get(option)!r} cannot be honoured: {why}")


def config_from_options(opt: dict[str, Any]) -> VideoLightsConfig:
    """vars() of the release's option Namespace -> VideoLightsConfig (v_feat_dim already includes TEF).

    Raises:
        ValueError: an option the model cannot honour (the message names it).
    """
    _unsupported(opt)
    return VideoLightsConfig(
        video_dim=int(opt["v_feat_dim"]),
        text_dim=int(opt["t_feat_dim"]),
        hidden_dim=int(opt["hidden_dim"]),
        num_heads=int(opt["nheads"]),
        ffn_dim=int(opt["dim_feedforward"]),
        dropout=float(opt["dropout"]),
        input_dropout=float(opt["input_dropout"]),
        input_proj_layers=int(opt["n_input_proj"]),
        bicmf_layers=int(opt["bicmf_layers"]),
        enc_layers=int(opt["enc_layers"]),
        dec_layers=int(opt["dec_layers"]),
        num_queries=int(opt["num_queries"]),
        contrastive_dim=int(opt["contrastive_hdim"]),
        clip_len=float(opt["clip_length"]),
        aux_loss=bool(opt["aux_loss"]),
        contrastive_align_loss=bool(opt["contrastive_align_loss"]),
        mr_to_hd=bool(opt["mr_to_hd_loss"]),
        span_l1_weight=float(opt["span_loss_coef"]),
        span_giou_weight=float(opt["giou_loss_coef"]),
        label_weight=float(opt["label_loss_coef"]),
        eos_coef=float(opt["eos_coef"]),
        saliency_weight=float(opt["lw_saliency"]),
        saliency_margin=float(opt["saliency_margin"]),
        contrastive_align_weight=float(opt["contrastive_align_loss_coef"]),
        hard_pos_neg=bool(opt["hard_pos_neg_loss"]),
        hard_pos_neg_weight=float(opt["hard_pos_neg_loss_coef"]),
        cos_sim_weight=float(opt["cos_sim_loss_coef"]),
        mr_to_hd_weight=float(opt["mr_to_hd_loss_coef"]),
        temperature=float(opt["temperature"]),
        match_cost_span=float(opt["set_cost_span"]),
        match_cost_giou=float(opt["set_cost_giou"]),
        match_cost_class=float(opt["set_cost_class"]),
        use_matcher=opt.get("dset_name", "hl") not in ("tvsum", "youtube_uni"),
    )


def map_state_dict(state: Mapping[str, Tensor], cfg: VideoLightsConfig) -> tuple[dict[str, Tensor], dict[str, str]]:
    """Our keys equal the release's; only the never-used text position embedding is dropped.

    Returns:
        (our state dict, {release key: why it is not used}).
    """
    ours: dict[str, Tensor] = {}
    unused: dict[str, str] = {}
    for key, value in state.items():
        if key.startswith("txt_position_embed."):
            unused[key] = "text position embedding: built by the release but unused (use_txt_pos off, model.py:171)"
        else:
            ours[key] = value
    return ours, unused


def recognises(opt: dict[str, Any], state_keys: set[str]) -> bool:
    """True for VideoLights release checkpoints (Bi-CMF + FRA keys)."""
    return all(key in state_keys for key in _SIGNATURE)
