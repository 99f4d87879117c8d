"""The encoders of an extraction, built once per process and settings, and the store spec of what each writes."""

from __future__ import annotations

import threading

from pipeline.extract.config import ExtractConfig
from pipeline.extractors import TextEncoder, VideoExtractor, build_extractor, build_text_encoder
from storage import EntrySpec


def video_entry_spec(extractor: VideoExtractor, clip_seconds: float) -> EntrySpec:
    return EntrySpec(extractor=extractor.name, version=extractor.version, weights_id=extractor.weights_id,
                     preset=extractor.preset, clip_seconds=clip_seconds,
                     sampling=extractor.sampling.model_dump(mode="json"))


def text_entry_spec(encoder: TextEncoder) -> EntrySpec:
    return EntrySpec(extractor=encoder.name, version=encoder.version, weights_id=encoder.weights_id,
                     preset=encoder.preset)


_built: dict[tuple, object] = {}
_built_lock = threading.Lock()


def _cached_build(kind: str, name: str, config: ExtractConfig):
    """Encoders are built once per process and settings (loading real weights takes tens of seconds)."""
    key = (kind, name, config.preset, config.device, config.weights_dir, config.seed)
    with _built_lock:
        if key not in _built:
            build = build_extractor if kind == "video" else build_text_encoder
            _built[key] = build(name, config.preset, config.device, config.weights_dir, config.seed)
        return _built[key]


def build_video_extractors(config: ExtractConfig) -> dict[str, VideoExtractor]:
    built = {name: _cached_build("video", name, config) for name in config.extractors}
    if config.crop_size is None:
        return built
    return {name: extractor.with_crop_size(config.crop_size) for name, extractor in built.items()}


def build_text_encoders(config: ExtractConfig) -> dict[str, TextEncoder]:
    return {name: _cached_build("text", name, config) for name in config.text_names()}
