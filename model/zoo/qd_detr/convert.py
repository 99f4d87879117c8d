"""Release checkpoint (wjun0830/QD-DETR train.py) -> QDDETRConfig and our state dict."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import Tensor

from model.zoo.common.checkpoint import check_required, detr_fields, require, split_unused, submodules, top_modules
from model.zoo.qd_detr.config import QDDETRConfig

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


def config_from_options(opt: dict[str, Any]) -> QDDETRConfig:
    """QDDETRConfig from vars() of the release's option Namespace (v_feat_dim already includes TEF).

    Raises:
        ValueError: an option this model does not implement (named in the message).
    """
    check_required(opt)
    require(opt, "a_feat_dir", opt.get("a_feat_dir") is None, "audio features are not implemented")
    require(opt, "ctx_mode", "video" in opt.get("ctx_mode", "video_tef"), "a model without video input is not built")
    return QDDETRConfig(**detr_fields(opt))


def map_state_dict(
    state: Mapping[str, Tensor], cfg: QDDETRConfig
) -> tuple[dict[str, Tensor], dict[str, str]]:
    """Our parameter names are the release's: identity (txt_position_embed, built by the
    release and never used, is built too), nothing unused.

    Returns:
        (our state dict, {release key: why it is not used}).
    """
    del cfg  # the names do not depend on the configuration
    return split_unused(state, {})  # every release tensor is built


def recognises(opt: dict[str, Any], state_keys: set[str]) -> bool:
    """True for QD-DETR checkpoints: its distinctive keys, and no module outside QD-DETR's
    (CG-DETR, TR-DETR, VideoLights, TaskWeave add modules of their own)."""
    del opt
    return (
        _DISTINCTIVE <= state_keys
        and top_modules(state_keys) <= _TOP_LEVEL
        and submodules(state_keys, "transformer") <= _TRANSFORMER_PARTS
    )
