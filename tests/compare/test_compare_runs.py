"""compare(): one run folder and one table row per model; reruns keep finished runs and continue killed ones."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.workflow.compare import COMPARISON_JSON, COMPARISON_MD, compare, trained_epochs
from pipeline.training import train

#: three of the six (all six run through `videolights compare` in test_compare_cli.py)
THREE = ["videolights", "qd_detr", "cg_detr"]

def _files(run_dir: Path) -> dict[str, tuple[int, bytes]]:
    """(mtime_ns, bytes) of a run's training outputs."""
    return {name: ((run_dir / name).stat().st_mtime_ns, (run_dir / name).read_bytes())
            for name in ("last.ckpt", "best.ckpt", "metrics.jsonl")}


def test_compare_writes_one_row_per_model_and_a_rerun_does_not_retrain(make_compare) -> None:
    config = make_compare(models=[m.model_dump() for m in make_compare().models if m.label in THREE])
    result = compare(config)
    out = Path(config.out_dir)
    assert [r.label for r in result.rows] == THREE
    assert [r.model for r in result.rows] == THREE
    assert {r.status for r in result.rows} == {"trained"}
    for row in result.rows:
        assert row.epochs == 2 and row.best_epoch in (1, 2) and row.parameters > 1000 and row.train_seconds > 0
        assert list(row.metrics) == list(config.headline)
        assert Path(row.predictions).is_file() and (out / row.label / "val_metrics.json").is_file()
        metrics = json.loads((out / row.label / "val_metrics.json").read_text())
        assert {k: metrics["brief"][k] for k in config.headline} == row.metrics
    assert len({r.parameters for r in result.rows}) == 3  # three different architectures
    table = (out / COMPARISON_MD).read_text()
    assert table == result.markdown and "Tiny features" in table
    header = next(line for line in table.splitlines() if line.startswith("| model |"))
    assert header.split(" | ")[1:6] == ["preset", "parameters", "epochs", "best epoch", "train s"]
    assert "MR-full-R1@0.5" in header and "HL-min-VeryGood-mAP" in header
    assert sum(line.startswith(tuple(f"| {m} |" for m in THREE)) for line in table.splitlines()) == 3
    assert "Published numbers" not in table  # planted data: no paper measured it
    document = json.loads((out / COMPARISON_JSON).read_text())
    assert [m["label"] for m in document["models"]] == THREE
    assert document["headline"] == list(config.headline) and document["failures"] == {}

    before = {r.label: _files(out / r.label) for r in result.rows}
    again = compare(config)
    assert {r.status for r in again.rows} == {"finished"}
    assert {r.label: _files(out / r.label) for r in again.rows} == before  # nothing retrained or rewritten
    assert [(r.metrics, r.best_epoch, r.train_seconds) for r in again.rows] == [
        (r.metrics, r.best_epoch, r.train_seconds) for r in result.rows]
    assert again.summary().text().startswith("compare: 0 done, 3 skipped, 0 failed")


def test_a_killed_model_run_is_continued(make_compare) -> None:
    config = make_compare(models=[{"label": "trdetr", "preset": "trdetr-tiny"}])
    run = config.run_config(config.models[0])
    # a run killed after its first epoch's checkpoint: the same run with one epoch
    train(run.model_copy(update={"epochs": 1}))
    assert trained_epochs(run) == 1
    result = compare(config)
    (row,) = result.rows
    assert row.status == "resumed" and row.epochs == 2
    lines = [json.loads(line) for line in (run.out / "metrics.jsonl").read_text().splitlines()]
    assert [line["epoch"] for line in lines] == [1, 2]
    assert row.train_seconds == pytest.approx(sum(line["seconds"] for line in lines), abs=0.1)


def test_a_folder_of_another_configuration_is_refused(make_compare) -> None:
    models = [{"label": "tw", "preset": "taskweave-tiny"}]
    compare(make_compare(models=models))
    changed = make_compare(models=[{**models[0], "model_overrides": {"dropout": 0.2}}])
    with pytest.raises(ValueError, match=r"tw/last\.ckpt was trained with another configuration "
                                         r"\(model\.dropout: 0\.1 -> 0\.2\)"):
        compare(changed)
    with pytest.raises(ValueError, match="has trained 2 epochs, the comparison asks for 1"):
        compare(make_compare(models=models, epochs=1))
    other_data = make_compare(models=models, val_annotations=make_compare().train_annotations)
    with pytest.raises(ValueError, match="val_annotations: "):
        compare(other_data)


def test_the_papers_numbers_are_listed_when_dataset_split_and_features_match(make_compare) -> None:
    from model.presets import SF_C
    from pipeline.workflow.compare import ModelResult, comparison_markdown

    row = ModelResult(label="qd", preset="qd_detr-qvhighlights", model="qd_detr", parameters=1, status="trained",
                      epochs=1, best_epoch=1, train_seconds=1.0, metrics={"MR-full-R1@0.5": 1.0}, run_dir="r",
                      checkpoint="c", predictions="p")
    models = [{"label": "qd", "preset": "qd_detr-qvhighlights"}]
    on_test = comparison_markdown(make_compare(models=models, features=SF_C, split="test"), [row], {})
    assert "Published numbers on qvhighlights test (from the papers, not measured here):" in on_test
    assert "| QD-DETR | qd | 62.40 | 44.98 | 39.86 | 38.94 | - | Moon et al., CVPR 2023, Table 1 |" in on_test
    on_val = comparison_markdown(make_compare(models=models, features=SF_C, split="val"), [row], {})
    assert "Published numbers" not in on_val  # the papers report QD-DETR on test only
