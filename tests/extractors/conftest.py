"""Fixtures for the extractor tests: offline hubs, synthetic frames, an empty weights cache."""

from __future__ import annotations

import os

# Before any test module imports huggingface_hub/transformers: no network, ever.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

import numpy as np
import pytest
import torch


@pytest.fixture
def make_clips():
    """make_clips(n_clips, n_frames, height, width, seed=0) -> uint8 RGB clips [n_frames, height, width, 3] of noise."""

    def make(n_clips: int, n_frames: int, height: int, width: int, seed: int = 0) -> list[np.ndarray]:
        rng = np.random.default_rng(seed)
        return [rng.integers(0, 256, (n_frames, height, width, 3), dtype=np.uint8) for _ in range(n_clips)]

    return make


@pytest.fixture
def empty_caches(tmp_path, monkeypatch):
    """Point the HF and torch hub caches at empty folders, so 'paper' weights are surely absent."""
    import huggingface_hub.constants

    hf = tmp_path / "hf-cache"
    hub = tmp_path / "torch-hub"
    hf.mkdir()
    hub.mkdir()
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(hf))
    old_hub = torch.hub.get_dir()
    torch.hub.set_dir(str(hub))
    yield {"hf": hf, "torch_hub": hub}
    torch.hub.set_dir(old_hub)
