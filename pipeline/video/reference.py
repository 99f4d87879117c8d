"""The public extractors' frame rules (HERO / Moment-DETR / VideoLights), as pure functions.

Which source frame feeds each clip, how many clips there are, and the frame size, exactly as the
pipelines behind the released QVHighlights features decide them (their ffmpeg `fps` filter with
"near" rounding, HERO's SlowFast padding and window). Times are seconds from the first frame.
"""

from __future__ import annotations

import math

import numpy as np
import torch

#: A frame this close to a boundary counts as on it (time bases are at most 1/90000 s apart, so a
#: real frame is either on a boundary or at least 1e-5 s from it; float pts are within 1e-9).
BOUNDARY_S = 1e-7




def frame_clip_count(frames_end: float, clip_seconds: float) -> int:
    """Clips of the one-frame-per-clip rule (CLIP, BLIP-2): floor(T_end / c + 1/2), half rounding up.

    `frames_end` is the last frame's start plus its duration. A partial last clip of at least half
    a clip gets a frame, a shorter one none.

    >>> frame_clip_count(30.697333, 2.0), frame_clip_count(27.28, 2.0), frame_clip_count(25.9, 2.0)
    (15, 14, 13)
    """
    return int(math.floor(frames_end / clip_seconds + 0.5 + 1e-9))


def frame_targets(n_clips: int, clip_seconds: float) -> np.ndarray:
    """Clip k's frame is the last one strictly before (k + 1/2) c (ffmpeg's fps=1/c, rounding near).

    >>> frame_targets(3, 2.0).tolist()
    [1.0, 3.0, 5.0]
    """
    return (np.arange(n_clips, dtype=np.float64) + 0.5) * clip_seconds


def slowfast_clip_count(duration: float, clip_seconds: float) -> int:
    """Clips of HERO's SlowFast features: ceil(stream duration / c).

    >>> slowfast_clip_count(30.697333, 2.0), slowfast_clip_count(27.28, 2.0), slowfast_clip_count(25.9, 2.0)
    (16, 14, 13)
    """
    return max(1, math.ceil(round(duration / clip_seconds, 9)))


def resampled_count(frames_end: float, fps: float = 30.0) -> int:
    """Frames of the fps-resampled stream: floor(fps * T_end + 1/2).

    >>> resampled_count(30.697333), resampled_count(27.28), resampled_count(25.9)
    (921, 818, 777)
    """
    return int(math.floor(fps * frames_end + 0.5 + 1e-9))


def hero_fast_offsets(source_fps: float, num_frames: int = 32, sampling_rate: int = 2, target_fps: float = 30.0,
                      clip_frames: int = 60) -> np.ndarray:
    """HERO's fast-pathway positions inside a clip: `num_frames` of a window of
    num_frames * sampling_rate * floor(source fps) / target_fps resampled frames from the clip's start
    (float32 linspace, clamped, truncated). A 14.985-fps source covers only the first second.

    >>> hero_fast_offsets(15000 / 1001).tolist()[:6], hero_fast_offsets(15000 / 1001).tolist()[-3:]
    ([0, 0, 1, 2, 3, 4], [27, 27, 28])
    >>> hero_fast_offsets(25.0).tolist()[-4:], hero_fast_offsets(30.0).tolist()[-3:]
    ([47, 48, 50, 52], [58, 59, 59])
    """
    clip_size = num_frames * sampling_rate * math.floor(source_fps) / target_fps
    positions = torch.linspace(0, clip_size - 1, num_frames, dtype=torch.float32)
    return torch.clamp(positions, 0, clip_frames - 1).long().numpy()


def slow_positions(num_fast: int = 32, alpha: int = 4) -> np.ndarray:
    """The fast positions the slow pathway takes (pytorchvideo's PackPathway: linspace, truncated).

    >>> slow_positions(32, 4).tolist()
    [0, 4, 8, 13, 17, 22, 26, 31]
    """
    return torch.linspace(0, num_fast - 1, num_fast // alpha).long().numpy()


def hero_resampled_index(clip: int, offsets: np.ndarray, n_resampled: int, fps: float = 30.0,
                         clip_seconds: float = 2.0) -> np.ndarray:
    """The resampled-stream frame behind each fast position of `clip`, after HERO's padding.

    The stream is padded to whole seconds with copies of its last frame; an odd number of seconds
    gets one more copy of its whole last second; clips are then `fps * clip_seconds` frames long.

    >>> hero_resampled_index(15, np.array([0, 20, 27, 28]), 921).tolist()
    [900, 920, 920, 920]
    >>> hero_resampled_index(13, np.array([0, 52]), 818).tolist()  # 28 s padded to 28: no extra second
    [780, 817]
    """
    per_second = int(round(fps))
    padded = math.ceil(n_resampled / per_second) * per_second
    positions = clip * int(round(fps * clip_seconds)) + np.asarray(offsets, dtype=np.int64)
    in_copy = positions >= padded  # the appended copy of the last second
    positions = np.where(in_copy, positions - per_second, positions)
    return np.minimum(positions, n_resampled - 1)


def resampled_targets(index: np.ndarray, fps: float = 30.0) -> np.ndarray:
    """Resampled frame j shows the last source frame strictly before (j + 1/2) / fps.

    >>> resampled_targets(np.array([0, 29])).tolist()
    [0.016666666666666666, 0.9833333333333333]
    """
    return (np.asarray(index, dtype=np.float64) + 0.5) / fps


def reference_size(width: int, height: int, short_side: int = 224) -> tuple[int, int]:
    """(W, H) the references scale to: the short side to `short_side`, the other truncated (odd kept).

    >>> reference_size(480, 270), reference_size(640, 272), reference_size(270, 480)
    ((398, 224), (527, 224), (224, 398))
    """
    if height >= width:
        return short_side, int(height * short_side / width)
    return int(width * short_side / height), short_side
