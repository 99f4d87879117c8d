"""Acceptance: the golden QVHighlights file gives exactly the official numbers; real-data runs."""

import json

from pipeline.evaluation import evaluate_files, evaluate_submission, read_jsonl


def _golden(data_dir, name):
    return json.loads((data_dir / "golden" / name).read_text())


def test_golden_metrics_equal_official(data_dir):
    expected = _golden(data_dir, "qvhighlights_val_preds_metrics.json")
    result = evaluate_files(data_dir / "golden" / "qvhighlights_val_preds.jsonl",
                            data_dir / "qvhighlights" / "highlight_val_release.jsonl")
    assert result == expected
    assert list(result) == list(expected)  # same key order as the official output
    assert list(result["brief"]) == list(expected["brief"])


def test_golden_extended_metrics_equal_release(data_dir):
    expected = _golden(data_dir, "qvhighlights_val_preds_metrics_extended.json")
    official = _golden(data_dir, "qvhighlights_val_preds_metrics.json")
    sub = read_jsonl(data_dir / "golden" / "qvhighlights_val_preds.jsonl")
    gt = read_jsonl(data_dir / "qvhighlights" / "highlight_val_release.jsonl")
    result = evaluate_submission(sub, gt, extended=True)
    assert result["brief"] == expected["brief"]
    assert list(result["brief"]) == list(expected["brief"])
    for bucket in ("full", "short", "middle", "long"):
        assert result[bucket]["MR-mAP"] == official[bucket]["MR-mAP"]
        assert set(official[bucket]["MR-R1"].items()) <= set(result[bucket]["MR-R1"].items())
        assert "MR-mIoU" in result[bucket]


def test_charades_perfect_top1_scores_100(data_dir):
    gt = read_jsonl(data_dir / "charades_sta" / "charades_sta_test.jsonl")
    sub = [{"qid": r["qid"], "pred_relevant_windows": [[*r["relevant_windows"][0], 1.0]]}
           for r in gt.rows]
    brief = evaluate_submission(sub, gt, dataset="charades_sta")["brief"]
    for key in ("MR-full-R1@0.3", "MR-full-R1@0.5", "MR-full-R1@0.7", "MR-full-mIoU",
                "MR-full-R5@0.7", "MR-full-mAP", "MR-short-mAP", "MR-middle-mAP"):
        assert brief[key] == 100.0, key
    assert brief["MR-long-mAP"] == 0.0  # no Charades-STA test window is longer than 30 s


def test_tvsum_real_labels(data_dir):
    gt = read_jsonl(data_dir / "tvsum" / "tvsum_val.jsonl")
    # mean annotator score is a strong (but not perfect) saliency predictor
    sub = [{"qid": r["qid"], "pred_saliency_scores": [sum(c) / len(c) for c in r["label"]]}
           for r in gt.rows]
    result = evaluate_submission(sub, gt, dataset="tvsum")
    domains = result["TVSum"]["domains"]
    assert len(domains) == 10 and all(d["n_videos"] == 1 for d in domains.values())
    assert 50.0 < result["brief"]["TVSum-top5-mAP"] <= 100.0
