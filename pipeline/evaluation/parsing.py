"""Turn validated submission and ground-truth rows into the padded arrays the metrics use."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from pipeline.evaluation.highlight import pad_scores
from pipeline.evaluation.moment_retrieval import MAX_PRED_WINDOWS
from pipeline.evaluation.rows import Rows, SubmissionError
from pipeline.evaluation.validation import (
    PaddedWindows,
    check_saliency_length,
    parse_scores,
    parse_windows,
    require_key,
    require_number,
)

#: Annotators per QVHighlights clip.
QVH_ANNOTATORS = 3


def moment_predictions(sub: Rows) -> PaddedWindows:
    """Every row's ``pred_relevant_windows`` ([start_s, end_s, score]): first 10, file order."""
    arrays = [parse_windows(sub, i, "pred_relevant_windows", 3) for i in range(len(sub))]
    return PaddedWindows.from_arrays(arrays, max_windows=MAX_PRED_WINDOWS)


def moment_ground_truth(gt: Rows, order: np.ndarray) -> PaddedWindows:
    """``relevant_windows`` of the ground-truth rows ``order`` (one per submission row)."""
    arrays = []
    for i in order:
        windows = parse_windows(gt, int(i), "relevant_windows", 2)
        if len(windows) == 0:
            raise SubmissionError(
                f"{gt.where_qid(int(i))}: relevant_windows is empty; expected at least one "
                "[start_s, end_s] window per query"
            )
        arrays.append(windows)
    return PaddedWindows.from_arrays(arrays)


def saliency_predictions(sub: Rows, n_clips: np.ndarray, tolerance: int,
                         describe: Callable[[int], str]) -> tuple[np.ndarray, np.ndarray]:
    """Every row's ``pred_saliency_scores``, length-checked against its video's clip count.

    Args:
        sub: submission rows.
        n_clips: (Q,) clips of each row's video.
        tolerance: accepted length difference in clips.
        describe: row index -> how the clip count was derived, for error messages.

    Returns:
        (raw (Q, W) float64 padded with -inf, lengths (Q,) int64).
    """
    vectors = []
    for i in range(len(sub)):
        scores = parse_scores(sub, i, "pred_saliency_scores")
        check_saliency_length(sub, i, len(scores), int(n_clips[i]), tolerance, describe(i))
        vectors.append(scores)
    return pad_scores(vectors)


def _clip_ids_and_scores(gt: Rows, i: int, n_clips: int) -> tuple[np.ndarray, np.ndarray]:
    ids = require_key(gt, i, "relevant_clip_ids", "a list of clip indices")
    scores = require_key(gt, i, "saliency_scores", f"a list of {QVH_ANNOTATORS} scores per clip")
    try:
        ids_arr = np.asarray(ids, dtype=np.int64).reshape(-1)
        scores_arr = np.asarray(scores, dtype=np.float64).reshape(len(ids_arr), QVH_ANNOTATORS)
    except (TypeError, ValueError):
        raise SubmissionError(
            f"{gt.where_qid(i)}: relevant_clip_ids ({len(ids) if isinstance(ids, list) else ids!r}"
            f" entries) and saliency_scores do not pair up; expected one list of "
            f"{QVH_ANNOTATORS} integer scores 0..4 per relevant clip id"
        ) from None
    if ids_arr.size and (ids_arr.min() < 0 or ids_arr.max() >= n_clips):
        raise SubmissionError(
            f"{gt.where_qid(i)}: relevant_clip_ids reach {int(ids_arr.max())}; expected ids in "
            f"[0, {n_clips}) for a video of {n_clips} clips"
        )
    return ids_arr, scores_arr


def qvhighlights_saliency(gt: Rows, order: np.ndarray,
                          clip_seconds: float) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Full-video annotator scores for the ground-truth rows ``order``.

    A video has ``int(duration / clip_seconds)`` clips (official ``mk_gt_scores``); clips
    outside ``relevant_clip_ids`` score 0 for every annotator.

    Returns:
        (scores (Q, L, 3) float64 in 0..4, n_clips (Q,) int64, how each count was derived).
    """
    durations = [require_number(gt, int(i), "duration", positive=True) for i in order]
    n_clips = np.array([int(d / clip_seconds) for d in durations], dtype=np.int64)
    how = [f"int(duration {d:g} s / {clip_seconds:g} s)" for d in durations]
    full = np.zeros((len(order), int(n_clips.max(initial=1)), QVH_ANNOTATORS))
    for q, i in enumerate(order):
        if n_clips[q] == 0:
            raise SubmissionError(
                f"{gt.where_qid(int(i))}: duration {durations[q]:g} s is shorter than one clip "
                f"({clip_seconds:g} s); expected at least one clip"
            )
        ids, scores = _clip_ids_and_scores(gt, int(i), int(n_clips[q]))
        full[q, ids] = scores
    return full, n_clips, how


def tvsum_labels(gt: Rows, order: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """TVSum ``label`` (clips x annotators) and ``domain`` of the ground-truth rows ``order``.

    Returns:
        (labels (V, L, A) float64 padded with 0, n_clips (V,) int64, domains).
    """
    tables, domains = [], []
    for i in map(int, order):
        label = require_key(gt, i, "label", "a list of per-clip annotator score lists")
        try:
            table = np.asarray(label, dtype=np.float64)
        except (TypeError, ValueError):
            table = None
        if table is None or table.ndim != 2 or table.size == 0 or not np.isfinite(table).all():
            raise SubmissionError(
                f"{gt.where_qid(i)}: label is not a non-empty clips x annotators table of "
                "numbers; expected one list of annotator scores per clip, all of equal length"
            )
        if tables and table.shape[1] != tables[0].shape[1]:
            raise SubmissionError(
                f"{gt.where_qid(i)}: label has {table.shape[1]} annotators per clip; expected "
                f"{tables[0].shape[1]} like the rows before"
            )
        domain = require_key(gt, i, "domain", "a TVSum domain code such as 'BK'")
        tables.append(table)
        domains.append(str(domain))
    n_clips = np.array([len(t) for t in tables], dtype=np.int64)
    labels = np.zeros((len(tables), int(n_clips.max()), tables[0].shape[1]))
    for v, table in enumerate(tables):
        labels[v, : len(table)] = table
    return labels, n_clips, domains
