"""The Zarr feature store: round trips, attributes, completion flag, staleness, key validation."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from storage import EntrySpec, FeatureStore, InvalidKeyError, fingerprint_file, fingerprint_text, validate_key

SPEC = EntrySpec(extractor="clip", version="1", weights_id="tiny:seed0", preset="tiny", clip_seconds=2.0,
                 sampling={"kind": "frames_per_clip", "offsets": [0.0], "short_side": 224})


@pytest.fixture()
def source(tmp_path):
    path = tmp_path / "video.mp4"
    path.write_bytes(b"pretend video bytes")
    return path


def test_video_round_trip_and_attributes(tmp_path, source):
    store = FeatureStore(tmp_path / "store")
    feats = np.random.default_rng(0).normal(size=(16, 512)).astype(np.float32)
    store.write_video("clip", "vid_1.0_3.0", feats, SPEC, fingerprint_file(source))
    got = store.read_video("clip", "vid_1.0_3.0")
    assert got.dtype == np.float16 and got.shape == (16, 512)
    np.testing.assert_array_equal(got, feats.astype(np.float16))
    attrs = store.attrs("video", "clip", "vid_1.0_3.0")
    assert attrs["complete"] is True and attrs["tiny"] is True
    assert attrs["spec"]["version"] == "1" and attrs["spec"]["weights_id"] == "tiny:seed0"
    assert attrs["spec"]["clip_seconds"] == 2.0 and attrs["spec"]["sampling"]["kind"] == "frames_per_clip"
    assert attrs["source"]["size"] == source.stat().st_size and len(attrs["source"]["content_hash"]) == 32
    assert attrs["shape"] == [16, 512] and attrs["created"].endswith("+00:00")
    # the layout is plain Zarr v3 that any reader can open
    import zarr

    arr = zarr.open_group(str(tmp_path / "store"), mode="r")["video/clip/vid_1.0_3.0"]
    assert arr.metadata.zarr_format == 3 and arr.shape == (16, 512)
    assert store.keys("video", "clip") == ["vid_1.0_3.0"]
    assert store.extractors("video") == ["clip"]


def test_text_round_trip_with_and_without_pooled(tmp_path):
    store = FeatureStore(tmp_path / "store")
    tokens = np.arange(12, dtype=np.float32).reshape(3, 4)
    spec = EntrySpec(extractor="clip", version="1", weights_id="tiny:seed0", preset="tiny")
    store.write_text("clip", 2579, tokens, np.ones(4), spec, fingerprint_text("a man cooks"))
    store.write_text("blip2", "q2", tokens, None, spec.model_copy(update={"extractor": "blip2"}), fingerprint_text("x"))
    got, pooled = store.read_text("clip", 2579)
    np.testing.assert_array_equal(got, tokens)
    np.testing.assert_array_equal(pooled, np.ones(4))
    assert store.read_text("blip2", "q2")[1] is None
    assert store.keys("text", "clip") == ["2579"]


def test_a_reopened_store_sees_the_same_entries(tmp_path, source):
    FeatureStore(tmp_path / "s").write_video("clip", "v", np.ones((2, 3)), SPEC, fingerprint_file(source))
    reopened = FeatureStore(tmp_path / "s", mode="r")
    assert reopened.read_video("clip", "v").shape == (2, 3)
    with pytest.raises(FileNotFoundError, match="no feature store"):
        FeatureStore(tmp_path / "nowhere", mode="r")


def test_entry_whose_writer_was_killed_before_the_flag_is_invisible_and_redone(tmp_path, source):
    url = str(tmp_path / "store")
    FeatureStore(url)
    # a real writer process: it writes the array and its attributes, then dies before the flag
    script = textwrap.dedent(f"""
        import os, signal, numpy as np
        from storage import FeatureStore
        store = FeatureStore({url!r})
        node = store.root.create_array("video/clip/v1", shape=(4, 8), dtype="float16", attributes={{"shape": [4, 8]}})
        node[...] = np.ones((4, 8))
        os.kill(os.getpid(), signal.SIGKILL)
        node.attrs["complete"] = True
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True)
    assert proc.returncode == -signal.SIGKILL
    store = FeatureStore(url)
    assert store.attrs("video", "clip", "v1") is None
    assert store.keys("video", "clip") == []
    with pytest.raises(KeyError, match="no complete entry video/clip/v1"):
        store.read_video("clip", "v1")
    assert store.status("video", "clip", "v1", SPEC, source).state == "missing"
    store.write_video("clip", "v1", np.zeros((4, 8)), SPEC, fingerprint_file(source))
    assert store.status("video", "clip", "v1", SPEC, source).state == "current"
    assert store.read_video("clip", "v1").sum() == 0


