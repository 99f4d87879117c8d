"""Frames, counts, pixels and query tokens equal to the public feature pipelines' (the shared
extractor_reference fixtures), out of one decode pass; frame choice on generated videos at common rates."""

from __future__ import annotations

import json
import math
from fractions import Fraction

import numpy as np
import pytest
from timecode import decode_time_code, time_coded_frames

from pipeline.extract import ExtractConfig, build_video_extractors, plan_videos, video_entry_spec
from pipeline.extractors.clip import reference_token_ids
from pipeline.extractors.frames import center_crop
from pipeline.video import DecodeStats, decode_clips
from pipeline.video.reference import slow_positions
from pipeline.video.sampling import FramesPerClip, ReferenceFrames, ReferenceSlowFast
from pipeline.video.writer import write_video
from storage import FeatureStore, fingerprint_file

VIDEOS = {"charades_example": "videos/charades_example.mp4",
          "charades_25fps": "extractor_reference/videos/charades_25fps.mp4",
          "charades_30fps": "extractor_reference/videos/charades_30fps.mp4"}
CONSUMERS = {"clip": ReferenceFrames(), "blip2": ReferenceFrames(), "slowfast": ReferenceSlowFast()}
#: Pixels: bit-exact here (mean and max 0: libavfilter's bicubic scale, as the references' ffmpeg
#: graph). The bound leaves room for another CPU's swscale code path rounding a few pixels.
MAX_MEAN_ABS = 0.05


@pytest.fixture(scope="module", params=list(VIDEOS))
def decoded(request, data_dir):
    name = request.param
    stats = DecodeStats()
    chunks = list(decode_clips(data_dir / VIDEOS[name], CONSUMERS, stats=stats))
    reference = {kind: np.load(data_dir / "extractor_reference" / name / f"{kind}.npz") for kind in CONSUMERS}
    return name, chunks, stats, reference


def _per_clip(chunks, consumer, what):
    return [x for chunk in chunks for x in getattr(chunk, what)[consumer]]


def test_one_decode_pass_feeds_all_three(decoded):
    _, _, stats, _ = decoded
    assert stats.opens == 1 and stats.backend == "pyav"


@pytest.mark.parametrize("consumer", ["clip", "blip2"])
def test_clip_and_blip2_frames_counts_and_pixels(decoded, consumer):
    name, chunks, _, reference = decoded
    ref = reference[consumer]
    index = np.stack(_per_clip(chunks, consumer, "frame_index"))
    assert len(index) == int(ref["n_clips"]), name
    np.testing.assert_array_equal(index, ref["src_frame_index"])
    np.testing.assert_allclose(np.stack(_per_clip(chunks, consumer, "frame_times")), ref["src_pts_seconds"], atol=1e-9)
    pixels = np.stack([center_crop(f, 224) for f in _per_clip(chunks, consumer, "frames")])
    diff = np.abs(pixels.astype(np.int16) - ref["pixels"].astype(np.int16))
    assert diff.mean() <= MAX_MEAN_ABS, (name, diff.mean(), diff.max())


def test_slowfast_fast_and_slow_frames_counts_and_pixels(decoded):
    name, chunks, _, reference = decoded
    ref = reference["slowfast"]
    fast = np.stack(_per_clip(chunks, "slowfast", "frame_index"))
    assert len(fast) == int(ref["n_clips"]), name
    np.testing.assert_array_equal(fast, ref["src_frame_index"])
    np.testing.assert_array_equal(fast[:, slow_positions()], ref["slow_src_frame_index"])
    frames = _per_clip(chunks, "slowfast", "frames")
    pixels = np.stack([center_crop(frames[int(c)], 224) for c in ref["clips"]])
    diff = np.abs(pixels.astype(np.int16) - ref["pixels"].astype(np.int16))
    assert diff.mean() <= MAX_MEAN_ABS, (name, diff.mean(), diff.max())


def test_clip_query_tokens_and_kept_positions(data_dir):
    import open_clip

    tokenizer = open_clip.get_tokenizer("ViT-B-32")
    fixture = json.loads((data_dir / "extractor_reference" / "clip_text.json").read_text())
    queries = fixture["queries"]
    ids = reference_token_ids(tokenizer, [q["text"] for q in queries])
    for q, row in zip(queries, ids.tolist()):
        assert row == q["input_ids"], q["name"]
        valid = sum(i != 0 for i in row)
        assert (valid, list(range(valid))) == (q["valid_length"], q["kept_positions"]), q["name"]


def test_clip_text_encoder_keeps_the_reference_positions(data_dir):
    from pipeline.extractors.clip import ClipTextEncoder

    fixture = json.loads((data_dir / "extractor_reference" / "clip_text.json").read_text())
    encoder = ClipTextEncoder.tiny()
    features = encoder.encode_text([q["text"] for q in fixture["queries"]])
    assert [f.tokens.shape[0] for f in features] == [q["valid_length"] for q in fixture["queries"]]


