"""Submission validation: every error says which row, what was found and what was expected."""

import json

import pytest

from pipeline.evaluation import SubmissionError, evaluate_files, evaluate_submission

GT = [{"qid": q, "duration": 10, "relevant_windows": [[0, 4]], "relevant_clip_ids": [0, 1],
       "saliency_scores": [[4, 4, 4], [2, 2, 2]]} for q in (1, 2, 3)]


def good(qid):
    return {"qid": qid, "pred_relevant_windows": [[0, 4, 0.9]],
            "pred_saliency_scores": [0.9, 0.5, 0.1, 0.0, 0.2]}


def submission(**changes_by_qid):
    rows = [good(q) for q in (1, 2, 3)]
    for qid, change in changes_by_qid.items():
        rows[int(qid[1:]) - 1].update(change)
    return rows


def raises(rows, *fragments, gt=GT, **kwargs):
    with pytest.raises(SubmissionError) as info:
        evaluate_submission(rows, gt, **kwargs)
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, message
    return message


def test_valid_submission_passes():
    assert evaluate_submission(submission(), GT)["brief"]["MR-full-mAP"] == 100.0


def test_missing_qid_names_ground_truth_row():
    raises(submission()[:2], "1 ground-truth qid(s) have no prediction", "ground truth row 3",
           "qid 3")


def test_extra_qid_names_submission_row():
    raises(submission() + [good(99)], "not in the ground truth", "submission row 4", "qid 99")


def test_duplicated_qid_names_both_rows():
    raises(submission() + [good(2)], "submission row 4", "duplicated qid 2",
           "first seen at submission row 2")


def test_qid_type_mismatch_is_explained():
    rows = [dict(good(q), qid=str(q)) for q in (1, 2, 3)]
    raises(rows, "compared with their JSON type", "str", "int")


def test_wrong_saliency_length_names_row_and_expected_count():
    raises(submission(q2={"pred_saliency_scores": [0.1, 0.2, 0.3]}), "submission row 2",
           "has 3 scores", "expected 5", "int(duration 10 s / 2 s)")


def test_saliency_one_clip_short_is_accepted_and_tolerance_configurable():
    rows = submission(q2={"pred_saliency_scores": [0.9, 0.5, 0.1, 0.0]})
    evaluate_submission(rows, GT)
    raises(rows, "submission row 2", "expected 5", saliency_length_tolerance=0)


def test_start_after_end():
    raises(submission(q3={"pred_relevant_windows": [[0, 4, 0.9], [8, 2, 0.5]]}),
           "submission row 3 (qid 3)", "pred_relevant_windows[1]", "start 8 s > end 2 s")


def test_window_arity():
    raises(submission(q1={"pred_relevant_windows": [[0, 4]]}), "submission row 1",
           "[0, 4]", "expected [start_s, end_s, score] (3 numbers)")


@pytest.mark.parametrize("bad", ["high", None, True, float("nan"), [0.5]])
def test_non_numeric_window_score(bad):
    raises(submission(q2={"pred_relevant_windows": [[0, 4, bad]]}), "submission row 2",
           "pred_relevant_windows[0]", "finite numbers")


@pytest.mark.parametrize("bad", ["0.3", None, float("inf")])
def test_non_numeric_saliency(bad):
    raises(submission(q1={"pred_saliency_scores": [0.1, bad, 0.3, 0.4, 0.5]}),
           "submission row 1", "pred_saliency_scores[1]", "expected a finite number")


def test_windows_not_a_list_and_missing_key():
    raises(submission(q1={"pred_relevant_windows": "0 4 0.9"}), "submission row 1",
           "is a str", "expected a list")
    rows = submission()
    del rows[1]["pred_saliency_scores"]
    raises(rows, "submission row 2", "missing key 'pred_saliency_scores'")


def test_ground_truth_errors_name_their_row():
    gt = [dict(r) for r in GT]
    gt[1]["relevant_windows"] = []
    raises(submission(), "ground truth row 2", "relevant_windows is empty", gt=gt)


def test_unknown_dataset():
    with pytest.raises(ValueError, match="unknown dataset 'qvh'"):
        evaluate_submission(submission(), GT, dataset="qvh")


def test_file_errors_name_file_and_line(tmp_path):
    gt_path = tmp_path / "gt.jsonl"
    gt_path.write_text("".join(json.dumps(r) + "\n" for r in GT))
    rows = submission(q3={"pred_relevant_windows": [[5, 1, 0.9]]})
    sub_path = tmp_path / "preds.jsonl"
    # a blank line must not shift the numbering: row 3 sits on line 4
    sub_path.write_text(json.dumps(rows[0]) + "\n" + json.dumps(rows[1]) + "\n\n"
                        + json.dumps(rows[2]) + "\n")
    with pytest.raises(SubmissionError, match=r"preds\.jsonl, line 4 \(qid 3\)"):
        evaluate_files(sub_path, gt_path)
    sub_path.write_text(json.dumps(rows[0]) + "\n{not json\n")
    with pytest.raises(SubmissionError, match=r"preds\.jsonl, line 2: not valid JSON"):
        evaluate_files(sub_path, gt_path)


def test_tvsum_saliency_length_checked_against_label_rows():
    gt = [{"qid": "v", "domain": "BK", "label": [[1, 2]] * 6}]
    with pytest.raises(SubmissionError, match=r"submission row 1 \(qid 'v'\).*has 3 scores.*"
                                              r"expected 6"):
        evaluate_submission([{"qid": "v", "pred_saliency_scores": [1, 2, 3]}], gt,
                            dataset="tvsum")
