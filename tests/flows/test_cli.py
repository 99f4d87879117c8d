"""CLI commands that need no flow run: model-info and evaluate (in-process through Typer's runner)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from flows.cli import app

runner = CliRunner()


def test_model_info_lists_presets_and_counts_parameters():
    listed = runner.invoke(app, ["model-info"])
    assert listed.exit_code == 0
    assert {"videolights-qvhighlights", "videolights-b-qvhighlights", "tiny"} <= set(listed.stdout.split())
    one = runner.invoke(app, ["model-info", "videolights-qvhighlights"])
    assert one.exit_code == 0
    count = int(one.stdout.strip().splitlines()[-1].removeprefix("parameters: "))
    assert abs(count - 10_399_975) / 10_399_975 < 0.02
    unknown = runner.invoke(app, ["model-info", "videolights-nope"])
    assert unknown.exit_code == 2 and "videolights-qvhighlights" in unknown.stderr


def test_evaluate_prints_the_golden_metrics(data_dir, tmp_path):
    out = tmp_path / "metrics.json"
    done = runner.invoke(app, ["evaluate", "--submission", str(data_dir / "golden" / "qvhighlights_val_preds.jsonl"),
                               "--ground-truth", str(data_dir / "qvhighlights" / "highlight_val_release.jsonl"),
                               "--out", str(out)])
    assert done.exit_code == 0, done.stderr
    golden = json.loads((data_dir / "golden" / "qvhighlights_val_preds_metrics.json").read_text())
    assert json.loads(done.stdout) == golden
    assert json.loads(out.read_text()) == golden


def test_evaluate_names_the_bad_row(data_dir, tmp_path):
    rows = (data_dir / "golden" / "qvhighlights_val_preds.jsonl").read_text().splitlines()
    bad = json.loads(rows[2])
    bad["pred_relevant_windows"][0] = [10, 5, 0.9]
    submission = tmp_path / "sub.jsonl"
    submission.write_text("\n".join(rows[:2] + [json.dumps(bad)] + rows[3:]) + "\n")
    done = runner.invoke(app, ["evaluate", "--submission", str(submission),
                               "--ground-truth", str(data_dir / "qvhighlights" / "highlight_val_release.jsonl")])
    assert done.exit_code == 2
    assert "line 3" in done.stderr and "sub.jsonl" in done.stderr