def _expected_clip_frames(n_frames: int, fps: Fraction, clip_seconds: int = 2) -> list[int]:
    """The rule in exact arithmetic: clip k shows the last frame i with i / fps < (k + 1/2) c."""
    end = Fraction(n_frames) / fps
    n_clips = math.floor(end / clip_seconds + Fraction(1, 2))
    return [math.ceil((k + Fraction(1, 2)) * clip_seconds * fps) - 1 for k in range(n_clips)]


def _expected_fast_frames(n_frames: int, fps: Fraction, clip: int) -> list[int]:
    """HERO's rule in exact arithmetic for one clip (the offsets and padding as the fixtures show them)."""
    from pipeline.video.reference import hero_fast_offsets, hero_resampled_index, resampled_count

    n30 = resampled_count(n_frames / float(fps))
    resampled = hero_resampled_index(clip, hero_fast_offsets(float(fps)), n30)
    return [min(n_frames - 1, math.ceil((Fraction(int(j)) + Fraction(1, 2)) * fps / 30) - 1) for j in resampled]


@pytest.mark.parametrize("fps", [Fraction(15000, 1001), Fraction(24), Fraction(25), Fraction(30000, 1001),
                                 Fraction(30), Fraction(60)])
def test_frame_choice_on_time_coded_videos(tmp_path, fps):
    n_frames = int(9.3 * fps)  # a partial last clip
    path = write_video(tmp_path / "v.mp4", time_coded_frames(64, 48), n_frames, fps=fps)
    consumers = {"clip": ReferenceFrames(short_side=48), "sf": ReferenceSlowFast(short_side=48)}
    chunks = list(decode_clips(path, consumers, backend="pyav"))
    clip_frames = [decode_time_code(f[0]) for f in _per_clip(chunks, "clip", "frames")]
    assert clip_frames == _expected_clip_frames(n_frames, fps)
    sf = _per_clip(chunks, "sf", "frames")
    assert len(sf) == math.ceil(n_frames / fps / 2)
    for clip in (0, len(sf) - 1):
        assert [decode_time_code(f) for f in sf[clip]] == _expected_fast_frames(n_frames, fps, clip), clip


def test_a_video_shorter_than_one_clip_keeps_the_clip_length(tmp_path):
    # 1.5 s at 10 fps: one clip of the 2-s grid, whose frame is the last before 1 s (frame 9), not one
    # placed by the 1.5-s length of that partial clip
    path = write_video(tmp_path / "short.mp4", time_coded_frames(64, 48), 15, fps=10)
    chunks = list(decode_clips(path, {"clip": ReferenceFrames(short_side=48)}, clip_seconds=2.0))
    frames = [decode_time_code(f[0]) for f in _per_clip(chunks, "clip", "frames")]
    assert frames == _expected_clip_frames(15, Fraction(10)) == [9]


def test_entries_written_with_the_old_sampling_are_stale(tmp_path, make_video):
    path = make_video("a.mp4", seconds=4.0)
    store = FeatureStore(tmp_path / "store")
    extractors = build_video_extractors(ExtractConfig(extractors=("clip",), crop_size=32))
    old = video_entry_spec(extractors["clip"], 2.0).model_copy(
        update={"sampling": FramesPerClip(short_side=32).model_dump(mode="json")})
    store.write_video("clip", "a", np.zeros((2, extractors["clip"].dim), np.float32), old, fingerprint_file(path))
    jobs, _ = plan_videos([path], store, extractors, 2.0)
    assert [(job.vid, job.needed) for job in jobs] == [("a", ["clip"])]  # recomputed with the reference rules


def test_frames_command_writes_what_the_extractor_sees(data_dir, tmp_path):
    from typer.testing import CliRunner

    from flows.cli import app

    video = data_dir / VIDEOS["charades_25fps"]
    out, sheet = tmp_path / "f.npz", tmp_path / "f.png"
    done = CliRunner().invoke(app, ["frames", str(video), "--extractor", "slowfast", "--out", str(out),
                                    "--clips", "0,7,13", "--sheet", str(sheet)])
    assert done.exit_code == 0, done.output
    got, ref = np.load(out), np.load(data_dir / "extractor_reference" / "charades_25fps" / "slowfast.npz")
    assert int(got["n_clips"]) == 14 and got["clips"].tolist() == [0, 7, 13]
    for key in ("src_frame_index", "slow_src_frame_index"):
        np.testing.assert_array_equal(got[key], ref[key])
    assert np.abs(got["pixels"].astype(np.int16) - ref["pixels"]).mean() <= MAX_MEAN_ABS
    assert sheet.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    bad = CliRunner().invoke(app, ["frames", str(video), "--extractor", "clip", "--out", str(out), "--clips", "99"])
    assert bad.exit_code == 2 and "clips [99] outside 0..13" in bad.stderr
