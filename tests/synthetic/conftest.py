"""Fixtures for the synthesize tests: offline hubs, generated videos, tiny models built once."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

from pathlib import Path

import pytest
from synthetic_helpers import write_constant, write_time_coded

from pipeline.extractors.captioner import GenerationSettings
from pipeline.synthetic import SynthesizeConfig

#: Fast decoding for the end-to-end tests (the captioner's own tests use the defaults).
FAST = SynthesizeConfig(generation=GenerationSettings(num_beams=1, max_new_tokens=8))


@pytest.fixture(scope="session")
def fast_config() -> SynthesizeConfig:
    return FAST


@pytest.fixture(scope="session")
def tiny_models():
    """The tiny captioner, ITM scorer and CLIP/BLIP-2 text encoders of FAST (built once per session)."""
    from pipeline.synthetic import build_synthesis_models

    return build_synthesis_models(FAST)


@pytest.fixture(scope="session")
def video_dir(tmp_path_factory) -> Path:
    """short (5 s, no interval), ten (10 s), mid (35 s), long (150 s), still (30 s, one colour), bad (not a video)."""
    root = tmp_path_factory.mktemp("videos")
    write_time_coded(root / "short.mp4", 5.0)
    write_time_coded(root / "ten.mp4", 10.0)
    write_time_coded(root / "mid.mp4", 35.0)
    write_time_coded(root / "long.mp4", 150.0, fps=5)
    write_constant(root / "still.mp4", 30.0)
    (root / "bad.mp4").write_bytes(b"this is not a video")
    return root


@pytest.fixture
def empty_hf_cache(tmp_path, monkeypatch):
    """An empty Hugging Face cache, so paper weights are surely absent."""
    import huggingface_hub.constants

    cache = tmp_path / "hf-cache"
    cache.mkdir()
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    return cache
