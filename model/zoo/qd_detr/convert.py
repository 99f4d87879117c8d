"""Release checkpoint (wjun0830/QD-DETR train.py) -> QDDETRConfig and our state dict."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import Tensor

from model.zoo.qd_detr.config import QDDETRConfig

_UNUSED_PREFIX = "txt_position_embed."
_UNUSED_WHY = (
    "text positions are zeros with use_txt_pos off (model.py forward); the release allocates and saves "
    "txt_position_embed but never uses it"
)
_TOP_LEVEL = {
    "global_rep_token", "global_rep_pos", "transformer", "txt_position_embed", "span_embed", "class_embed",
    "query_embed", "input_txt_proj", "input_vid_proj", "saliency_proj1", "saliency_proj2",
}  # fmt: skip
_TRANSFORMER_PARTS = {"t2v_encoder", "encoder", "decoder"}
_DISTINCTIVE = {
    "global_rep_token",
    "saliency_proj2.weight",
    "transformer.t2v_encoder.layers.0.self_attn.in_proj_weight",
    "transformer.decoder.layers.0.ca_qpos_sine_proj.weight",
    "transformer.decoder.ref_anchor_head.layers.0.weight",
}


def _require(opt: Mapping[str, Any], key: str, ok: bool, what: str) -> None:
    if not ok:
        raise ValueError(f"release option {key}={opt.get(key)!r}: {what}")


def config_from_options(opt: dict[str, Any]) -> QDDETRConfig:
    """QDDETRConfig from vars() of the release's option Namespace (v_feat_dim already includes TEF).

    Raises:
        ValueError: an option this model does not implement (named in the message).
    """
    _require(
        opt,
        "span_loss_type",
        opt.get("span_loss_type", "l1") == "l1",
        "only 'l1' span regression is implemented",
    )
    _require(opt, "contrastive_align_loss", not opt.get("contrastive_align_loss", False),
             "the contrastive alignment loss (off in every release script) is not implemented")  # fmt: skip
    _require(
        opt, "use_txt_pos", not opt.get("use_txt_pos", False), "learned text positions are not implemented"
    )
    _require(opt, "pre_norm", not opt.get("pre_norm", False), "pre-norm layers are not implemented")
    _require(opt, "position_embedding", opt.get("position_embedding", "sine") == "sine",
             "only sine video positions are implemented")  # fmt: skip
    _require(opt, "a_feat_dir", opt.get("a_feat_dir") is None, "audio features are not implemented")
    _require(opt, "n_input_proj", opt.get("n_input_proj", 2) in (1, 2, 3), "the release supports 1 to 3")
    _require(
        opt,
        "ctx_mode",
        "video" in opt.get("ctx_mode", "video_tef"),
        "a model without video input is not built",
    )
    return QDDETRConfig(
        video_dim=int(opt["v_feat_dim"]),
        text_dim=int(opt["t_feat_dim"]),
        hidden_dim=int(opt["hidden_dim"]),
        num_heads=int(opt["nheads"]),
        ffn_dim=int(opt["dim_feedforward"]),
        dropout=float(opt["dropout"]),
        input_dropout=float(opt["input_dropout"]),
        input_proj_layers=int(opt.get("n_input_proj", 2)),
        enc_layers=int(opt["enc_layers"]),
        dec_layers=int(opt["dec_layers"]),
        num_queries=int(opt["num_queries"]),
        aux_loss=bool(opt.get("aux_loss", True)),
        span_l1_weight=float(opt["span_loss_coef"]),
        span_giou_weight=float(opt["giou_loss_coef"]),
        label_weight=float(opt["label_loss_coef"]),
        eos_coef=float(opt["eos_coef"]),
        saliency_weight=float(opt["lw_saliency"]),
        saliency_margin=float(opt["saliency_margin"]),
        match_cost_span=float(opt["set_cost_span"]),
        match_cost_giou=float(opt["set_cost_giou"]),
        match_cost_class=float(opt["set_cost_class"]),
    )


def map_state_dict(
    state: Mapping[str, Tensor], cfg: QDDETRConfig
) -> tuple[dict[str, Tensor], dict[str, str]]:
    """Our parameter names are the release's: identity, minus the unused text position embedding.

    Returns:
        (our state dict, {release key: why it is not used}).
    """
    ours: dict[str, Tensor] = {}
    unused: dict[str, str] = {}
    for key, value in state.items():
        if key.startswith(_UNUSED_PREFIX):
            unused[key] = _UNUSED_WHY
        else:
            ours[key] = value
    return ours, unused


def recognises(opt: dict[str, Any], state_keys: set[str]) -> bool:
    """True for QD-DETR checkpoints: its distinctive keys, and no module outside QD-DETR's
    (CG-DETR, TR-DETR, VideoLights, TaskWeave add modules of their own)."""
    if not _DISTINCTIVE <= state_keys:
        return False
    for key in state_keys:
        parts = key.split(".")
        if parts[0] not in _TOP_LEVEL:
            return False
        if parts[0] == "transformer" and parts[1] not in _TRANSFORMER_PARTS:
            return False
    return True
