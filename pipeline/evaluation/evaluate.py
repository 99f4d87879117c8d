"""Entry points: evaluate a submission against ground truth for one of the supported datasets."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.evaluation import parsing
from pipeline.evaluation.highlight import evaluate_highlight, highlight_brief
from pipeline.evaluation.moment_retrieval import evaluate_moment_retrieval, moment_retrieval_brief
from pipeline.evaluation.rows import Rows, SubmissionError, as_rows, read_jsonl
from pipeline.evaluation.tvsum import evaluate_tvsum
from pipeline.evaluation.validation import match_qids

log = logging.getLogger(__name__)

#: Seconds per clip of the QVHighlights saliency annotation.
QVH_CLIP_SECONDS = 2.0
#: R@k reported for Charades-STA besides R1.
CHARADES_RECALL_AT_K = 5


@dataclass(frozen=True)
class EvalOptions:
    """Options shared by the dataset evaluators.

    Attributes:
        extended: QVHighlights only: add R1@0.3..0.95 and mIoU of the top-1 window.
        clip_seconds: seconds per clip of the QVHighlights saliency labels (2.0).
        saliency_length_tolerance: accepted difference, in clips, between the number of
            predicted saliency scores and the video's clip count (default 1: extractors
            often drop the last partial clip).
    """

    extended: bool = False
    clip_seconds: float = QVH_CLIP_SECONDS
    saliency_length_tolerance: int = 1


def _qvhighlights(sub: Rows, gt: Rows, order: np.ndarray, opts: EvalOptions) -> dict:
    first = sub.rows[0]
    do_mr, do_hl = "pred_relevant_windows" in first, "pred_saliency_scores" in first
    if not (do_mr or do_hl):
        raise SubmissionError(
            f"{sub.where_qid(0)}: has neither pred_relevant_windows nor pred_saliency_scores; "
            "expected at least one of them (the first row decides which metrics are computed)"
        )
    metrics, brief = {}, {}
    if do_mr:
        mr = evaluate_moment_retrieval(parsing.moment_predictions(sub),
                                       parsing.moment_ground_truth(gt, order),
                                       extended=opts.extended)
        metrics.update(mr)
        brief.update(moment_retrieval_brief(mr, extended=opts.extended))
    if do_hl:
        gt_scores, n_clips, how = parsing.qvhighlights_saliency(gt, order, opts.clip_seconds)
        raw, raw_len = parsing.saliency_predictions(
            sub, n_clips, opts.saliency_length_tolerance, how.__getitem__)
        hl = evaluate_highlight(raw, raw_len, gt_scores, n_clips)
        metrics.update(hl)
        brief.update(highlight_brief(hl))
    return {"brief": brief, **dict(sorted(metrics.items()))}


def _charades_sta(sub: Rows, gt: Rows, order: np.ndarray, opts: EvalOptions) -> dict:
    mr = evaluate_moment_retrieval(parsing.moment_predictions(sub),
                                   parsing.moment_ground_truth(gt, order),
                                   extended=True, recall_at_k=CHARADES_RECALL_AT_K)
    brief = moment_retrieval_brief(mr, extended=True, recall_at_k=CHARADES_RECALL_AT_K)
    return {"brief": brief, **dict(sorted(mr.items()))}


def _tvsum(sub: Rows, gt: Rows, order: np.ndarray, opts: EvalOptions) -> dict:
    labels, n_clips, domains = parsing.tvsum_labels(gt, order)
    raw, raw_len = parsing.saliency_predictions(
        sub, n_clips, opts.saliency_length_tolerance,
        lambda i: f"len(label) of the ground truth = {n_clips[i]}")
    vids = [row["qid"] for row in sub.rows]
    return evaluate_tvsum(raw, raw_len, labels, n_clips, vids, domains)


#: Dataset name -> evaluator(submission, ground truth, gt row of each submission row, options).
EVALUATORS: dict[str, Callable[[Rows, Rows, np.ndarray, EvalOptions], dict]] = {
    "qvhighlights": _qvhighlights,
    "charades_sta": _charades_sta,
    "tvsum": _tvsum,
}


def evaluate_submission(
    submission_rows: Rows | Sequence[Mapping],
    ground_truth_rows: Rows | Sequence[Mapping],
    dataset: str = "qvhighlights",
    extended: bool = False,
    *,
    clip_seconds: float = QVH_CLIP_SECONDS,
    saliency_length_tolerance: int = 1,
) -> dict:
    """Evaluate predictions against ground truth.

    Args:
        submission_rows: one dict per query: ``qid``, ``pred_relevant_windows``
            ([[start_s, end_s, score], ...], sorted by score; the first 10 are scored and
            the first one is the top-1) and/or ``pred_saliency_scores`` (one float per clip).
            Either a list of dicts or :class:`Rows` from :func:`read_jsonl` (errors then
            name file and line).
        ground_truth_rows: the dataset's annotation rows (``qid``, ``duration``,
            ``relevant_windows``, ``relevant_clip_ids``, ``saliency_scores`` for
            QVHighlights; ``label`` and ``domain`` for TVSum).
        dataset: ``"qvhighlights"``, ``"charades_sta"`` or ``"tvsum"``.
        extended: QVHighlights: also R1@0.3 and mIoU (VideoLights release keys).
        clip_seconds: seconds per QVHighlights saliency clip.
        saliency_length_tolerance: clips by which a saliency vector may differ from the
            video's clip count (longer is truncated, shorter zero-padded, as officially).

    Returns:
        QVHighlights: the official structure ``{"brief": {...}, "HL-min-Fair": {"HL-mAP",
        "HL-Hit1"}, "HL-min-Good": .., "HL-min-VeryGood": .., "full"|"long"|"middle"|"short":
        {"MR-mAP": {"0.5".."0.95", "average"}, "MR-R1": {...}}}`` (extended adds
        ``"MR-mIoU"`` per bucket, R1 from 0.3 and two brief keys). Charades-STA: the MR part
        with R1@0.3..0.95, ``MR-mIoU`` and ``MR-R5``. TVSum: see
        :func:`pipeline.evaluation.tvsum.evaluate_tvsum`. Values are percentages, 2 decimals.

    Raises:
        SubmissionError: qids missing, extra or duplicated, malformed windows or scores,
            saliency of the wrong length; the message names the row.
        ValueError: unknown dataset.
    """
    if dataset not in EVALUATORS:
        raise ValueError(f"unknown dataset {dataset!r}; expected one of {sorted(EVALUATORS)}")
    sub = as_rows(submission_rows, "submission")
    gt = as_rows(ground_truth_rows, "ground truth")
    started = time.perf_counter()
    order = match_qids(sub, gt)
    options = EvalOptions(extended=extended, clip_seconds=clip_seconds,
                          saliency_length_tolerance=saliency_length_tolerance)
    result = EVALUATORS[dataset](sub, gt, order, options)
    log.info("evaluated %d %s queries from %s in %.3f s", len(sub), dataset, sub.source,
             time.perf_counter() - started)
    return result


def evaluate_files(
    submission_path: str | Path,
    ground_truth_path: str | Path,
    dataset: str = "qvhighlights",
    extended: bool = False,
    **options,
) -> dict:
    """Read two JSON-lines files and evaluate them (see :func:`evaluate_submission`).

    Errors name the file and the line number of the offending row.
    """
    return evaluate_submission(read_jsonl(submission_path), read_jsonl(ground_truth_path),
                               dataset=dataset, extended=extended, **options)
