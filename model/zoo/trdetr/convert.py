"""TR-DETR release checkpoints (tr_detr/train.py) -> TRDETRConfig and our state dict."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import Tensor

from model.zoo.common.checkpoint import LINEAGE_REQUIRED, check_required, detr_fields, require, split_unused
from model.zoo.trdetr.config import TRDETRConfig

#: Options whose non-default values this model cannot honour: option -> (required value, why).
_REQUIRED = {
    **LINEAGE_REQUIRED,
    "pre_norm": (False, "the release's pre-norm T2V layer hard-codes 75 clips and is not reproduced"),
    "ctx_mode": ("video_tef", "the model expects video features followed by the two TEF columns"),
}

#: TR-DETR's own options -> config field.
_OWN_FIELDS = {"clip_length": "clip_length", "VTC_loss_coef": "vtc_weight", "CTC_loss_coef": "ctc_weight"}


def config_from_options(opt: dict[str, Any]) -> TRDETRConfig:
    """The config of a release run from vars() of its option Namespace.

    Raises:
        ValueError: an option the model cannot honour (named in the message), or a missing
            feature dimension.
    """
    check_required(opt, _REQUIRED)
    require(
        opt, "a_feat_dir", opt.get("a_feat_dir") is None and not opt.get("a_feat_dim"),
        "audio checkpoints are not supported (the release concatenates audio to the video features)",
    )  # fmt: skip
    values = detr_fields(opt)
    values.update({field: opt[option] for option, field in _OWN_FIELDS.items() if option in opt})
    return TRDETRConfig(**values)


def map_state_dict(
    state: Mapping[str, Tensor], cfg: TRDETRConfig
) -> tuple[dict[str, Tensor], dict[str, str]]:
    """Release state dict -> ours: the names are the release's and every tensor is built
    (txt_position_embed included), so this is the identity and nothing is unused."""
    del cfg  # the names do not depend on the configuration
    return split_unused(state, {})


def recognises(opt: dict[str, Any], state_keys: set[str]) -> bool:
    """True for TR-DETR checkpoints: the VFR fuser and the MR2HD GRU together are unique to it
    (VideoLights also has a `gru_extractor`, but no `fuser.cq_attention`)."""
    del opt
    return "fuser.cq_attention.w4mlu" in state_keys and "gru_extractor.gru.weight_ih_l0" in state_keys
