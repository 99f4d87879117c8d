"""Target rules as pure functions: crops, saliency pairs and their edge cases."""

from __future__ import annotations

import math

import numpy as np

from pipeline.datasets import DatasetConfig
from pipeline.datasets.saliency import scores_saliency, tvsum_saliency, window_saliency
from pipeline.datasets.targets import choose_crop


def test_random_crops_keep_windows_that_fit() -> None:
    cfg = DatasetConfig(kind="charades_sta", max_clips=20)
    rng = np.random.default_rng(0)
    for _ in range(500):
        n = int(rng.integers(21, 200))
        start = float(rng.uniform(0, n - 1))
        end = float(rng.uniform(start + 0.1, min(n, start + 40)))
        crop = choose_crop(n, np.array([[start, end]]), cfg, rng)
        assert crop.n_clips == 20 and 0 <= crop.offset <= n - 20
        lo, hi = crop.seconds(cfg.clip_seconds)
        if math.ceil(end) - math.floor(start) <= 20:
            assert lo <= start and end <= hi
        else:  # longer than the crop: the crop lies inside the window's clips
            assert math.floor(start) <= lo and hi <= math.ceil(end)


def test_crops_of_short_videos_eval_and_head() -> None:
    rng = np.random.default_rng(0)
    windows = np.array([[100.0, 110.0]])
    train = DatasetConfig(kind="charades_sta", max_clips=20)
    assert choose_crop(15, windows, train, rng) == choose_crop(15, windows, train, rng)
    assert choose_crop(15, windows, train, rng).n_clips == 15
    for cfg in (train.model_copy(update={"split": "eval"}), train.model_copy(update={"crop": "head"})):
        crop = choose_crop(200, windows, cfg, rng)
        assert (crop.offset, crop.n_clips) == (0, 20)
    offsets = {choose_crop(200, np.zeros((0, 2)), train, rng).offset for _ in range(50)}
    assert len(offsets) > 10  # no windows (TVSum): uniform crops


def test_scores_saliency_with_an_offset_and_without_relevant_clips() -> None:
    rng = np.random.default_rng(0)
    ids, scores = [30, 31, 32, 33], [[1, 1, 1], [4, 4, 4], [0, 0, 1], [2, 2, 2]]
    sal = scores_saliency(ids, scores, n_clips=10, clip_offset=25, k=4, rng=rng)
    assert sal.scores.tolist() == [0] * 5 + [3, 12, 1, 6, 0]
    assert sal.pos[:2].tolist() == [6, 8] and sal.neg[:2].tolist() == [7, 5]  # 2 hardest each way
    assert set(sal.pos[2:].tolist()) <= {5, 6, 7, 8} and set(sal.neg[2:].tolist()) <= {0, 1, 2, 3, 4, 9}
    none = scores_saliency(ids, scores, n_clips=10, clip_offset=0, k=2, rng=rng)
    assert not none.scores.any() and none.pos.tolist() == none.neg.tolist() == [0, 0]  # zero-gradient pair
    every = scores_saliency([0, 1], [[1, 1, 1], [2, 2, 2]], n_clips=2, clip_offset=0, k=2, rng=rng)
    assert every.pos.tolist() == [1, 1] and every.neg.tolist() == [0, 0]  # no clip outside: hard pairs twice


def test_window_saliency_edge_cases() -> None:
    rng = np.random.default_rng(0)
    inside = window_saliency(np.array([[3.2, 3.6]]), n_clips=10, clip_seconds=1.0, clip_offset=0, k=2, rng=rng)
    assert inside.scores.nonzero()[0].tolist() == [3] and inside.pos.tolist() == [3, 3]
    whole = window_saliency(np.array([[0.0, 10.0]]), n_clips=10, clip_seconds=1.0, clip_offset=0, k=2, rng=rng)
    assert whole.scores.all() and whole.neg.tolist() == whole.pos.tolist()  # nothing outside: pos = neg
    shifted = window_saliency(np.array([[52.0, 58.0]]), n_clips=10, clip_seconds=2.0, clip_offset=25, k=2, rng=rng)
    assert shifted.scores.nonzero()[0].tolist() == [1, 2, 3]


def test_tvsum_saliency_pads_and_crops() -> None:
    label = [[1, 1], [5, 5], [3, 1]]
    sal = tvsum_saliency(label, n_clips=5, clip_offset=0, k=1)
    np.testing.assert_allclose(sal.scores, [0, 12, 3, 0, 0])
    assert sal.pos.tolist() == [1] and sal.neg.tolist() == [0]
    np.testing.assert_allclose(tvsum_saliency(label, n_clips=2, clip_offset=1, k=2).scores, [12, 3])
