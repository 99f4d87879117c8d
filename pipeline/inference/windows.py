"""Long videos in overlapping windows: where the windows start and how their predictions merge."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: IoU above which a lower-scored moment from another window is dropped.
NMS_IOU = 0.7


def window_starts(n_clips: int, window: int, stride: int) -> list[int]:
    """First clip of every window covering `n_clips` clips; the last window ends at the last clip.

    >>> window_starts(60, 75, 50)
    [0]
    >>> window_starts(180, 75, 50)
    [0, 50, 100, 105]
    >>> window_starts(175, 75, 50)
    [0, 50, 100]
    """
    if window < 1 or stride < 1:
        raise ValueError(f"window={window} and stride={stride} must be >= 1 clip")
    if stride > window:
        raise ValueError(f"stride={stride} > window={window} would leave clips uncovered")
    if n_clips <= window:
        return [0]
    starts = list(range(0, n_clips - window + 1, stride))
    if starts[-1] + window < n_clips:
        starts.append(n_clips - window)
    return starts


def merge_saliency(n_clips: int, starts: Sequence[int], scores: Sequence[Sequence[float]]) -> list[float]:
    """Per-clip saliency of the whole video: the mean over the windows that cover the clip.

    Args:
        n_clips: clips of the video.
        starts: first clip of each window.
        scores: per window, one score per clip of the window.

    >>> merge_saliency(4, [0, 2], [[1.0, 2.0, 3.0], [5.0, 6.0]])
    [1.0, 2.0, 4.0, 6.0]
    """
    total, count = np.zeros(n_clips), np.zeros(n_clips)
    for start, values in zip(starts, scores):
        values = np.asarray(values, dtype=np.float64)[: n_clips - start]
        total[start:start + len(values)] += values
        count[start:start + len(values)] += 1
    if (count == 0).any():
        raise ValueError(f"clips {np.flatnonzero(count == 0)[:5].tolist()} are in no window")
    return (total / count).tolist()


def temporal_iou(window: Sequence[float], others: np.ndarray) -> np.ndarray:
    """IoU of one [start, end] window with each row of (n, 2) `others`.

    >>> temporal_iou([0, 10], np.array([[5, 15], [0, 10], [20, 30]])).round(3).tolist()
    [0.333, 1.0, 0.0]
    """
    inter = np.clip(np.minimum(window[1], others[:, 1]) - np.maximum(window[0], others[:, 0]), 0, None)
    union = (window[1] - window[0]) + (others[:, 1] - others[:, 0]) - inter
    return np.divide(inter, union, out=np.zeros_like(inter, dtype=np.float64), where=union > 0)


def nms(windows: Sequence[Sequence[float]], iou_threshold: float = NMS_IOU,
        top_k: int | None = None) -> list[list[float]]:
    """Greedy non-maximum suppression of [start, end, score] windows.

    Windows are visited by descending score (ties: input order); one is kept unless it
    overlaps a kept window with IoU >= iou_threshold. At most top_k are kept.

    >>> nms([[0, 10, 0.9], [1, 10, 0.8], [20, 30, 0.7]], 0.7)
    [[0, 10, 0.9], [20, 30, 0.7]]
    """
    order = sorted(range(len(windows)), key=lambda i: -windows[i][2])
    kept: list[list[float]] = []
    for i in order:
        candidate = windows[i]
        if kept and temporal_iou(candidate, np.asarray([w[:2] for w in kept], dtype=np.float64)).max() >= iou_threshold:
            continue
        kept.append(list(candidate))
        if top_k is not None and len(kept) >= top_k:
            break
    return kept


def merge_moments(starts: Sequence[int], windows: Sequence[Sequence[Sequence[float]]], clip_seconds: float,
                  duration: float, top_k: int, iou_threshold: float = NMS_IOU) -> list[list[float]]:
    """Moments of the whole video from per-window moments.

    Each window's [start_s, end_s, score] (seconds from the window's start) is shifted by the
    window's start time and clamped to the video; all windows' moments are pooled and reduced
    by non-maximum suppression at `iou_threshold` to the `top_k` best.

    >>> merge_moments([0, 2], [[[0, 4, 0.9]], [[0, 4, 0.8], [2, 4, 0.3]]], 2.0, 8.0, 10)
    [[0.0, 4.0, 0.9], [4.0, 8.0, 0.8], [6.0, 8.0, 0.3]]
    """
    pooled = []
    for start, found in zip(starts, windows):
        shift = start * clip_seconds
        for s, e, score in found:
            pooled.append([min(s + shift, duration), min(e + shift, duration), score])
    return nms(pooled, iou_threshold, top_k)
