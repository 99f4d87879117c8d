"""Moment retrieval metrics: detection mAP over IoU thresholds, R1@t, mIoU, R5@t, length buckets.

Semantics follow the official QVHighlights evaluation (moment_detr ``standalone_eval``) and,
for R1@0.3 and mIoU, its extension in the CG-DETR / VideoLights releases.
"""

from __future__ import annotations

import logging

import numpy as np

from pipeline.evaluation.iou import temporal_iou_cross, temporal_iou_paired
from pipeline.evaluation.rounding import percent, threshold_key
from pipeline.evaluation.validation import PaddedWindows

log = logging.getLogger(__name__)

#: IoU thresholds of MR mAP and of the official R1: 0.50, 0.55, ..., 0.95.
MAP_IOU_THRESHOLDS = tuple(float(f"{t:.2f}") for t in np.linspace(0.5, 0.95, 10))
#: R1 thresholds of the extended evaluation: 0.30, 0.35, ..., 0.95.
EXTENDED_R1_IOU_THRESHOLDS = tuple(float(f"{t:.2f}") for t in np.linspace(0.3, 0.95, 14))
#: Ground-truth window length buckets, seconds, as (low, high]: a query belongs to a bucket
#: when one of its GT windows does, and only those windows are matched there.
LENGTH_BUCKETS = {"short": (0.0, 10.0), "middle": (10.0, 30.0), "long": (30.0, 150.0),
                  "full": (0.0, 150.0)}
#: Only the first windows of each prediction (in file order) are scored.
MAX_PRED_WINDOWS = 10


_warned_empty: set[str] = set()


def _match_rank(iou: np.ndarray) -> np.ndarray:
    """Rank of each GT window in the matching order of one prediction.

    The official loop visits GT windows by ``iou.argsort()[::-1]``: descending IoU, ties
    visited from the highest index down. Returns (..., G) int ranks, 0 = visited first.
    """
    n_gt = iou.shape[-1]
    order = n_gt - 1 - np.argsort(-iou[..., ::-1], axis=-1, kind="stable")  # (..., G)
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.broadcast_to(np.arange(n_gt), order.shape), axis=-1)
    return rank


def _greedy_true_positives(
    iou: np.ndarray, pred_valid: np.ndarray, thresholds: np.ndarray
) -> np.ndarray:
    """Greedy matching of score-sorted predictions to GT windows, each GT used at most once.

    A prediction is a true positive at threshold t when the best-ranked GT window that is
    still free has IoU >= t (official ``compute_average_precision_detection``).

    Args:
        iou: (Q, P, G) IoU of score-sorted predictions with GT windows; padded GT = -1.
        pred_valid: (Q, P) bool, real (not padded) predictions.
        thresholds: (T,) IoU thresholds.

    Returns:
        (Q, T, P) bool true-positive flags.
    """
    n_q, n_p, n_g = iou.shape
    rank = _match_rank(iou)
    thr = thresholds[None, :, None]  # (1, T, 1)
    locked = np.zeros((n_q, len(thresholds), n_g), dtype=bool)  # (Q, T, G)
    tp = np.zeros((n_q, len(thresholds), n_p), dtype=bool)
    q_idx, t_idx = np.arange(n_q)[:, None], np.arange(len(thresholds))[None, :]
    for p in range(n_p):  # sequential by nature: earlier predictions lock GT windows
        free = (iou[:, None, p, :] >= thr) & ~locked & pred_valid[:, None, p, None]
        choice = np.where(free, rank[:, None, p, :], n_g).argmin(-1)  # (Q, T)
        hit = free.any(-1)
        tp[:, :, p] = hit
        locked[q_idx, t_idx, choice] |= hit
    return tp


def _interpolated_ap(tp: np.ndarray, pred_valid: np.ndarray, n_gt: np.ndarray) -> np.ndarray:
    """VOC-2011 interpolated AP from TP flags (official ``interpolated_precision_recall``).

    Args:
        tp: (Q, T, P) bool, predictions in descending score order.
        pred_valid: (Q, P) bool.
        n_gt: (Q,) number of GT windows (> 0).

    Returns:
        (Q, T) float64 AP in [0, 1]; 0 for a query without predictions.
    """
    valid = pred_valid[:, None, :]
    tp_cum = np.cumsum(tp, axis=-1, dtype=np.float64)
    fp_cum = np.cumsum(valid & ~tp, axis=-1, dtype=np.float64)
    recall = tp_cum / n_gt[:, None, None].astype(np.float64)
    precision = np.divide(tp_cum, tp_cum + fp_cum, out=np.zeros_like(tp_cum), where=valid)
    edge = np.zeros(tp.shape[:2] + (1,))
    m_precision = np.concatenate([edge, precision, edge], axis=-1)
    m_recall = np.concatenate([edge, recall, edge + 1.0], axis=-1)
    m_precision = np.maximum.accumulate(m_precision[..., ::-1], axis=-1)[..., ::-1]
    # padded slots repeat the last recall, so their recall step is exactly 0
    return np.sum(np.diff(m_recall, axis=-1) * m_precision[..., 1:], axis=-1)


