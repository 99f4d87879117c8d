"""Decoder choice per video (GPU through torchcodec where the codec allows, else the CPU), the fallback
of a video the GPU decoder cannot take, and what the torchcodec path delivers against PyAV's.

Tolerance between the two decoders (stated in pipeline.video.gpu and benchmarks/RESULTS.md): the same
frames chosen (equal frame indices); pixels within TOLERANCE grey levels on average, because YUV->RGB
conversion and scaling differ (torch's antialiased bicubic vs libswscale's); features of the same clips
with cosine > 0.99. torchcodec is an optional extra: tests needing it skip without it; the GPU tests
are marked `gpu` and skip without CUDA.
"""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from pipeline.extractors import build_extractor
from pipeline.video import DecodeStats, VideoInfo, decode_clips, decode_clips_on, probe_video
from pipeline.video.gpu import choose_backend, torchcodec_problem
from pipeline.video.sampling import ReferenceFrames, ReferenceSlowFast

CONSUMERS = {"clip": ReferenceFrames(short_side=32), "slowfast": ReferenceSlowFast(short_side=32)}
MEAN_TOLERANCE = 1.5  # grey levels, mean |difference| over all delivered pixels (measured: 0.7-1.0)
needs_torchcodec = pytest.mark.skipif(bool(torchcodec_problem()), reason="torchcodec is not installed ([gpu] extra)")


def _info(codec: str = "h264", rotation: int = 0) -> VideoInfo:
    return VideoInfo("v.mp4", 10.0, 30.0, 300, 64, 48, rotation, False, codec)


def test_the_cpu_keeps_the_cpu_decoders():
    assert choose_backend(_info(), "cpu", "auto") == ("auto", "cpu", "")
    assert choose_backend(_info(), "cuda", "pyav") == ("pyav", "cpu", "")  # an explicit CPU back-end is kept
    assert choose_backend(_info(), "cuda:1", "decord") == ("decord", "cpu", "")


@pytest.mark.parametrize(("info", "reason"), [
    (_info(codec="prores"), "codec prores has no NVDEC decoder"),
    (_info(rotation=90), "rotated video (rotation 90)"),
])
def test_a_video_the_gpu_cannot_take_goes_to_pyav_with_the_reason(info, reason):
    backend, device, why = choose_backend(info, "cuda", "auto")
    assert (backend, device) == ("pyav", "cpu") and why.startswith(reason)


def test_without_torchcodec_cuda_decodes_on_the_cpu_and_says_why():
    problem = torchcodec_problem()
    chosen = choose_backend(_info(), "cuda", "auto")
    if problem:
        assert chosen == ("pyav", "cpu", problem) and "[gpu] extra" in problem
    else:
        assert chosen == ("torchcodec", "cuda", "")


@needs_torchcodec
@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the fallback where CUDA is missing")
def test_a_video_the_gpu_decoder_cannot_open_falls_back_to_the_cpu_alone(make_video, caplog):
    path = make_video("a.mp4", seconds=4.0)
    stats = DecodeStats()
    with caplog.at_level(logging.WARNING, logger="pipeline.video.reader"):
        chunks = list(decode_clips_on("cuda", path, CONSUMERS, chunk_seconds=2.0, stats=stats))
    assert stats.backend == "pyav" and len(chunks) == 2
    assert any("decoding on the CPU instead" in r.message and "a.mp4" in r.message for r in caplog.records)
    cpu = list(decode_clips(path, CONSUMERS, chunk_seconds=2.0))
    assert all(np.array_equal(a, b) for c, d in zip(chunks, cpu) for a, b in zip(c.frames["clip"], d.frames["clip"]))


def _compare(path, device: str) -> tuple[float, list[np.ndarray], list[np.ndarray]]:
    """Mean |pixel difference| of torchcodec on `device` against PyAV, asserting the same frames chosen."""
    reference = list(decode_clips(path, CONSUMERS, chunk_seconds=4.0, backend="pyav"))
    stats = DecodeStats()
    ours = list(decode_clips(path, CONSUMERS, chunk_seconds=4.0, backend="torchcodec", stats=stats, device=device))
    assert stats.backend == f"torchcodec:{torch.device(device).type}"
    diffs, ref_clips, our_clips = [], [], []
    for r, o in zip(reference, ours, strict=True):
        for name in CONSUMERS:
            assert [k.tolist() for k in r.frame_index[name]] == [k.tolist() for k in o.frame_index[name]]
            np.testing.assert_allclose(np.concatenate(r.frame_times[name] or [[]]),
                                       np.concatenate(o.frame_times[name] or [[]]), atol=1e-6)
            for a, b in zip(r.frames[name], o.frames[name], strict=True):
                b = b.cpu().numpy()
                assert a.shape == b.shape
                diffs.append(np.abs(a.astype(np.int16) - b.astype(np.int16)).ravel())
        ref_clips += r.frames["slowfast"]
        our_clips += [c.cpu().numpy() for c in o.frames["slowfast"]]
    return float(np.concatenate(diffs).mean()), ref_clips, our_clips


def _features_cosine(ref_clips, our_clips) -> float:
    extractor = build_extractor("slowfast", "tiny").with_crop_size(32)
    a, b = extractor.encode_video(ref_clips), extractor.encode_video(our_clips)
    return float(((a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))).min())


@needs_torchcodec
@pytest.mark.parametrize(("fps", "size"), [(30, (160, 90)), (1, (64, 36)), (25, (96, 72))])
def test_torchcodec_on_the_cpu_chooses_pyavs_frames_within_tolerance(make_video, fps, size):
    path = make_video("v.mp4", seconds=9.5, fps=fps, width=size[0], height=size[1])
    mean, ref_clips, our_clips = _compare(path, "cpu")
    assert mean <= MEAN_TOLERANCE
    assert _features_cosine(ref_clips, our_clips) > 0.99


@needs_torchcodec
def test_variable_frame_rate_frames_are_chosen_alike(make_video):
    times = np.cumsum(np.r_[0.0, np.tile([0.02, 0.1, 0.05], 40)])
    path = make_video("vfr.mp4", frame_times=times)
    assert probe_video(path).codec == "h264"
    assert _compare(path, "cpu")[0] <= MEAN_TOLERANCE


@pytest.mark.gpu
@needs_torchcodec
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_gpu_decoding_chooses_pyavs_frames_within_tolerance(make_video):
    path = make_video("v.mp4", seconds=9.5, fps=30, width=320, height=180)
    mean, ref_clips, our_clips = _compare(path, "cuda")
    assert mean <= MEAN_TOLERANCE
    assert _features_cosine(ref_clips, our_clips) > 0.99
    chunks = list(decode_clips_on("cuda", path, CONSUMERS))
    assert chunks[0].frames["slowfast"][0].is_cuda  # frames stay on the GPU
