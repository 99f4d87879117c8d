"""Temporal IoU of windows in seconds, batched with numpy broadcasting."""

from __future__ import annotations

import numpy as np


def temporal_iou_cross(
    start_a: np.ndarray, end_a: np.ndarray, start_b: np.ndarray, end_b: np.ndarray
) -> np.ndarray:
    """IoU between every window of ``a`` and every window of ``b`` (same leading batch shape).

    Union is ``len_a + len_b - intersection``, the formula of the official QVHighlights
    ``compute_temporal_iou_batch_cross``; a zero union (two zero-length windows) gives 0.

    Args:
        start_a, end_a: (..., N) window bounds, seconds.
        start_b, end_b: (..., M) window bounds, seconds.

    Returns:
        (..., N, M) float64 IoU in [0, 1].

    >>> temporal_iou_cross(np.array([0.0]), np.array([10.0]), np.array([5.0, 20.0]),
    ...                    np.array([15.0, 30.0])).round(4).tolist()
    [[0.3333, 0.0]]
    """
    left = np.maximum(start_a[..., :, None], start_b[..., None, :])  # (..., N, M)
    right = np.minimum(end_a[..., :, None], end_b[..., None, :])
    inter = np.clip(right - left, 0.0, None)
    union = (end_a - start_a)[..., :, None] + (end_b - start_b)[..., None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union != 0)


def temporal_iou_paired(
    start_a: np.ndarray, end_a: np.ndarray, start_b: np.ndarray, end_b: np.ndarray
) -> np.ndarray:
    """IoU of window ``a[i]`` with window ``b[i]``.

    Union is ``max(ends) - min(starts)``, as in the official
    ``compute_temporal_iou_batch_paired`` (R1 uses this one). It equals the true union
    whenever the windows overlap, and the IoU is 0 otherwise; keeping the official formula
    keeps the floating-point result, and so the thresholding, bit-identical.

    Returns:
        float64 array of the broadcast shape, IoU in [0, 1].

    >>> temporal_iou_paired(np.array([0.0, 0.0]), np.array([10.0, 1.0]),
    ...                     np.array([0.0, 5.0]), np.array([20.0, 6.0])).tolist()
    [0.5, 0.0]
    """
    inter = np.maximum(0.0, np.minimum(end_a, end_b) - np.maximum(start_a, start_b))
    union = np.maximum(end_a, end_b) - np.minimum(start_a, start_b)
    return np.divide(inter, union, out=np.zeros_like(inter), where=union != 0)
