"""torchcodec back-end: batch frame access by index, on the CPU or on a GPU's video engines (NVDEC),
frames scaled with torch where they were decoded; and the per-video choice between it and the CPU decoders.

torchcodec is an optional extra (`pip install videolights-pipeline[gpu]`); without it every video
is decoded on the CPU and the reason is logged. Frame choice is the same rule as the other
back-ends: the presentation timestamps of every frame are read by demuxing (no decoding), the last
frame starting at or before each target time is taken (`frame_index_at`), and the frames are
fetched in batches with `get_frames_at`. Pixels are not the references': the YUV->RGB conversion is
torchcodec's (NVDEC's on the GPU) and the scaling torch's antialiased bicubic, not libswscale's
(measured differences: benchmarks/RESULTS.md, "Decoders"). Rotated videos stay on the CPU path.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from pathlib import Path

import av
import numpy as np
import torch
import torch.nn.functional as F

from pipeline.video.clips import ClipChunk, DecodeStats, VideoDecodeError, VideoInfo, frame_index_at, scaled_size
from pipeline.video.reference import reference_size
from pipeline.video.sampling import REFERENCE_SPECS, SamplingSpec

log = logging.getLogger(__name__)

NVDEC_CODECS = frozenset({"h264", "hevc", "av1", "vp8", "vp9", "mpeg1video", "mpeg2video", "mpeg4", "vc1"})
"""Codecs (FFmpeg names) NVIDIA's video engines decode (NVDEC, Turing and later; AV1 from Ampere)."""

GPU_BATCH_FRAMES = 32
"""Frames decoded at full size per `get_frames_at` call before scaling (bounds device memory)."""


class GpuDecodeError(RuntimeError):
    """The GPU decoder could not take the video (before its first frame was delivered): decode it on the CPU."""


def torchcodec_problem() -> str:
    """Why torchcodec cannot be used here ("" when it can)."""
    try:
        import torchcodec.decoders  # noqa: F401
    except (ImportError, OSError, RuntimeError) as exc:  # not installed, or its FFmpeg libraries are missing
        return f"torchcodec is not usable ({type(exc).__name__}: {exc}); install the [gpu] extra"
    return ""


def choose_backend(info: VideoInfo, device: str, backend: str) -> tuple[str, str, str]:
    """Which decoder takes one video: (backend, device, reason for not using the GPU; "" otherwise).

    `backend` "auto" on a CUDA device means the GPU when torchcodec is usable, the codec is one
    NVDEC decodes and the video is not rotated; else PyAV on the CPU, with the reason. An explicit
    CPU back-end ("pyav", "decord") is kept; "torchcodec" decodes on `device` under the same rules.

    >>> info = VideoInfo("v.mp4", 10.0, 30.0, 300, 64, 48, 0, False, "prores")
    >>> choose_backend(info, "cuda", "auto")[::2]
    ('pyav', 'codec prores has no NVDEC decoder')
    >>> choose_backend(info, "cpu", "auto")
    ('auto', 'cpu', '')
    """
    if backend in ("pyav", "decord") or (backend == "auto" and not device.startswith("cuda")):
        return backend, "cpu", ""
    on_gpu = device.startswith("cuda")
    reason = ""
    if info.codec not in NVDEC_CODECS and on_gpu:
        reason = f"codec {info.codec} has no NVDEC decoder"
    elif info.rotation:
        reason = f"rotated video (rotation {info.rotation}): the CPU path turns frames upright exactly"
    else:
        reason = torchcodec_problem()
    if reason:
        return "pyav", "cpu", reason
    return "torchcodec", device, ""


def frame_starts(path: Path) -> np.ndarray:
    """Presentation start (s, from the first frame) of every video frame, in presentation order, by
    demuxing only."""
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            pts = [p.pts for p in container.demux(stream) if p.pts is not None and p.size]
            base = stream.time_base
    except av.error.FFmpegError as exc:
        raise VideoDecodeError(path, f"cannot read its packets ({exc})") from exc
    if not pts:
        raise VideoDecodeError(path, "no decodable video frames")
    starts = np.sort(np.asarray(pts, dtype=np.int64)).astype(np.float64) * float(base)
    return starts - starts[0]


