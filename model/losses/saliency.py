"""Highlight-detection (saliency) losses; every function honours the clip mask."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def margin_ranking_loss(
    scores: Tensor, pos_index: Tensor, neg_index: Tensor, margin: float
) -> Tensor:
    """Hinge loss pushing sampled positive clips above sampled negative clips by `margin`.

    Args:
        scores: float (B, L) saliency.
        pos_index: int64 (B, k) indices of positive clips.
        neg_index: int64 (B, k) indices of negative clips (pairs are column-aligned).
        margin: hinge margin Delta.

    Returns:
        scalar: 2 * mean over pairs of max(0, margin + s_neg - s_pos).

    >>> s = torch.tensor([[2.0, 0.0]])
    >>> float(margin_ranking_loss(s, torch.tensor([[0]]), torch.tensor([[1]]), 0.2))
    0.0
    """
    pos = scores.gather(1, pos_index)  # (B, k)
    neg = scores.gather(1, neg_index)  # (B, k)
    # x2 keeps the scale of the original pairwise formulation (release)
    return 2.0 * (margin + neg - pos).clamp(min=0).mean()


def rank_contrastive_loss(
    scores: Tensor, labels: Tensor, mask: Tensor, tau: float, levels: int
) -> Tensor:
    """Rank-contrastive loss (QD-DETR): for every threshold t in 1..levels-1, clips scored
    >= t are positives of an InfoNCE over all valid clips of the video.

    Args:
        scores: float (B, L) saliency (may include negative-pair clips, labelled 0).
        labels: float (B, L) ground-truth clip scores.
        mask: bool (B, L), True = valid clip.
        tau: temperature.
        levels: number of score levels; the sum over thresholds is divided by it.

    Returns:
        scalar.
    """
    log_prob = (scores / tau).masked_fill(~mask, float("-inf")).log_softmax(dim=1)  # (B, L)
    total = scores.new_zeros(())
    for threshold in range(1, levels):
        positive = (labels >= threshold) & mask
        if not positive.any():
            continue
        has_positive = positive.any(dim=1)  # (B,)
        per_video = torch.where(positive, log_prob, 0.0).sum(1) / positive.sum(1).clamp(min=1)
        total = total - (per_video * has_positive).mean()
    return total / levels


def negative_pair_loss(scores_neg: Tensor, mask: Tensor) -> Tensor:
    """-log(1 - sigmoid(s)) summed over valid clips scored against a mismatched query.

    Args:
        scores_neg: float (B, L) saliency of clips under another sample's query.
        mask: bool (B, L), True = valid clip.

    Returns:
        scalar: mean over videos of the per-video sum.
    """
    # softplus(s) == -log(1 - sigmoid(s)), without overflow for large s
    return (F.softplus(scores_neg) * mask).sum(1).mean()


def shift_to_nonnegative(scores: Tensor, mask: Tensor) -> Tensor:
    """Subtract each video's minimum valid score; padded clips become 0.

    The release shifts by the minimum over the whole batch; a per-video minimum keeps each
    video's loss independent of the rest of the batch and of padding.

    >>> shift_to_nonnegative(torch.tensor([[-1.0, 1.0, 9.0]]), torch.tensor([[True, True, False]]))
    tensor([[0., 2., 0.]])
    """
    minimum = scores.masked_fill(~mask, float("inf")).amin(dim=1, keepdim=True)  # (B, 1)
    return (scores - minimum) * mask


def cosine_loss(pred: Tensor, target: Tensor, mask: Tensor) -> Tensor:
    """Mean over videos of 1 - cos(pred, target), both restricted to valid clips.

    >>> x = torch.tensor([[1.0, 2.0, 0.0]])
    >>> float(cosine_loss(x, x, torch.ones(1, 3, dtype=torch.bool)))
    0.0
    """
    pred, target = pred * mask, target * mask
    cos = (pred * target).sum(1) / (pred.norm(dim=1) * target.norm(dim=1)).clamp(min=1e-8)
    return (1.0 - cos).mean()


def adaptive_weight(epoch: int, coefficient: float) -> float:
    """W_j = (epoch + 1) * coefficient: hard-example losses grow linearly with the epoch.

    >>> [adaptive_weight(e, 10.0) for e in range(3)]
    [10.0, 20.0, 30.0]
    """
    return (epoch + 1) * coefficient


def hard_losses(
    scores: Tensor, labels: Tensor, mask: Tensor, weight: float
) -> tuple[Tensor, Tensor]:
    """Adaptive hard positive / negative losses (paper Eqs. 8-10, release form).

    Saliency (shifted to >= 0) and ground truth are L2-normalised per video; the squared
    error is averaged over the video's valid clips, split into clips with a positive score
    (hard positive) and the rest (hard negative), then scaled by W_j.

    Args:
        scores: float (B, L) predicted saliency.
        labels: float (B, L) ground-truth clip scores (0 = not relevant).
        mask: bool (B, L), True = valid clip.
        weight: W_j from adaptive_weight().

    Returns:
        (hard_pos, hard_neg) scalars.
    """
    pred = F.normalize(shift_to_nonnegative(scores, mask), dim=1)
    target = F.normalize(labels * mask, dim=1)
    squared = (target - pred).square() * mask  # (B, L)
    positive = (labels > 0) & mask
    count = mask.sum(1).clamp(min=1)  # (B,)
    hard_pos = (torch.where(positive, squared, 0.0).sum(1) / count).mean()
    hard_neg = (torch.where(positive, 0.0, squared).sum(1) / count).mean()
    return weight * hard_pos, weight * hard_neg
