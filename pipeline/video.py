"""Probe videos and decode them once into a grid of fixed-length clips for every consumer."""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pipeline.sampling import FramesPerClip, ResampleFps, SamplingSpec
from pipeline.errors import UserInputError

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = (".mp4", ".mkv", ".webm", ".avi", ".mov", ".m4v", ".mpg", ".mpeg", ".flv", ".wmv")


class VideoDecodeError(UserInputError):
    """A file that is not a readable video; carries the path and a one-line reason."""

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


@dataclass(frozen=True)
class VideoInfo:
    """What a probe tells about a video file.

    `width`/`height` are the coded frame size; `rotation` (degrees, one of 0/90/180/270,
    counter-clockwise as in the display matrix) says how frames must be turned for display.
    `duration` (seconds) is the video stream's duration, falling back to frames / fps and
    then to the container's duration.
    """

    path: str
    duration: float
    fps: float
    n_frames: int
    width: int
    height: int
    rotation: int
    has_audio: bool
    codec: str

    @property
    def display_size(self) -> tuple[int, int]:
        """(width, height) after rotation."""
        if self.rotation in (90, 270):
            return self.height, self.width
        return self.width, self.height


@dataclass
class DecodeStats:
    """Counts what a decode did, so callers and tests can check it was one pass."""

    opens: int = 0
    frames_decoded: int = 0
    frames_converted: int = 0
    backend: str = ""


@dataclass
class ClipChunk:
    """A run of consecutive clips with the frames every consumer asked for.

    Attributes:
        first_clip: index of the first clip of the chunk in the video's clip grid.
        clip_times: float64 [k, 2], (start_s, end_s) of each clip.
        frames: consumer name -> per clip uint8 [T, H, W, 3] RGB frames (short side as asked).
        frame_times: consumer name -> per clip float64 [T], the source timestamp (s) of each frame.
    """

    first_clip: int
    clip_times: np.ndarray
    frames: dict[str, list[np.ndarray]] = field(default_factory=dict)
    frame_times: dict[str, list[np.ndarray]] = field(default_factory=dict)


def clip_grid(duration: float, clip_seconds: float = 2.0) -> np.ndarray:
    """The clip grid of a video: clip i covers [i*c, min((i+1)*c, duration)).

    Returns float64 [n, 2] with n = ceil(duration / c).

    >>> clip_grid(5.0, 2.0).tolist()
    [[0.0, 2.0], [2.0, 4.0], [4.0, 5.0]]
    >>> clip_grid(1.5, 2.0).tolist()
    [[0.0, 1.5]]
    """
    if clip_seconds <= 0:
        raise ValueError(f"clip_seconds must be > 0, got {clip_seconds}")
    if duration <= 0:
        return np.zeros((0, 2))
    n = math.ceil(round(duration / clip_seconds, 9))
    starts = np.arange(n, dtype=np.float64) * clip_seconds
    ends = np.minimum(starts + clip_seconds, duration)
    return np.stack([starts, ends], axis=1)


def target_times(spec: SamplingSpec, start: float, end: float) -> np.ndarray:
    """The timestamps (s) a consumer wants from the clip [start, end).

    >>> target_times(FramesPerClip(offsets=(0.0, 0.5)), 2.0, 4.0).tolist()
    [2.0, 3.0]
    >>> len(target_times(ResampleFps(fps=30), 0.0, 2.0)), len(target_times(ResampleFps(fps=30), 4.0, 4.5))
    (60, 15)
    """
    if isinstance(spec, FramesPerClip):
        return np.array([start + off * (end - start) for off in spec.offsets], dtype=np.float64)
    n = max(1, math.ceil(round((end - start) * spec.fps, 6)))
    return start + np.arange(n, dtype=np.float64) / spec.fps


def frame_index_at(frame_starts: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Index of the last frame whose start time is <= t (the first frame for earlier t).

    >>> frame_index_at(np.array([0.0, 0.5, 1.0]), np.array([0.0, 0.49, 0.5, 7.0])).tolist()
    [0, 0, 1, 2]
    """
    # a small tolerance: a frame stamped 0.0333333 serves the target 1/30
    idx = np.searchsorted(frame_starts, times + 1e-6, side="right") - 1
    return np.clip(idx, 0, len(frame_starts) - 1)


def list_videos(folder: str | os.PathLike) -> list[Path]:
    """Video files directly inside `folder` (by suffix), sorted by name."""
    root = Path(folder)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: not a directory of videos")
    return sorted(p for p in root.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)


def video_id(path: str | os.PathLike) -> str:
    """The id a video is stored under: its file name without the suffix."""
    return Path(path).stem


def scaled_size(width: int, height: int, short_side: int) -> tuple[int, int]:
    """Coded size scaled so the short side is `short_side`, rounded to even pixels.

    >>> scaled_size(480, 270, 224)
    (398, 224)
    """
    scale = short_side / min(width, height)
    def even(x: float) -> int:
        return max(2, int(round(x / 2.0)) * 2)
    if width <= height:
        return short_side, even(height * scale)
    return even(width * scale), short_side


def rotate_frames(frames: np.ndarray, rotation: int) -> np.ndarray:
    """Turn [T, H, W, 3] frames as the display matrix says (counter-clockwise degrees)."""
    k = (rotation // 90) % 4
    return np.ascontiguousarray(np.rot90(frames, k=k, axes=(1, 2))) if k else frames


# the decoders live in pipeline/decoders.py; imported late to keep this module light
def probe_video(path: str | os.PathLike) -> VideoInfo:
    """Read a video's metadata and check one frame decodes.

    Raises:
        VideoDecodeError: the file is missing, empty, not a video container, has no video
            stream, or has no decodable frame.
    """
    from pipeline.decoders import probe_with_pyav

    return probe_with_pyav(path)


def decode_clips(
    path: str | os.PathLike,
    consumers: Mapping[str, SamplingSpec],
    clip_seconds: float = 2.0,
    chunk_seconds: float = 16.0,
    backend: str = "auto",
    info: VideoInfo | None = None,
    stats: DecodeStats | None = None,
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
        backend: "decord", "pyav", or "auto" (decord, PyAV when decord cannot open the file).
        info: a probe result to reuse; probed when None.
        stats: filled with counts of opens and decoded frames.

    Raises:
        VideoDecodeError: the file cannot be decoded.
    """
    from pipeline.decoders import decode_with_backend

    if not consumers:
        raise ValueError("decode_clips needs at least one consumer")
    info = info or probe_video(path)
    grid = clip_grid(info.duration, clip_seconds)
    if len(grid) == 0:
        raise VideoDecodeError(path, f"zero duration ({info.duration:.3f} s): no clips")
    stats = stats if stats is not None else DecodeStats()
    yield from decode_with_backend(path, info, grid, consumers, chunk_seconds, backend, stats)
