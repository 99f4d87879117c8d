"""What a decode pass deals in: video metadata, clip chunks, the clip grid and frame-time maths."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from pipeline.common.errors import UserInputError
from pipeline.video import reference
from pipeline.video.reference import BOUNDARY_S
from pipeline.video.sampling import (  # noqa: F401 (ResampleFps: doctests)
    FramesPerClip,
    ReferenceFrames,
    ReferenceSlowFast,
    ResampleFps,
    SamplingSpec,
)


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
    then to the container's duration; `frames_end` where the last frame ends (its start plus its
    duration, from the packets; 0 when unknown).
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
    frames_end: float = 0.0

    @property
    def end(self) -> float:
        """Where the last frame ends (s): its start plus its duration, else the stated duration."""
        return self.frames_end or self.duration

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
        frames: consumer name -> per clip uint8 [T, H, W, 3] RGB frames (short side as asked): numpy
            arrays, or torch tensors on the decoding device from the torchcodec back-end (`host_frames`).
        frame_times: consumer name -> per clip float64 [T], the source timestamp (s) of each frame.
        frame_index: consumer name -> per clip int64 [T], each frame's index among the video's
            decoded frames in presentation order.
        A consumer with a clip count of its own (a reference spec's) can have fewer clips than
        `clip_times` in a video's last chunks.
    """

    first_clip: int
    clip_times: np.ndarray
    frames: dict[str, list[np.ndarray]] = field(default_factory=dict)
    frame_times: dict[str, list[np.ndarray]] = field(default_factory=dict)
    frame_index: dict[str, list[np.ndarray]] = field(default_factory=dict)


def host_frames(chunk: ClipChunk, exclude: Sequence[str] = ()) -> ClipChunk:
    """The chunk with every consumer's frames as numpy arrays in host memory (a torch tensor, from the
    torchcodec back-end, is copied there), except those of `exclude` (left as they are)."""
    for name, clips in chunk.frames.items():
        if name not in exclude and clips and not isinstance(clips[0], np.ndarray):
            chunk.frames[name] = [clip.cpu().numpy() for clip in clips]
    return chunk


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


#: A frame up to this much after a target time still serves it (a frame stamped 0.0333333 serves 1/30).
AT_OR_BEFORE_S = 1e-6


def frame_index_at(frame_starts: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Index of the last frame whose start time is <= t (the first frame for earlier t).

    >>> frame_index_at(np.array([0.0, 0.5, 1.0]), np.array([0.0, 0.49, 0.5, 7.0])).tolist()
    [0, 0, 1, 2]
    """
    idx = np.searchsorted(frame_starts, times + AT_OR_BEFORE_S, side="right") - 1
    return np.clip(idx, 0, len(frame_starts) - 1)


def strictly_before(times: np.ndarray) -> np.ndarray:
    """Times that make `frame_index_at` (and the streaming picker) pick the last frame strictly
    before each of `times`, a frame within BOUNDARY_S of it counting as on it.

    >>> starts = np.array([0.0, 0.96, 1.0])
    >>> frame_index_at(starts, strictly_before(np.array([1.0, 1.01, 3.0]))).tolist()
    [1, 2, 2]
    """
    return np.asarray(times, dtype=np.float64) - AT_OR_BEFORE_S - BOUNDARY_S


def clip_targets(spec: SamplingSpec, info: VideoInfo, grid: np.ndarray, clip_seconds: float) -> list[np.ndarray]:
    """Per clip the times (s) whose frames a consumer gets, for the whole video. Reference specs
    have their own clip counts (pipeline.video.reference), at most the grid's."""
    if isinstance(spec, ReferenceFrames):
        n = min(len(grid), reference.frame_clip_count(info.end, clip_seconds))
        return [strictly_before(t[None]) for t in reference.frame_targets(n, clip_seconds)]
    if isinstance(spec, ReferenceSlowFast):
        n = min(len(grid), reference.slowfast_clip_count(info.duration, clip_seconds))
        n_resampled = reference.resampled_count(info.end, spec.fps)
        offsets = reference.hero_fast_offsets(info.fps, spec.num_frames, spec.sampling_rate, spec.fps,
                                              clip_frames=int(round(spec.fps * clip_seconds)))
        return [strictly_before(reference.resampled_targets(
                    reference.hero_resampled_index(i, offsets, n_resampled, spec.fps, clip_seconds), spec.fps))
                for i in range(n)]
    return [target_times(spec, s, e) for s, e in grid]


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
