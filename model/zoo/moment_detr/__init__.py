"""Moment-DETR (Lei, Berg, Bansal: "QVHighlights: Detecting Moments and Highlights in Videos via
Natural Language Queries", NeurIPS 2021), the same function as github.com/jayleicn/moment_detr
(commit b7e553a), with named corrections (model.zoo.moment_detr.config.DIFFERENCES).

Pieces another DETR of this lineage can reuse: position_encoding.SinePositionEncoding,
transformer.Transformer (post-norm DETR encoder/decoder), matcher.HungarianMatcher,
losses.span_losses / label_loss / saliency_loss, layers.input_projection / MLP.
"""

from __future__ import annotations

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
    return MomentDETRConfig(
        video_dim=video_dim, text_dim=text_dim, hidden_dim=32, num_heads=4, ffn_dim=64,
        enc_layers=1, dec_layers=2, num_queries=5,
    )  # fmt: skip


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
