"""Predictor on raw videos with the tiny extractors: one decode per video, windows for long videos, plots, CLI."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from infer_helpers import tiny_checkpoint
from predictions import assert_rows_close
from typer.testing import CliRunner

from flows.cli import app
from model.build import build_model, make_checkpoint
from model.config import PRESET_FEATURE_DIMS, FeatureSet
from model.presets import get_preset
from pipeline.inference import EncodedVideo, Predictor, plot_prediction
from pipeline.inference.windows import temporal_iou
from pipeline.training import save_checkpoint
from pipeline.video import DecodeStats, VideoDecodeError

runner = CliRunner()
PNG = b"\x89PNG\r\n\x1a\n"
QUERIES = ["a person opens a door", "someone is cooking"]


@pytest.fixture(scope="module")
def predictor(checkpoint) -> Predictor:
    return Predictor.from_checkpoint(checkpoint, device="cpu")


@pytest.fixture(scope="module")
def encoded_long(predictor, long_video) -> tuple[EncodedVideo, DecodeStats]:
    stats = DecodeStats()
    return predictor.encode_video(long_video, stats=stats), stats


def _check_result(result: dict, n_clips: int, duration: float) -> None:
    assert len(result["pred_saliency_scores"]) == n_clips
    assert all(np.isfinite(result["pred_saliency_scores"]))
    windows = result["pred_relevant_windows"]
    assert 1 <= len(windows) <= 10
    assert [w[2] for w in windows] == sorted((w[2] for w in windows), reverse=True)
    assert all(0 <= s <= e <= duration for s, e, _ in windows)


def test_tiny_clip_sizes_match_the_model_config(predictor) -> None:
    video_dims, text_dims = PRESET_FEATURE_DIMS["tiny"]
    assert predictor.video_extractors["clip"].dim == video_dims["clip"]
    assert predictor.text_encoders["clip"].dim == text_dims["clip"]


@pytest.mark.slow  # builds all three tiny extractors (imports open_clip, pytorchvideo, transformers)
def test_tiny_extractor_sizes_match_the_model_config() -> None:
    from pipeline.extract import ExtractConfig, build_text_encoders, build_video_extractors

    config = ExtractConfig(extractors=("slowfast", "clip", "blip2"), preset="tiny")
    video_dims, text_dims = PRESET_FEATURE_DIMS["tiny"]
    assert {n: e.dim for n, e in build_video_extractors(config).items()} == video_dims
    assert {n: e.dim for n, e in build_text_encoders(config).items()} == text_dims


def test_long_video_is_decoded_once_and_predicted_in_windows(predictor, encoded_long) -> None:
    encoded, stats = encoded_long
    assert stats.opens == 1  # one decode pass feeds the extractors
    assert encoded.n_clips == 180 and encoded.duration == pytest.approx(360, abs=0.5)
    assert (predictor.window, predictor.stride) == (16, 11)  # the tiny preset's 16 training clips
    results = predictor.predict(encoded, QUERIES)
    assert [r["query"] for r in results] == QUERIES
    for result in results:
        _check_result(result, 180, encoded.duration)
        for a, b in itertools.combinations(result["pred_relevant_windows"], 2):
            assert temporal_iou(a, np.array([b[:2]]))[0] < 0.7  # suppressed across windows
    assert any(w[0] >= 150 for r in results for w in r["pred_relevant_windows"])  # beyond the first window
    # the encoded video is reused: one query at a time gives the same answers (batch of one vs two).
    # The text encoder's fp16 output of a query encoded alone or beside another differs by up to one
    # fp16 step (4.9e-4 seen), which moves the tiny model's saliency by ~1.2e-5: compared within 1e-4.
    assert_rows_close(predictor.predict(encoded, QUERIES[1]), results[1:], abs_tol=1e-4)


def test_clips_seen_by_one_window_keep_that_windows_saliency(predictor, encoded_long) -> None:
    encoded, _ = encoded_long
    whole = predictor.predict(encoded, QUERIES[0])[0]
    head = EncodedVideo(encoded.path, 32.0, encoded.clip_seconds, encoded.extractors,
                        tuple(f[:16] for f in encoded.features))
    first_window = predictor.predict(head, QUERIES[0])[0]  # 16 clips: one window, one pass
    np.testing.assert_allclose(whole["pred_saliency_scores"][:11], first_window["pred_saliency_scores"][:11],
                               rtol=1e-5, atol=1e-6)


def test_charades_clip(predictor, charades_video) -> None:
    results = predictor.predict(charades_video, QUERIES)
    for result in results:
        _check_result(result, 15, 30.744)  # CLIP's clips of the 30.7-s video (round(30.7 / 2)), one window
        assert result["duration"] == pytest.approx(30.744, abs=0.05)


def test_plot_draws_every_query(predictor, encoded_long, tmp_path) -> None:
    results = predictor.predict(encoded_long[0], QUERIES)
    path = plot_prediction(results, tmp_path / "plots" / "two.png")
    assert path.read_bytes()[:8] == PNG and path.stat().st_size > 5000
    with pytest.raises(ValueError):
        plot_prediction([], tmp_path / "none.png")


def test_mismatched_extractor_preset_and_bad_inputs_are_refused(checkpoint, predictor, tmp_path) -> None:
    with pytest.raises(ValueError, match="tiny"):
        Predictor.from_checkpoint(checkpoint, extract_preset="paper", device="cpu")
    synthetic = get_preset("tiny")  # no feature set: built for synthetic inputs
    model, _, _ = build_model(synthetic)
    path = save_checkpoint(make_checkpoint(model, synthetic), tmp_path / "synthetic.ckpt")
    with pytest.raises(ValueError, match="no feature set"):
        Predictor.from_checkpoint(path, device="cpu")
    paper = get_preset("tiny").with_features(FeatureSet(video=("clip",), text=("clip",)))  # 512-d inputs
    model, _, postprocess = build_model(paper)
    with pytest.raises(ValueError, match="sizes"):  # tiny extractors cannot feed it
        Predictor(model, postprocess, paper, predictor.video_extractors, predictor.text_encoders, predictor.device)
    with pytest.raises(ValueError, match="queries"):
        predictor.predict(EncodedVideo("x", 4.0, 2.0, ("clip",), (np.zeros((2, 32), np.float16),)), [])
    bad = tmp_path / "not_a_video.mp4"
    bad.write_bytes(b"no video here")
    with pytest.raises(VideoDecodeError):
        predictor.encode_video(bad)


def test_predict_command_writes_json_and_plot(checkpoint, long_video, tmp_path) -> None:
    out, plot = tmp_path / "pred.json", tmp_path / "pred.png"
    done = runner.invoke(app, ["predict", str(long_video), *QUERIES, "--checkpoint", str(checkpoint),
                               "--out", str(out), "--plot", str(plot), "--device", "cpu"])
    assert done.exit_code == 0, done.output
    results = json.loads(out.read_text())
    assert [r["query"] for r in results] == QUERIES and len(results[0]["pred_saliency_scores"]) == 180
    assert plot.read_bytes()[:8] == PNG
    assert "top moment" in done.stdout and f"wrote {plot}" in done.stdout
    missing = runner.invoke(app, ["predict", str(tmp_path / "none.mp4"), "q", "--checkpoint", str(checkpoint)])
    assert missing.exit_code == 2 and "file not found" in missing.stderr
    paper = tiny_checkpoint(tmp_path / "paper.ckpt", FeatureSet(video=("clip",), text=("clip",)))
    no_weights = runner.invoke(app, ["predict", str(long_video), "q", "--checkpoint", str(paper),
                                     "--device", "cpu", "--weights-dir", str(tmp_path / "no-weights")])
    assert no_weights.exit_code == 2 and "weights" in no_weights.stderr


def test_plot_titles_the_model_and_draws_a_one_frame_video(tmp_path) -> None:
    from matplotlib.image import imread

    one = {"query": "a flash", "duration": 0.04, "clip_seconds": 2.0, "pred_saliency_scores": [0.3],
           "pred_relevant_windows": [[0.0, 0.04, 0.9]], "relevant_windows": [[0.0, 0.04]]}
    image = imread(plot_prediction(one, tmp_path / "one.png", title="the fine-tuned model"))
    assert image.shape[:2] == (300, 1200)  # 12 x (2.6 + 0.4) in at 100 dpi: the title gets its own band


def test_predicting_reports_progress_per_window(predictor, encoded_long) -> None:
    from pipeline.common import progress

    class Recorder:
        def __init__(self):
            self.events = []

        def start(self, key, total, description):
            self.events.append(("start", key, total))

        def advance(self, key, n=1):
            self.events.append(("advance", key, n))

        def finish(self, key):
            self.events.append(("finish", key))

    encoded, _ = encoded_long
    with progress.listening(Recorder()) as recorder:
        predictor.predict(encoded, QUERIES)
    events = [e for e in recorder.events if e[1] == "predict"]
    assert events[0][0] == "start" and events[-1] == ("finish", "predict")
    assert sum(e[2] for e in events if e[0] == "advance") == events[0][2] > 1  # every (query, window) job
