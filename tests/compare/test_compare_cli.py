"""`videolights compare` and the compare flow on real Prefect: a table per run, artifacts, reruns, failures, bad configs."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from flows.cli import app

pytestmark = pytest.mark.usefixtures("prefect_harness")
runner = CliRunner()
LABELS = ["videolights", "trdetr", "taskweave", "moment_detr", "qd_detr", "cg_detr"]


def _write(path: Path, fields: dict) -> Path:
    path.write_text(yaml.safe_dump(fields, sort_keys=False))
    return path


def _table_labels(markdown: str) -> list[str]:
    rows = [line for line in markdown.splitlines() if line.startswith("| ") and not line.startswith("| model |")]
    return [row.split(" | ")[0].removeprefix("| ") for row in rows]


def _compare(*args: str) -> subprocess.CompletedProcess:
    """`videolights compare ARGS` in a child process on the session's Prefect server.

    A second flow run inside Typer's CliRunner crashes in Prefect's console log handler (it writes
    to the first invocation's closed stream, then recurses), so the command that runs the flow is
    tested as it is used: as a process.
    """
    from prefect.settings import PREFECT_API_URL

    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value(), "PREFECT_LOGGING_LEVEL": "WARNING",
           "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "flows.cli", "compare", *args], env=env, capture_output=True,
                          text=True, timeout=600)


def _latest_artifact(key: str):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
    from prefect.client.schemas.sorting import ArtifactSort

    with get_client(sync_client=True) as client:
        (artifact,) = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])),
                                            sort=ArtifactSort.CREATED_DESC, limit=1)
    return artifact


def test_compare_command_and_flow_table_every_model_and_keep_finished_runs(compare_fields, tmp_path) -> None:
    config = _write(tmp_path / "compare.yaml", compare_fields)
    out = tmp_path / "elsewhere"
    done = _compare("--config", str(config), "--out", str(out), "--device", "cpu")
    assert done.returncode == 0, done.stdout + done.stderr
    markdown = (out / "comparison.md").read_text()
    assert _table_labels(markdown) == LABELS and markdown in done.stdout
    assert "compare: 6 done, 0 skipped, 0 failed" in done.stdout and str(out / "comparison.md") in done.stdout
    assert not Path(compare_fields["out_dir"]).exists()  # --out replaced the file's out_dir
    document = json.loads((out / "comparison.json").read_text())
    assert [(m["label"], m["status"]) for m in document["models"]] == [(label, "trained") for label in LABELS]
    table = _latest_artifact("model-comparison")
    assert table.type == "table"
    rows = json.loads(table.data) if isinstance(table.data, str) else table.data
    assert [row["model"] for row in rows] == LABELS and all("MR-full-R1@0.5" in row for row in rows)
    assert _latest_artifact("model-comparison-report").data == markdown

    # the flow itself (in this process): a rerun keeps the finished runs
    from flows.compare import compare_flow
    from pipeline.workflow.compare import CompareConfig

    checkpoints = {label: (out / label / "last.ckpt").stat().st_mtime_ns for label in LABELS}
    config = CompareConfig.model_validate({**compare_fields, "out_dir": str(out)})
    again = compare_flow(config)
    assert [(r.label, r.status) for r in again.rows] == [(label, "finished") for label in LABELS]
    assert again.summary().text().startswith("compare: 0 done, 6 skipped, 0 failed")
    assert {label: (out / label / "last.ckpt").stat().st_mtime_ns for label in LABELS} == checkpoints
    assert [r.metrics for r in again.rows] == [m["metrics"] for m in document["models"]]

    # a model whose folder holds a run of another configuration fails alone; the others are tabled
    models = [*compare_fields["models"][:2], {**compare_fields["models"][2], "model_overrides": {"dec_layers": 3}},
              *compare_fields["models"][3:]]
    failing = compare_flow(config.model_validate({**config.model_dump(), "models": models}))
    assert [r.label for r in failing.rows] == LABELS[:2] + LABELS[3:] and list(failing.failures) == ["taskweave"]
    assert failing.failures["taskweave"].startswith("ValueError: ")
    assert "model.dec_layers: 2 -> 3" in failing.failures["taskweave"]
    markdown = (out / "comparison.md").read_text()
    assert _table_labels(markdown)[:2] == LABELS[:2] and "| failed model | reason |" in markdown
    assert list(json.loads((out / "comparison.json").read_text())["failures"]) == ["taskweave"]


def test_compare_command_refuses_bad_configs_with_exit_2(compare_fields, tmp_path) -> None:
    bad = _write(tmp_path / "bad.yaml", {**compare_fields, "models": [{"label": "a b", "preset": "tiny"}]})
    done = runner.invoke(app, ["compare", "--config", str(bad)])
    assert done.exit_code == 2 and "bad.yaml: models.0.label" in done.stderr
    missing = runner.invoke(app, ["compare", "--config", str(tmp_path / "none.yaml")])
    assert missing.exit_code == 2 and "none.yaml: cannot read the config" in missing.stderr
    good = _write(tmp_path / "good.yaml", compare_fields)
    device = runner.invoke(app, ["compare", "--config", str(good), "--device", "gpu"])
    assert device.exit_code == 2 and "device: Value error, device 'gpu'" in device.stderr
    no_rows = _write(tmp_path / "no-rows.yaml", {**compare_fields, "val_annotations": str(tmp_path / "val.jsonl")})
    absent = runner.invoke(app, ["compare", "--config", str(no_rows)])
    assert absent.exit_code == 2 and f"val_annotations: {tmp_path / 'val.jsonl'}: file not found" in absent.stderr
    assert not Path(compare_fields["out_dir"]).exists()


def test_training_epochs_are_in_the_run_logs(make_compare):
    from run_logs import run_log_records

    from flows.compare import compare_flow

    config = make_compare(models=[{"label": "videolights", "preset": "tiny", "model_overrides": {"dec_layers": 2}}])
    state = compare_flow(config, return_state=True)
    assert state.is_completed(), state
    epochs = [m for name, level, m in run_log_records(state.state_details.flow_run_id)
              if name == "pipeline.training.loop" and level == logging.INFO and m.startswith("epoch ")]
    assert [m.split(":")[0] for m in epochs] == ["epoch 1/2", "epoch 2/2"]
    assert all("loss" in m and "eval MR-full-R1@0.5" in m for m in epochs)
