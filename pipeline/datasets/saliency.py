"""Saliency targets of one sample: per-clip scores and k sampled positive / negative clips.

The three rules follow the authors' release (VideoLights `video_lights/start_end_dataset.py`,
itself QD-DETR's / moment_detr's):
- annotator scores (QVHighlights `get_saliency_labels_all`): sum the annotators per clip;
  k/2 hardest pairs (highest / lowest summed score among the relevant clips) plus k/2 random
  pairs (a relevant clip, a clip outside the relevant clips);
- windows (Charades-STA `get_saliency_labels_sub_as_query`): clips inside the window score 1;
  k random clips inside, k random clips outside;
- TVSum (`get_saliency_labels_all_tvsum`): sum over annotators of (score - 1), rescaled to
  the QVHighlights range 0..12; the k highest / lowest clips.
When a sample has no positive clip in range, pos = neg = clip 0: the margin term then has zero
gradient instead of a made-up target.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from pipeline.datasets.windows import window_clip_range

log = logging.getLogger(__name__)

#: Highest summed QVHighlights score (3 annotators x 4): TVSum scores are rescaled to it.
QVH_SCORE_RANGE = 12.0
#: TVSum scores start at 1: (5 - 1) per annotator at most.
TVSUM_SCORE_SPAN = 4.0


@dataclass(frozen=True)
class SaliencyTargets:
    """Saliency targets of one sample of L clips.

    Attributes:
        pos: int64 (k,) clip indices that should score high.
        neg: int64 (k,) clip indices that should score lower than `pos`, pairwise.
        scores: float32 (L,) per-clip target score (0 = not relevant).
    """

    pos: np.ndarray
    neg: np.ndarray
    scores: np.ndarray


def _neutral(n_clips: int, k: int, scores: np.ndarray | None = None) -> SaliencyTargets:
    zeros = np.zeros(k, dtype=np.int64)
    return SaliencyTargets(zeros, zeros.copy(),
                           scores if scores is not None else np.zeros(n_clips, np.float32))


def _sample(pool: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k draws from pool, without replacement when the pool is large enough."""
    return rng.choice(pool, size=k, replace=len(pool) < k).astype(np.int64)


def _repeat_to(values: np.ndarray, k: int) -> np.ndarray:
    """The first k values, cycled when there are fewer than k."""
    if len(values) >= k:
        return values[:k].astype(np.int64)
    return np.resize(values, k).astype(np.int64)


def _complement(ids: np.ndarray, n_clips: int) -> np.ndarray:
    mask = np.ones(n_clips, dtype=bool)
    mask[ids] = False
    return np.flatnonzero(mask)


def scores_saliency(clip_ids: Sequence[int], clip_scores: Sequence[Sequence[float]], n_clips: int,
                    clip_offset: int, k: int, rng: np.random.Generator) -> SaliencyTargets:
    """Targets from annotator scores of the relevant clips (QVHighlights, pretraining rows).

    Args:
        clip_ids: relevant clip indices in the whole video.
        clip_scores: one list of annotator scores per relevant clip.
        n_clips: L, clips of the (cropped) sequence.
        clip_offset: index of the sequence's first clip in the video.
        k: pairs to draw (even: k/2 hardest + k/2 random).
        rng: the sample's generator.
    """
    ids = np.asarray(clip_ids, dtype=np.int64) - clip_offset
    agg = np.asarray(clip_scores, dtype=np.float32).reshape(len(ids), -1).sum(axis=1)
    keep = (ids >= 0) & (ids < n_clips)
    ids, agg = ids[keep], agg[keep]
    scores = np.zeros(n_clips, np.float32)
    scores[ids] = agg
    if len(ids) == 0:
        log.debug("no relevant clip inside the %d kept clips; neutral saliency pairs", n_clips)
        return _neutral(n_clips, k, scores)
    half = k // 2
    order = np.argsort(agg, kind="stable")  # increasing summed score
    hard_pos = _repeat_to(ids[order[::-1][:half]], half)
    hard_neg = _repeat_to(ids[order[:half]], half)
    outside = _complement(ids, n_clips)
    if len(outside) >= half:
        easy_pos, easy_neg = _sample(ids, half, rng), _sample(outside, half, rng)
    else:  # nothing outside to contrast with: copy the hard pairs, as the release does
        easy_pos, easy_neg = hard_pos, hard_neg
    return SaliencyTargets(np.concatenate([hard_pos, easy_pos]), np.concatenate([hard_neg, easy_neg]), scores)


def window_saliency(windows_sec: np.ndarray, n_clips: int, clip_seconds: float, clip_offset: int,
                    k: int, rng: np.random.Generator) -> SaliencyTargets:
    """Targets derived from windows (Charades-STA; pretraining rows with pretrain_saliency="window").

    Args:
        windows_sec: (n, 2) windows in seconds of the whole video, already clipped to the kept
            part [clip_offset * clip_seconds, (clip_offset + n_clips) * clip_seconds].
        n_clips: L, clips of the (cropped) sequence.
        clip_seconds: seconds per clip.
        clip_offset: index of the sequence's first clip in the video.
        k: positives and negatives to draw.
        rng: the sample's generator.
    """
    scores = np.zeros(n_clips, np.float32)
    for start, end in np.asarray(windows_sec, dtype=np.float64).reshape(-1, 2):
        shift = clip_offset * clip_seconds
        first, last = window_clip_range(start - shift, end - shift, clip_seconds, n_clips)
        scores[first:last + 1] = 1.0
    inside = np.flatnonzero(scores > 0)
    if len(inside) == 0:
        return _neutral(n_clips, k, scores)
    pos = _sample(inside, k, rng)
    outside = np.flatnonzero(scores == 0)
    # too few clips outside: pos = neg (zero margin gradient), the release's fallback
    neg = _sample(outside, k, rng) if len(outside) >= k else pos.copy()
    return SaliencyTargets(pos, neg, scores)


def tvsum_saliency(label: Sequence[Sequence[float]], n_clips: int, clip_offset: int, k: int) -> SaliencyTargets:
    """Targets from TVSum's per-clip annotator scores (1..5); no random draws.

    Args:
        label: (clips, annotators) scores of the whole video.
        n_clips: L, clips of the (cropped) sequence; label rows beyond the video score 0.
        clip_offset: index of the sequence's first clip in the video.
        k: hardest positives / negatives to take.
    """
    table = np.asarray(label, dtype=np.float32)
    agg = np.zeros(n_clips, np.float32)
    part = (table[clip_offset:clip_offset + n_clips] - 1.0).sum(axis=1)
    agg[:len(part)] = part
    scores = agg / (TVSUM_SCORE_SPAN * table.shape[1]) * QVH_SCORE_RANGE
    order = np.argsort(agg, kind="stable")
    pos = _repeat_to(order[::-1][:k], k)
    neg = _repeat_to(order[:k], k)
    return SaliencyTargets(pos, neg, scores.astype(np.float32))
