"""VideoLights (Paul et al., 2024; release dpaul06/VideoLights): FRA + Bi-CMF + Uni-JFM on a DAB decoder.

The pieces it shares with the lineage (sine encodings, input projections, MLP heads, post-norm encoder
layer, DAB decoder, matcher, span/label/hinge/rank-contrastive/negative-pair losses, SetCriterion, config
fields, conversion and preset helpers) live in model.zoo.common; VideoLights' own pieces are FRA (fra.py),
Bi-CMF (encoder.py), Uni-JFM (unijfm.py), the wiring (transformer.py, model.py) and its loss terms
(saliency_losses.py, criterion.py).
"""

from __future__ import annotations

from model.zoo.common.config import tiny_config
from model.zoo.family import Family
from model.zoo.videolights.config import VideoLightsConfig
from model.zoo.videolights.convert import config_from_options, map_state_dict, recognises
from model.zoo.videolights.criterion import VideoLightsCriterion
from model.zoo.videolights.model import VideoLights
from model.zoo.videolights.presets import PRESETS


def build(cfg: VideoLightsConfig) -> tuple[VideoLights, VideoLightsCriterion]:
    """The network and its criterion."""
    return VideoLights(cfg), VideoLightsCriterion(cfg)


def tiny(video_dim: int, text_dim: int) -> VideoLightsConfig:
    """A small config of the same classes for fast tests."""
    return tiny_config(
        VideoLightsConfig, video_dim, text_dim, hidden_dim=16, ffn_dim=32, enc_layers=2, contrastive_dim=8
    )


FAMILY = Family(
    name="videolights",
    paper="VideoLights: Feature Refinement and Cross-Task Alignment Transformer for Joint Video Highlight "
    "Detection and Moment Retrieval (Paul et al., arXiv 2412.01558); github.com/dpaul06/VideoLights",
    config=VideoLightsConfig,
    build=build,
    tiny=tiny,
    config_from_options=config_from_options,
    map_state_dict=map_state_dict,
    recognises=recognises,
    presets=PRESETS,
    ema_key=None,
    forward_extras=(),
)

__all__ = ["FAMILY", "VideoLights", "VideoLightsConfig", "VideoLightsCriterion", "build", "tiny"]
