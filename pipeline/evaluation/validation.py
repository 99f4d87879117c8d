"""Checks on submission and ground-truth rows: qids, windows, scores; each error names its row."""

from __future__ import annotations

import math
import numbers
from collections.abc import Hashable
from dataclasses import dataclass

import numpy as np

from pipeline.evaluation.rows import Rows, SubmissionError

#: How many offending qids an error message lists before saying "... and N more".
MAX_LISTED = 5


#: Types json.loads gives numbers; checked first because ABC isinstance checks are slow.
_JSON_NUMBER_TYPES = frozenset({int, float})


def _all_windows_numeric(windows: list, arity: int) -> bool:
    """Fast check: every window is a list/tuple of ``arity`` JSON numbers."""
    for window in windows:
        if type(window) not in (list, tuple) or len(window) != arity:
            return False
        if not set(map(type, window)) <= _JSON_NUMBER_TYPES:
            return False
    return True


def is_number(value: object) -> bool:
    """True for ints and floats (JSON numbers); False for bools, strings, None, lists."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def require_key(rows: Rows, index: int, key: str, expected: str):
    """Return ``rows.rows[index][key]`` or raise naming the row and what was expected."""
    row = rows.rows[index]
    if key not in row:
        raise SubmissionError(
            f"{rows.where_qid(index)}: missing key {key!r}; expected {expected}"
        )
    return row[key]


def require_number(rows: Rows, index: int, key: str, *, positive: bool = False) -> float:
    """Return a finite numeric field as float, raising with the row's location otherwise."""
    value = require_key(rows, index, key, "a number")
    if not is_number(value) or not math.isfinite(value) or (positive and value <= 0):
        want = "a positive finite number" if positive else "a finite number"
        raise SubmissionError(f"{rows.where_qid(index)}: {key} = {value!r}; expected {want}")
    return float(value)


def parse_windows(rows: Rows, index: int, key: str, arity: int) -> np.ndarray:
    """Parse ``rows.rows[index][key]``, a list of windows, into a float64 array.

    Args:
        rows: the rows, for error messages.
        index: 0-based row index.
        key: ``"pred_relevant_windows"`` (arity 3: start_s, end_s, score) or
            ``"relevant_windows"`` (arity 2: start_s, end_s).
        arity: numbers per window.

    Returns:
        (n_windows, arity) float64 array, seconds (and score); n_windows may be 0.

    Raises:
        SubmissionError: not a list, a window of the wrong arity, a non-numeric or
            non-finite entry, or start > end; the message names the row and the window.
    """
    value = require_key(rows, index, key, "a list of windows")
    shape = "[start_s, end_s, score]" if arity == 3 else "[start_s, end_s]"
    if not isinstance(value, (list, tuple)):
        raise SubmissionError(
            f"{rows.where_qid(index)}: {key} is a {type(value).__name__}; "
            f"expected a list of {shape} windows"
        )
    if not _all_windows_numeric(value, arity):
        for k, window in enumerate(value):
            if not isinstance(window, (list, tuple)) or len(window) != arity:
                raise SubmissionError(
                    f"{rows.where_qid(index)}: {key}[{k}] = {window!r}; expected {shape} "
                    f"({arity} numbers)"
                )
            for element in window:
                if not is_number(element):
                    raise SubmissionError(
                        f"{rows.where_qid(index)}: {key}[{k}] = {window!r} holds {element!r}; "
                        f"expected {arity} finite numbers {shape}"
                    )
    windows = np.asarray(value, dtype=np.float64).reshape(len(value), arity)
    not_finite = np.flatnonzero(~np.isfinite(windows).all(axis=1))
    if not_finite.size:
        k = int(not_finite[0])
        raise SubmissionError(
            f"{rows.where_qid(index)}: {key}[{k}] = {value[k]!r}; expected {arity} finite "
            f"numbers {shape}"
        )
    reversed_ = np.flatnonzero(windows[:, 0] > windows[:, 1])
    if reversed_.size:
        k = int(reversed_[0])
        raise SubmissionError(
            f"{rows.where_qid(index)}: {key}[{k}] = {value[k]!r} has start {windows[k, 0]:g} s "
            f"> end {windows[k, 1]:g} s; expected start <= end"
        )
    return windows


def parse_scores(rows: Rows, index: int, key: str) -> np.ndarray:
    """Parse a non-empty list of finite numbers (saliency scores) into a float64 vector."""
    value = require_key(rows, index, key, "a list of numbers, one per clip")
    if not isinstance(value, (list, tuple)) or len(value) == 0:
        got = f"an empty {type(value).__name__}" if isinstance(value, (list, tuple)) else (
            f"a {type(value).__name__}")
        raise SubmissionError(
            f"{rows.where_qid(index)}: {key} is {got}; expected a list of numbers, one per clip"
        )
    if not set(map(type, value)) <= _JSON_NUMBER_TYPES:
        for k, element in enumerate(value):
            if not is_number(element):
                raise SubmissionError(
                    f"{rows.where_qid(index)}: {key}[{k}] = {element!r}; expected a finite number"
                )
    scores = np.asarray(value, dtype=np.float64)
    not_finite = np.flatnonzero(~np.isfinite(scores))
    if not_finite.size:
        k = int(not_finite[0])
        raise SubmissionError(
            f"{rows.where_qid(index)}: {key}[{k}] = {value[k]!r}; expected a finite number"
        )
    return scores


