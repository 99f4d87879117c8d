"""Decoding into clip grids, on the real Charades clip and on generated time-coded videos."""

from __future__ import annotations

import importlib.util

import math
from fractions import Fraction

import numpy as np
import pytest

from timecode import decode_time_code
from pipeline.video.sampling import FramesPerClip, ReferenceFrames, ResampleFps
from pipeline.video import DecodeStats, VideoDecodeError, clip_grid, decode_clips, probe_video

DECORD = pytest.param("decord", marks=pytest.mark.skipif(importlib.util.find_spec("decord") is None,
                                                        reason="decord is an optional extra ([decord])"))
BACKENDS = [DECORD, "pyav"]


def _decode_all(path, consumers, backend="auto", clip_seconds=2.0, chunk_seconds=16.0, stats=None):
    chunks = list(decode_clips(path, consumers, clip_seconds=clip_seconds, chunk_seconds=chunk_seconds,
                               backend=backend, stats=stats))
    times = np.concatenate([c.clip_times for c in chunks])
    frames = {name: [f for c in chunks for f in c.frames[name]] for name in consumers}
    return times, frames, chunks


def test_charades_clip_decodes_to_16_clips(charades_video):
    info = probe_video(charades_video)
    assert info.width == 480 and info.height == 270 and info.has_audio
    assert info.duration == pytest.approx(30.7, abs=0.06)
    assert info.fps == pytest.approx(14.985, abs=1e-3)
    stats = DecodeStats()
    times, frames, _ = _decode_all(charades_video, {"clip": FramesPerClip(), "slowfast": ResampleFps(fps=30)},
                                   stats=stats)
    assert len(times) == 16
    assert times[0].tolist() == [0.0, 2.0] and times[-1][0] == 30.0
    assert [f.shape for f in frames["clip"]] == [(1, 224, 398, 3)] * 16
    assert [len(f) for f in frames["slowfast"]] == [60] * 15 + [21]  # last clip 0.697 s at 30 fps
    assert stats.opens == 1


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("seconds,fps,clip_seconds", [(5.0, 10, 2.0), (7.3, 25, 2.0), (4.0, 30, 1.0), (1.2, 15, 2.0)])
def test_grid_and_sampled_frames_match_timestamps(make_video, backend, seconds, fps, clip_seconds):
    path = make_video(seconds=seconds, fps=fps)
    n_frames = int(round(seconds * fps))
    duration = n_frames / fps
    spec = FramesPerClip(offsets=(0.0, 0.5), short_side=48)
    times, frames, _ = _decode_all(path, {"c": spec}, backend=backend, clip_seconds=clip_seconds)
    assert len(times) == math.ceil(round(duration / clip_seconds, 6))
    np.testing.assert_allclose(times, clip_grid(duration, clip_seconds), atol=1e-6)
    for (start, end), clip in zip(times, frames["c"]):
        for offset, frame in zip(spec.offsets, clip):
            t = start + offset * (end - start)
            expected = min(int(math.floor(t * fps + 1e-6)), n_frames - 1)
            assert decode_time_code(frame) == expected, (start, offset)


