"""Moment retrieval metrics on small hand-computed cases."""

import logging

import numpy as np
import pytest

from pipeline.evaluation import evaluate_submission
from pipeline.evaluation.moment_retrieval import _match_rank, select_bucket
from pipeline.evaluation.validation import PaddedWindows


def qvh(preds_by_qid, gts_by_qid, **kwargs):
    """Evaluate MR only (no saliency keys) on QVHighlights-style rows."""
    sub = [{"qid": q, "pred_relevant_windows": w} for q, w in preds_by_qid.items()]
    gt = [{"qid": q, "duration": 150, "relevant_windows": w} for q, w in gts_by_qid.items()]
    return evaluate_submission(sub, gt, **kwargs)


def test_perfect_prediction_scores_100():
    result = qvh({1: [[20, 40, 0.9]], 2: [[0, 6, 0.8], [50, 90, 0.1]]},
                 {1: [[20, 40]], 2: [[0, 6], [50, 90]]})
    assert set(result["full"]["MR-mAP"].values()) == {100.0}
    assert set(result["full"]["MR-R1"].values()) == {100.0}
    assert not any(k.startswith("HL") for k in result)  # no saliency submitted


def test_disjoint_prediction_scores_0():
    result = qvh({1: [[100, 120, 0.9], [130, 150, 0.5]]}, {1: [[20, 40]]})
    assert set(result["full"]["MR-mAP"].values()) == {0.0}
    assert set(result["full"]["MR-R1"].values()) == {0.0}


def test_interpolated_ap_and_each_gt_matched_once():
    # sorted by score: TP [0,10], duplicate of it (GT already used -> FP), TP [20,30]
    # precision 1, 1/2, 2/3; recall 1/2, 1/2, 1 -> AP = 0.5 * 1 + 0.5 * 2/3
    result = qvh({1: [[0, 10, 0.9], [0, 10, 0.8], [20, 30, 0.7]]}, {1: [[0, 10], [20, 30]]})
    assert result["full"]["MR-mAP"]["0.5"] == 83.33


def test_predictions_ranked_by_score_not_file_order():
    # file order puts the FP first, but the TP has the higher score -> AP 1
    result = qvh({1: [[60, 70, 0.1], [0, 10, 0.9]]}, {1: [[0, 10]]})
    assert result["full"]["MR-mAP"]["0.5"] == 100.0
    # ... while R1 takes the first window of the file, as the official code does
    assert result["full"]["MR-R1"]["0.5"] == 0.0


def test_tied_scores_keep_file_order():
    # equal scores: the FP listed first stays first (stable sort) -> precision 1/2 at the TP
    result = qvh({1: [[60, 70, 0.5], [0, 10, 0.5]]}, {1: [[0, 10]]})
    assert result["full"]["MR-mAP"]["0.5"] == 50.0


def test_only_first_ten_windows_count():
    windows = [[100, 110, 0.9]] * 10 + [[0, 10, 0.95]]  # the hit is the 11th in the file
    result = qvh({1: windows}, {1: [[0, 10]]})
    assert result["full"]["MR-mAP"]["average"] == 0.0


def test_empty_predictions_count_as_miss():
    result = qvh({1: [], 2: [[0, 10, 0.9]]}, {1: [[0, 10]], 2: [[0, 10]]})
    assert result["full"]["MR-mAP"]["average"] == 50.0
    assert result["full"]["MR-R1"]["0.5"] == 50.0


def test_windows_outside_the_video_are_not_clipped():
    # prediction [140, 160] for a 150 s video against GT [140, 150]: IoU 10/20 = 0.5
    result = qvh({1: [[140, 160, 0.9]]}, {1: [[140, 150]]})
    assert result["full"]["MR-R1"]["0.5"] == 100.0
    assert result["full"]["MR-R1"]["0.55"] == 0.0


def test_r1_uses_best_overlapping_gt_window():
    # top-1 [20, 36] against GTs [0, 10] and [20, 40]: best IoU 16/20 = 0.8
    result = qvh({1: [[20, 36, 0.1], [0, 10, 0.9]]}, {1: [[0, 10], [20, 40]]}, extended=True)
    r1 = result["full"]["MR-R1"]
    assert (r1["0.3"], r1["0.75"], r1["0.8"], r1["0.85"]) == (100.0, 100.0, 100.0, 0.0)
    assert result["full"]["MR-mIoU"] == 80.0


