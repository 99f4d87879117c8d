"""The `synthesize` command (registered on a local Typer app here; flows/cli.py registers it on `videolights`)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
import torch
import typer
from synthetic_helpers import write_time_coded
from typer.testing import CliRunner

from flows.synthesize_cli import synthesize
from pipeline.datasets.readers import read_annotations
from pipeline.synthetic.output import progress_path

app = typer.Typer()
app.command("synthesize")(synthesize)


@app.callback()
def _root() -> None:
    """Test app."""


runner = CliRunner()
FAST = ["--num-beams", "1", "--max-new-tokens", "8"]


def test_cli_prints_the_summary_and_fails_when_a_video_failed(video_dir, tmp_path):
    videos = tmp_path / "videos"
    videos.mkdir()
    for name in ("ten.mp4", "mid.mp4", "bad.mp4"):
        shutil.copy(video_dir / name, videos / name)
    out = tmp_path / "pretrain.jsonl"
    result = runner.invoke(app, ["synthesize", "--videos", str(videos), "--store", str(tmp_path / "store"),
                                 "--out", str(out), "--preset", "tiny", "--device", "cpu", "--max-duration", "20",
                                 *FAST])
    assert result.exit_code == 1, result.output
    assert "1 done, 1 skipped (0 finished earlier), 1 failed" in result.stdout
    assert "rows written: 1 from 1 intervals; captions filtered: 0 empty, 0 repeated" in result.stdout
    assert "longer than max_duration=20 s" in result.stdout and "FAILED" in result.stdout
    assert [r.qid for r in read_annotations(out, "pretrain")] == ["ten_0_10"]
    # without the bad file and the duration limit (a run-only setting) the rerun completes the output
    (videos / "bad.mp4").unlink()
    again = runner.invoke(app, ["synthesize", "--videos", str(videos), "--store", str(tmp_path / "store"),
                                "--out", str(out), *FAST])
    assert again.exit_code == 0 and "1 done, 1 skipped (1 finished earlier), 0 failed" in again.stdout
    assert [r.qid for r in read_annotations(out, "pretrain")] == ["ten_0_10", "mid_0_10", "mid_10_20", "mid_20_30"]


def test_cli_refuses_bad_settings(tmp_path):
    result = runner.invoke(app, ["synthesize", "--videos", str(tmp_path), "--store", str(tmp_path / "s"),
                                 "--out", str(tmp_path / "o.jsonl"), "--frame-rule", "last"])
    assert result.exit_code == 2 and "'--frame-rule'" in result.stderr and "'middle', 'first', 'random'" in result.stderr
    result = runner.invoke(app, ["synthesize", "--videos", str(tmp_path / "nope"), "--store", str(tmp_path / "s"),
                                 "--out", str(tmp_path / "o.jsonl")])
    assert result.exit_code == 2 and "not a directory" in result.stderr
    if not torch.cuda.is_available():
        result = runner.invoke(app, ["synthesize", "--videos", str(tmp_path), "--store", str(tmp_path / "s"),
                                     "--out", str(tmp_path / "o.jsonl"), "--device", "cuda"])
        assert result.exit_code == 2 and "CUDA" in result.stderr
    (tmp_path / "v").mkdir()
    write_time_coded(tmp_path / "v" / "a.mp4", 10.0)
    result = runner.invoke(app, ["synthesize", "--videos", str(tmp_path / "v"), "--store", str(tmp_path / "s"),
                                 "--out", str(tmp_path / "o.jsonl"), "--preset", "paper",
                                 "--weights-dir", str(tmp_path / "weights")])
    assert result.exit_code == 2 and "blip2-opt-2.7b" in result.stderr


_CHILD = ("import typer, sys; from flows.synthesize_cli import synthesize; app = typer.Typer(); "
          "app.command()(synthesize); app()")


@pytest.mark.slow
def test_a_killed_run_resumes_without_redoing_or_duplicating(tmp_path):
    videos = tmp_path / "videos"
    videos.mkdir()
    for i in range(8):
        write_time_coded(videos / f"v{i}.mp4", 20.0)
    out, store = tmp_path / "pretrain.jsonl", tmp_path / "store"
    args = ["--videos", str(videos), "--store", str(store), "--out", str(out), *FAST]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    proc = subprocess.Popen([sys.executable, "-c", _CHILD, *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    progress = progress_path(out)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        if progress.exists() and len(progress.read_text().splitlines()) >= 3:  # manifest + 2 finished videos
            break
        time.sleep(0.02)
    assert proc.poll() is None, f"the run ended before it could be killed:\n{proc.stdout.read().decode()}"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    finished = len(progress.read_text().splitlines()) - 1
    assert 2 <= finished < 8
    result = runner.invoke(app, ["synthesize", *args])
    assert result.exit_code == 0, result.output
    assert f"{8 - finished} done, {finished} skipped ({finished} finished earlier), 0 failed" in result.stdout
    rows = read_annotations(out, "pretrain")
    assert sorted(r.qid for r in rows) == sorted(f"v{i}_{s}_{s + 10}" for i in range(8) for s in (0, 10))
    records = [json.loads(x) for x in progress.read_text().splitlines()[1:]]
    assert sorted(r["vid"] for r in records) == [f"v{i}" for i in range(8)]