def average_precision(
    pred: PaddedWindows, gt: PaddedWindows, thresholds=MAP_IOU_THRESHOLDS
) -> np.ndarray:
    """Per-query detection AP at each IoU threshold.

    Predictions are ranked by descending score (stable: ties keep file order, like
    Python's ``list.sort``).

    Args:
        pred: Q predictions with scores (already cut to the first ``MAX_PRED_WINDOWS``).
        gt: the Q queries' ground-truth windows, at least one each.
        thresholds: IoU thresholds.

    Returns:
        (Q, T) float64 AP in [0, 1].
    """
    valid = pred.valid
    order = np.argsort(np.where(valid, -pred.score, np.inf), axis=1, kind="stable")
    start = np.take_along_axis(pred.start, order, axis=1)
    end = np.take_along_axis(pred.end, order, axis=1)
    iou = temporal_iou_cross(start, end, gt.start, gt.end)  # (Q, P, G)
    iou = np.where(gt.valid[:, None, :], iou, -1.0)
    thr = np.asarray(thresholds, dtype=np.float64)
    tp = _greedy_true_positives(iou, np.take_along_axis(valid, order, axis=1), thr)
    return _interpolated_ap(tp, valid, gt.count)


def top1_iou(pred: PaddedWindows, gt: PaddedWindows) -> np.ndarray:
    """IoU of each query's first predicted window with its best-overlapping GT window.

    "First" is file order (``pred_relevant_windows[0]``), as in the official R1; the GT
    window is the one of highest IoU (first on ties). A query without predictions scores 0.

    Returns:
        (Q,) float64 IoU in [0, 1].
    """
    cross = temporal_iou_cross(pred.start[:, :1], pred.end[:, :1], gt.start, gt.end)[:, 0]
    best = np.where(gt.valid, cross, -np.inf).argmax(axis=1)  # (Q,)
    rows = np.arange(len(best))
    iou = temporal_iou_paired(pred.start[:, 0], pred.end[:, 0],
                              gt.start[rows, best], gt.end[rows, best])
    return np.where(pred.count > 0, iou, 0.0)


def topk_best_iou(pred: PaddedWindows, gt: PaddedWindows, k: int) -> np.ndarray:
    """Best IoU between any of the first ``k`` predicted windows and any GT window.

    Returns:
        (Q,) float64; 0 for a query without predictions.
    """
    cross = temporal_iou_cross(pred.start[:, :k], pred.end[:, :k], gt.start, gt.end)
    mask = pred.valid[:, :k, None] & gt.valid[:, None, :]
    return np.where(mask, cross, 0.0).max(axis=(1, 2), initial=0.0)


def select_bucket(gt: PaddedWindows, low: float, high: float) -> tuple[np.ndarray, PaddedWindows]:
    """Queries with a GT window of length in (low, high], keeping only those windows.

    As in the official ``get_data_by_range``, the full range (0, 150] keeps every query and
    every window unchanged, whatever its length.

    Returns:
        (indices of the kept queries, their filtered GT windows).
    """
    if (low, high) == LENGTH_BUCKETS["full"]:
        return np.arange(len(gt.count)), gt
    length = gt.end - gt.start
    kept = gt.keep((length > low) & (length <= high))
    queries = np.flatnonzero(kept.count > 0)
    return queries, kept.take(queries)


def _recall_dict(iou: np.ndarray, thresholds) -> dict[str, float]:
    return {threshold_key(t): percent(np.mean(iou >= t)) for t in thresholds}


