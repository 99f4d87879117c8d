"""TaskWeave's inter-task feedback converters: Moment-to-Mask and Highlightness-to-Mask."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from model.spans import span_cxw_to_xx, spans_to_clip_range


def moment_to_mask(spans_cxw: Tensor, video_mask: Tensor) -> Tensor:
    """M2M converter: every predicted moment marks the clips it covers with 1; the N_q
    binary vectors are summed and L2-normalised over the clips (paper Sec. 3.3, xi_m2m).

    A clip i of a video with n valid clips covers [i/n, (i+1)/n); a moment covers the clips
    that overlap it (model.spans.spans_to_clip_range). No gradient flows through the mask.

    Args:
        spans_cxw: float (B, Q, 2) predicted normalised (centre, width).
        video_mask: bool (B, L), True = valid clip.

    Returns:
        float (B, L) moment-aware mask, unit L2 norm over each video's clips, 0 at padding.

    >>> spans = torch.tensor([[[0.25, 0.5], [0.375, 0.25]]])  # clips 0-1 and clip 1 of 4
    >>> moment_to_mask(spans, torch.ones(1, 4, dtype=torch.bool))
    tensor([[0.4472, 0.8944, 0.0000, 0.0000]])
    """
    batch, queries, _ = spans_cxw.shape
    length = video_mask.shape[1]
    num_clips = video_mask.sum(1).repeat_interleave(queries)  # (B*Q,)
    spans_xx = span_cxw_to_xx(spans_cxw.detach().flatten(0, 1))  # (B*Q, 2)
    first, last = spans_to_clip_range(spans_xx, num_clips)  # (B*Q,) each
    index = torch.arange(length, device=spans_cxw.device)  # (L,)
    inside = (index >= first[:, None]) & (index <= last[:, None])  # (B*Q, L)
    counts = inside.view(batch, queries, length).sum(1).to(spans_cxw.dtype)  # (B, L)
    return F.normalize(counts * video_mask, dim=1)


def highlightness_to_mask(saliency: Tensor, video_mask: Tensor) -> Tensor:
    """H2M converter: 1 for clips scored above the mean of the video's valid scores, else 0
    (paper Sec. 3.3, xi_h2m). No gradient flows through the mask.

    Args:
        saliency: float (B, L) predicted saliency.
        video_mask: bool (B, L), True = valid clip.

    Returns:
        float (B, L) binary highlightness-aware mask, 0 at padding.

    >>> scores = torch.tensor([[1.0, 3.0, 2.0, 9.0]])
    >>> highlightness_to_mask(scores, torch.tensor([[True, True, True, False]]))
    tensor([[0., 1., 0., 0.]])
    """
    saliency = saliency.detach()
    weights = video_mask.to(saliency.dtype)
    mean = (saliency * weights).sum(1, keepdim=True) / weights.sum(1, keepdim=True)  # (B, 1)
    return ((saliency > mean) & video_mask).to(saliency.dtype)
