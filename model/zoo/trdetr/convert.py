"""TR-DETR release checkpoints (tr_detr/train.py) -> TRDETRConfig and our state dict."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import Tensor

from model.zoo.trdetr.config import TRDETRConfig

#: Release keys we do not build, and why.
_UNUSED_PREFIXES = {
    "txt_position_embed.": "learned text position encoding (TrainablePositionalEncoding), used only with "
    "--use_txt_pos, which no release script sets: the text position is 0 (model.py:151)",
}

#: Release option -> config field, copied as they are.
_FIELDS = {
    "hidden_dim": "hidden_dim",
    "nheads": "num_heads",
    "dim_feedforward": "ffn_dim",
    "dropout": "dropout",
    "input_dropout": "input_dropout",
    "n_input_proj": "input_proj_layers",
    "enc_layers": "enc_layers",
    "dec_layers": "dec_layers",
    "num_queries": "num_queries",
    "clip_length": "clip_length",
    "aux_loss": "aux_loss",
    "span_loss_coef": "span_l1_weight",
    "giou_loss_coef": "span_giou_weight",
    "label_loss_coef": "label_weight",
    "lw_saliency": "saliency_weight",
    "saliency_margin": "saliency_margin",
    "set_cost_span": "match_cost_span",
    "set_cost_giou": "match_cost_giou",
    "set_cost_class": "match_cost_class",
    "VTC_loss_coef": "vtc_weight",
    "CTC_loss_coef": "ctc_weight",
}

#: Options whose non-default values this model cannot honour: option -> (required value, why).
_REQUIRED = {
    "span_loss_type": ("l1", "only (centre, width) regression is implemented"),
    "contrastive_align_loss": (False, "the contrastive alignment heads are not built"),
    "use_txt_pos": (False, "the learned text position encoding is not built"),
    "pre_norm": (False, "the release's pre-norm T2V layer hard-codes 75 clips and is not reproduced"),
    "position_embedding": ("sine", "only the sine video position encoding is implemented"),
    "ctx_mode": ("video_tef", "the model expects video features followed by the two TEF columns"),
}


def config_from_options(opt: dict[str, Any]) -> TRDETRConfig:
    """The config of a release run from vars() of its option Namespace.

    Raises:
        ValueError: an option the model cannot honour (named in the message), or a missing
            feature dimension.
    """
    for option, (required, why) in _REQUIRED.items():
        if option in opt and opt[option] != required:
            raise ValueError(
                f"option {option}={opt[option]!r} is not supported ({why}); expected {required!r}"
            )
    if opt.get("a_feat_dir") is not None or opt.get("a_feat_dim"):
        raise ValueError(
            f"option a_feat_dir={opt.get('a_feat_dir')!r}: audio checkpoints are not supported "
            "(the release concatenates audio to the video features before projection)"
        )
    for option in ("v_feat_dim", "t_feat_dim"):
        if not opt.get(option):
            raise ValueError(f"option {option} is missing from the checkpoint's options")
    values: dict[str, Any] = {"video_dim": int(opt["v_feat_dim"]), "text_dim": int(opt["t_feat_dim"])}
    values.update({field: opt[option] for option, field in _FIELDS.items() if option in opt})
    try:
        return TRDETRConfig(**values)
    except ValueError as err:
        raise ValueError(f"release options give an invalid TR-DETR config: {err}") from None


def map_state_dict(
    state: Mapping[str, Tensor], cfg: TRDETRConfig
) -> tuple[dict[str, Tensor], dict[str, str]]:
    """Release state dict -> ours (same names) and {release key: why unused}."""
    ours: dict[str, Tensor] = {}
    unused: dict[str, str] = {}
    for key, value in state.items():
        reason = next((why for prefix, why in _UNUSED_PREFIXES.items() if key.startswith(prefix)), None)
        if reason is None:
            ours[key] = value
        else:
            unused[key] = reason
    return ours, unused


def recognises(opt: dict[str, Any], state_keys: set[str]) -> bool:
    """True for TR-DETR checkpoints: the VFR fuser and the MR2HD GRU together are unique to it
    (VideoLights also has a `gru_extractor`, but no `fuser.cq_attention`)."""
    return "fuser.cq_attention.w4mlu" in state_keys and "gru_extractor.gru.weight_ih_l0" in state_keys