def _bucket_metrics(pred: PaddedWindows, gt: PaddedWindows, extended: bool,
                    recall_at_k: int | None) -> dict:
    ap_per_threshold = average_precision(pred, gt).mean(axis=0)  # (T,)
    mean_ap = {threshold_key(t): percent(v) for t, v in zip(MAP_IOU_THRESHOLDS, ap_per_threshold)}
    mean_ap["average"] = percent(np.mean(ap_per_threshold))
    r1_thresholds = EXTENDED_R1_IOU_THRESHOLDS if extended else MAP_IOU_THRESHOLDS
    iou = top1_iou(pred, gt)
    out = {"MR-mIoU": percent(np.mean(iou))} if extended else {}
    out.update({"MR-mAP": mean_ap, "MR-R1": _recall_dict(iou, r1_thresholds)})
    if recall_at_k:
        out[f"MR-R{recall_at_k}"] = _recall_dict(topk_best_iou(pred, gt, recall_at_k),
                                                  EXTENDED_R1_IOU_THRESHOLDS)
    return out


def _empty_bucket(extended: bool, recall_at_k: int | None) -> dict:
    r1_thresholds = EXTENDED_R1_IOU_THRESHOLDS if extended else MAP_IOU_THRESHOLDS
    mean_ap = {threshold_key(t): 0.0 for t in MAP_IOU_THRESHOLDS} | {"average": 0.0}
    out = {"MR-mIoU": 0.0} if extended else {}
    out.update({"MR-mAP": mean_ap, "MR-R1": {threshold_key(t): 0.0 for t in r1_thresholds}})
    if recall_at_k:
        out[f"MR-R{recall_at_k}"] = {threshold_key(t): 0.0 for t in EXTENDED_R1_IOU_THRESHOLDS}
    return out


def evaluate_moment_retrieval(
    pred: PaddedWindows, gt: PaddedWindows, *, extended: bool = False,
    recall_at_k: int | None = None,
) -> dict[str, dict]:
    """All MR metrics for every length bucket.

    Args:
        pred: Q predictions (file order, cut to ``MAX_PRED_WINDOWS``), row-aligned with ``gt``.
        gt: Q ground-truth window lists, at least one window each.
        extended: add ``MR-mIoU`` and R1 at 0.30..0.95 (VideoLights/CG-DETR release).
        recall_at_k: also report ``MR-R<k>`` at 0.30..0.95 (any of the first k windows, in
            file order, reaches the threshold with any GT window), e.g. 5.

    Returns:
        ``{"short"|"middle"|"long"|"full": {["MR-mIoU": float,] "MR-mAP": {"0.5": ..,
        "0.95": .., "average": ..}, "MR-R1": {"0.5": .., ...}[, "MR-R5": {...}]}}``,
        percentages with 2 decimals. A bucket without queries reports zeros (as the
        CG-DETR release does) and logs a warning.
    """
    metrics = {}
    for name, (low, high) in LENGTH_BUCKETS.items():
        queries, bucket_gt = select_bucket(gt, low, high)
        log.debug("MR bucket %s (%g, %g] s: %d/%d queries", name, low, high,
                  len(queries), len(gt.count))
        if len(queries) == 0:
            if name not in _warned_empty:  # once per process: a training run evaluates the same split often
                _warned_empty.add(name)
                log.warning("MR bucket %s has no ground-truth window of length in (%g, %g] s; "
                            "reporting 0 for it", name, low, high)
            metrics[name] = _empty_bucket(extended, recall_at_k)
            continue
        metrics[name] = _bucket_metrics(pred.take(queries), bucket_gt, extended, recall_at_k)
    return metrics


def moment_retrieval_brief(metrics: dict, *, extended: bool = False,
                           recall_at_k: int | None = None) -> dict[str, float]:
    """The official ``brief`` MR entries (sorted by key), plus the extended/R@k ones if asked."""
    full = metrics["full"]
    brief = {
        "MR-full-mAP": full["MR-mAP"]["average"],
        "MR-full-mAP@0.5": full["MR-mAP"]["0.5"],
        "MR-full-mAP@0.75": full["MR-mAP"]["0.75"],
        "MR-short-mAP": metrics["short"]["MR-mAP"]["average"],
        "MR-middle-mAP": metrics["middle"]["MR-mAP"]["average"],
        "MR-long-mAP": metrics["long"]["MR-mAP"]["average"],
        "MR-full-R1@0.5": full["MR-R1"]["0.5"],
        "MR-full-R1@0.7": full["MR-R1"]["0.7"],
    }
    if extended:
        brief["MR-full-mIoU"] = full["MR-mIoU"]
        brief["MR-full-R1@0.3"] = full["MR-R1"]["0.3"]
    if recall_at_k:
        for t in ("0.3", "0.5", "0.7"):
            brief[f"MR-full-R{recall_at_k}@{t}"] = full[f"MR-R{recall_at_k}"][t]
    return dict(sorted(brief.items()))
