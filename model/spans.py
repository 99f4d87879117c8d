"""Pure span maths: (centre, width) <-> (start, end), temporal IoU / gIoU, clip indices."""

from __future__ import annotations

import torch
from torch import Tensor

# Tolerance when mapping normalised boundaries onto the clip grid: 0.4 * 10 is 4.000000001
# in float32, which must still count as the boundary between clip 3 and clip 4.
_GRID_EPS = 1e-4


def span_cxw_to_xx(spans_cxw: Tensor) -> Tensor:
    """Convert spans from (centre, width) to (start, end), in the same units.

    Args:
        spans_cxw: float (..., 2) spans as (centre, width).

    Returns:
        float (..., 2) spans as (start, end).

    >>> span_cxw_to_xx(torch.tensor([[0.5, 0.2], [0.25, 0.5]]))
    tensor([[0.4000, 0.6000],
            [0.0000, 0.5000]])
    """
    centre, width = spans_cxw.unbind(-1)
    return torch.stack([centre - 0.5 * width, centre + 0.5 * width], dim=-1)


def span_xx_to_cxw(spans_xx: Tensor) -> Tensor:
    """Convert spans from (start, end) to (centre, width), in the same units.

    Args:
        spans_xx: float (..., 2) spans as (start, end).

    Returns:
        float (..., 2) spans as (centre, width).

    >>> span_xx_to_cxw(torch.tensor([[0.4, 0.6]]))
    tensor([[0.5000, 0.2000]])
    >>> x = torch.tensor([[0.1, 0.3], [0.7, 0.05]])
    >>> torch.allclose(span_xx_to_cxw(span_cxw_to_xx(x)), x)
    True
    """
    start, end = spans_xx.unbind(-1)
    return torch.stack([0.5 * (start + end), end - start], dim=-1)


def temporal_iou(spans1_xx: Tensor, spans2_xx: Tensor) -> tuple[Tensor, Tensor]:
    """Pairwise IoU and union of two sets of (start, end) spans.

    Args:
        spans1_xx: float (N, 2) spans as (start, end).
        spans2_xx: float (M, 2) spans as (start, end).

    Returns:
        (iou, union), both float (N, M).

    >>> a, b = torch.tensor([[0.0, 2.0]]), torch.tensor([[1.0, 3.0], [5.0, 6.0]])
    >>> iou, union = temporal_iou(a, b)
    >>> iou
    tensor([[0.3333, 0.0000]])
    >>> union
    tensor([[3., 3.]])
    """
    length1 = spans1_xx[:, 1] - spans1_xx[:, 0]  # (N,)
    length2 = spans2_xx[:, 1] - spans2_xx[:, 0]  # (M,)
    left = torch.max(spans1_xx[:, None, 0], spans2_xx[None, :, 0])  # (N, M)
    right = torch.min(spans1_xx[:, None, 1], spans2_xx[None, :, 1])  # (N, M)
    inter = (right - left).clamp(min=0)
    union = length1[:, None] + length2[None, :] - inter
    # zero-width spans give union 0; their IoU is defined as 0, not NaN
    iou = inter / union.clamp(min=1e-8)
    return iou, union


def generalized_temporal_iou(spans1_xx: Tensor, spans2_xx: Tensor) -> Tensor:
    """Pairwise generalised IoU (Rezatofighi et al.) of (start, end) spans, in [-1, 1].

    Args:
        spans1_xx: float (N, 2) spans as (start, end).
        spans2_xx: float (M, 2) spans as (start, end).

    Returns:
        float (N, M) gIoU.

    >>> generalized_temporal_iou(torch.tensor([[0.0, 1.0]]), torch.tensor([[0.0, 1.0], [2.0, 3.0]]))
    tensor([[ 1.0000, -0.3333]])
    """
    iou, union = temporal_iou(spans1_xx, spans2_xx)
    left = torch.min(spans1_xx[:, None, 0], spans2_xx[None, :, 0])  # (N, M)
    right = torch.max(spans1_xx[:, None, 1], spans2_xx[None, :, 1])  # (N, M)
    enclosing = (right - left).clamp(min=1e-8)
    return iou - (enclosing - union) / enclosing


def inverse_sigmoid(x: Tensor, eps: float = 1e-3) -> Tensor:
    """Logit of x, clamped so that 0 and 1 map to finite values.

    Args:
        x: float tensor with values in [0, 1].
        eps: clamp margin.

    Returns:
        float tensor, same shape, with sigmoid(result) ~= x.

    >>> inverse_sigmoid(torch.tensor([0.5, 0.0])).round(decimals=3)
    tensor([ 0.0000, -6.9080])
    """
    x = x.clamp(min=0.0, max=1.0)
    return torch.log(x.clamp(min=eps) / (1.0 - x).clamp(min=eps))


def spans_to_clip_range(spans_xx: Tensor, num_clips: Tensor) -> tuple[Tensor, Tensor]:
    """First and last clip (inclusive) covered by normalised (start, end) spans.

    Clip i covers [i / n, (i + 1) / n). The last clip is the one holding the instant just
    before `end`, so a span ending exactly on a clip boundary does not take the next clip.

    Args:
        spans_xx: float (B, 2) normalised spans as (start, end).
        num_clips: int (B,) number of valid clips n of each video.

    Returns:
        (first, last): int64 (B,) clip indices with 0 <= first <= last <= n - 1.

    >>> spans = torch.tensor([[0.2, 0.4], [0.0, 1.0]])
    >>> first, last = spans_to_clip_range(spans, num_clips=torch.tensor([10, 4]))
    >>> first.tolist(), last.tolist()
    ([2, 0], [3, 3])
    """
    n = num_clips.to(spans_xx.dtype)
    last_index = num_clips.long() - 1
    first = torch.floor(spans_xx[:, 0] * n + _GRID_EPS).long()
    last = torch.ceil(spans_xx[:, 1] * n - _GRID_EPS).long() - 1
    first = torch.minimum(first.clamp(min=0), last_index)
    last = torch.minimum(torch.maximum(last, first), last_index)
    return first, last


def round_to_grid(seconds: Tensor, step: float) -> Tensor:
    """Round times to the nearest multiple of `step` (the clip length), halves upwards.

    Args:
        seconds: float tensor of times in seconds.
        step: grid step in seconds (> 0).

    Returns:
        float tensor, same shape, in seconds.

    >>> round_to_grid(torch.tensor([0.9, 3.2, 5.0]), 2.0)
    tensor([0., 4., 6.])
    """
    return torch.floor(seconds / step + 0.5) * step
