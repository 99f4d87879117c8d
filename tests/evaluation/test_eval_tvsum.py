"""TVSum top-5 mAP on small hand-computed cases."""

import numpy as np
from pipeline.evaluation import evaluate_submission
from pipeline.evaluation.rounding import percent
from pipeline.evaluation.tvsum import lower_median, top_k_average_precision

# 6 clips x 2 annotators.
# annotator 1: [1,2,3,4,5,5], lower median 3 -> positives clips 3, 4, 5
# annotator 2: [5,4,3,2,1,1], lower median 2 -> positives clips 0, 1, 2
LABEL = [[1, 5], [2, 4], [3, 3], [4, 2], [5, 1], [5, 1]]


def video(qid, domain, label=LABEL):
    return {"qid": qid, "vid": qid, "duration": len(label), "domain": domain, "label": label,
            "relevant_windows": None, "relevant_clip_ids": None}


def test_lower_median_like_torch():
    labels = np.array([[1.0, 2.0, 3.0, 4.0]])[:, :, None]
    assert lower_median(labels, np.array([4]))[0, 0] == 2.0  # numpy's median would be 2.5


def test_hand_computed_top5_ap():
    # ranking clips 0..5 (descending scores); top-5 labels:
    # annotator 1: [0,0,0,1,1], 2 positives among the 5: trapezoids
    #   j=4: rec .5, prec 1/4 -> .5 * (0 + 1/4) / 2 = 0.0625
    #   j=5: rec 1,  prec 2/5 -> .5 * (1/4 + 2/5) / 2 = 0.1625   -> AP 0.225
    # annotator 2: [1,1,1,0,0] -> AP 1;  video mean 0.6125
    sub = [{"qid": "v1", "pred_saliency_scores": [0.6, 0.5, 0.4, 0.3, 0.2, 0.1]}]
    result = evaluate_submission(sub, [video("v1", "BK")], dataset="tvsum")
    assert result["brief"] == {"TVSum-top5-mAP": 61.25, "TVSum-BK-top5-mAP": 61.25}
    assert result["TVSum"]["videos"] == {"v1": 61.25}


def test_ties_rank_earlier_clip_first_and_no_positive_gives_0():
    scores = np.zeros((1, 6))  # all tied: ranking is clip order 0..5
    labels = np.array(LABEL, dtype=float)[None]
    ap = top_k_average_precision(scores, np.array([6]), labels, np.array([6]))
    np.testing.assert_allclose(ap[0], [0.225, 1.0])
    flat = np.full((1, 6, 1), 3.0)  # nobody above the median
    assert top_k_average_precision(scores, np.array([6]), flat, np.array([6]))[0, 0] == 0.0


def test_domain_mean_then_mean_over_domains():
    single = [[1, 1], [1, 1], [1, 1], [1, 1], [1, 1], [5, 5]]  # only clip 5 is a highlight
    sub = [{"qid": "a", "pred_saliency_scores": [0.6, 0.5, 0.4, 0.3, 0.2, 0.1]},  # 0.6125
           {"qid": "b", "pred_saliency_scores": [0, 0, 0, 0, 0, 1]},  # clip 5 first: 1.0
           {"qid": "c", "pred_saliency_scores": [1, 1, 1, 1, 1, 0]}]  # clip 5 sixth: 0.0
    gt = [video("a", "BK"), video("b", "BK", single), video("c", "BT", single)]
    result = evaluate_submission(sub, gt, dataset="tvsum")
    assert result["TVSum"]["videos"] == {"a": 61.25, "b": 100.0, "c": 0.0}
    assert result["brief"]["TVSum-BK-top5-mAP"] == percent((0.6125 + 1.0) / 2)
    assert result["brief"]["TVSum-BT-top5-mAP"] == 0.0
    # mean over domains (0.403), not over videos (0.5375)
    assert result["brief"]["TVSum-top5-mAP"] == percent(((0.6125 + 1.0) / 2 + 0.0) / 2)
    assert result["TVSum"]["domains"]["BK"]["n_videos"] == 2
