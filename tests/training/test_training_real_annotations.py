"""train -> infer -> evaluate from the CLI on real annotation rows (QVHighlights, Charades-STA) with
generated features in a temp store: the real formats flow through every step."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from typer.testing import CliRunner

from flows.cli import app
from pipeline.evaluation import evaluate_files
from storage import EntrySpec, FeatureStore, fingerprint_text

runner = CliRunner()
DIM = 32  # the tiny CLIP extractor's size, which the tiny feature set expects

CASES = {
    "qvhighlights": ("qvhighlights/highlight_train_release.jsonl", "qvhighlights/highlight_val_release.jsonl", 2.0),
    "charades_sta": ("charades_sta/charades_sta_train.jsonl", "charades_sta/charades_sta_test.jsonl", 1.0),
}


def _subset(src, dst, n):
    rows = [json.loads(line) for line in src.read_text().splitlines()[:n]]
    dst.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return rows


def _features(store: FeatureStore, rows, clip_seconds: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    source = fingerprint_text("generated for the real-annotation test")
    vspec = EntrySpec(extractor="clip", version="test", weights_id="tiny:test", preset="tiny", clip_seconds=clip_seconds)
    tspec = EntrySpec(extractor="clip", version="test", weights_id="tiny:test", preset="tiny")
    for row in rows:
        n_clips = math.ceil(row["duration"] / clip_seconds - 1e-9)
        if store.attrs("video", "clip", row["vid"]) is None:
            store.write_video("clip", row["vid"], rng.normal(size=(n_clips, DIM)), vspec, source)
        store.write_text("clip", row["qid"], rng.normal(size=(6 + len(row["query"]) % 9, DIM)), rng.normal(size=DIM),
                         tspec, source)


@pytest.mark.parametrize("kind", list(CASES))
def test_train_infer_evaluate_on_real_rows(data_dir, tmp_path, kind):
    train_src, val_src, clip_seconds = CASES[kind]
    train_rows = _subset(data_dir / train_src, tmp_path / "train.jsonl", 24)
    val_rows = _subset(data_dir / val_src, tmp_path / "val.jsonl", 8)
    store = FeatureStore(tmp_path / "store")
    _features(store, train_rows + val_rows, clip_seconds, seed=0)
    trained = runner.invoke(app, ["train", "--preset", "tiny", "--features", "clip/clip", "--extractor-preset", "tiny",
                                  "--train", str(tmp_path / "train.jsonl"), "--val", str(tmp_path / "val.jsonl"),
                                  "--dataset-kind", kind, "--store", str(tmp_path / "store"),
                                  "--out", str(tmp_path / "run"), "--epochs", "1", "--batch-size", "8",
                                  "--device", "cpu"])
    assert trained.exit_code == 0, trained.output
    assert (tmp_path / "run" / "best.ckpt").exists()
    out = tmp_path / "pred.jsonl"
    inferred = runner.invoke(app, ["infer", "--checkpoint", str(tmp_path / "run" / "best.ckpt"),
                                   "--dataset", str(tmp_path / "val.jsonl"), "--store", str(tmp_path / "store"),
                                   "--out", str(out), "--device", "cpu"])
    assert inferred.exit_code == 0, inferred.output
    preds = [json.loads(line) for line in out.read_text().splitlines()]
    assert [p["qid"] for p in preds] == [r["qid"] for r in val_rows]
    for pred, row in zip(preds, val_rows):
        assert 1 <= len(pred["pred_relevant_windows"]) <= 10
        assert all(0 <= s < e <= row["duration"] + 1e-6 for s, e, _ in pred["pred_relevant_windows"])
    metrics = evaluate_files(out, tmp_path / "val.jsonl", dataset=kind)
    assert 0 <= metrics["brief"]["MR-full-R1@0.5"] <= 100
