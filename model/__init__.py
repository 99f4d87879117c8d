"""model layer of the VideoLights pipeline."""

from model.build import MODEL_REGISTRY, build_from_checkpoint, build_model, make_checkpoint
from model.config import ExperimentConfig, FeatureSet, LossConfig, ModelConfig, TrainConfig
from model.presets import describe_preset, get_preset, list_presets

__all__ = [
    "MODEL_REGISTRY",
    "ExperimentConfig",
    "FeatureSet",
    "LossConfig",
    "ModelConfig",
    "TrainConfig",
    "build_from_checkpoint",
    "build_model",
    "describe_preset",
    "get_preset",
    "list_presets",
    "make_checkpoint",
]
