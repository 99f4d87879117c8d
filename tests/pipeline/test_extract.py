"""The extraction engine with tiny real encoders: shapes, routing, one decode pass, skip/redo, failures."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.extract import ExtractConfig, build_text_encoders, build_video_extractors, extract_queries, extract_videos
from pipeline.video import decode_clips
from storage import FeatureStore

CONFIG = ExtractConfig(batch_size=16)


@pytest.fixture(scope="module")
def extractors():
    return build_video_extractors(CONFIG)


def test_charades_clip_all_three_extractors_one_decode_pass(tmp_path, charades_video, extractors):
    store = FeatureStore(tmp_path / "store")
    stats = {}
    records = extract_videos([charades_video], store, extractors, CONFIG, decode_stats=stats)
    assert [(r.status, r.n_clips) for r in records] == [("done", 16)]
    assert stats["charades_example"].opens == 1  # one decode pass feeds slowfast, clip and blip2
    for name, ext in extractors.items():
        feats = store.read_video(name, "charades_example")
        # the public extractors' counts: SlowFast ceil(30.7 / 2) = 16, CLIP and BLIP-2 round(30.7 / 2) = 15
        assert feats.shape == (16 if name == "slowfast" else 15, ext.dim) and feats.dtype == np.float16
        attrs = store.attrs("video", name, "charades_example")
        assert attrs["tiny"] is True and attrs["spec"]["weights_id"].startswith("tiny:")
        assert attrs["spec"]["sampling"] == ext.sampling.model_dump(mode="json")


def test_features_equal_each_extractor_on_its_own_decode(tmp_path, make_video, extractors):
    """Routing + batching across videos: the engine's rows equal encode_video on frames decoded for
    that extractor alone (different lengths so batches straddle videos)."""
    videos = [make_video(f"v{i}.mp4", seconds=s, fps=fps) for i, (s, fps) in enumerate([(5.0, 10), (9.0, 25), (3.0, 30)])]
    store = FeatureStore(tmp_path / "store")
    extract_videos(videos, store, extractors, CONFIG.model_copy(update={"decode_workers": 2}))
    for path in videos:
        for name, ext in extractors.items():
            clips = [c for chunk in decode_clips(path, {name: ext.sampling}) for c in chunk.frames[name]]
            expected = ext.encode_video(clips, batch_size=1)
            np.testing.assert_allclose(store.read_video(name, path.stem), expected.astype(np.float16),
                                       rtol=2e-3, atol=2e-3)


def test_rerun_skips_and_a_new_extractor_version_redoes_only_that_extractor(tmp_path, make_video, extractors):
    videos = [make_video("a.mp4", seconds=3.0), make_video("b.mp4", seconds=4.0)]
    store = FeatureStore(tmp_path / "store")
    extract_videos(videos, store, extractors, CONFIG)
    created = {(n, v.stem): store.attrs("video", n, v.stem)["created"] for n in extractors for v in videos}
    assert [r.status for r in extract_videos(videos, store, extractors, CONFIG)] == ["skipped", "skipped"]

    clip = extractors["clip"]
    bumped = type("ClipV2", (type(clip),), {"version": clip.version + ".next"})
    newer = dict(extractors, clip=bumped(clip.model, preset=clip.preset, weights_id=clip.weights_id))
    records = extract_videos(videos, store, newer, CONFIG)
    assert [(r.status, r.extractors) for r in records] == [("done", ["clip"]), ("done", ["clip"])]
    for (name, vid), when in created.items():
        changed = store.attrs("video", name, vid)["created"] != when
        assert changed == (name == "clip"), (name, vid)


def test_a_bad_video_fails_alone(tmp_path, make_video, extractors):
    good = make_video("good.mp4", seconds=3.0)
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00" * 1000)
    store = FeatureStore(tmp_path / "store")
    records = {r.vid: r for r in extract_videos([bad, good], store, extractors, CONFIG)}
    assert records["good"].status == "done" and records["bad"].status == "failed"
    assert "not a readable media file" in records["bad"].reason
    assert store.keys("video", "clip") == ["good"]


def test_queries_are_encoded_once_and_again_when_edited(tmp_path):
    store = FeatureStore(tmp_path / "store")
    encoders = build_text_encoders(CONFIG)
    queries = {"1": "a man opens the fridge", "2": "a dog runs on the beach"}
    assert extract_queries(queries, store, encoders) == {"clip": 2, "blip2": 2}
    assert extract_queries(queries, store, encoders) == {"clip": 0, "blip2": 0}
    assert extract_queries({**queries, "2": "a cat sleeps"}, store, encoders) == {"clip": 1, "blip2": 1}
    tokens, pooled = store.read_text("clip", "1")
    assert tokens.ndim == 2 and tokens.shape[1] == encoders["clip"].dim and pooled.shape == (encoders["clip"].dim,)
    assert store.read_text("blip2", "1")[0].shape[1] == encoders["blip2"].dim


def test_the_clip_grid_is_recorded_on_the_extraction_pass(tmp_path, make_video, extractors):
    """GridTap: the decode stage's clip grid comes from the extraction's own decode (one open per
    video) and equals what the decode stage writes decoding the video itself."""
    from pipeline.extract import GRID_EXTRACTOR, DecodeConfig, GridTap, decode_video_to_store

    videos = [make_video("a.mp4", seconds=5.0, fps=10), make_video("b.mp4", seconds=7.3, fps=25)]
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00" * 1000)
    store, alone = FeatureStore(tmp_path / "store"), FeatureStore(tmp_path / "alone")
    config = DecodeConfig(short_side=CONFIG.decode.short_side)
    tap, stats = GridTap(store, config), {}
    records = extract_videos([*videos, bad], store, {"clip": extractors["clip"]}, CONFIG, decode_stats=stats,
                             taps=[tap])
    assert [r.status for r in records] == ["done", "done", "failed"]
    assert {vid: s.opens for vid, s in stats.items()} == {"a": 1, "b": 1}
    assert sorted((r.vid, r.status) for r in tap.records) == [("a", "done"), ("b", "done")]  # bad: extract's record
    for path in videos:
        decode_video_to_store(path, alone, config)
        np.testing.assert_array_equal(store.read_video(GRID_EXTRACTOR, path.stem), alone.read_video(GRID_EXTRACTOR, path.stem))
        ours, theirs = store.attrs("video", GRID_EXTRACTOR, path.stem), alone.attrs("video", GRID_EXTRACTOR, path.stem)
        for key in ("n_clips", "duration", "fps", "spec", "source"):
            assert ours[key] == theirs[key], key
        # the decode stage sees the entry as current: it has nothing left to do
        assert decode_video_to_store(path, store, config).status == "skipped"

    # features and grids current: nothing is decoded again; a forced grid is rewritten from a clip-free pass
    stats = {}
    assert [r.status for r in extract_videos(videos, store, {"clip": extractors["clip"]}, CONFIG, decode_stats=stats,
                                             taps=[GridTap(store, config)])] == ["skipped", "skipped"]
    assert stats == {}
    forced = GridTap(store, config, force=True)
    extract_videos(videos, store, {"clip": extractors["clip"]}, CONFIG, decode_stats=stats, taps=[forced])
    assert sorted(r.vid for r in forced.records if r.status == "done") == ["a", "b"] and len(stats) == 2
