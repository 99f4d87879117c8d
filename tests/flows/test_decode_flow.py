"""The decode flow on real Prefect (temporary server): skips, redo, failures, a killed run resuming."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from timecode import time_coded_frames
from pipeline.video.writer import write_video
from storage import FeatureStore

pytestmark = pytest.mark.usefixtures("prefect_harness")


def _videos(folder: Path, n: int, seconds: float = 5.0, fps: int = 10, size=(64, 48)) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        path = folder / f"video_{i:02d}.mp4"
        write_video(path, time_coded_frames(*size), int(seconds * fps) + i, fps=fps, width=size[0], height=size[1])
        paths.append(str(path))
    return paths


def _created(store: FeatureStore, vid: str) -> str:
    return store.attrs("video", "clips", vid)["created"]


def test_decode_flow_records_grids_and_reports_bad_videos(tmp_path):
    from flows.decode import decode_flow

    videos = _videos(tmp_path / "videos", 2)
    bad = tmp_path / "videos" / "broken.mp4"
    bad.write_text("not a video")
    store_url = str(tmp_path / "store")
    state = decode_flow(videos=videos + [str(bad)], store=store_url, return_state=True)
    assert state.is_failed() and state.message == "1 of 3 videos failed; listed in artifact 'decode-summary'"
    summary = state.result(raise_on_failure=False)
    assert (summary.done, summary.skipped, summary.failed) == (2, 0, 1)
    assert summary.failures[0].item == str(bad) and "not a readable media file" in summary.failures[0].reason
    assert "FAILED" in summary.text() and str(bad) in summary.text()
    store = FeatureStore(store_url)
    attrs = store.attrs("video", "clips", "video_00")
    assert attrs["n_clips"] == 3 and attrs["duration"] == pytest.approx(5.0) and attrs["fps"] == pytest.approx(10)
    assert store.read_video("clips", "video_01").tolist() == [[0.0, 2.0], [2.0, 4.0], [4.0, 5.1]]


def test_rerun_skips_current_and_redoes_deleted_or_changed(tmp_path):
    from flows.decode import decode_flow

    videos = _videos(tmp_path / "videos", 3)
    store_url = str(tmp_path / "store")
    decode_flow(videos=videos, store=store_url)
    store = FeatureStore(store_url)
    before = {v: _created(store, v) for v in ("video_00", "video_01", "video_02")}

    again = decode_flow(videos=videos, store=store_url)  # nothing failed: the run COMPLETED, its summary returned
    assert (again.done, again.skipped) == (0, 3)
    assert {v: _created(store, v) for v in before} == before

    store.delete("video", "clips", "video_01")
    write_video(videos[2], time_coded_frames(64, 48), 80, fps=10)  # the file changed on disk
    third = decode_flow(videos=videos, store=store_url)
    assert (third.done, third.skipped) == (2, 1)
    assert _created(store, "video_00") == before["video_00"]
    assert _created(store, "video_01") != before["video_01"]
    assert store.attrs("video", "clips", "video_02")["n_clips"] == 4


def _api_env() -> dict[str, str]:
    """The environment for a CLI subprocess, talking to this session's Prefect server."""
    from prefect.settings import PREFECT_API_URL

    env = dict(os.environ)
    env["PREFECT_API_URL"] = PREFECT_API_URL.value()
    env["PREFECT_LOGGING_LEVEL"] = "WARNING"
    return env


def test_killed_cli_run_resumes_without_redoing_finished_videos(tmp_path):
    videos = _videos(tmp_path / "videos", 10, seconds=40, fps=10, size=(320, 240))
    (tmp_path / "videos" / "zz_empty.mp4").write_bytes(b"")
    store_url = str(tmp_path / "store")
    cmd = [sys.executable, "-m", "flows.cli", "decode", str(tmp_path / "videos"), "--store", store_url,
           "--workers", "1", "--backend", "pyav"]
    proc = subprocess.Popen(cmd, env=_api_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    store = FeatureStore(store_url)
    deadline = time.monotonic() + 120
    while not store.keys("video", "clips"):
        assert proc.poll() is None, proc.stdout.read().decode()
        assert time.monotonic() < deadline, "no video finished within 120 s"
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    finished = {v: _created(store, v) for v in store.keys("video", "clips")}
    assert 1 <= len(finished) < len(videos), finished

    rerun = subprocess.run(cmd, env=_api_env(), capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 1, rerun.stdout + rerun.stderr  # the empty file failed
    assert f"decode: {len(videos) - len(finished)} done, {len(finished)} skipped, 1 failed" in rerun.stdout
    assert "zz_empty.mp4: empty file (0 bytes)" in rerun.stdout
    assert {v: _created(store, v) for v in finished} == finished
    assert len(store.keys("video", "clips")) == len(videos)


def test_cli_exit_status_is_zero_when_nothing_failed(tmp_path):
    _videos(tmp_path / "videos", 2)
    cmd = [sys.executable, "-m", "flows.cli", "decode", str(tmp_path / "videos"), "--store", str(tmp_path / "s")]
    done = subprocess.run(cmd, env=_api_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "decode: 2 done, 0 skipped, 0 failed" in done.stdout


def test_cli_refuses_a_missing_folder(tmp_path):
    cmd = [sys.executable, "-m", "flows.cli", "decode", str(tmp_path / "nope"), "--store", str(tmp_path / "s")]
    done = subprocess.run(cmd, env=_api_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "not a directory of videos" in done.stderr


def test_decode_info_records_are_in_the_run_logs(tmp_path):
    from run_logs import run_log_records

    from flows.decode import decode_flow

    videos = _videos(tmp_path / "videos", 2)
    state = decode_flow(videos=videos, store=str(tmp_path / "store"), return_state=True)
    assert state.is_completed()
    records = run_log_records(state.state_details.flow_run_id)
    decoded = [m for name, level, m in records if name == "pipeline.extract.grid" and level == logging.INFO]
    assert sorted(m.split(":")[0] for m in decoded) == ["video_00", "video_01"], records
    assert any("decode: 2 done, 0 skipped, 0 failed" in m for _, _, m in records)  # the summary, logged
