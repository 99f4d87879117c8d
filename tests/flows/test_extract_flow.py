"""The extract flow and CLI on real Prefect: annotations in, features out, a killed run resuming."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from timecode import time_coded_frames
from pipeline.video.writer import write_video
from storage import FeatureStore

pytestmark = pytest.mark.usefixtures("prefect_harness")


def _dataset(tmp_path, n_videos: int, seconds: float = 6.0):
    videos = tmp_path / "videos"
    videos.mkdir()
    rows = []
    for i in range(n_videos):
        vid = f"vid{i:02d}"
        write_video(videos / f"{vid}.mp4", time_coded_frames(96, 64), int(seconds * 10), fps=10, width=96, height=64)
        rows.append({"qid": i, "query": f"query number {i}", "duration": seconds, "vid": vid,
                     "relevant_windows": [[0, 2]], "relevant_clip_ids": [0], "saliency_scores": [[1, 2, 3]]})
    ann = tmp_path / "ann.jsonl"
    ann.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return videos, ann


def _env() -> dict[str, str]:
    from prefect.settings import PREFECT_API_URL

    return {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value(), "PREFECT_LOGGING_LEVEL": "WARNING"}


def test_extract_flow_fills_the_store_and_names_missing_videos(tmp_path):
    from flows.extract import extract_flow
    from pipeline.extract import ExtractConfig

    videos, ann = _dataset(tmp_path, 2)
    with ann.open("a") as handle:
        handle.write(json.dumps({"qid": 9, "query": "no video", "duration": 6, "vid": "gone",
                                 "relevant_windows": [[0, 2]], "relevant_clip_ids": [0],
                                 "saliency_scores": [[1, 1, 1]]}) + "\n")
    store_url = str(tmp_path / "store")
    state = extract_flow(store=store_url, video_dir=str(videos), annotations=str(ann),
                         config=ExtractConfig(extractors=("clip", "slowfast")), shard_size=1, return_state=True)
    assert state.is_failed() and state.message == "1 of 3 videos failed; listed in artifact 'extract-summary'"
    summary = state.result(raise_on_failure=False)
    assert (summary.done, summary.failed) == (2, 1)
    assert "no video file named gone" in summary.failures[0].reason
    assert any("queries: 3 clip encoded" in note for note in summary.notes)
    store = FeatureStore(store_url)
    assert store.keys("video", "clip") == ["vid00", "vid01"] and store.keys("video", "slowfast") == ["vid00", "vid01"]
    assert store.keys("text", "clip") == ["0", "1", "9"] and store.keys("video", "blip2") == []
    again = extract_flow(store=store_url, video_dir=str(videos), annotations=str(ann),
                         config=ExtractConfig(extractors=("clip", "slowfast")), return_state=True)
    assert again.is_failed()  # "gone" is still missing
    assert (again.result(raise_on_failure=False).done, again.result(raise_on_failure=False).skipped) == (0, 2)


def test_killed_extract_cli_resumes_without_redoing_finished_videos(tmp_path):
    videos, ann = _dataset(tmp_path, 8, seconds=10.0)
    store_url = str(tmp_path / "store")
    cmd = [sys.executable, "-m", "flows.cli", "extract", "--videos", str(videos), "--dataset", str(ann),
           "--store", store_url, "--extractors", "slowfast,clip", "--shard-size", "2"]
    proc = subprocess.Popen(cmd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    store = FeatureStore(store_url)
    deadline = time.monotonic() + 240
    while len(set(store.keys("video", "clip")) & set(store.keys("video", "slowfast"))) < 1:
        assert proc.poll() is None, proc.stdout.read().decode()
        assert time.monotonic() < deadline, "no video finished within 240 s"
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done = set(store.keys("video", "clip")) & set(store.keys("video", "slowfast"))
    created = {v: store.attrs("video", "clip", v)["created"] for v in done}
    assert 1 <= len(done) < 8, done

    rerun = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert f"{len(done)} skipped, 0 failed" in rerun.stdout
    assert {v: store.attrs("video", "clip", v)["created"] for v in done} == created
    assert len(store.keys("video", "slowfast")) == 8 and len(store.keys("text", "clip")) == 8


def test_what_rides_on_the_pass_must_share_its_clip_grid() -> None:
    from flows.extract import SharedDecode
    from pipeline.extract import DecodeConfig
    from pipeline.extract import ExtractConfig

    config = ExtractConfig(decode=DecodeConfig(clip_seconds=1.0))
    SharedDecode(grid=DecodeConfig(clip_seconds=1.0)).check(config)
    with pytest.raises(ValueError, match=r"shared\.grid: clip_seconds=2 differs from the extraction's "
                                         r"decode\.clip_seconds=1"):
        SharedDecode(grid=DecodeConfig(clip_seconds=2.0)).check(config)
