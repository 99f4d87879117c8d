"""Decode worker processes: the same features as decoding in threads, clips handed over in bounded
shared-memory slots, a bad video or a dead process failing its video alone, nothing left behind."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from pipeline.extract import ExtractConfig, build_video_extractors, extract_videos
from pipeline.extract.procs import DecodeProcess, ProcessJob, slot_bytes
from pipeline.video import DecodeStats, VideoDecodeError, probe_video
from storage import FeatureStore

CONFIG = ExtractConfig(extractors=("slowfast", "clip"), batch_size=4, crop_size=32, decode_workers=2,
                       decode_processes=True, decode=dict(chunk_seconds=4.0))


@pytest.fixture(scope="module")
def extractors():
    return build_video_extractors(CONFIG)


def _decode_processes() -> list[multiprocessing.process.BaseProcess]:
    return [p for p in multiprocessing.active_children() if p.name == "videolights-decode"]


def _segments() -> set[str]:
    return set(os.listdir("/dev/shm")) if os.path.isdir("/dev/shm") else set()


def test_processes_give_the_features_of_threads_and_leave_nothing_behind(tmp_path, make_video, extractors):
    videos = [make_video(f"v{i}.mp4", seconds=s, fps=fps) for i, (s, fps) in enumerate([(9.0, 10), (5.0, 25), (3.0, 30)])]
    before = _segments()
    stores = {}
    for processes in (True, False):
        stores[processes] = FeatureStore(tmp_path / f"store-{processes}")
        config = CONFIG.model_copy(update={"decode_processes": processes})
        records = extract_videos(videos, stores[processes], extractors, config)
        assert [r.status for r in records] == ["done"] * 3
    for path in videos:
        for name in extractors:
            np.testing.assert_array_equal(stores[True].read_video(name, path.stem), stores[False].read_video(name, path.stem))
    assert not _decode_processes()  # stopped and joined
    assert _segments() <= before  # every shared-memory slot unlinked


def test_a_bad_video_fails_alone_with_its_reason(tmp_path, make_video, extractors):
    good = make_video("good.mp4", seconds=3.0)
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video at all" * 100)
    records = extract_videos([bad, good], FeatureStore(tmp_path / "store"), extractors, CONFIG)
    assert [r.status for r in records] == ["failed", "done"]
    assert "not a readable media file" in records[0].reason


def _job(path: Path, extractors) -> ProcessJob:
    consumers = {name: ext.sampling for name, ext in extractors.items()}
    return ProcessJob(vid=path.stem, path=str(path), info=probe_video(path), consumers=consumers,
                      needed=tuple(extractors), clip_seconds=2.0, chunk_seconds=4.0, backend="auto")


def _process(extractors, slots: int = 2) -> DecodeProcess:
    preprocessors = {name: ext.without_network() for name, ext in extractors.items()}
    return DecodeProcess(preprocessors, slots, slot_bytes(preprocessors, 2.0, 4.0))


def test_a_process_runs_at_most_its_slots_ahead_of_the_engine(make_video, extractors):
    path = make_video("long.mp4", seconds=24.0)  # 6 chunks of 4 s
    process = _process(extractors, slots=2)
    try:
        chunks = process.decode(_job(path, extractors), stats=DecodeStats())
        held = [next(chunks), next(chunks)]
        assert process.starved and not process._results.poll(1.0)  # waits for a slot: memory stays flat
        first, clips, _, lease = held[0]
        assert first == 0 and len(clips["slowfast"]) == 2 and clips["slowfast"][0].shape == (32, 32, 32, 3)
        for _ in extractors:
            lease.done()  # every extractor's clips were batched: the slot is free again
        assert next(chunks)[0] == 4
        for _, _, _, held_lease in held[1:]:
            for _ in extractors:
                held_lease.done()
    finally:
        process.close()
    assert not process.alive


def test_slots_have_no_name_once_mapped_so_a_killed_run_leaves_no_shared_memory(extractors):
    before = _segments()
    process = _process(extractors)
    try:
        assert _segments() <= before  # unlinked already: freed when the last process mapping them ends
        assert all(not os.path.exists(f"/dev/shm/{segment.name.lstrip('/')}") for segment in process.slots)
    finally:
        process.close()


def test_a_dead_decoder_process_fails_its_video_with_the_reason(tmp_path, make_video, extractors):
    path = make_video("v.mp4", seconds=3.0)
    process = _process(extractors)
    try:
        process.process.kill()
        process.process.join()
        with pytest.raises(VideoDecodeError, match="decoder process died"):
            list(process.decode(_job(path, extractors), stats=DecodeStats()))
    finally:
        process.close()


RUN = textwrap.dedent("""
    import sys, multiprocessing
    from pipeline.extract import ExtractConfig, build_video_extractors, extract_videos
    from pipeline.extract import procs
    from storage import FeatureStore

    config = ExtractConfig(extractors=("slowfast",), crop_size=32, decode_workers=2, batch_size=2,
                           decode_processes=True)
    extractors = build_video_extractors(config)
    started = procs.DecodeProcess.__init__
    def announce(self, *args, **kwargs):
        started(self, *args, **kwargs)
        print("pid", self.process.pid, flush=True)
    procs.DecodeProcess.__init__ = announce
    extract_videos(sys.argv[2:], FeatureStore(sys.argv[1]), extractors, config)
""")


@pytest.mark.slow  # a fresh interpreter imports torch and the extractors (~10 s on two cores)
def test_ctrl_c_stops_the_run_and_its_decoder_processes(tmp_path, make_video):
    videos = [str(make_video(f"v{i}.mp4", seconds=130.0, fps=30, width=160, height=90)) for i in range(6)]
    proc = subprocess.Popen([sys.executable, "-c", RUN, str(tmp_path / "store"), *videos], stdout=subprocess.PIPE,
                            text=True, start_new_session=True)
    pids = [int(proc.stdout.readline().split()[1]) for _ in range(2)]
    time.sleep(0.5)  # decoding (780 video-s: several seconds even on a quiet machine)
    assert proc.poll() is None, "the run ended before Ctrl-C; give it more work"
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C reaches the whole foreground process group
    assert proc.wait(timeout=60) != 0
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in pids)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/stat")
    return not (status.exists() and status.read_text().split()[2] == "Z")


def test_auto_decodes_in_processes_only_with_several_decoders_on_four_or_more_cores(monkeypatch):
    auto = ExtractConfig(extractors=("clip",), decode_workers=2)
    assert auto.decode_processes == "auto"
    monkeypatch.setattr(os, "cpu_count", lambda: 2)  # one decoder already keeps both cores busy
    assert not auto.decodes_in_processes()
    assert auto.model_copy(update={"decode_processes": True}).decodes_in_processes()
    monkeypatch.setattr(os, "cpu_count", lambda: 16)
    assert auto.decodes_in_processes()
    assert not auto.model_copy(update={"decode_workers": 1}).decodes_in_processes()
    assert not auto.model_copy(update={"decode_processes": False}).decodes_in_processes()
