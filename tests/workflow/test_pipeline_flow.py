"""The parent flow on real Prefect: the whole DAG end to end, then skipped when current, a refreshed step
redone, a failing step reported; resumes after real kills during extraction and during training."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from flows.dag import pipeline_flow
from storage import FeatureStore

pytestmark = pytest.mark.usefixtures("prefect_harness")


def _statuses(report) -> dict[str, str]:
    return {s.step: s.status for s in report.steps}


def test_whole_dag_runs_then_skips_then_redoes_a_refreshed_step(write_config, tmp_path) -> None:
    _, config = write_config()
    first = pipeline_flow(config=config)
    assert _statuses(first) == {step: "done" for step in
                                ("data", "decode", "extract", "synthesize", "pretrain", "zero_shot", "finetune",
                                 "evaluate")}
    outputs = first.outputs
    for what in ("synthetic rows", "pretrained model", "fine-tuned model", "val submission", "metrics", "report"):
        assert Path(outputs[what]).exists(), what
    assert list(Path(outputs["plots"]).glob("*.png"))
    assert "## Metrics" in Path(outputs["report"]).read_text()
    assert [r.name for r in first.rows] == ["tiny (fine-tuned)", "tiny (zero-shot)", "chance (random predictions)"]
    # one decode per video: clip grids and synthesis rode on extraction's decode pass
    details = {s.step: s.detail for s in first.steps}
    assert details["decode"] == "0 done, 0 skipped, 0 failed; 9 left to extract's decode pass"
    assert "; 9 clip grids and 9 videos synthesized on the same decode pass" in details["extract"]
    assert details["synthesize"] == "9 synthesized on extract's decode pass, 0 more here, 0 failed"
    assert len(FeatureStore(outputs["feature store"]).keys("video", "clips")) == 9

    # fine-tuning started from the pretrained weights
    finetune_dir = Path(outputs["fine-tuned model"]).parent
    run = json.loads((finetune_dir / "config.json").read_text().splitlines()[0])["run"]
    assert run["init_from"] == outputs["pretrained model"] and run["stage"] == "finetune"
    # the pretraining rows are the synthetic ones, with caption features in the store
    rows = [json.loads(line) for line in Path(outputs["synthetic rows"]).read_text().splitlines()]
    assert rows and FeatureStore(outputs["feature store"]).attrs("text", "clip", rows[0]["qid"]) is not None

    second = pipeline_flow(config=config)
    assert {k: v for k, v in _statuses(second).items() if k != "data"} == {
        step: "skipped" for step in ("decode", "extract", "synthesize", "pretrain", "zero_shot", "finetune", "evaluate")}
    assert second.rows == first.rows

    third = pipeline_flow(config=config, refresh=["finetune"])
    statuses = _statuses(third)
    assert statuses["finetune"] == "done" and statuses["pretrain"] == "skipped" and statuses["extract"] == "skipped"
    lines = (finetune_dir / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [1, 2]  # trained again from epoch 1


def test_a_failing_step_is_reported_and_the_rest_not_reached(write_config, tmp_path) -> None:
    videos = tmp_path / "videos"
    videos.mkdir()
    (videos / "broken.mp4").write_text("not a video")
    rows = tmp_path / "rows.jsonl"
    rows.write_text(json.dumps({"qid": 1, "query": "q", "duration": 10.0, "vid": "broken",
                                "relevant_windows": [[0, 2]], "relevant_clip_ids": [0],
                                "saliency_scores": [[1, 1, 1]]}) + "\n")
    _, config = write_config(data={"generate": None, "videos": str(videos), "train": str(rows), "val": str(rows)})
    state = pipeline_flow(config=config, return_state=True)
    report = state.result(raise_on_failure=False)
    assert state.is_failed() and state.message == report.failure() and state.message.startswith("extract: ")
    statuses = _statuses(report)
    assert statuses["decode"] == "done" and statuses["extract"] == "failed"
    assert statuses["synthesize"] == statuses["finetune"] == statuses["evaluate"] == "not reached"
    extract = next(s for s in report.steps if s.step == "extract")
    assert "broken.mp4: not a readable media file" in extract.detail
    assert "no video could be extracted" in state.message
    assert "| extract | failed |" in (tmp_path / "run" / "report.md").read_text()


def test_the_flow_refuses_an_unknown_refresh_step(write_config, tmp_path) -> None:
    _, config = write_config()
    from prefect.exceptions import ParameterTypeError

    with pytest.raises(ParameterTypeError, match=r"(?s)refresh\.0: Input should be 'data', 'decode', .*'evaluate'"):
        pipeline_flow(config=config, refresh=["extrct"])
    assert not (tmp_path / "run").exists()


def test_invalid_model_overrides_are_refused_before_the_run(write_config) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match=r"finetune\.model_overrides give an invalid tiny model: .*hidden_dim 30"):
        write_config(finetune={"model_overrides": {"hidden_dim": 30}})


def _env() -> dict[str, str]:
    from prefect.settings import PREFECT_API_URL

    return {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value(), "PREFECT_LOGGING_LEVEL": "WARNING"}


def _start(config_path: Path, log: Path) -> subprocess.Popen:
    # output to a file, not a pipe: a pipe nobody reads fills up and blocks the run
    with open(log, "wb") as out:
        return subprocess.Popen([sys.executable, "-m", "flows.cli", "run", str(config_path)], env=_env(),
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def _kill_when(proc: subprocess.Popen, log: Path, ready, what: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        assert proc.poll() is None, f"the run ended before {what}:\n" + log.read_text()[-3000:]
        if time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            raise AssertionError(f"no {what} within {timeout} s; the run's output:\n" + log.read_text()[-3000:])
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


@pytest.mark.slow
def test_killed_parent_flow_resumes_extraction_and_training(write_config, tmp_path) -> None:
    path, config = write_config(
        data={"generate": {"train_videos": 8, "val_videos": 2, "seconds": 20, "fps": 4, "width": 64, "height": 48}},
        features={"video": ["slowfast", "clip"], "text": ["clip"], "extractor_preset": "tiny"},
        synthesize={"enabled": False}, pretrain={"enabled": False},
        finetune={"epochs": 40, "eval_every": 40}, evaluate={"zero_shot": False, "plots": 0})
    workdir = Path(config.workdir)
    store = FeatureStore(workdir / "store")

    def extracted() -> set[str]:
        return set(store.keys("video", "clip")) & set(store.keys("video", "slowfast"))

    log = tmp_path / "run.log"
    _kill_when(_start(path, log), log, lambda: len(extracted()) >= 1, "extracted video")
    done = extracted()
    assert 1 <= len(done) < 10, done
    created = {v: store.attrs("video", "slowfast", v)["created"] for v in done}

    def trained_one_epoch() -> bool:
        return any((p / "last.ckpt").exists() for p in (workdir / "train").glob("finetune-*"))

    _kill_when(_start(path, log), log, trained_one_epoch, "finetune checkpoint", timeout=600)
    run_dir = next((workdir / "train").glob("finetune-*"))
    killed_at = torch.load(run_dir / "last.ckpt", weights_only=True)["epoch"]
    assert killed_at < 40

    final = subprocess.run([sys.executable, "-m", "flows.cli", "run", str(path)], env=_env(), capture_output=True,
                           text=True, timeout=900)
    assert final.returncode == 0, final.stdout[-3000:] + final.stderr[-3000:]
    assert {v: store.attrs("video", "slowfast", v)["created"] for v in done} == created  # not re-extracted
    assert len(extracted()) == 10
    assert f"resumed at epoch {killed_at + 1}" in (workdir / "report.md").read_text()
    epochs = [json.loads(line)["epoch"] for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert epochs[-1] == 40 and len(set(epochs)) == len(epochs)
