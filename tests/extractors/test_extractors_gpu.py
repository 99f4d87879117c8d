"""CUDA path (pinned memory, bf16/fp16 autocast): same features as on CPU up to autocast precision."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pipeline.extractors import build_extractor, build_text_encoder

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]


def row_cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))


@pytest.mark.parametrize(("name", "n_frames"), [("slowfast", 60), ("clip", 1), ("blip2", 1)])
def test_video_features_on_cuda_match_cpu(name, n_frames, make_clips):
    clips = make_clips(6, n_frames, 224, 300)
    cpu = build_extractor(name, device="cpu").encode_video(clips)
    gpu_ext = build_extractor(name, device="cuda")
    assert gpu_ext.device.type == "cuda" and next(gpu_ext.model.parameters()).is_cuda
    gpu = gpu_ext.encode_video(clips, batch_size=4)
    assert gpu.dtype == np.float32 and gpu.shape == cpu.shape
    assert row_cosine(cpu, gpu).min() > 0.99


@pytest.mark.parametrize("name", ["clip", "blip2"])
def test_text_features_on_cuda_match_cpu(name):
    queries = ["a man rides a bike", "two dogs play in the snow"]
    cpu = build_text_encoder(name, device="cpu").encode_text(queries)
    gpu = build_text_encoder(name, device="cuda").encode_text(queries)
    for a, b in zip(cpu, gpu):
        assert a.tokens.shape == b.tokens.shape and b.tokens.dtype == np.float32
        assert row_cosine(a.tokens, b.tokens).min() > 0.99


@pytest.mark.parametrize(("name", "n_frames"), [("slowfast", 60), ("clip", 1), ("blip2", 1)])
def test_uint8_batch_is_prepared_on_the_gpu_like_on_cpu(name, n_frames, make_clips):
    """The uint8 batch is converted, resized and normalised on the GPU, in the autocast dtype under AMP."""
    cpu_ext = build_extractor(name, device="cpu")
    gpu_ext = build_extractor(name, device="cuda")
    batch = torch.stack([cpu_ext.preprocess_clip(c) for c in make_clips(3, n_frames, 224, 300)])
    assert batch.dtype == torch.uint8
    with torch.inference_mode():
        ref = cpu_ext.prepare_batch(batch)
        out = gpu_ext.prepare_batch(batch.cuda())
    assert out.is_cuda and out.dtype == gpu_ext._autocast_dtype() and out.shape == ref.shape
    torch.testing.assert_close(out.float().cpu(), ref, atol=0.05, rtol=0.02)  # bf16 rounding of the network input
    gpu_ext.amp = False
    with torch.inference_mode():
        exact = gpu_ext.prepare_batch(batch.cuda())
    assert exact.dtype == torch.float32
    torch.testing.assert_close(exact.cpu(), ref, atol=1e-4, rtol=1e-4)
