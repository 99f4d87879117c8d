"""The only place that reads configuration: builds (model, criterion, postprocess)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from model.bicmf import BiCMFLayer, TextToVideoLayer
from model.config import ExperimentConfig, LossConfig, ModelConfig
from model.fra import FeatureRefinement
from model.layers.decoder import AnchorDecoder
from model.layers.encoder import EncoderLayer
from model.layers.position import LearnedPositionalEncoding
from model.layers.projection import InputProjection
from model.losses.criterion import MATCHED_TERMS, SetCriterion
from model.losses.taskweave import TaskWeaveCriterion
from model.losses.trdetr import TRDETRCriterion
from model.matcher import HungarianMatcher
from model.postprocess import PostProcess
from model.taskweave import build_taskweave
from model.trdetr import build_trdetr
from model.unijfm import UniJFM
from model.videolights import VideoLights


def _build_videolights(cfg: ModelConfig) -> VideoLights:
    d, heads, ffn, drop = cfg.hidden_dim, cfg.num_heads, cfg.ffn_dim, cfg.dropout
    fusion_cls = BiCMFLayer if cfg.fusion == "bicmf" else TextToVideoLayer
    return VideoLights(
        video_proj=InputProjection(
            cfg.video_dim, d, cfg.projection_layers, cfg.input_dropout, cfg.projection
        ),
        text_proj=InputProjection(
            cfg.text_dim, d, cfg.projection_layers, cfg.input_dropout, cfg.projection
        ),
        fusion=nn.ModuleList(fusion_cls(d, heads, ffn, drop) for _ in range(cfg.fusion_layers)),
        encoder=nn.ModuleList(EncoderLayer(d, heads, ffn, drop) for _ in range(cfg.enc_layers)),
        decoder=AnchorDecoder(d, heads, ffn, drop, cfg.dec_layers, cfg.num_queries),
        hidden_dim=d,
        refinement=FeatureRefinement(d, drop) if cfg.fra else None,
        text_pos=LearnedPositionalEncoding(cfg.max_query_tokens, d) if cfg.text_positions else None,
        uni_jfm=UniJFM(d) if cfg.uni_jfm else None,
        align_dim=cfg.align_dim,
        negative_pairs=cfg.negative_pairs,
    )


#: ModelConfig.name -> builder. TR-DETR and TaskWeave register here next to VideoLights.
MODEL_REGISTRY: dict[str, Callable[[ModelConfig], nn.Module]] = {
    "videolights": _build_videolights,
    "trdetr": build_trdetr,
    "taskweave": build_taskweave,
}


CriterionChoice = tuple[type[SetCriterion], dict[str, Any]]


def _trdetr_criterion(loss: LossConfig) -> CriterionChoice:
    options = {"local_temperature": loss.local_temperature}
    return TRDETRCriterion, {**options, "global_temperature": loss.global_temperature}


def _taskweave_criterion(loss: LossConfig) -> CriterionChoice:
    return TaskWeaveCriterion, {"uncertainty": loss.uncertainty_weighting}


#: ModelConfig.name -> (criterion class, its model-specific options); default SetCriterion.
CRITERION_REGISTRY: dict[str, Callable[[LossConfig], CriterionChoice]] = {
    "trdetr": _trdetr_criterion,
    "taskweave": _taskweave_criterion,
}


def build_weight_dict(loss: LossConfig, dec_layers: int) -> dict[str, float]:
    """Weight of every loss term; matched terms repeat as `<name>_<i>` per earlier layer."""
    sal = loss.saliency_weight
    weights = {
        "loss_saliency_margin": sal * loss.margin_weight,
        "loss_rank_contrastive": sal * loss.rank_contrastive_weight,
        "loss_neg_pair": sal * loss.neg_pair_weight,
        "loss_task_specific": sal * loss.task_specific_weight,
        "loss_task_coupled": sal * loss.task_coupled_weight,
        # W_j = (epoch + 1) * hard_coefficient is applied inside the criterion
        "loss_hard_pos": sal if loss.hard_coefficient else 0.0,
        "loss_hard_neg": sal if loss.hard_coefficient else 0.0,
        "loss_local": loss.local_regulator_weight,
        "loss_global": loss.global_regulator_weight,
    }
    if loss.moment_losses:
        weights.update(
            loss_span=loss.span_l1_weight,
            loss_giou=loss.span_giou_weight,
            loss_label=loss.label_weight,
            loss_align_query=loss.alignment_weight,
            loss_align_video=loss.alignment_weight,
        )
        if loss.aux_loss:
            for i in range(dec_layers - 1):
                weights.update({f"{k}_{i}": weights[k] for k in MATCHED_TERMS})
    return {k: v for k, v in weights.items() if v != 0}


def build_model(cfg: ExperimentConfig) -> tuple[nn.Module, SetCriterion, PostProcess]:
    """Build the model named by cfg.model.name, its criterion and its post-processor.

    Raises:
        ValueError: cfg.model.name is not a registered model.
    """
    builder = MODEL_REGISTRY.get(cfg.model.name)
    if builder is None:
        raise ValueError(
            f"unknown model {cfg.model.name!r}; registered models: {sorted(MODEL_REGISTRY)}"
        )
    loss = cfg.loss
    matcher = HungarianMatcher(loss.match_cost_span, loss.match_cost_giou, loss.match_cost_class)
    criterion_options = CRITERION_REGISTRY.get(cfg.model.name)
    criterion_cls, options = criterion_options(loss) if criterion_options else (SetCriterion, {})
    criterion = criterion_cls(
        matcher,
        build_weight_dict(loss, cfg.model.dec_layers),
        eos_coef=loss.eos_coef,
        saliency_margin=loss.saliency_margin,
        rank_tau=loss.rank_contrastive_tau,
        rank_levels=loss.rank_levels,
        hard_coefficient=loss.hard_coefficient,
        align_temperature=loss.alignment_temperature,
        **options,
    )
    return builder(cfg.model), criterion, PostProcess(cfg.train.clip_seconds, cfg.train.max_windows)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def make_checkpoint(model: nn.Module, cfg: ExperimentConfig) -> dict[str, Any]:
    """Checkpoint dict {"model": state_dict, "config": plain dict}, loadable weights_only."""
    return {"model": model.state_dict(), "config": cfg.model_dump(mode="json")}


def build_from_checkpoint(
    checkpoint: dict[str, Any],
) -> tuple[nn.Module, SetCriterion, PostProcess, ExperimentConfig]:
    """Rebuild (model, criterion, postprocess, config) from make_checkpoint()'s dict."""
    cfg = ExperimentConfig.model_validate(checkpoint["config"])
    model, criterion, postprocess = build_model(cfg)
    model.load_state_dict(checkpoint["model"])
    return model, criterion, postprocess, cfg
