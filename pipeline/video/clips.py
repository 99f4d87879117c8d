"""What a decode pass deals in: video metadata, clip chunks, the clip grid and frame-time maths."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

import numpy as np

from pipeline.common.errors import UserInputError
from pipeline.video.sampling import FramesPerClip, ResampleFps, SamplingSpec  # noqa: F401 (ResampleFps: doctests)


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
