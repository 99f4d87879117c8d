"""The only place that reads configuration: builds (model, criterion, postprocess) and checkpoints."""

from __future__ import annotations

import logging
from typing import Any

from torch import nn

from model.config import ExperimentConfig
from model.postprocess import PostProcess
from model.zoo.registry import get_family

log = logging.getLogger(__name__)


def build_model(cfg: ExperimentConfig) -> tuple[nn.Module, nn.Module, PostProcess]:
    """Build the model named by cfg.model.name, its criterion and its post-processor.

    The criterion's `criterion(outputs, {**targets, "epoch": e})["total"]` is the training objective
    of the model's release (or of its corrected form, per cfg.model.fidelity).
    """
    model, criterion = get_family(cfg.model.name).build(cfg.model)
    return model, criterion, PostProcess(cfg.train.clip_seconds, cfg.train.max_windows)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def make_checkpoint(
    model: nn.Module, cfg: ExperimentConfig, provenance: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Checkpoint dict {"model": state_dict, "config": plain dict[, "provenance"]}, loadable weights_only.

    provenance: where converted weights came from (model.release_checkpoint: source, sha256, options).
    """
    ckpt: dict[str, Any] = {"model": model.state_dict(), "config": cfg.model_dump(mode="json")}
    if provenance:
        ckpt["provenance"] = provenance
    return ckpt


def build_from_checkpoint(
    checkpoint: dict[str, Any],
) -> tuple[nn.Module, nn.Module, PostProcess, ExperimentConfig]:
    """Rebuild (model, criterion, postprocess, config) from make_checkpoint()'s dict, with the
    weights inference uses: the EMA weights ("model_ema") where training kept them, else "model".

    A release checkpoint of the authors' code (keys "model" and "opt") is converted on the fly.
    """
    from model.release_checkpoint import convert_release, is_release_checkpoint

    if is_release_checkpoint(checkpoint):
        log.info("converting an authors' release checkpoint on the fly "
                 "(save the result once with `videolights convert-checkpoint`)")
        checkpoint = convert_release(checkpoint)
    cfg = ExperimentConfig.model_validate(checkpoint["config"])
    model, criterion, postprocess = build_model(cfg)
    model.load_state_dict(checkpoint.get("model_ema") or checkpoint["model"])
    return model, criterion, postprocess, cfg
