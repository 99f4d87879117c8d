"""QVHighlights highlight detection: HL-mAP and HL-Hit1 at the Fair/Good/VeryGood levels."""

from __future__ import annotations

import numpy as np

from pipeline.evaluation.rounding import percent

#: Minimum annotator score (0..4) for a clip to count as a highlight, per level name.
SALIENCY_LEVELS = {"Fair": 2, "Good": 3, "VeryGood": 4}


def pad_scores(vectors: list[np.ndarray], width: int | None = None,
               fill: float = -np.inf) -> tuple[np.ndarray, np.ndarray]:
    """Pack 1-D score vectors into a (Q, width) array padded with ``fill``.

    Returns:
        (packed (Q, width) float64, lengths (Q,) int64).
    """
    lengths = np.fromiter((len(v) for v in vectors), dtype=np.int64, count=len(vectors))
    width = int(lengths.max(initial=1)) if width is None else width
    packed = np.full((len(vectors), width), fill)
    mask = np.arange(width)[None, :] < np.minimum(lengths, width)[:, None]
    packed[mask] = np.concatenate([v[:width] for v in vectors])
    return packed, lengths


def align_to_clips(raw: np.ndarray, raw_len: np.ndarray, n_clips: np.ndarray) -> np.ndarray:
    """Bring predictions to the video's clip count, as the official evaluation does.

    Longer predictions are truncated, shorter ones zero-padded (the padded clips score 0).

    Args:
        raw: (Q, W) predicted scores, padded beyond ``raw_len``.
        raw_len: (Q,) number of predicted scores.
        n_clips: (Q,) clip count of each video.

    Returns:
        (Q, L) float64 with L = max(n_clips); slots beyond a video's clips hold 0.
    """
    width = int(n_clips.max())
    cols = np.arange(width)[None, :]
    padded = np.zeros((raw.shape[0], width))
    take = min(width, raw.shape[1])
    padded[:, :take] = raw[:, :take]
    return np.where(cols < np.minimum(raw_len, n_clips)[:, None], padded, 0.0)


def hit_at_one(raw: np.ndarray, labels: np.ndarray, n_clips: np.ndarray) -> np.ndarray:
    """Whether the top-scored clip is a highlight for at least one annotator.

    The top clip is the argmax of the raw prediction (first one on ties); a top clip
    beyond the video's clips counts as a miss (official ``compute_hl_hit1``).

    Args:
        raw: (Q, W) predicted scores padded with -inf.
        labels: (Q, L, A) binary labels per clip and annotator.
        n_clips: (Q,) clips per video.

    Returns:
        (Q,) float64 in {0, 1}.
    """
    top = raw.argmax(axis=1)  # (Q,)
    inside = top < n_clips
    rows = np.arange(len(top))
    hit = labels[rows, np.minimum(top, labels.shape[1] - 1)].max(axis=-1)  # (Q,)
    return np.where(inside, hit, 0.0)


def ranking_average_precision(scores: np.ndarray, labels: np.ndarray,
                              n_clips: np.ndarray) -> np.ndarray:
    """Interpolated AP of ranking clips by score, per query and annotator.

    Matches the official ``get_ap`` (sklearn ``precision_recall_curve`` + running max):
    clips with equal scores form one threshold; AP is the mean, over the thresholds that
    add at least one positive, of the best precision reached at that or any lower threshold.
    No positive clip gives 0; all clips positive gives 1.

    Args:
        scores: (Q, L) predicted scores, meaningful for the first ``n_clips`` slots.
        labels: (Q, L, A) binary labels (0 beyond ``n_clips``).
        n_clips: (Q,) clips per video.

    Returns:
        (Q, A) float64 AP in [0, 1].
    """
    n_q, width = scores.shape
    valid = np.arange(width)[None, :] < n_clips[:, None]
    order = np.argsort(np.where(valid, -scores, np.inf), axis=1, kind="stable")
    s = np.take_along_axis(scores, order, axis=1)  # (Q, L) descending
    v = np.take_along_axis(valid, order, axis=1)
    y = np.take_along_axis(labels, order[:, :, None], axis=1) * v[:, :, None]  # (Q, L, A)
    same_as_next = np.zeros_like(v)
    same_as_next[:, :-1] = (s[:, 1:] == s[:, :-1]) & v[:, 1:]
    group_end = v & ~same_as_next
    group_start = v & ~np.concatenate([np.zeros((n_q, 1), bool), same_as_next[:, :-1]], axis=1)
    tp = np.cumsum(y, axis=1)  # (Q, L, A)
    seen = np.arange(1, width + 1, dtype=np.float64)[None, :, None]
    precision = np.where(group_end[:, :, None], tp / seen, 0.0)
    best_below = np.maximum.accumulate(precision[:, ::-1], axis=1)[:, ::-1]
    tp_before_group = np.maximum.accumulate(np.where(group_start[:, :, None], tp - y, 0), axis=1)
    counted = group_end[:, :, None] & (tp > tp_before_group)
    n_counted = counted.sum(axis=1)
    total = np.where(counted, best_below, 0.0).sum(axis=1)
    return np.divide(total, n_counted, out=np.zeros_like(total), where=n_counted > 0)


def evaluate_highlight(raw: np.ndarray, raw_len: np.ndarray, gt_scores: np.ndarray,
                       n_clips: np.ndarray) -> dict[str, dict[str, float]]:
    """HL-mAP and HL-Hit1 at each saliency level.

    Args:
        raw: (Q, W) predicted saliency per clip, padded with -inf beyond ``raw_len``.
        raw_len: (Q,) number of predicted scores.
        gt_scores: (Q, L, 3) annotator scores 0..4 per clip (0 for clips not annotated).
        n_clips: (Q,) clips per video, ``int(duration / clip_seconds)``.

    Returns:
        ``{"HL-min-Fair": {"HL-mAP": .., "HL-Hit1": ..}, "HL-min-Good": ..,
        "HL-min-VeryGood": ..}``,
        percentages with 2 decimals; mAP averages over queries and annotators.
    """
    aligned = align_to_clips(raw, raw_len, n_clips)
    n_annotators = gt_scores.shape[-1]
    # one ranking serves every level: stack the levels' labels along the annotator axis
    labels = np.concatenate([(gt_scores >= m) for m in SALIENCY_LEVELS.values()], axis=-1)
    ap = ranking_average_precision(aligned, labels.astype(np.float64), n_clips)  # (Q, 3A)
    metrics = {}
    for level, name in enumerate(SALIENCY_LEVELS):
        cols = slice(level * n_annotators, (level + 1) * n_annotators)
        metrics[f"HL-min-{name}"] = {
            "HL-mAP": percent(np.mean(ap[:, cols])),
            "HL-Hit1": percent(np.mean(hit_at_one(raw, labels[:, :, cols], n_clips))),
        }
    return metrics


def highlight_brief(metrics: dict) -> dict[str, float]:
    """Official brief keys: ``HL-min-Fair-mAP``, ``HL-min-Fair-Hit1``, ... in level order."""
    return {f"{level}-{key.split('-')[1]}": value
            for level, entry in metrics.items() for key, value in entry.items()}
