"""A folder of crafted bad inputs beside two good videos: every stage fails each bad one in one line,
finishes the good ones and exits non-zero (tests through the real command line)."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from timecode import remux_faststart, time_coded_frames
from pipeline.video.writer import write_video
from storage import FeatureStore

GOOD = ["good_a", "good_b"]
BAD_NAMES = {"__reserved": "starts with '__'", "tab\tname": "control character", "trailing ": "whitespace"}
CUTS = {"cut10": 0.1, "cut50": 0.5, "cut90": 0.9}


@pytest.fixture(scope="module")
def crafted(charades_video, tmp_path_factory):
    folder = tmp_path_factory.mktemp("crafted") / "videos"
    folder.mkdir()
    for i, vid in enumerate(GOOD):
        write_video(folder / f"{vid}.mp4", time_coded_frames(64, 48), 50 + 10 * i, fps=10)
    for name in BAD_NAMES:
        write_video(folder / f"{name}.mp4", time_coded_frames(64, 48), 30, fps=10)
    whole = remux_faststart(charades_video, folder.parent / "charades_fs.mp4").read_bytes()
    for name, fraction in CUTS.items():
        (folder / f"{name}.mp4").write_bytes(whole[: int(len(whole) * fraction)])
    return folder


def _run(env, *args, timeout=600):
    return subprocess.run([sys.executable, "-m", "flows.cli", *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


def _check_report(out: str, step: str, n_done: int) -> None:
    assert re.search(rf"{step}: {n_done} done, 0 skipped( \(0 finished earlier\))?, {len(BAD_NAMES) + len(CUTS)} failed", out), out
    failed = [line for line in out.splitlines() if line.strip().startswith("FAILED")]
    for name, reason in BAD_NAMES.items():
        lines = [line for line in failed if f"{name}.mp4:" in line]
        assert len(lines) == 1 and reason in lines[0] and "rename" in lines[0], (name, failed)
    for name in CUTS:
        lines = [line for line in failed if f"{name}.mp4:" in line]
        assert len(lines) == 1 and "truncated: frames stop at" in lines[0] and "of 30.7 s" in lines[0], (name, failed)


def test_decode_fails_each_bad_file_and_records_the_good(crafted, tmp_path, cli_env):
    store = tmp_path / "store"
    done = _run(cli_env, "decode", str(crafted), "--store", str(store))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    _check_report(done.stdout, "decode", len(GOOD))
    assert sorted(FeatureStore(str(store)).keys("video", "clips")) == GOOD


def test_extract_without_annotations_fails_each_bad_file_once(crafted, tmp_path, cli_env):
    store = tmp_path / "store"
    done = _run(cli_env, "extract", "--videos", str(crafted), "--store", str(store), "--extractors", "clip")
    assert done.returncode == 1, done.stdout + done.stderr
    out = done.stdout + done.stderr
    assert "Traceback" not in out and "Retrying" not in out and "retry" not in out.lower()
    _check_report(done.stdout, "extract", len(GOOD))
    assert sorted(FeatureStore(str(store)).keys("video", "clip")) == GOOD  # no frozen features stored


def test_synthesize_fails_each_bad_file_once(crafted, tmp_path, cli_env):
    done = _run(cli_env, "synthesize", "--videos", str(crafted), "--store", str(tmp_path / "store"),
                "--out", str(tmp_path / "rows.jsonl"))
    assert done.returncode == 1, done.stdout + done.stderr
    _check_report(done.stdout, "synthesize", len(GOOD))
