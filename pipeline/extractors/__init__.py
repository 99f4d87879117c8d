"""Frozen feature encoders (CLIP, SlowFast, BLIP-2) behind one interface and a registry."""

from pipeline.extractors.base import PRESETS, TextEncoder, TextFeatures, VideoExtractor
from pipeline.extractors.registry import (
    available_extractors,
    available_text_encoders,
    build_extractor,
    build_text_encoder,
    extractor_sampling,
)
from pipeline.extractors.weights import MissingWeightsError

__all__ = [
    "PRESETS",
    "MissingWeightsError",
    "TextEncoder",
    "TextFeatures",
    "VideoExtractor",
    "available_extractors",
    "available_text_encoders",
    "build_extractor",
    "build_text_encoder",
    "extractor_sampling",
]
