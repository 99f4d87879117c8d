"""VideoLights (Paul et al., 2024; release dpaul06/VideoLights): FRA + Bi-CMF + Uni-JFM on a DAB decoder."""

from __future__ import annotations

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
    return VideoLightsConfig(
        video_dim=video_dim, text_dim=text_dim, hidden_dim=16, num_heads=4, ffn_dim=32,
        bicmf_layers=1, enc_layers=2, dec_layers=2, num_queries=5, contrastive_dim=8,
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
