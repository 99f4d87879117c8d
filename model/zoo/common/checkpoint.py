"""Helpers of the models' convert modules: release options -> config fields, option checks,
the unused-key split of a release state dict, and `recognises` by state-dict keys."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from torch import Tensor

#: release option -> (value every model here requires, why); an absent option is the release default.
LINEAGE_REQUIRED: dict[str, tuple[Any, str]] = {
    "span_loss_type": ("l1", "only (centre, width) L1 span regression is implemented"),
    "contrastive_align_loss": (
        False, "the contrastive alignment head (off in every release script) is not implemented"
    ),
    "use_txt_pos": (False, "learned text positions are not implemented (text positions are zeros)"),
    "pre_norm": (False, "pre-norm layers are not implemented (the release scripts are post-norm)"),
    "position_embedding": ("sine", "only the sine clip encoding is implemented"),
}

#: our field -> (release option, the release config.py default); identical in every release here.
_FIELDS: dict[str, tuple[str, Any, type]] = {
    "hidden_dim": ("hidden_dim", 256, int),
    "num_heads": ("nheads", 8, int),
    "ffn_dim": ("dim_feedforward", 1024, int),
    "dropout": ("dropout", 0.1, float),
    "input_dropout": ("input_dropout", 0.5, float),
    "input_proj_layers": ("n_input_proj", 2, int),
    "enc_layers": ("enc_layers", 2, int),
    "dec_layers": ("dec_layers", 2, int),
    "num_queries": ("num_queries", 10, int),
    "aux_loss": ("aux_loss", True, bool),
    "text_positions": ("max_q_l", 32, int),
    "span_l1_weight": ("span_loss_coef", 10.0, float),
    "span_giou_weight": ("giou_loss_coef", 1.0, float),
    "label_weight": ("label_loss_coef", 4.0, float),
    "eos_coef": ("eos_coef", 0.1, float),
    "saliency_weight": ("lw_saliency", 1.0, float),
    "saliency_margin": ("saliency_margin", 0.2, float),
    "match_cost_span": ("set_cost_span", 10.0, float),
    "match_cost_giou": ("set_cost_giou", 1.0, float),
    "match_cost_class": ("set_cost_class", 4.0, float),
}


def require(opt: Mapping[str, Any], key: str, ok: bool, what: str) -> None:
    """Raise ValueError naming release option `key` (and its value) unless ok."""
    if not ok:
        raise ValueError(f"release option {key}={opt.get(key)!r}: {what}")


def check_required(opt: Mapping[str, Any], required: Mapping[str, tuple[Any, str]] = LINEAGE_REQUIRED) -> None:
    """Every option of `required` that is present must have the required value.

    Raises:
        ValueError: naming the first option the model cannot honour.
    """
    for key, (value, why) in required.items():
        require(opt, key, key not in opt or opt[key] == value, f"not supported ({why}); expected {value!r}")


def detr_fields(opt: Mapping[str, Any]) -> dict[str, Any]:
    """DETRConfig field values from vars() of a release option Namespace (v_feat_dim already
    includes the two TEF columns). Options absent from `opt` take the release's default.

    Raises:
        ValueError: v_feat_dim / t_feat_dim missing or not a positive int; n_input_proj not 1-3.
    """
    for key in ("v_feat_dim", "t_feat_dim"):
        require(opt, key, isinstance(opt.get(key), int) and opt[key] > 0, "a positive feature size is needed")
    require(opt, "n_input_proj", opt.get("n_input_proj", 2) in (1, 2, 3), "the release builds 1 to 3 layers")
    fields = {name: kind(opt.get(option, default)) for name, (option, default, kind) in _FIELDS.items()}
    return {"video_dim": int(opt["v_feat_dim"]), "text_dim": int(opt["t_feat_dim"]), **fields}


def split_unused(
    state: Mapping[str, Tensor], unused_prefixes: Mapping[str, str]
) -> tuple[dict[str, Tensor], dict[str, str]]:
    """Identity map of a release state dict (our names are the release's) minus the keys under
    `unused_prefixes` ({prefix: why the release never uses it}).

    Returns:
        (our state dict, {release key: why unused}).
    """
    ours: dict[str, Tensor] = {}
    unused: dict[str, str] = {}
    for key, value in state.items():
        why = next((w for prefix, w in unused_prefixes.items() if key.startswith(prefix)), None)
        if why is None:
            ours[key] = value
        else:
            unused[key] = why
    return ours, unused


def top_modules(state_keys: Iterable[str]) -> set[str]:
    """First component of every state-dict key ("transformer", "span_embed", ...)."""
    return {k.split(".")[0] for k in state_keys}


def submodules(state_keys: Iterable[str], parent: str) -> set[str]:
    """Second component of the keys under `parent.` (e.g. transformer -> {"encoder", "decoder"})."""
    return {k.split(".")[1] for k in state_keys if k.startswith(parent + ".")}
