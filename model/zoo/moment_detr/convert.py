"""Release checkpoints of jayleicn/moment_detr -> MomentDETRConfig and our state dict."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import Tensor

from model.zoo.common.checkpoint import (
    LINEAGE_REQUIRED,
    check_required,
    detr_fields,
    split_unused,
    submodules,
    top_modules,
)
from model.zoo.moment_detr.config import MomentDETRConfig

#: Top-level modules of the release's MomentDETR state dict.
_RELEASE_MODULES = {
    "class_embed", "input_txt_proj", "input_vid_proj", "query_embed", "saliency_proj", "span_embed",
    "transformer", "txt_position_embed",
}  # fmt: skip
_REQUIRED = {
    **LINEAGE_REQUIRED,
    "ctx_mode": ("video_tef", "this pipeline feeds video features ending with the two TEF columns"),
}


def config_from_options(opt: dict[str, Any]) -> MomentDETRConfig:
    """vars() of the release's option Namespace -> MomentDETRConfig.

    Raises:
        ValueError: an option the model cannot honour, named.
    """
    check_required(opt, _REQUIRED)
    return MomentDETRConfig(**detr_fields(opt))


def map_state_dict(state: Mapping[str, Tensor], cfg: MomentDETRConfig) -> tuple[dict[str, Tensor], dict[str, str]]:
    """Release state dict -> (ours, {release key: why unused}). Keys are the release's and every
    tensor is built (txt_position_embed, never used, included): the identity, nothing unused."""
    del cfg  # the mapping does not depend on the sizes
    return split_unused(state, {})  # every release tensor is built


def recognises(opt: dict[str, Any], state_keys: set[str]) -> bool:
    """True for Moment-DETR release checkpoints: exactly its modules, one saliency_proj, a plain
    encoder/decoder transformer (QD-DETR, CG-DETR, TR-DETR, TaskWeave and VideoLights add others)."""
    del opt
    if "saliency_proj.weight" not in state_keys or "query_embed.weight" not in state_keys:
        return False
    return top_modules(state_keys) <= _RELEASE_MODULES and submodules(state_keys, "transformer") == {
        "encoder",
        "decoder",
    }