def test_extended_mean_iou_and_r1_at_0_3():
    # top-1 IoUs: 1.0, 0.4 (4/10), 0.25 (2/8), 0 -> mIoU 41.25; R1@0.3 = 2/4
    result = qvh({1: [[0, 10, 1]], 2: [[0, 4, 1]], 3: [[0, 4, 1]], 4: [[50, 60, 1]]},
                 {1: [[0, 10]], 2: [[0, 10]], 3: [[2, 8]], 4: [[0, 10]]}, extended=True)
    brief = result["brief"]
    assert brief["MR-full-mIoU"] == 41.25
    assert brief["MR-full-R1@0.3"] == 50.0
    assert brief["MR-full-R1@0.5"] == 25.0
    assert list(result["full"]) == ["MR-mIoU", "MR-mAP", "MR-R1"]
    assert len(result["full"]["MR-R1"]) == 14  # 0.3, 0.35, ..., 0.95


def test_length_buckets_and_boundaries():
    # lengths: 10 -> short (upper bound inclusive), 10.5 and 30 -> middle, 31 and 150 -> long
    gt = {1: [[0, 10], [20, 51]], 2: [[0, 10.5]], 3: [[0, 30]], 4: [[0, 150]]}
    windows = PaddedWindows.from_arrays([np.array(w, dtype=float) for w in gt.values()])
    for name, (low, high), queries in [("short", (0, 10), [0]), ("middle", (10, 30), [1, 2]),
                                       ("long", (30, 150), [0, 3])]:
        kept, sub = select_bucket(windows, low, high)
        assert kept.tolist() == queries, name
    kept, sub = select_bucket(windows, 30, 150)
    assert sub.start[0, :1].tolist() == [20.0] and sub.count.tolist() == [1, 1]
    # query 1 predicts its short window exactly: short bucket 100, long bucket 0 for it
    result = qvh({1: [[0, 10, 0.9]], 2: [[0, 10.5, 1]], 3: [[0, 30, 1]], 4: [[0, 150, 1]]}, gt)
    assert result["brief"]["MR-short-mAP"] == 100.0
    assert result["brief"]["MR-middle-mAP"] == 100.0
    assert result["brief"]["MR-long-mAP"] == 50.0


def test_empty_bucket_reports_zero_with_a_warning_once_per_process(caplog, monkeypatch):
    from pipeline.evaluation import moment_retrieval

    monkeypatch.setattr(moment_retrieval, "_warned_empty", set())  # as in a fresh process
    with caplog.at_level(logging.WARNING, logger="pipeline.evaluation"):
        result = qvh({1: [[0, 8, 1]]}, {1: [[0, 8]]})
        again = qvh({1: [[0, 8, 1]]}, {1: [[0, 8]]})
    assert result["long"]["MR-mAP"]["average"] == again["long"]["MR-mAP"]["average"] == 0.0
    assert result["short"]["MR-mAP"]["average"] == 100.0
    assert sum("bucket long" in r.message for r in caplog.records) == 1


def test_gt_visit_order_breaks_iou_ties_towards_later_window():
    # official: iou.argsort()[::-1] -> descending IoU, ties visited from the highest index
    assert _match_rank(np.array([0.5, 0.7, 0.5])).tolist() == [2, 0, 1]


def test_charades_r1_r5_and_miou_hand_computed():
    # top-1 IoUs 0.5, 0.8, 0 -> R1@0.3 = R1@0.5 = 2/3, R1@0.7 = 1/3, mIoU = 1.3/3
    # R5: query 1's second window is exact -> R5@0.7 = 2/3
    sub = [{"qid": 1, "pred_relevant_windows": [[0, 5, 0.9], [0, 10, 0.8]]},
           {"qid": 2, "pred_relevant_windows": [[12, 20, 0.9]]},
           {"qid": 3, "pred_relevant_windows": [[5, 9, 0.9]]}]
    gt = [{"qid": 1, "duration": 30.0, "vid": "a", "relevant_windows": [[0, 10]]},
          {"qid": 2, "duration": 30.0, "vid": "a", "relevant_windows": [[10, 20]]},
          {"qid": 3, "duration": 30.0, "vid": "b", "relevant_windows": [[0, 4]]}]
    brief = evaluate_submission(sub, gt, dataset="charades_sta")["brief"]
    assert brief["MR-full-R1@0.3"] == 66.67
    assert brief["MR-full-R1@0.5"] == 66.67
    assert brief["MR-full-R1@0.7"] == 33.33
    assert brief["MR-full-mIoU"] == 43.33
    assert brief["MR-full-R5@0.7"] == 66.67
    assert brief["MR-full-R5@0.3"] == 66.67


@pytest.mark.parametrize("extended", [False, True])
def test_brief_keys_are_sorted(extended):
    brief = qvh({1: [[0, 8, 1]]}, {1: [[0, 8]]}, extended=extended)["brief"]
    assert list(brief) == sorted(brief)
