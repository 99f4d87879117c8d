"""Training learns planted moments: held-out R1@0.5 far above chance; infer reproduces the evaluation."""

from __future__ import annotations

import json

import pytest
from planted import TINY_CLIP, planted_chance_r1, planted_dataset
from predictions import assert_rows_close

from pipeline.evaluation import evaluate_submission
from pipeline.inference import infer
from pipeline.training import TrainRunConfig, train

N_CLIPS = 16
#: The tiny preset (VideoLights, release form) with a second decoder layer and light input dropout:
#: with one decoder layer the class head learns the foreground prior first and needs several times
#: more steps. EPOCHS epochs of 8 steps; the measured spread is in tests/compare/test_compare_learns.py.
LEARNER = {"dec_layers": 2, "input_dropout": 0.1}
EPOCHS = 30


@pytest.fixture(scope="module")
def learned(tmp_path_factory):
    root = tmp_path_factory.mktemp("learn")
    data = planted_dataset(root, n_train=256, n_val=32, n_clips=N_CLIPS, windows=1)
    config = TrainRunConfig(preset="tiny", features=TINY_CLIP, model_overrides=LEARNER,
                            train_annotations=data["train"], val_annotations=data["val"], store=data["store"],
                            out_dir=str(root / "run"), epochs=EPOCHS, batch_size=32, lr=3e-3, eval_every=5,
                            device="cpu", seed=7)
    return data, train(config)


def test_held_out_r1_is_far_above_chance(learned) -> None:
    data, result = learned
    gt = [json.loads(line) for line in open(data["val"])]
    chance = planted_chance_r1(gt, N_CLIPS)
    r1 = result.best_metrics["MR-full-R1@0.5"]
    assert chance < 25
    assert r1 >= max(50.0, 3 * chance), (r1, chance, result.best_metrics)
    assert result.best_metrics["HL-min-Fair-mAP"] > 80  # saliency too: the planted clips (all "Fair") rank first


def test_metrics_lines_and_best_checkpoint(learned) -> None:
    _, result = learned
    lines = [json.loads(line) for line in result.metrics_path.read_text().splitlines()]
    assert [line["epoch"] for line in lines] == list(range(1, EPOCHS + 1))
    assert [line["epoch"] for line in lines if line["eval"]] == list(range(5, EPOCHS + 1, 5))
    assert result.best_epoch in range(5, EPOCHS + 1, 5)
    assert result.best_score == max(line["score"] for line in lines if line["eval"])
    assert lines[0]["loss"]["total"] > 0 and lines[0]["steps"] == 8 and lines[0]["samples"] == 256


def test_infer_with_the_best_checkpoint_reproduces_its_evaluation(learned, tmp_path) -> None:
    data, result = learned
    out = tmp_path / "val_preds.jsonl"
    infer(result.best_checkpoint, data["val"], data["store"], out, device="cpu")
    gt = [json.loads(line) for line in open(data["val"])]
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    metrics = evaluate_submission(rows, gt, dataset="qvhighlights", extended=True)
    assert metrics["brief"] == pytest.approx(result.best_metrics, abs=1e-6)
    # the training loop's evaluation batches differently from infer: same rows within float tolerance
    assert_rows_close(rows, [json.loads(line) for line in (result.out_dir / "best_val_preds.jsonl").read_text().splitlines()])
