"""Highlight detection (QVHighlights HL-mAP / HL-Hit1) on small hand-computed cases."""

import numpy as np

from pipeline.evaluation import evaluate_submission
from pipeline.evaluation.highlight import ranking_average_precision

# one 10-s video = 5 clips of 2 s; clips 0..2 annotated by 3 annotators, clips 3, 4 score 0
GT_ROW = {"qid": 7, "duration": 10, "relevant_windows": [[0, 6]],
          "relevant_clip_ids": [0, 1, 2], "saliency_scores": [[4, 2, 0], [3, 3, 1], [1, 4, 2]]}


def hl(scores, gt_row=GT_ROW, **kwargs):
    sub = [{"qid": gt_row["qid"], "pred_saliency_scores": scores}]
    return evaluate_submission(sub, [gt_row], **kwargs)


def test_hand_computed_map_and_hit1():
    # ranking by score: clips 0, 2, 4, 3, 1
    # Fair (>=2): annotator A positives {0,1}: precisions 1, 2/5 -> AP 0.7
    #             B {0,1,2}: 1, 1, 3/5 -> 0.8667;  C {2}: 1/2 -> 0.5;  mean 68.89
    # Good (>=3): A {0,1} 0.7;  B {1,2}: 1/2, 2/5 -> interpolated 0.5, 0.4 -> 0.45;  C {} -> 0
    # VeryGood (>=4): A {0} 1;  B {2} 0.5;  C {} 0 -> 50
    result = hl([0.9, 0.1, 0.8, 0.2, 0.5])
    assert result["HL-min-Fair"] == {"HL-mAP": 68.89, "HL-Hit1": 100.0}
    assert result["HL-min-Good"] == {"HL-mAP": 38.33, "HL-Hit1": 100.0}
    assert result["HL-min-VeryGood"] == {"HL-mAP": 50.0, "HL-Hit1": 100.0}
    assert list(result["brief"]) == ["HL-min-Fair-mAP", "HL-min-Fair-Hit1", "HL-min-Good-mAP",
                                     "HL-min-Good-Hit1", "HL-min-VeryGood-mAP",
                                     "HL-min-VeryGood-Hit1"]


def test_hit1_misses_when_top_clip_is_no_highlight():
    result = hl([0.1, 0.2, 0.3, 0.9, 0.5])  # clip 3 is unannotated (score 0 for everyone)
    assert result["HL-min-Fair"]["HL-Hit1"] == 0.0


def test_hit1_takes_max_over_annotators():
    # top clip 2 has scores [1, 4, 2]: only annotator B calls it VeryGood, that is enough
    result = hl([0.1, 0.2, 0.9, 0.0, 0.0])
    assert result["HL-min-VeryGood"]["HL-Hit1"] == 100.0


def test_perfect_ranking_gives_100_at_every_level():
    gt = dict(GT_ROW, saliency_scores=[[4, 4, 4], [3, 3, 3], [2, 2, 2]])
    result = hl([0.9, 0.8, 0.7, 0.1, 0.0], gt_row=gt)
    assert {v["HL-mAP"] for k, v in result.items() if k.startswith("HL")} == {100.0}


def test_tied_scores_form_one_threshold():
    # scores [0.7, 0.7, 0.1], labels [0, 1, 1]: the tied pair is one threshold with
    # precision 1/2, interpolated up to 2/3 (precision at the next threshold) -> AP 2/3,
    # whatever the order inside the tie (sklearn precision_recall_curve semantics)
    scores = np.array([[0.7, 0.7, 0.1], [0.7, 0.7, 0.1]])
    labels = np.array([[0, 1, 1], [1, 0, 1]], dtype=float)[:, :, None]
    ap = ranking_average_precision(scores, labels, np.array([3, 3]))
    np.testing.assert_allclose(ap[:, 0], [2 / 3, 2 / 3])


def test_no_positive_gives_0_all_positive_gives_1():
    scores = np.array([[0.3, 0.2, 0.1], [0.1, 0.2, 0.3]])
    labels = np.array([[0, 0, 0], [1, 1, 1]], dtype=float)[:, :, None]
    ap = ranking_average_precision(scores, labels, np.array([3, 3]))
    assert ap[:, 0].tolist() == [0.0, 1.0]


def test_short_prediction_is_zero_padded_like_the_official_code():
    # 4 scores for a 5-clip video: clip 4 gets score 0, above every negative prediction
    gt = dict(GT_ROW, relevant_clip_ids=[4], saliency_scores=[[4, 4, 4]],
              relevant_windows=[[8, 10]])
    result = hl([-0.5, -0.6, -0.7, -0.8], gt_row=gt)
    assert result["HL-min-VeryGood"]["HL-mAP"] == 100.0
    # Hit1 takes the argmax of the raw prediction (clip 0), which is no highlight
    assert result["HL-min-VeryGood"]["HL-Hit1"] == 0.0


def test_long_prediction_is_truncated():
    result = hl([0.9, 0.1, 0.8, 0.2, 0.5, 5.0])  # 6th score is beyond the video: dropped
    assert result["HL-min-Fair"]["HL-mAP"] == 68.89
    assert result["HL-min-Fair"]["HL-Hit1"] == 0.0  # official: top clip outside -> miss
