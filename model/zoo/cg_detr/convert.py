"""Release checkpoints of wjun0830/CGDETR -> CGDETRConfig and our state dict."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import Tensor

from model.zoo.cg_detr.config import CGDETRConfig
from model.zoo.common.checkpoint import check_required, detr_fields, require, split_unused

#: Keys only CG-DETR's release has (dummy tokens, sentence and moment encoders).
_DISTINCTIVE_KEYS = (
    "dummy_rep_token",
    "sent_rep_token",
    "moment_rep_token",
    "txtproj_encoder.layers.0.self_attn.in_proj_weight",
    "scls_encoder.layers.0.self_attn.in_proj_weight",
    "transformer.mcls_encoder.layers.0.self_attn.in_proj_weight",
    "transformer.t2v_encoder.layers.0.self_attn.out_proj.weight",
)


#: CG-DETR's own options -> config field.
_OWN_FIELDS = {
    "t2v_layers": "t2v_layers", "moment_layers": "moment_layers", "dummy_layers": "dummy_layers",
    "sent_layers": "sent_layers", "num_dummies": "num_dummies", "total_prompts": "total_prompts",
    "num_prompts": "num_prompts", "lw_wattn": "wattn_weight", "lw_ms_align": "ms_align_weight",
    "lw_distill": "distill_weight",
}  # fmt: skip


def config_from_options(opt: dict[str, Any]) -> CGDETRConfig:
    """CGDETRConfig from vars() of the release's option Namespace (config.py BaseOptions).

    Raises:
        ValueError: an option the model cannot honour (named in the message).
    """
    check_required(opt)
    require(opt, "a_feat_dir", opt.get("a_feat_dir") is None, "audio features are not supported")
    dset = opt.get("dset_name", "hl")
    require(opt, "dset_name", dset != "youtube_uni", "negative-pair losses weighted 0 are not supported")
    values = detr_fields(opt)
    values.update({field: opt[option] for option, field in _OWN_FIELDS.items() if option in opt})
    return CGDETRConfig(**values, strip_vid_window=dset == "hl", use_matcher=dset not in ("tvsum", "youtube_uni"))


def map_state_dict(state: Mapping[str, Tensor], cfg: CGDETRConfig) -> tuple[dict[str, Tensor], dict[str, str]]:
    """Release state dict -> ours: the keys are the release's and every tensor is built (the
    never-used txt_position_embed and txt_proj_linear included): the identity, nothing unused."""
    del cfg  # the mapping does not depend on the sizes
    return split_unused(state, {})


def recognises(opt: dict[str, Any], state_keys: set[str]) -> bool:
    """True only for CG-DETR release checkpoints (dummy, sentence and moment-token keys)."""
    return "num_dummies" in opt and all(k in state_keys for k in _DISTINCTIVE_KEYS)
