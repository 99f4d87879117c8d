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


def _old_float_preprocess(frames: np.ndarray, crop: int, out: int, mean, std) -> torch.Tensor:
    """The all-float per-clip CPU preprocessing the extractors used before the uint8 / device split; the reference.

    uint8 [T, H, W, 3] -> float32 [T, 3, out, out]: to float, short side to `crop` (bicubic, antialiased,
    clamped), floor-offset centre crop, resize to `out`, then (x / 255 - mean) / std.
    """
    import torch.nn.functional as F

    def resize(x, size):
        if tuple(x.shape[-2:]) == size:
            return x
        return F.interpolate(x, size=size, mode="bicubic", align_corners=False, antialias=True).clamp_(0.0, 255.0)

    x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float()
    h, w = x.shape[-2:]
    if min(h, w) != crop:
        scale = crop / min(h, w)
        x = resize(x, (max(crop, round(h * scale)), max(crop, round(w * scale))))
        h, w = x.shape[-2:]
    top, left = (h - crop) // 2, (w - crop) // 2
    x = resize(x[:, :, top:top + crop, left:left + crop], (out, out)).contiguous()
    m = torch.tensor(mean, dtype=x.dtype).view(1, 3, 1, 1)
    s = torch.tensor(std, dtype=x.dtype).view(1, 3, 1, 1)
    return (x / 255.0 - m) / s


@pytest.fixture
def old_float_preprocess():
    """old_float_preprocess(frames, crop, out, mean, std) -> float32 [T, 3, out, out], the pre-split float path."""
    return _old_float_preprocess