def check_saliency_length(
    rows: Rows, index: int, n_scores: int, n_clips: int, tolerance: int, how: str
) -> None:
    """Refuse a saliency vector whose length is more than ``tolerance`` clips off.

    Args:
        n_scores: number of predicted scores.
        n_clips: the video's clip count from the ground truth.
        tolerance: accepted difference in clips (feature extractors often drop the last,
            partial clip; the official evaluation zero-pads or truncates).
        how: how ``n_clips`` was obtained, for the message (e.g. ``"int(150 s / 2 s)"``).
    """
    if abs(n_scores - n_clips) > tolerance:
        raise SubmissionError(
            f"{rows.where_qid(index)}: pred_saliency_scores has {n_scores} scores; expected "
            f"{n_clips} (one per clip, {how}), give or take {tolerance}"
        )


def _qid(rows: Rows, index: int) -> Hashable:
    qid = require_key(rows, index, "qid", "an int or str query id")
    if not isinstance(qid, (int, str)) or isinstance(qid, bool):
        raise SubmissionError(
            f"{rows.where(index)}: qid = {qid!r} is a {type(qid).__name__}; expected an int or str"
        )
    return qid


def index_by_qid(rows: Rows) -> dict[Hashable, int]:
    """Map each qid to its row index, refusing duplicated qids (both rows are named)."""
    first: dict[Hashable, int] = {}
    for index in range(len(rows)):
        qid = _qid(rows, index)
        if qid in first:
            raise SubmissionError(
                f"{rows.where(index)}: duplicated qid {qid!r} (first seen at "
                f"{rows.where(first[qid])}); expected one row per qid"
            )
        first[qid] = index
    return first


def _listing(items: list[str]) -> str:
    shown = ", ".join(items[:MAX_LISTED])
    more = len(items) - MAX_LISTED
    return shown + (f", ... and {more} more" if more > 0 else "")


def match_qids(submission: Rows, ground_truth: Rows) -> np.ndarray:
    """Pair every submission row with its ground-truth row.

    Returns:
        (n_submission,) int64: the ground-truth row index of each submission row.

    Raises:
        SubmissionError: duplicated qids in either file, ground-truth qids without a
            prediction, or predictions for qids absent from the ground truth.
    """
    if len(submission) == 0:
        raise SubmissionError(f"{submission.source}: no rows; expected one row per query")
    sub_index = index_by_qid(submission)
    gt_index = index_by_qid(ground_truth)
    extra = [i for q, i in sub_index.items() if q not in gt_index]
    missing = [i for q, i in gt_index.items() if q not in sub_index]
    hint = _type_hint(sub_index, gt_index) if (extra or missing) else ""
    if extra:
        raise SubmissionError(
            f"{len(extra)} submission qid(s) are not in the ground truth "
            f"({ground_truth.source}): {_listing([submission.where_qid(i) for i in extra])}; "
            f"expected only qids of the ground truth{hint}"
        )
    if missing:
        raise SubmissionError(
            f"{submission.source}: {len(missing)} ground-truth qid(s) have no prediction: "
            f"{_listing([ground_truth.where_qid(i) for i in missing])}; expected one row per "
            f"ground-truth qid{hint}"
        )
    return np.fromiter((gt_index[q] for q in sub_index), dtype=np.int64, count=len(sub_index))


def _type_hint(sub_index: dict, gt_index: dict) -> str:
    if {str(q) for q in sub_index} == {str(q) for q in gt_index}:
        sub_type = type(next(iter(sub_index))).__name__
        gt_type = type(next(iter(gt_index))).__name__
        return (f" (qids are compared with their JSON type: the submission has {sub_type} qids, "
                f"the ground truth {gt_type})")
    return ""


@dataclass(frozen=True)
class PaddedWindows:
    """Variable-length per-query window lists packed into padded arrays.

    Attributes:
        start: (Q, K) float64 start times, seconds; 0 where padded.
        end: (Q, K) float64 end times, seconds; 0 where padded.
        score: (Q, K) float64 confidence scores, or None for ground truth.
        count: (Q,) int64 number of real windows per query.
    """

    start: np.ndarray
    end: np.ndarray
    score: np.ndarray | None
    count: np.ndarray

    @property
    def valid(self) -> np.ndarray:
        """(Q, K) bool: which slots hold real windows."""
        return np.arange(self.start.shape[1])[None, :] < self.count[:, None]

    @classmethod
    def from_arrays(cls, arrays: list[np.ndarray], max_windows: int | None = None):
        """Pack a list of (n_i, 2) or (n_i, 3) arrays, keeping at most ``max_windows`` each."""
        if max_windows is not None:
            arrays = [a[:max_windows] for a in arrays]
        count = np.fromiter((len(a) for a in arrays), dtype=np.int64, count=len(arrays))
        width = max(int(count.max(initial=0)), 1)
        arity = arrays[0].shape[1] if arrays else 2
        packed = np.zeros((len(arrays), width, arity))
        mask = np.arange(width)[None, :] < count[:, None]
        if count.sum():
            packed[mask] = np.concatenate([a for a in arrays if len(a)])
        score = packed[:, :, 2] if arity == 3 else None
        return cls(start=packed[:, :, 0], end=packed[:, :, 1], score=score, count=count)

    def take(self, queries: np.ndarray) -> PaddedWindows:
        """Subset (or reorder) the queries."""
        score = None if self.score is None else self.score[queries]
        return PaddedWindows(self.start[queries], self.end[queries], score, self.count[queries])

    def keep(self, mask: np.ndarray) -> PaddedWindows:
        """Keep only windows where ``mask`` (Q, K) is True, preserving their order."""
        mask = mask & self.valid
        order = np.argsort(~mask, axis=1, kind="stable")  # kept windows first, in order
        gather = lambda a: np.take_along_axis(a, order, axis=1)  # noqa: E731
        score = None if self.score is None else gather(self.score)
        return PaddedWindows(gather(self.start), gather(self.end), score, mask.sum(1))
