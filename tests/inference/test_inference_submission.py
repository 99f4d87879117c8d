"""infer: a checkpoint + a split in the store -> an official submission jsonl that the evaluation accepts."""

from __future__ import annotations

import json

import pytest
from infer_helpers import tiny_checkpoint, write_random_split
from typer.testing import CliRunner

from flows.cli import app
from model.config import FeatureSet
from pipeline.datasets import MissingFeaturesError
from pipeline.evaluation import evaluate_submission, read_jsonl
from pipeline.inference import infer

runner = CliRunner()


def test_infer_writes_a_submission_the_evaluation_accepts(checkpoint, val_split, tmp_path) -> None:
    out = tmp_path / "preds" / "val_preds.jsonl"
    result = infer(checkpoint, val_split["annotations"], val_split["store"], out, device="cpu", batch_size=4)
    gt = [json.loads(line) for line in open(val_split["annotations"])]
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert (result.n_rows, result.dataset_kind, result.path) == (len(gt), "qvhighlights", out)
    assert [r["qid"] for r in rows] == [g["qid"] for g in gt]
    for row, truth in zip(rows, gt):
        assert set(row) == {"qid", "query", "vid", "pred_relevant_windows", "pred_saliency_scores"}
        assert len(row["pred_saliency_scores"]) == truth["duration"] / 2
        windows = row["pred_relevant_windows"]
        assert 1 <= len(windows) <= 10
        assert [w[2] for w in windows] == sorted((w[2] for w in windows), reverse=True)
        assert all(0 <= s <= e <= truth["duration"] for s, e, _ in windows)
    metrics = evaluate_submission(read_jsonl(out), gt, dataset="qvhighlights")
    assert 0 <= metrics["brief"]["MR-full-mAP"] <= 100 and "HL-min-VeryGood-mAP" in metrics["brief"]
    assert sorted(p.name for p in out.parent.iterdir()) == ["val_preds.jsonl"]  # no temp leftovers


def test_infer_predicts_unlabelled_test_rows(checkpoint, tmp_path) -> None:
    split = write_random_split(tmp_path, n_videos=3, labels=False, seed=1)
    result = infer(checkpoint, split["annotations"], split["store"], tmp_path / "test_preds.jsonl", device="cpu")
    assert result.n_rows == 3


def test_infer_names_missing_features_and_mismatched_sizes(checkpoint, val_split, tmp_path) -> None:
    empty = write_random_split(tmp_path / "other", n_videos=2)
    with pytest.raises(MissingFeaturesError):
        infer(checkpoint, val_split["annotations"], empty["store"], tmp_path / "x.jsonl", device="cpu")
    paper = tiny_checkpoint(tmp_path / "paper.ckpt", FeatureSet(video=("clip",), text=("clip",)))  # 512-d inputs
    with pytest.raises(ValueError, match="extractor preset"):
        infer(paper, val_split["annotations"], val_split["store"], tmp_path / "y.jsonl", device="cpu")
    assert not (tmp_path / "y.jsonl").exists()


def test_infer_command(checkpoint, val_split, tmp_path) -> None:
    out = tmp_path / "cli_preds.jsonl"
    done = runner.invoke(app, ["infer", "--checkpoint", str(checkpoint), "--dataset", val_split["annotations"],
                               "--store", val_split["store"], "--out", str(out), "--device", "cpu"])
    assert done.exit_code == 0, done.output
    assert f"wrote 6 qvhighlights predictions to {out}" in done.stdout
    assert len(out.read_text().splitlines()) == 6
    missing = runner.invoke(app, ["infer", "--checkpoint", str(tmp_path / "none.ckpt"), "--dataset",
                                  val_split["annotations"], "--store", val_split["store"], "--out", str(out)])
    assert missing.exit_code == 2 and "file not found" in missing.stderr
