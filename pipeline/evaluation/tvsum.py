"""TVSum highlight detection: top-5 mAP per video, as the UMT / QD-DETR / VideoLights code does it.

The rule, per video and per annotator (20 of them):
1. the annotator's clip scores (1..5) are binarised: positive when strictly above their
   median, where the median of an even count is the lower middle value (``torch.median``);
2. clips are ranked by predicted saliency, descending (ties: earlier clip first), and the
   labels of the top 5 are kept;
3. AP of those 5 labels, normalised by the positives *among the 5* (0 when there are none):
   ``sum_j (rec_j - rec_{j-1}) * (prec_{j-1} + prec_j) / 2`` with ``rec_0 = 0``,
   ``prec_0 = 1`` (trapezoidal).
A video scores the mean over annotators; a domain the mean over its videos; the dataset the
mean over domains. Predictions longer than the video are truncated; shorter ones rank only
the predicted clips (the median still uses every clip).
"""

from __future__ import annotations

import numpy as np

from pipeline.evaluation.rounding import percent

#: Clips kept from the top of the predicted ranking.
TOP_K = 5


def lower_median(labels: np.ndarray, n_clips: np.ndarray) -> np.ndarray:
    """Median over the first ``n_clips`` clips, lower middle value for even counts.

    Args:
        labels: (V, L, A) annotator scores.
        n_clips: (V,) clips per video.

    Returns:
        (V, A) float64.
    """
    valid = np.arange(labels.shape[1])[None, :, None] < n_clips[:, None, None]
    ordered = np.sort(np.where(valid, labels, np.inf), axis=1)
    middle = ((n_clips - 1) // 2)[:, None, None]
    return np.take_along_axis(ordered, middle, axis=1)[:, 0, :]


def top_k_average_precision(scores: np.ndarray, n_scores: np.ndarray, labels: np.ndarray,
                            n_clips: np.ndarray, k: int = TOP_K) -> np.ndarray:
    """Top-k AP per video and annotator (rule in the module docstring).

    Args:
        scores: (V, W) predicted saliency, meaningful for the first ``n_scores`` slots.
        n_scores: (V,) number of predicted scores.
        labels: (V, L, A) annotator scores, meaningful for the first ``n_clips`` clips.
        n_clips: (V,) clips per video.
        k: ranking depth.

    Returns:
        (V, A) float64 AP in [0, 1].
    """
    positive = labels > lower_median(labels, n_clips)[:, None, :]  # (V, L, A)
    ranked = np.minimum(n_scores, n_clips)  # clips that take part in the ranking
    width = min(scores.shape[1], labels.shape[1])
    valid = np.arange(width)[None, :] < ranked[:, None]
    order = np.argsort(np.where(valid, -scores[:, :width], np.inf), axis=1, kind="stable")
    top = order[:, :k]  # (V, k')
    top_valid = np.take_along_axis(valid, top, axis=1)
    hits_at = np.take_along_axis(positive, top[:, :, None], axis=1) & top_valid[:, :, None]
    hits = np.cumsum(hits_at, axis=1, dtype=np.float64)  # (V, k', A)
    n_pos = hits[:, -1:, :]
    recall = np.divide(hits, n_pos, out=np.zeros_like(hits), where=n_pos > 0)
    precision = hits / np.arange(1, top.shape[1] + 1)[None, :, None]
    prev_recall = np.concatenate([np.zeros_like(recall[:, :1]), recall[:, :-1]], axis=1)
    prev_precision = np.concatenate([np.ones_like(precision[:, :1]), precision[:, :-1]], axis=1)
    return np.sum((recall - prev_recall) * (prev_precision + precision) / 2, axis=1)


def evaluate_tvsum(scores: np.ndarray, n_scores: np.ndarray, labels: np.ndarray,
                   n_clips: np.ndarray, vids: list, domains: list[str]) -> dict:
    """TVSum top-5 mAP per video, per domain and over domains.

    Args:
        scores, n_scores, labels, n_clips: as in :func:`top_k_average_precision`.
        vids: (V,) video ids (the rows' qids), for the per-video table.
        domains: (V,) TVSum domain code per video (``"BK"``, ``"BT"``, ...).

    Returns:
        ``{"brief": {"TVSum-top5-mAP": .., "TVSum-<domain>-top5-mAP": ..},
        "TVSum": {"top5-mAP": .., "domains": {domain: {"top5-mAP": .., "n_videos": n}},
        "videos": {vid: top5-mAP}}}``; percentages with 2 decimals, domains sorted.
    """
    per_video = top_k_average_precision(scores, n_scores, labels, n_clips).mean(axis=1)  # (V,)
    domain_arr = np.asarray(domains)
    names = sorted(set(domains))
    domain_means = {d: float(np.mean(per_video[domain_arr == d])) for d in names}
    overall = float(np.mean(list(domain_means.values())))
    key = f"top{TOP_K}-mAP"
    brief = {f"TVSum-{key}": percent(overall)}
    brief.update({f"TVSum-{d}-{key}": percent(domain_means[d]) for d in names})
    return {
        "brief": brief,
        "TVSum": {
            key: percent(overall),
            "domains": {d: {key: percent(domain_means[d]),
                            "n_videos": int(np.sum(domain_arr == d))} for d in names},
            "videos": {vid: percent(ap) for vid, ap in zip(vids, per_video)},
        },
    }
