"""Find video files, probe them, and decode each once into a grid of fixed-length clips for every consumer."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from pathlib import Path

from pipeline.video.backends import decode_with_backend, probe_with_pyav
from pipeline.video.clips import ClipChunk, DecodeStats, VideoDecodeError, VideoInfo, clip_grid
from pipeline.video.gpu import GpuDecodeError, choose_backend
from pipeline.video.sampling import SamplingSpec
from storage import InvalidKeyError, validate_key

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = (".mp4", ".mkv", ".webm", ".avi", ".mov", ".m4v", ".mpg", ".mpeg", ".flv", ".wmv")


def list_videos(folder: str | os.PathLike) -> list[Path]:
    """Video files directly inside `folder` (by suffix), sorted by name."""
    root = Path(folder)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: not a directory of videos")
    return sorted(p for p in root.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)


def video_id(path: str | os.PathLike) -> str:
    """The id a video is stored under: its file name without the suffix."""
    return Path(path).stem


def usable_video_ids(paths: list[str | os.PathLike]) -> tuple[list[tuple[str, Path]], list[tuple[Path, str]]]:
    """Sort video files into those whose id can be a store key, as (vid, path), and those refused,
    as (path, reason): an unusable name (`__x`, a control character, edge spaces) or an id that an
    earlier file of the list already has (`a.mp4` beside `a.mkv`)."""
    usable, refused, seen = [], [], {}
    for raw in paths:
        path = Path(raw)
        try:
            vid = validate_key(video_id(path), "video id")
        except InvalidKeyError as exc:
            refused.append((path, f"{exc}; rename the file"))
            continue
        if vid in seen:
            refused.append((path, f"video id {vid!r} repeats {seen[vid].name}; rename one of them"))
            continue
        seen[vid] = path
        usable.append((vid, path))
    return usable, refused


def probe_video(path: str | os.PathLike) -> VideoInfo:
    """Read a video's metadata and check one frame decodes.

    Raises:
        VideoDecodeError: the file is missing, empty, not a video container, has no video
            stream, or has no decodable frame.
    """
    return probe_with_pyav(path)


def decode_clips(
    path: str | os.PathLike,
    consumers: Mapping[str, SamplingSpec],
    clip_seconds: float = 2.0,
    chunk_seconds: float = 16.0,
    backend: str = "auto",
    info: VideoInfo | None = None,
    stats: DecodeStats | None = None,
    device: str = "cpu",
) -> Iterator[ClipChunk]:
    """Decode a video once, yielding chunks of clips with every consumer's frames.

    Frames are decoded at the largest short side any consumer asks for (smaller ones are
    resized from it), turned upright, and grouped per clip according to each consumer's
    sampling spec. Memory is bounded by `chunk_seconds` of frames, whatever the video length.

    Args:
        path: the video file.
        consumers: name -> sampling spec (e.g. {"clip": FramesPerClip(), "slowfast": ResampleFps()}).
        clip_seconds: clip length (s).
        chunk_seconds: how many seconds of clips are decoded and yielded at a time.
        backend: "auto" or "pyav" (PyAV, exact reference pixels), "decord" (its own scaler; not rotated
            videos), or "torchcodec" (batch access on `device`; frames are torch tensors there, see
            pipeline.video.gpu; not rotated videos).
        info: a probe result to reuse; probed when None.
        stats: filled with counts of opens and decoded frames.
        device: where the torchcodec back-end decodes ("cpu", "cuda", "cuda:N"); ignored by the others.

    Raises:
        VideoDecodeError: the file cannot be decoded.
    """
    if not consumers:
        raise ValueError("decode_clips needs at least one consumer")
    info = info or probe_video(path)
    grid = clip_grid(info.duration, clip_seconds)
    if len(grid) == 0:
        raise VideoDecodeError(path, f"zero duration ({info.duration:.3f} s): no clips")
    stats = stats if stats is not None else DecodeStats()
    yield from decode_with_backend(path, info, grid, consumers, clip_seconds, chunk_seconds, backend, stats, device)


def decode_clips_on(
    device: str,
    path: str | os.PathLike,
    consumers: Mapping[str, SamplingSpec],
    clip_seconds: float = 2.0,
    chunk_seconds: float = 16.0,
    backend: str = "auto",
    info: VideoInfo | None = None,
    stats: DecodeStats | None = None,
) -> Iterator[ClipChunk]:
    """`decode_clips` on the GPU of `device` when the video allows it (`pipeline.video.gpu.choose_backend`:
    a CUDA device, torchcodec, a codec NVDEC decodes, no rotation), else on the CPU; a video the GPU
    decoder cannot open falls back to the CPU alone. Each reason is logged with the file's name.
    Chunks of the GPU path hold torch tensors on `device` (`ClipChunk.frames`)."""
    info = info or probe_video(path)
    chosen, on, reason = choose_backend(info, device, backend)
    if reason:
        log.info("%s: decoding on the CPU: %s", path, reason)
    if chosen == "torchcodec" and on != "cpu":
        try:
            yield from decode_clips(path, consumers, clip_seconds, chunk_seconds, chosen, info, stats, on)
            return
        except GpuDecodeError as exc:  # raised before any chunk was yielded
            log.warning("%s: decoding on the CPU instead: %s", path, exc)
            chosen, on = "pyav", "cpu"
    yield from decode_clips(path, consumers, clip_seconds, chunk_seconds, chosen, info, stats, on)
