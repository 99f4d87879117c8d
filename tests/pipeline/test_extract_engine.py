"""The extraction engine's message paths, one typed message at a time (pipeline.extract.messages)."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.extract import ExtractConfig, ExtractionEngine, VideoJob, build_video_extractors
from pipeline.extract.messages import ClipsReady, VideoDecoded, VideoDeferred, VideoFailed, WorkerCrashed
from storage import FeatureStore

CONFIG = ExtractConfig(extractors=("clip",), batch_size=3, crop_size=32)


@pytest.fixture(scope="module")
def extractors():
    return build_video_extractors(CONFIG)


@pytest.fixture()
def engine(tmp_path, make_video, extractors):
    videos = {vid: make_video(f"{vid}.mp4", seconds=4.0) for vid in ("a", "b")}
    store = FeatureStore(tmp_path / "store")
    jobs = [VideoJob(vid=vid, path=path, needed=["clip"], planned=("clip",)) for vid, path in videos.items()]
    for job in jobs:
        job.claim = store.try_claim(job.entry_names())
    return ExtractionEngine(jobs, store, extractors, CONFIG)


def _clips(extractors, n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    frames = [rng.integers(0, 255, (1, 32, 32, 3), dtype=np.uint8) for _ in range(n)]
    return [extractors["clip"].preprocess_clip(f) for f in frames]


def test_clip_chunks_are_batched_across_videos_and_encoded_when_a_batch_fills(engine, extractors):
    engine.handle(ClipsReady("a", "clip", 0, _clips(extractors, 2)))
    assert len(engine.batches["clip"]) == 2 and not engine.by_vid["a"].rows["clip"]  # batch of 3 not full
    engine.handle(ClipsReady("b", "clip", 0, _clips(extractors, 1, seed=1)))
    assert "clip" not in engine.batches  # flushed: three clips of two videos in one network call
    assert sorted(engine.by_vid["a"].rows["clip"]) == [0, 1] and sorted(engine.by_vid["b"].rows["clip"]) == [0]
    assert not engine.finished  # neither video is known to be decoded to its end


def test_a_finished_video_is_written_once_all_its_clips_are_encoded(engine, extractors):
    engine.handle(ClipsReady("a", "clip", 0, _clips(extractors, 2)))
    engine.handle(VideoDecoded("a", {"clip": 2}))
    assert not engine.finished  # decoded, but two clips still wait in the batch
    engine.handle(ClipsReady("b", "clip", 0, _clips(extractors, 1)))  # fills the batch: encodes a's clips too
    record = engine.finished["a"]
    assert (record.status, record.n_clips, record.extractors) == ("done", 2, ["clip"])
    assert engine.store.read_video("clip", "a").shape == (2, extractors["clip"].dim)
    assert engine.store.try_claim(engine.by_vid["a"].entry_names()) is not None  # its claim was released


def test_a_deferred_video_waits_for_the_other_run(engine):
    engine.handle(VideoDeferred("b"))
    assert engine.deferred == [engine.by_vid["b"]] and "b" not in engine.finished


def test_a_failed_video_drops_its_clips_and_fails_alone(engine, extractors):
    engine.handle(ClipsReady("a", "clip", 0, _clips(extractors, 1)))
    engine.handle(ClipsReady("b", "clip", 0, _clips(extractors, 1)))
    engine.handle(VideoFailed("a", "truncated: frames stop at 1.0 s of 4.0 s"))
    record = engine.finished["a"]
    assert (record.status, record.reason) == ("failed", "truncated: frames stop at 1.0 s of 4.0 s")
    assert [vid for vid, *_ in engine.batches["clip"]] == ["b"]
    assert "a" not in engine.store.keys("video", "clip")


def test_a_crashed_worker_stops_the_run_naming_the_video(engine):
    with pytest.raises(RuntimeError, match=r"extraction stopped at .*a\.mp4: ValueError\('boom'\)"):
        engine.handle(WorkerCrashed("a", ValueError("boom")))
