"""Name -> encoder class registries and the builders the engine and flows call."""

from __future__ import annotations

import importlib
import os

import torch

from pipeline.extractors.base import TextEncoder, VideoExtractor, check_preset
from pipeline.video.sampling import SamplingSpec

# Classes are named by import path so that importing the package does not import open_clip,
# pytorchvideo and transformers (seconds each); only the encoders asked for are imported.
# Order = the model's concatenation order (video: SlowFast, CLIP, BLIP-2; text: CLIP, BLIP-2).
VIDEO_EXTRACTORS: dict[str, str] = {
    "slowfast": "pipeline.extractors.slowfast:SlowFastExtractor",
    "clip": "pipeline.extractors.clip:ClipExtractor",
    "blip2": "pipeline.extractors.blip2:Blip2Extractor",
}
TEXT_ENCODERS: dict[str, str] = {
    "clip": "pipeline.extractors.clip:ClipTextEncoder",
    "blip2": "pipeline.extractors.blip2:Blip2TextEncoder",
}


def available_extractors() -> list[str]:
    """Registry keys of the video extractors, in the model's concatenation order (SlowFast, CLIP, BLIP-2)."""
    return list(VIDEO_EXTRACTORS)


def available_text_encoders() -> list[str]:
    """Registry keys of the text encoders, in the model's concatenation order (CLIP, BLIP-2)."""
    return list(TEXT_ENCODERS)


def _resolve(registry: dict[str, str], name: str, kind: str) -> type:
    if name not in registry:
        raise KeyError(f"unknown {kind} {name!r}; registered: {sorted(registry)}")
    module, attr = registry[name].split(":")
    return getattr(importlib.import_module(module), attr)


def _build(cls: type, preset: str, device: str | torch.device, weights_dir: str | os.PathLike | None, seed: int):
    check_preset(preset)
    if preset == "tiny":
        return cls.tiny(seed=seed, device=device)
    return cls.from_pretrained(weights_dir, preset="paper", device=device)


def extractor_sampling(name: str, crop_size: int = 224) -> SamplingSpec:
    """The frames extractor `name` reads (its sampling spec), without building its network."""
    return _resolve(VIDEO_EXTRACTORS, name, "video extractor").sampling_for(crop_size)


def build_extractor(name: str, preset: str = "tiny", device: str | torch.device = "cpu",
                    weights_dir: str | os.PathLike | None = None, seed: int = 0) -> VideoExtractor:
    """Build a registered video extractor.

    Args:
        name: registry key ("clip", "slowfast", "blip2").
        preset: "tiny" builds the small random model seeded with `seed` (weights_dir is not read);
            "paper" loads the published weights from `weights_dir`, or the usual caches when None,
            and raises MissingWeightsError naming the file when they are absent.
        device: where the network runs ("cpu", "cuda", "cuda:1").
        weights_dir: root of the weights layout (see each module's `weights_file`/`weights_path`).
        seed: initialisation seed of the tiny preset.
    """
    return _build(_resolve(VIDEO_EXTRACTORS, name, "video extractor"), preset, device, weights_dir, seed)


def build_text_encoder(name: str, preset: str = "tiny", device: str | torch.device = "cpu",
                       weights_dir: str | os.PathLike | None = None, seed: int = 0) -> TextEncoder:
    """Build a registered text encoder ("clip", "blip2"); arguments as `build_extractor`."""
    return _build(_resolve(TEXT_ENCODERS, name, "text encoder"), preset, device, weights_dir, seed)
