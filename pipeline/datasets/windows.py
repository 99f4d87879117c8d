"""Windows in seconds <-> normalised (centre, width) spans of a (possibly cropped) clip sequence."""

from __future__ import annotations

import numpy as np
import torch
from numpy.typing import ArrayLike
from torch import Tensor

from model.spans import span_cxw_to_xx, span_xx_to_cxw


def windows_to_spans_cxw(windows_sec: ArrayLike, n_clips: int, clip_seconds: float,
                         clip_offset: int = 0) -> Tensor:
    """Normalise [start_s, end_s] windows to (centre, width) spans of a clip sequence.

    The sequence is clips `clip_offset .. clip_offset + n_clips - 1` of the video, i.e. the
    seconds [clip_offset * clip_seconds, (clip_offset + n_clips) * clip_seconds]; 0 and 1 are
    its ends (the model's and moment_detr's convention: length = n_clips * clip_seconds).

    Args:
        windows_sec: (n, 2) windows in seconds from the start of the video.
        n_clips: L, clips in the sequence.
        clip_seconds: seconds per clip.
        clip_offset: index of the sequence's first clip in the video (crops).

    Returns:
        float32 (n, 2) spans as normalised (centre, width).

    >>> windows_to_spans_cxw([[26, 36]], n_clips=75, clip_seconds=2.0)
    tensor([[0.2067, 0.0667]])
    """
    xx = torch.as_tensor(np.asarray(windows_sec, dtype=np.float64).reshape(-1, 2))
    length = n_clips * clip_seconds
    xx = (xx - clip_offset * clip_seconds) / length
    return span_xx_to_cxw(xx).to(torch.float32)


def spans_cxw_to_windows(spans_cxw: ArrayLike | Tensor, n_clips: int, clip_seconds: float,
                         clip_offset: int = 0) -> Tensor:
    """Inverse of `windows_to_spans_cxw`: normalised (centre, width) -> [start_s, end_s] seconds.

    Args:
        spans_cxw: (n, 2) normalised (centre, width) spans.
        n_clips: L, clips in the sequence the spans refer to.
        clip_seconds: seconds per clip.
        clip_offset: index of the sequence's first clip in the video.

    Returns:
        float64 (n, 2) windows in seconds from the start of the video.

    >>> spans_cxw_to_windows([[0.5, 0.2]], n_clips=75, clip_seconds=2.0, clip_offset=10).round(decimals=6).tolist()
    [[80.0, 110.0]]
    """
    cxw = torch.as_tensor(spans_cxw).to(torch.float64).reshape(-1, 2)
    return span_cxw_to_xx(cxw) * (n_clips * clip_seconds) + clip_offset * clip_seconds


def crop_windows(windows_sec: ArrayLike, start_s: float, end_s: float, min_seconds: float = 1e-6) -> np.ndarray:
    """Clip windows to [start_s, end_s] and drop those left shorter than `min_seconds`.

    Args:
        windows_sec: (n, 2) windows in seconds.
        start_s, end_s: the kept part of the video, seconds.
        min_seconds: windows shorter than this after clipping are dropped.

    Returns:
        float64 (m, 2) windows in seconds, m <= n, in input order.

    >>> crop_windows([[0, 10], [140, 160], [170, 180]], 0, 150).tolist()
    [[0.0, 10.0], [140.0, 150.0]]
    """
    w = np.asarray(windows_sec, dtype=np.float64).reshape(-1, 2)
    w = np.clip(w, start_s, end_s)
    return w[(w[:, 1] - w[:, 0]) >= min_seconds]


def window_clip_range(start_s: float, end_s: float, clip_seconds: float, n_clips: int) -> tuple[int, int]:
    """First and last clip (inclusive) that a window marks, by the release's rule.

    Clip i covers [i * clip_seconds, (i + 1) * clip_seconds). The first clip is the one holding
    the start; the last is floor(end / clip_seconds) - 1, so a clip only partly covered at the
    end is left out (moment_detr / VideoLights `get_saliency_labels_sub_as_query`). A window
    inside a single clip marks that clip (the release would mark the clip before it). Results
    are clamped into [0, n_clips - 1], first <= last.

    >>> window_clip_range(24.3, 30.4, 1.0, 31)
    (24, 29)
    >>> window_clip_range(3.2, 3.6, 1.0, 31)
    (3, 3)
    """
    first = min(max(0, int(np.floor(start_s / clip_seconds + 1e-9))), n_clips - 1)
    last = min(int(np.floor(end_s / clip_seconds + 1e-9)), n_clips) - 1
    return first, max(first, last)
