"""Overlapping windows for long videos: coverage, saliency averaging, NMS of pooled moments."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from pipeline.inference import merge_moments, merge_saliency, nms, window_starts
from pipeline.inference.windows import temporal_iou


@pytest.mark.parametrize("window,stride", [(75, 50), (16, 11), (5, 5), (4, 1)])
def test_windows_cover_every_clip_and_stay_inside(window, stride) -> None:
    for n in range(1, 200):
        starts = window_starts(n, window, stride)
        covered = set(itertools.chain.from_iterable(range(s, min(s + window, n)) for s in starts))
        assert covered == set(range(n)), (n, starts)
        assert starts[0] == 0 and all(s + window <= max(n, window) for s in starts)
        assert starts == sorted(set(starts))


def test_bad_window_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="uncovered"):
        window_starts(100, 10, 11)
    with pytest.raises(ValueError):
        window_starts(100, 0, 1)


def test_saliency_is_the_mean_over_covering_windows() -> None:
    starts = window_starts(180, 75, 50)  # [0, 50, 100, 105]
    scores = [np.full(75, float(i)) for i in range(len(starts))]
    merged = np.array(merge_saliency(180, starts, scores))
    assert merged[:50].tolist() == [0.0] * 50  # only window 0
    assert merged[50:75].tolist() == [0.5] * 25  # windows 0 and 1
    assert merged[100:105].tolist() == [1.5] * 5  # windows 1 and 2
    assert merged[105:125].tolist() == [2.0] * 20  # windows 1, 2 and 3
    assert merged[175:].tolist() == [3.0] * 5  # only window 3


def test_pooled_moments_are_shifted_suppressed_and_cut_to_top_k() -> None:
    rng = np.random.default_rng(0)
    starts = window_starts(180, 75, 50)
    per_window = []
    for _ in starts:
        begin = rng.integers(0, 140, size=10) * 1.0
        per_window.append([[b, b + rng.integers(2, 10) * 2.0, float(s)] for b, s in zip(begin, rng.random(10))])
    merged = merge_moments(starts, per_window, 2.0, 360.0, top_k=10, iou_threshold=0.7)
    assert len(merged) == 10
    assert [m[2] for m in merged] == sorted((m[2] for m in merged), reverse=True)
    assert all(0 <= s < e <= 360 for s, e, _ in merged)
    for a, b in itertools.combinations(merged, 2):
        assert temporal_iou(a, np.array([b[:2]]))[0] < 0.7
    best = max((w for ws in per_window for w in ws), key=lambda w: w[2])
    shift = starts[next(i for i, ws in enumerate(per_window) if best in ws)] * 2.0
    assert merged[0] == [best[0] + shift, min(best[1] + shift, 360.0), best[2]]  # the best survives, in video time


def test_nms_keeps_the_higher_score_of_overlapping_moments() -> None:
    assert nms([[0, 10, 0.5], [0, 9, 0.9], [30, 40, 0.1]], 0.7) == [[0, 9, 0.9], [30, 40, 0.1]]
    assert nms([[0, 10, 0.5], [5, 15, 0.9]], 0.7) == [[5, 15, 0.9], [0, 10, 0.5]]  # IoU 1/3 < 0.7
    assert nms([], 0.7) == []