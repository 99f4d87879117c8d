"""TaskWeave release checkpoints -> our config and state dict.

A release checkpoint (train.py:206-215) is {model, optimizer, lr_scheduler, epoch, opt, state_dict_ema};
inference loads `state_dict_ema` (inference.py:329-331). Both state dicts have the same keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import Tensor

from model.zoo.common.checkpoint import check_required, detr_fields, require, split_unused
from model.zoo.taskweave.config import TaskWeaveConfig


# Keys only TaskWeave's transformer has (its MR expert and uncertainty weights).
_DISTINCTIVE = ("transformer.mr_conv.conv.weight", "transformer.mr_norm.weight", "hd_log_var", "mr_log_var")


def config_from_options(opt: dict[str, Any]) -> TaskWeaveConfig:
    """Config from vars() of the release's option Namespace (taskweave/config.py; v_feat_dim
    already includes the 2 TEF columns, config.py:178).

    Raises:
        ValueError: an option this model cannot honour (named in the message). pre_norm is refused
            also because the release's T2V forward_pre hard-codes 75 clips.
    """
    require(opt, "a_feat_dir", opt.get("a_feat_dir") is None, "audio features are not supported")
    check_required(opt)
    return TaskWeaveConfig(**detr_fields(opt))


def map_state_dict(
    state: Mapping[str, Tensor], cfg: TaskWeaveConfig
) -> tuple[dict[str, Tensor], dict[str, str]]:
    """Release state dict (training or EMA weights) -> (ours, {release key: why unused}).

    Our parameter names are the release's, and every tensor is built (txt_position_embed,
    never used, included): the identity, nothing unused.
    """
    del cfg  # the names do not depend on the configuration
    return split_unused(state, {})  # every release tensor is built


def recognises(opt: dict[str, Any], state_keys: set[str]) -> bool:
    """True for TaskWeave release checkpoints (its MR expert and log-variance parameters)."""
    del opt
    return all(k in state_keys for k in _DISTINCTIVE)