def test_corrupt_entry_metadata_reads_as_missing(tmp_path, source):
    store = FeatureStore(tmp_path / "store")
    store.write_video("clip", "v1", np.ones((2, 2)), SPEC, fingerprint_file(source))
    (tmp_path / "store" / "video" / "clip" / "v1" / "zarr.json").write_text('{"zarr_format": 3, "node_ty')
    assert store.attrs("video", "clip", "v1") is None
    assert store.status("video", "clip", "v1", SPEC).state == "missing"


def test_staleness_on_version_weights_sampling_or_source_change(tmp_path, source):
    store = FeatureStore(tmp_path / "store")
    store.write_video("clip", "v", np.ones((2, 4)), SPEC, fingerprint_file(source))
    assert store.status("video", "clip", "v", SPEC, source).state == "current"
    for change in ({"version": "2"}, {"weights_id": "open_clip:ViT-B-32/openai"}, {"preset": "paper"},
                   {"clip_seconds": 1.0}, {"sampling": {"kind": "frames_per_clip", "offsets": [0.5], "short_side": 224}}):
        st = store.status("video", "clip", "v", SPEC.model_copy(update=change), source)
        assert st.state == "stale" and next(iter(change)) in st.reason
    # touching the file (same bytes, new mtime) keeps it current; new bytes make it stale
    os.utime(source, ns=(time.time_ns(), time.time_ns() + 10**9))
    assert store.status("video", "clip", "v", SPEC, source).state == "current"
    source.write_bytes(b"other video bytes!!")
    st = store.status("video", "clip", "v", SPEC, source)
    assert st.state == "stale" and st.reason == "source changed"


def test_plan_lists_missing_and_stale_entries(tmp_path, source):
    store = FeatureStore(tmp_path / "store")
    other = tmp_path / "other.mp4"
    other.write_bytes(b"x")
    store.write_video("clip", "a", np.ones((1, 2)), SPEC, fingerprint_file(source))
    store.write_video("clip", "b", np.ones((1, 2)), SPEC.model_copy(update={"version": "0"}), fingerprint_file(other))
    plan = store.plan("video", "clip", {"a": source, "b": other, "c": other}, SPEC)
    assert plan.current == ["a"] and plan.missing == ["c"] and list(plan.stale) == ["b"]
    assert plan.todo == ["c", "b"]


@pytest.mark.parametrize("key", ["../x", "a/b", "", "a\x00b", "tab\there", "..", "__meta", "back\\slash", " pad"])
def test_bad_keys_are_refused(tmp_path, key):
    with pytest.raises(InvalidKeyError):
        validate_key(key)
    store = FeatureStore(tmp_path / "store")
    with pytest.raises(InvalidKeyError):
        store.write_video("clip", key, np.ones((1, 2)), SPEC, fingerprint_text("x"))
    assert not any((tmp_path / "store").rglob("x"))


def test_refused_key_names_the_row():
    with pytest.raises(InvalidKeyError, match=r"vid '../x' \(row 7\): contains a path separator"):
        validate_key("../x", "vid", row=7)
    assert validate_key(2579) == "2579" and validate_key("NUsG9BgSes0_210.0_360.0")


def test_shape_errors_name_the_entry(tmp_path):
    store = FeatureStore(tmp_path / "store")
    with pytest.raises(ValueError, match=r"video/clip/v: expected a \[n_clips, dim\] array, got shape \(3,\)"):
        store.write_video("clip", "v", np.ones(3), SPEC, fingerprint_text("x"))


def test_fsspec_urls_go_through_zarrs_own_stores():
    url = f"memory://videolights-test-{os.getpid()}/store"
    store = FeatureStore(url)
    store.write_video("clip", "v", np.ones((2, 3)), SPEC, fingerprint_text("x"))
    reopened = FeatureStore(url, mode="r")
    assert reopened.read_video("clip", "v").shape == (2, 3)
    assert type(reopened.root.store).__name__ == "FsspecStore"
