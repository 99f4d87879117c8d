"""Release checkpoints of jayleicn/moment_detr -> MomentDETRConfig and our state dict."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import Tensor

from model.zoo.moment_detr.config import MomentDETRConfig

#: Top-level modules of the release's MomentDETR state dict.
_RELEASE_MODULES = {
    "class_embed", "input_txt_proj", "input_vid_proj", "query_embed", "saliency_proj", "span_embed",
    "transformer", "txt_position_embed",
}  # fmt: skip
_UNUSED_PREFIX = "txt_position_embed."
_UNUSED_WHY = (
    "built by the release (position_encoding.py:103-106) but never used: text positions are zeros "
    "when use_txt_pos is off (model.py:103)"
)

# option -> (value the model requires, why)
_REQUIRED: dict[str, tuple[Any, str]] = {
    "span_loss_type": ("l1", "only (centre, width) regression is implemented"),
    "contrastive_align_loss": (False, "the contrastive alignment head is not implemented"),
    "use_txt_pos": (False, "text positions are zeros in the release's configuration"),
    "pre_norm": (False, "the release's transformer is post-norm"),
    "position_embedding": ("sine", "the release supports only the sine encoding"),
    "ctx_mode": ("video_tef", "this pipeline feeds video features ending with the two TEF columns"),
}


def config_from_options(opt: dict[str, Any]) -> MomentDETRConfig:
    """vars() of the release's option Namespace -> MomentDETRConfig.

    Raises:
        ValueError: an option the model cannot honour, named.
    """
    for key, (value, why) in _REQUIRED.items():
        if key in opt and opt[key] != value:
            raise ValueError(f"option {key}={opt[key]!r} is not supported ({why}); expected {value!r}")
    n_proj = opt.get("n_input_proj", 2)
    if not 1 <= n_proj <= 3:
        raise ValueError(f"option n_input_proj={n_proj!r}: the release builds 1 to 3 input projection layers")
    return MomentDETRConfig(
        video_dim=opt["v_feat_dim"],
        text_dim=opt["t_feat_dim"],
        hidden_dim=opt["hidden_dim"],
        num_heads=opt["nheads"],
        ffn_dim=opt["dim_feedforward"],
        dropout=opt["dropout"],
        input_dropout=opt["input_dropout"],
        input_proj_layers=n_proj,
        enc_layers=opt["enc_layers"],
        dec_layers=opt["dec_layers"],
        num_queries=opt["num_queries"],
        aux_loss=opt["aux_loss"],
        span_l1_weight=opt["span_loss_coef"],
        span_giou_weight=opt["giou_loss_coef"],
        label_weight=opt["label_loss_coef"],
        eos_coef=opt["eos_coef"],
        saliency_weight=opt["lw_saliency"],
        saliency_margin=opt["saliency_margin"],
        match_cost_span=opt["set_cost_span"],
        match_cost_giou=opt["set_cost_giou"],
        match_cost_class=opt["set_cost_class"],
    )


def map_state_dict(state: Mapping[str, Tensor], cfg: MomentDETRConfig) -> tuple[dict[str, Tensor], dict[str, str]]:
    """Release state dict -> (ours, {release key: why unused}). Keys are the release's, minus
    txt_position_embed.* (never used)."""
    del cfg  # the mapping does not depend on the sizes
    ours: dict[str, Tensor] = {}
    unused: dict[str, str] = {}
    for key, value in state.items():
        if key.startswith(_UNUSED_PREFIX):
            unused[key] = _UNUSED_WHY
        else:
            ours[key] = value
    return ours, unused


def recognises(opt: dict[str, Any], state_keys: set[str]) -> bool:
    """True for Moment-DETR release checkpoints: exactly its modules, one saliency_proj, a plain
    encoder/decoder transformer (QD-DETR, CG-DETR, TR-DETR, TaskWeave and VideoLights add others)."""
    del opt
    if "saliency_proj.weight" not in state_keys or "query_embed.weight" not in state_keys:
        return False
    tops = {k.split(".")[0] for k in state_keys}
    parts = {k.split(".")[1] for k in state_keys if k.startswith("transformer.")}
    return tops <= _RELEASE_MODULES and parts == {"encoder", "decoder"}