@pytest.mark.parametrize("backend", BACKENDS)
def test_resample_to_30fps_duplicates_frames_of_a_slower_video(make_video, backend):
    path = make_video(seconds=4.0, fps=10)
    times, frames, _ = _decode_all(path, {"sf": ResampleFps(fps=30, short_side=48)}, backend=backend)
    assert len(times) == 2
    codes = [decode_time_code(f) for f in frames["sf"][1]]
    assert len(codes) == 60
    assert codes == [20 + j // 3 for j in range(60)]  # target t = 2 + j/30 shows frame floor(10 t)


def test_resample_drops_frames_of_a_faster_video(make_video):
    path = make_video(seconds=2.0, fps=60)
    _, frames, _ = _decode_all(path, {"sf": ResampleFps(fps=30, short_side=48)})
    assert [decode_time_code(f) for f in frames["sf"][0]] == list(range(0, 120, 2))


@pytest.mark.parametrize("backend", BACKENDS)
def test_variable_frame_rate_uses_real_timestamps(make_video, backend):
    # 10 fps for 2 s, then 2 fps for 2 s
    stamps = [i / 10 for i in range(20)] + [2.0 + i / 2 for i in range(4)]
    path = make_video(frame_times=stamps, fps=10)
    times, frames, _ = _decode_all(path, {"c": FramesPerClip(offsets=(0.0, 0.75), short_side=48)}, backend=backend)
    assert len(times) == 2
    got = [[decode_time_code(f) for f in clip] for clip in frames["c"]]
    t_late = 2.0 + 0.75 * (times[1][1] - 2.0)  # 0.75 into the second clip, in the 2-fps part
    expected_late = max(i for i, s in enumerate(stamps) if s <= t_late + 1e-6)
    assert expected_late >= 21
    assert got == [[0, 15], [20, expected_late]]


@pytest.mark.parametrize("rotation", [90, 180, 270])
def test_rotation_metadata_turns_frames_upright(make_video, rotation):
    path = make_video(seconds=2.0, fps=10, width=64, height=48, rotation=rotation, marker=True)
    info = probe_video(path)
    assert info.rotation == rotation
    assert info.display_size == ((48, 64) if rotation in (90, 270) else (64, 48))
    _, frames, _ = _decode_all(path, {"c": FramesPerClip(short_side=48)})
    frame = frames["c"][0][0]
    assert frame.shape[:2] == (info.display_size[1], info.display_size[0])
    bright = frame.astype(int).sum(axis=2) > 700
    rows, cols = np.nonzero(bright)
    h, w = frame.shape[:2]
    # the marker drawn in the coded top-left corner ends up where a CCW turn puts it
    corner = {90: (h - 1, 0), 180: (h - 1, w - 1), 270: (0, w - 1)}[rotation]
    assert abs(np.median(rows) - corner[0]) < h / 4 and abs(np.median(cols) - corner[1]) < w / 4


def test_video_shorter_than_one_clip_and_without_audio(make_video):
    path = make_video(seconds=0.5, fps=10, audio=False)
    info = probe_video(path)
    assert not info.has_audio
    times, frames, _ = _decode_all(path, {"c": FramesPerClip(short_side=48), "sf": ResampleFps(short_side=48)})
    assert times.tolist() == [[0.0, 0.5]]
    assert len(frames["sf"][0]) == 15


def test_audio_track_is_seen(make_video):
    assert probe_video(make_video(seconds=1.0, audio=True)).has_audio


def test_frames_are_decoded_at_the_consumers_short_side(make_video):
    path = make_video(seconds=2.0, fps=10, width=320, height=240)
    _, frames, _ = _decode_all(path, {"big": FramesPerClip(short_side=224), "small": FramesPerClip(short_side=112)})
    # the long side truncated as the references' ffmpeg sizes do: 320 * 224 / 240 = 298.7, 320 * 112 / 240 = 149.3
    assert frames["big"][0].shape == (1, 224, 298, 3)
    assert frames["small"][0].shape == (1, 112, 149, 3)


def test_chunks_bound_memory_whatever_the_length(make_video):
    path = make_video(seconds=40.0, fps=10)
    _, _, chunks = _decode_all(path, {"c": FramesPerClip(short_side=48)}, chunk_seconds=8.0)
    assert len(chunks) == 5 and all(len(c.clip_times) == 4 for c in chunks)


@pytest.mark.skipif(importlib.util.find_spec("decord") is None, reason="decord is an optional extra ([decord])")
def test_backends_agree(make_video):
    path = make_video(seconds=6.0, fps=25)
    consumers = {"c": FramesPerClip(short_side=48), "sf": ResampleFps(short_side=48)}
    _, a, _ = _decode_all(path, consumers, backend="decord")
    _, b, _ = _decode_all(path, consumers, backend="pyav")
    for name in consumers:
        for x, y in zip(a[name], b[name]):
            assert [decode_time_code(f) for f in x] == [decode_time_code(f) for f in y]


# bad inputs -----------------------------------------------------------------------------------
def _truncated(tmp_path, make_video):
    data = make_video(seconds=3.0).read_bytes()
    path = tmp_path / "truncated.mp4"
    path.write_bytes(data[: len(data) // 2])
    return path


def _audio_only(tmp_path):
    import av

    path = tmp_path / "audio_only.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=16000)
        stream.layout = "mono"
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        frame.sample_rate, frame.pts = 16000, 0
        container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


def _zero_duration(tmp_path):
    import av

    path = tmp_path / "zero.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        container.start_encoding()  # headers only: a video track with no frames
    return path


def _write(path, data: bytes):
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("kind,reason", [
    ("empty", "empty file"),
    ("text", "not a readable media file"),
    ("truncated", "not a readable media file"),
    ("audio_only", "no video stream"),
    ("zero_duration", "zero-duration"),
    ("missing", "file not found"),
])
def test_bad_inputs_raise_one_clear_error(tmp_path, make_video, kind, reason):
    path = {
        "empty": lambda: _write(tmp_path / "empty.mp4", b""),
        "text": lambda: _write(tmp_path / "notes.mp4", b"hello, not a video"),
        "truncated": lambda: _truncated(tmp_path, make_video),
        "audio_only": lambda: _audio_only(tmp_path),
        "zero_duration": lambda: _zero_duration(tmp_path),
        "missing": lambda: tmp_path / "nope.mp4",
    }[kind]()
    with pytest.raises(VideoDecodeError) as err:
        probe_video(path)
    assert str(path) in str(err.value) and reason in err.value.reason


def test_usable_video_ids_refuse_bad_names_and_repeated_ids(tmp_path):
    from pipeline.video import usable_video_ids

    names = ["a.mp4", "__reserved.mp4", "tab\tname.mp4", "trailing .mp4", "a.mkv", "b.webm"]
    usable, refused = usable_video_ids([tmp_path / n for n in names])
    assert [(vid, path.name) for vid, path in usable] == [("a", "a.mp4"), ("b", "b.webm")]
    reasons = {path.name: reason for path, reason in refused}
    assert "starts with '__'" in reasons["__reserved.mp4"] and "control character" in reasons["tab\tname.mp4"]
    assert "whitespace" in reasons["trailing .mp4"] and all("rename" in r for r in reasons.values())
    assert reasons["a.mkv"] == "video id 'a' repeats a.mp4; rename one of them"


def test_a_frame_size_change_mid_stream_is_scaled_like_the_rest(tmp_path):
    """An MPEG-TS whose second half is coded at another size (streams spliced by concatenation):
    the filter graph reconfigures, every frame comes out at the stream's scaled size, nothing fails."""
    import av

    def segment(path, width, height, first_pts):
        with av.open(str(path), "w", format="mpegts") as out:
            stream = out.add_stream("libx264", rate=10)
            stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
            for i in range(30):
                frame = av.VideoFrame.from_ndarray(np.full((height, width, 3), 7 * i, np.uint8), format="rgb24")
                frame.pts, frame.time_base = first_pts + i, Fraction(1, 10)
                out.mux(stream.encode(frame))
            out.mux(stream.encode())

    segment(tmp_path / "a.ts", 64, 48, 0)
    segment(tmp_path / "b.ts", 96, 64, 30)
    spliced = tmp_path / "spliced.ts"
    spliced.write_bytes((tmp_path / "a.ts").read_bytes() + (tmp_path / "b.ts").read_bytes())
    _, frames, chunks = _decode_all(spliced, {"c": ReferenceFrames(short_side=32)})
    shown = [float(t[0]) for chunk in chunks for t in chunk.frame_times["c"]]
    assert max(shown) >= 3.0  # a frame of the 96x64 half was scaled too
    assert {f.shape for f in frames["c"]} == {(1, 32, 42, 3)}  # 64x48's size rule: short side 32, 42.7 -> 42
