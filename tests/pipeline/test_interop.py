"""Import of the public npz feature releases and export back, byte-for-byte the same arrays."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.extract.releases import export_features, import_features
from storage import FeatureStore


def _release(tmp_path):
    rng = np.random.default_rng(0)
    video_dir, text_dir = tmp_path / "clip_features", tmp_path / "clip_text_features"
    video_dir.mkdir()
    text_dir.mkdir()
    videos = {"NUsG9BgSes0_210.0_360.0": rng.normal(size=(75, 512)).astype(np.float32),
              "j7rJstUseKI_360.0_510.0": rng.normal(size=(40, 512)).astype(np.float16)}
    for vid, feats in videos.items():
        np.savez(video_dir / f"{vid}.npz", features=feats)
    queries = {"2579": (rng.normal(size=(12, 512)).astype(np.float32), rng.normal(size=(512,)).astype(np.float32)),
               "9": (rng.normal(size=(1, 512)).astype(np.float32), rng.normal(size=(1, 512)).astype(np.float32))}
    for qid, (tokens, pooled) in queries.items():
        np.savez(text_dir / f"qid{qid}.npz", last_hidden_state=tokens, pooler_output=pooled)
    return video_dir, text_dir, videos, queries


def test_import_export_round_trip_is_exact(tmp_path):
    video_dir, text_dir, videos, queries = _release(tmp_path)
    store = FeatureStore(tmp_path / "store")
    assert import_features(video_dir, store, "clip", "video") == 2
    assert import_features(text_dir, store, "clip", "text") == 2
    assert store.attrs("video", "clip", "NUsG9BgSes0_210.0_360.0")["spec"]["version"] == "public-release"

    out = tmp_path / "export"
    assert export_features(store, "clip", "video", out / "video") == 2
    assert export_features(store, "clip", "text", out / "text") == 2
    for vid, feats in videos.items():
        with np.load(out / "video" / f"{vid}.npz") as data:
            assert data.files == ["features"]
            assert data["features"].dtype == feats.dtype and data["features"].tobytes() == feats.tobytes()
    for qid, (tokens, pooled) in queries.items():
        with np.load(out / "text" / f"qid{qid}.npz") as data:
            assert data["last_hidden_state"].tobytes() == tokens.tobytes()
            assert data["pooler_output"].shape == pooled.shape and data["pooler_output"].tobytes() == pooled.tobytes()


def test_import_names_the_file_without_the_release_keys(tmp_path):
    folder = tmp_path / "bad"
    folder.mkdir()
    np.savez(folder / "v1.npz", feats=np.ones((2, 2)))
    with pytest.raises(ValueError, match=r"v1.npz: no 'features' array \(has \['feats'\]\)"):
        import_features(folder, FeatureStore(tmp_path / "store"), "clip", "video")
