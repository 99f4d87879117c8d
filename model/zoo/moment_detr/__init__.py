"""Moment-DETR (Lei, Berg, Bansal: "QVHighlights: Detecting Moments and Highlights in Videos via
Natural Language Queries", NeurIPS 2021), the same function as github.com/jayleicn/moment_detr
(commit b7e553a), with named corrections (model.zoo.moment_detr.config.DIFFERENCES).

Shared pieces (sine positions, input projections, post-norm encoder, matcher, span/label/hinge
losses, SetCriterion) live in model.zoo.common; Moment-DETR's own pieces are DETR's plain decoder
(transformer.py), the saliency head and the mask_padded_saliency correction (model.py).
"""

from __future__ import annotations

from model.zoo.common.config import tiny_config
from model.zoo.family import Family
from model.zoo.moment_detr.config import MomentDETRConfig
from model.zoo.moment_detr.convert import config_from_options, map_state_dict, recognises
from model.zoo.moment_detr.criterion import MomentDETRCriterion
from model.zoo.moment_detr.model import MomentDETR
from model.zoo.moment_detr.presets import PRESETS


def build(cfg: MomentDETRConfig) -> tuple[MomentDETR, MomentDETRCriterion]:
    """Config -> (model, criterion)."""
    return MomentDETR(cfg), MomentDETRCriterion(cfg)


def tiny(video_dim: int, text_dim: int) -> MomentDETRConfig:
    """A small config of the same classes for fast tests."""
    return tiny_config(MomentDETRConfig, video_dim, text_dim)


FAMILY = Family(
    name="moment_detr",
    paper="Moment-DETR: QVHighlights (Lei et al., NeurIPS 2021), github.com/jayleicn/moment_detr",
    config=MomentDETRConfig,
    build=build,
    tiny=tiny,
    config_from_options=config_from_options,
    map_state_dict=map_state_dict,
    recognises=recognises,
    presets=PRESETS,
    ema_key=None,
    forward_extras=(),
)

__all__ = ["FAMILY", "MomentDETR", "MomentDETRConfig", "MomentDETRCriterion", "build", "tiny"]