def _open(path: Path, device: str, n_frames: int):
    from torchcodec.decoders import VideoDecoder

    try:
        decoder = VideoDecoder(str(path), device=device, seek_mode="exact", dimension_order="NCHW",
                               num_ffmpeg_threads=0)
        decoder.get_frame_at(0)
    except Exception as exc:  # torchcodec raises RuntimeError/ValueError from its C++ core
        raise GpuDecodeError(f"torchcodec cannot decode it on {device} ({exc})") from exc
    if len(decoder) != n_frames:
        raise GpuDecodeError(f"torchcodec indexes {len(decoder)} frames, the packets say {n_frames}")
    return decoder


def _size(info: VideoInfo, spec: SamplingSpec) -> tuple[int, int]:
    if isinstance(spec, REFERENCE_SPECS):
        return reference_size(info.width, info.height, spec.short_side)
    return scaled_size(info.width, info.height, spec.short_side)


def scale_frames(frames: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """uint8 [N, 3, H, W] -> uint8 [N, h, w, 3] with size = (w, h): antialiased bicubic, rounded."""
    w, h = size
    if tuple(frames.shape[-2:]) != (h, w):
        x = F.interpolate(frames.float(), size=(h, w), mode="bicubic", antialias=True, align_corners=False)
        frames = x.round_().clamp_(0, 255).to(torch.uint8)
    return frames.permute(0, 2, 3, 1).contiguous()


def decode_with_torchcodec(path: Path, info: VideoInfo, chunks: Iterator[tuple[int, int, dict[str, list[np.ndarray]]]],
                           grid: np.ndarray, consumers: Mapping[str, SamplingSpec], stats: DecodeStats,
                           device: str = "cpu") -> Iterator[ClipChunk]:
    """Chunks as the other back-ends make them, with `frames` as uint8 torch tensors [T, h, w, 3]
    on `device` (the frames never leave the GPU there).

    Raises:
        GpuDecodeError: torchcodec cannot open or index the video (nothing was yielded yet).
        VideoDecodeError: the file is not readable.
    """
    if info.rotation:
        raise VideoDecodeError(path, f"the torchcodec back-end does not turn rotated videos (rotation {info.rotation}); "
                                     "decode it with pyav")
    starts = frame_starts(path)
    decoder = _open(path, device, len(starts))
    stats.opens += 1
    stats.backend = f"torchcodec:{torch.device(device).type}"
    sizes = {name: _size(info, spec) for name, spec in consumers.items()}
    for first, n, wanted_times in chunks:
        picks = {name: [frame_index_at(starts, t) for t in per_clip] for name, per_clip in wanted_times.items()}
        keys = [k for per_clip in picks.values() for k in per_clip]
        wanted = np.unique(np.concatenate(keys)) if keys else np.zeros(0, np.int64)
        scaled = _fetch(decoder, path, wanted, {sizes[name] for name in picks})
        stats.frames_decoded += len(wanted)
        stats.frames_converted += len(wanted)
        chunk = ClipChunk(first_clip=first, clip_times=grid[first:first + n].copy())
        for name, per_clip in picks.items():
            bounds = np.cumsum([0] + [len(k) for k in per_clip])
            if per_clip:
                rows = torch.as_tensor(np.searchsorted(wanted, np.concatenate(per_clip)), device=scaled[sizes[name]].device)
                frames = scaled[sizes[name]].index_select(0, rows)  # (sum T, h, w, 3)
                chunk.frames[name] = [frames[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
            else:
                chunk.frames[name] = []
            chunk.frame_index[name] = [np.asarray(k, dtype=np.int64) for k in per_clip]
            chunk.frame_times[name] = [starts[k] for k in per_clip]
        yield chunk


def _fetch(decoder, path: Path, wanted: np.ndarray, sizes: set[tuple[int, int]]) -> dict[tuple[int, int], torch.Tensor]:
    """The `wanted` frames scaled to every size, in batches of GPU_BATCH_FRAMES."""
    out: dict[tuple[int, int], list[torch.Tensor]] = {size: [] for size in sizes}
    for i in range(0, len(wanted), GPU_BATCH_FRAMES):
        keys = wanted[i:i + GPU_BATCH_FRAMES].tolist()
        try:
            batch = decoder.get_frames_at(keys).data  # (n, 3, H, W) uint8 on the decoder's device
        except Exception as exc:  # torchcodec's C++ errors
            raise VideoDecodeError(path, f"decoding frames {keys[0]}..{keys[-1]} failed ({exc})") from exc
        for size in sizes:
            out[size].append(scale_frames(batch, size))
    return {size: torch.cat(parts) if parts else torch.zeros(0, dtype=torch.uint8) for size, parts in out.items()}
