"""TaskWeave release checkpoints -> our config and state dict.

A release checkpoint (train.py:206-215) is {model, optimizer, lr_scheduler, epoch, opt, state_dict_ema};
inference loads `state_dict_ema` (inference.py:329-331). Both state dicts have the same keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import Tensor

from model.zoo.taskweave.config import TaskWeaveConfig

UNUSED_PREFIX = "txt_position_embed."
UNUSED_REASON = (
    "TrainablePositionalEncoding for text (model.py:203, position_encoding.py): built by the release but "
    "only used with --use_txt_pos, which no release script sets; text positions are zeros (model.py:121)"
)

# Keys only TaskWeave's transformer has (its MR expert and uncertainty weights).
_DISTINCTIVE = ("transformer.mr_conv.conv.weight", "transformer.mr_norm.weight", "hd_log_var", "mr_log_var")


def _unsupported(opt: Mapping[str, Any], name: str, ok: bool, what: str) -> None:
    if not ok:
        raise ValueError(f"option {name}={opt.get(name)!r}: {what}")


def config_from_options(opt: dict[str, Any]) -> TaskWeaveConfig:
    """Config from vars() of the release's option Namespace (taskweave/config.py).

    Raises:
        ValueError: an option this model cannot honour (named in the message).
    """
    _unsupported(opt, "a_feat_dir", opt.get("a_feat_dir") is None, "audio features are not supported")
    _unsupported(opt, "span_loss_type", opt.get("span_loss_type", "l1") == "l1", "only 'l1' span regression")
    _unsupported(
        opt, "contrastive_align_loss", not opt.get("contrastive_align_loss", False),
        "the contrastive alignment head is not supported (off in every release script)",
    )
    _unsupported(opt, "use_txt_pos", not opt.get("use_txt_pos", False), "text positions are not supported")
    _unsupported(
        opt, "pre_norm", not opt.get("pre_norm", False),
        "pre-norm layers are not supported (the release's T2V forward_pre hard-codes 75 clips)",
    )
    _unsupported(
        opt, "position_embedding", opt.get("position_embedding", "sine") == "sine", "only 'sine' is supported"
    )
    _unsupported(opt, "n_input_proj", 1 <= int(opt.get("n_input_proj", 2)) <= 3, "must be 1, 2 or 3")
    for name in ("v_feat_dim", "t_feat_dim"):
        positive = isinstance(opt.get(name), int) and opt[name] > 0
        _unsupported(opt, name, positive, "a positive feature size is needed")
    return TaskWeaveConfig(
        video_dim=opt["v_feat_dim"],  # already includes the 2 TEF columns (config.py:178)
        text_dim=opt["t_feat_dim"],
        hidden_dim=opt.get("hidden_dim", 256),
        num_heads=opt.get("nheads", 8),
        ffn_dim=opt.get("dim_feedforward", 1024),
        dropout=opt.get("dropout", 0.1),
        input_dropout=opt.get("input_dropout", 0.5),
        input_proj_layers=opt.get("n_input_proj", 2),
        enc_layers=opt.get("enc_layers", 2),
        dec_layers=opt.get("dec_layers", 2),
        num_queries=opt.get("num_queries", 10),
        aux_loss=opt.get("aux_loss", True),
        span_l1_weight=opt.get("span_loss_coef", 10),
        span_giou_weight=opt.get("giou_loss_coef", 1),
        label_weight=opt.get("label_loss_coef", 4),
        saliency_weight=opt.get("lw_saliency", 1.0),
        eos_coef=opt.get("eos_coef", 0.1),
        saliency_margin=opt.get("saliency_margin", 0.2),
        match_cost_span=opt.get("set_cost_span", 10),
        match_cost_giou=opt.get("set_cost_giou", 1),
        match_cost_class=opt.get("set_cost_class", 4),
    )


def map_state_dict(
    state: Mapping[str, Tensor], cfg: TaskWeaveConfig
) -> tuple[dict[str, Tensor], dict[str, str]]:
    """Release state dict (training or EMA weights) -> (ours, {release key: why unused}).

    Our parameter names are the release's, so this drops the unused text position embedding only.
    """
    del cfg  # the names do not depend on the configuration
    ours = {k: v for k, v in state.items() if not k.startswith(UNUSED_PREFIX)}
    unused = {k: UNUSED_REASON for k in state if k.startswith(UNUSED_PREFIX)}
    return ours, unused


def recognises(opt: dict[str, Any], state_keys: set[str]) -> bool:
    """True for TaskWeave release checkpoints (its MR expert and log-variance parameters)."""
    del opt
    return all(k in state_keys for k in _DISTINCTIVE)
